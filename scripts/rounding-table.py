#!/usr/bin/env python3
"""Prints the equal-bytes comparison table and draws its Pareto plot (SVG) from scripts/rounding-table.sh's JSON.

Usage: scripts/rounding-table.py OUT_DIR NAME [NAME...]
Writes OUT_DIR/NAME-pareto.svg (top-1 vs conv weight bytes, one series per method and rounding) and prints, per
model, a markdown table and the equal-bits answer: DSConv minus per-channel top-1 at W4 and W3 for each rounding,
with the bytes of each (DSConv stores one fp16 scale per 32 weights, per-channel one per output channel).
"""
import json
import os
import sys

METHODS = [("dsconv", "DSConv B=32"), ("rtn-per-channel", "per-channel")]
ROUNDINGS = [("nearest", "nearest"), ("hessian", "Hessian-aware"), ("adaround", "AdaRound")]
COLOURS = {"dsconv": ["#9ecae1", "#3182bd", "#08519c"], "rtn-per-channel": ["#fdae6b", "#e6550d", "#a63603"]}


def load(out, name):
    rows = []
    for f in sorted(os.listdir(out)):
        if not f.startswith(name + "-") or not f.endswith(".quantize.json"):
            continue
        cfg = f[len(name) + 1:-len(".quantize.json")]
        ev = os.path.join(out, f"{name}-{cfg}.json")
        if not os.path.exists(ev):
            continue
        method, rounding, bits = cfg.rsplit("-", 2)
        q = json.load(open(os.path.join(out, f)))
        e = json.load(open(ev))
        rows.append(dict(method=method, rounding=rounding, bits=int(bits[1:]), top1=e["top1"],
                         agreement=e.get("agreement"), bytes=q["dsconvWeightBytes"], seconds=q["seconds"],
                         images=e["images"]))
    return rows


def svg(path, title, rows, fp32):
    w, h, m = 640, 420, 60
    xs = [r["bytes"] for r in rows]
    ys = [100 * r["top1"] for r in rows] + [100 * fp32]
    x0, x1 = min(xs) * 0.95, max(xs) * 1.05
    y0, y1 = max(0, min(ys) - 2), min(100, max(ys) + 1)
    sx = lambda x: m + (x - x0) / (x1 - x0) * (w - 1.5 * m)
    sy = lambda y: h - m - (y - y0) / (y1 - y0) * (h - 1.7 * m)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>',
           f'<line x1="{m}" y1="{h - m}" x2="{w - m / 2}" y2="{h - m}" stroke="black"/>',
           f'<line x1="{m}" y1="{h - m}" x2="{m}" y2="{0.7 * m}" stroke="black"/>',
           f'<text x="{w / 2}" y="{h - 15}" text-anchor="middle">conv weight bytes</text>',
           f'<text x="15" y="{h / 2}" transform="rotate(-90 15 {h / 2})" text-anchor="middle">top-1 (%)</text>',
           f'<line x1="{m}" y1="{sy(100 * fp32)}" x2="{w - m / 2}" y2="{sy(100 * fp32)}" stroke="grey" '
           f'stroke-dasharray="4"/><text x="{w - m / 2}" y="{sy(100 * fp32) - 4}" text-anchor="end" '
           f'fill="grey">FP32 {100 * fp32:.2f}</text>']
    for k in range(5):
        xv = x0 + k * (x1 - x0) / 4
        yv = y0 + k * (y1 - y0) / 4
        out.append(f'<text x="{sx(xv)}" y="{h - m + 14}" text-anchor="middle">{xv:,.0f}</text>')
        out.append(f'<text x="{m - 4}" y="{sy(yv) + 4}" text-anchor="end">{yv:.1f}</text>')
    legend = 0
    for method, mlabel in METHODS:
        for i, (rounding, rlabel) in enumerate(ROUNDINGS):
            pts = sorted((r["bytes"], 100 * r["top1"], r["bits"]) for r in rows
                         if r["method"] == method and r["rounding"] == rounding)
            if not pts:
                continue
            c = COLOURS[method][i]
            out.append('<polyline fill="none" stroke="%s" points="%s"/>' % (c, " ".join(
                f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in pts)))
            for x, y, b in pts:
                shape = (f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{c}"/>' if method == "dsconv" else
                         f'<rect x="{sx(x) - 4:.1f}" y="{sy(y) - 4:.1f}" width="8" height="8" fill="{c}"/>')
                out.append(shape + f'<text x="{sx(x) + 5:.1f}" y="{sy(y) - 5:.1f}" fill="{c}">W{b}</text>')
            ly = 0.7 * m + 14 * legend
            out.append(f'<rect x="{w - 2.6 * m}" y="{ly - 8}" width="8" height="8" fill="{c}"/>'
                       f'<text x="{w - 2.6 * m + 12}" y="{ly}">{mlabel}, {rlabel}</text>')
            legend += 1
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def main(out, names):
    for name in names:
        rows = load(out, name)
        fp32 = json.load(open(os.path.join(out, f"{name}-fp32.json")))["top1"]
        print(f"\n{name}: FP32 top-1 {100 * fp32:.2f}%\n")
        print("| bits | method | rounding | conv weight bytes | top-1 % (vs FP32 pp) | agreement % | calibration s |")
        print("|---|---|---|---|---|---|---|")
        for r in sorted(rows, key=lambda r: (-r["bits"], r["method"] != "dsconv",
                                             [x for x, _ in ROUNDINGS].index(r["rounding"]))):
            ag = "" if r["agreement"] is None else f"{100 * r['agreement']:.2f}"
            print(f"| W{r['bits']} | {dict(METHODS)[r['method']]} | {dict(ROUNDINGS)[r['rounding']]} | "
                  f"{r['bytes']:,} | {100 * r['top1']:.2f} ({100 * (r['top1'] - fp32):+.2f}) | {ag} | "
                  f"{r['seconds']:.1f} |")
        by = {(r["method"], r["rounding"], r["bits"]): r for r in rows}
        for bits in (4, 3, 2):
            parts = []
            for rounding, rlabel in ROUNDINGS:
                d, p = by.get(("dsconv", rounding, bits)), by.get(("rtn-per-channel", rounding, bits))
                if d and p:
                    parts.append(f"{rlabel} {100 * (d['top1'] - p['top1']):+.2f} pp "
                                 f"({d['bytes'] / p['bytes']:.2f}x the bytes)")
            if parts:
                print(f"\nW{bits}, DSConv minus per-channel: " + "; ".join(parts))
        # Equal bytes: per-channel top-1 interpolated linearly between its bit widths at DSConv's bytes.
        for bits in (4, 3, 2):
            parts = []
            for rounding, rlabel in ROUNDINGS:
                d = by.get(("dsconv", rounding, bits))
                pc = sorted((r["bytes"], r["top1"]) for r in rows
                            if r["method"] == "rtn-per-channel" and r["rounding"] == rounding)
                if not d or len(pc) < 2:
                    continue
                for (xa, ya), (xb, yb) in zip(pc, pc[1:]):
                    if xa <= d["bytes"] <= xb:
                        y = ya + (yb - ya) * (d["bytes"] - xa) / (xb - xa)
                        parts.append(f"{rlabel} {100 * (d['top1'] - y):+.2f} pp")
                        break
            if parts:
                print(f"W{bits} DSConv minus per-channel at equal bytes (interpolated): " + "; ".join(parts))
        svg(os.path.join(out, f"{name}-pareto.svg"), f"{name}: top-1 vs conv weight bytes", rows, fp32)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
