#!/usr/bin/env python3
"""Summarises scripts/search-seeds.sh's JSON: per model, one row per seed and the mean over seeds.

Usage: scripts/search-table.py DIR NAME [NAME...]
Scores are measured ones: each strategy's answer evaluated on the target fidelity (agreement with FP32 on the
scoring images) minus the same bytes penalty. "reach" counts the target evaluations a GP strategy needed before one
of its observations scored at least random search's best (null: never within the budget).
"held-out" scores are the same rule on the labelled test images (agreement there minus the same penalty;
test.<strategy>.heldOutScore, or computed for JSON written before that field): measured scores are each strategy's
best of several measurements on the same scoring images and so biased upwards, held-out ones are not.
"""
import json
import os
import re
import sys


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


# (short name in the summary, method name in the JSON's "baselines"); the search itself is "chosen".
STRATEGIES = [("search", None), ("random", "random"), ("greedy", "greedy-sensitivity"),
              ("single", "single-task-gp")]


def held_out(j, key, node):
    """The decision rule's score on the test images for one strategy (node: its chosen/baseline entry)."""
    t = j.get("test", {}).get(key)
    if t is None or node.get("measuredScore") is None:
        return None
    if "heldOutScore" in t:
        return t["heldOutScore"]
    return t["agreement"] - (node["scoringAgreement"] - node["measuredScore"])


def main(d, names):
    for name in names:
        runs = []
        for f in sorted(os.listdir(d)):
            m = re.fullmatch(re.escape(name) + r"-s(\d+)\.json", f)
            if m:
                runs.append((int(m.group(1)), json.load(open(os.path.join(d, f)))))
        if not runs:
            continue
        print(f"\n{name}: {len(runs)} seed(s)\n")
        print("| seed | chosen bits | bytes vs W4 | test top-1 (FP32) | agreement | score: search / random / greedy "
              "/ single-task | held-out score: search / random / greedy / single-task "
              "| reach random's best (target evals): multi / single | seconds (search, total) |")
        print("|---|---|---|---|---|---|---|---|---|")
        sums = {}
        for seed, j in runs:
            w4 = next(u for u in j["uniform"] if u["weightBits"] == 4)["convWeightBytes"]
            c = j["chosen"]
            r = j.get("reachRandomBest", {})
            nodes = {b["method"]: b for b in j["baselines"]}
            nodes[None] = c
            scores = [nodes[m].get("measuredScore") if m in nodes else None for _, m in STRATEGIES]
            held = [held_out(j, m or "chosen", nodes[m]) if m in nodes else None for _, m in STRATEGIES]
            print(f"| {seed} | {','.join(str(p) for p in c['positions'])} | {c['convWeightBytes'] / w4:.2f}x | "
                  f"{100 * c['top1']:.2f} ({100 * j['test']['fp32Top1']:.2f}) | {100 * c['agreement']:.2f} | "
                  + " / ".join(fmt(s, ".4f") for s in scores) + " | "
                  + " / ".join(fmt(s, ".4f") for s in held) + " | "
                  f"{fmt(r.get('multiTaskTargetEvaluations'), 'd')} / {fmt(r.get('singleTaskGpTargetEvaluations'), 'd')}"
                  f" | {j.get('searchSeconds', 0):.0f}, {j['seconds']:.0f} |")
            for (k, _), v, h in zip(STRATEGIES, scores, held):
                if v is not None:
                    sums.setdefault(k, []).append(v)
                if h is not None:
                    sums.setdefault("held-" + k, []).append(h)
            sums.setdefault("ratio", []).append(c["convWeightBytes"] / w4)
            sums.setdefault("drop", []).append(100 * (c["top1"] - j["test"]["fp32Top1"]))
        mean = {k: sum(v) / len(v) for k, v in sums.items()}
        print(f"\nmean over {len(runs)} seeds: bytes {mean['ratio']:.2f}x W4, top-1 {mean['drop']:+.2f} pp vs FP32; "
              "measured score " + ", ".join(f"{k} {mean[k]:.4f} ({len(sums[k])})"
                                            for k, _ in STRATEGIES if k in mean)
              + "; held-out score " + ", ".join(f"{k} {mean['held-' + k]:.4f} ({len(sums['held-' + k])})"
                                               for k, _ in STRATEGIES if "held-" + k in mean))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
