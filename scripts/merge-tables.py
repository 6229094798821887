#!/usr/bin/env python3
"""Merges per-family `./dsconv table --json` outputs into one table JSON and the README's Markdown table.

Usage: scripts/merge-tables.py OUT.json OUT.md IN.json [IN.json ...]

The accuracy table runs one family at a time here (each takes 15-60 min on 2 cores), and some rows were added by
later runs (`table --methods ...`). This joins them: one entry per arch under "models" (the order of first
appearance), the results of every input for that arch in the table's row order, and "runs" listing each input with
its wall time. It refuses inputs that disagree on the test set or on an arch's FP32 accuracy, and duplicate rows.
"""
import json
import sys

ROW_ORDER = ["dsconv", "dsconv-bc", "dsconv-kds-bias", "dsconv-kds-clip-bc", "dsconv-hr-bc", "rtn-per-tensor", "rtn-per-channel"]


def row_key(r):
    # dsconv rows: B=32 bit widths first (8..2), then the other block sizes, as `Demo.tableVariants()`.
    b = r.get("blockSize")
    other_block = 0 if b in (None, 32) else 1
    return (ROW_ORDER.index(r["method"]), other_block, -r["weightBits"], b or 0)


def main(out_json, out_md, inputs):
    models, runs, test_images = {}, [], None
    for path in inputs:
        d = json.load(open(path))
        if test_images is not None and d["testImages"] != test_images:
            sys.exit(f"{path}: {d['testImages']} test images, others {test_images}")
        test_images = d["testImages"]
        runs.append({"file": path, "seconds": d["seconds"], "archs": [m["arch"] for m in d["models"]]})
        for m in d["models"]:
            have = models.setdefault(m["arch"], dict(m, results=[]))
            if have["fp32Top1"] != m["fp32Top1"]:
                sys.exit(f"{path}: {m['arch']} FP32 top-1 {m['fp32Top1']} differs from {have['fp32Top1']}")
            keys = {(r["method"], r["weightBits"], r.get("blockSize")) for r in have["results"]}
            for r in m["results"]:
                k = (r["method"], r["weightBits"], r.get("blockSize"))
                if k in keys:
                    sys.exit(f"{path}: duplicate row {k} for {m['arch']}")
                have["results"].append(r)
    for m in models.values():
        m["results"].sort(key=row_key)
    merged = {"dataset": "fashion-mnist", "testImages": test_images, "models": list(models.values()), "runs": runs}
    with open(out_json, "w") as f:
        json.dump(merged, f, indent=2)
        f.write("\n")

    archs = list(models)
    rows = {}
    for a in archs:
        for r in models[a]["results"]:
            rows.setdefault((r["method"], r["weightBits"], r.get("blockSize")), {})[a] = r
    order = sorted(rows, key=lambda k: row_key({"method": k[0], "weightBits": k[1], "blockSize": k[2]}))
    lines = ["| method | W | B | " + " | ".join(f"{a} top-1 % (pp)" for a in archs) + " | bytes (" + archs[0] + ") |",
             "|---|---|---|" + "---|" * len(archs) + "---|",
             "| FP32 | 32 | | " + " | ".join(f"{100 * models[a]['fp32Top1']:.2f}" for a in archs)
             + f" | {models[archs[0]]['fp32WeightBytes']} |"]
    for k in order:
        cells = []
        for a in archs:
            r = rows[k].get(a)
            if r is None:
                cells.append("")
            else:
                cells.append(f"{100 * r['top1']:.2f} ({100 * (r['top1'] - models[a]['fp32Top1']):+.2f})")
        first = rows[k].get(archs[0])
        frac = f"{first['weightBytes'] / models[archs[0]]['fp32WeightBytes']:.3f}" if first else ""
        lines.append(f"| {k[0]} | {k[1]} | {k[2] or ''} | " + " | ".join(cells) + f" | {frac} |")
    with open(out_md, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
