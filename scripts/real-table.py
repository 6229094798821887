#!/usr/bin/env python3
"""Prints the README's real-model table rows from the JSON files scripts/real-models.sh wrote.

Usage: scripts/real-table.py OUT_DIR NAME [NAME...]
"""
import json
import os
import sys

CONFIGS = [("w8a8", "DSConv W8A8"), ("w6a8", "DSConv W6A8"), ("w5a8", "DSConv W5A8"), ("w4a8", "DSConv W4A8"),
           ("w3a8", "DSConv W3A8"), ("w2a8", "DSConv W2A8"), ("w8a8-calibrated", "calibrated W8A8"),
           ("w4a8-calibrated", "calibrated W4A8"), ("w3a8-calibrated", "calibrated W3A8"),
           ("w2a8-calibrated", "calibrated W2A8"), ("rtn-w8a8", "RTN per channel W8A8"),
           ("rtn-w4a8", "RTN per channel W4A8")]


def main(out, names):
    for name in names:
        fp32 = json.load(open(os.path.join(out, name + "-fp32.json")))
        print(f"| {name} | FP32 | {100 * fp32['top1']:.2f} | | | {fp32['images']} |")
        for cfg, label in CONFIGS:
            f = os.path.join(out, f"{name}-{cfg}.json")
            if not os.path.exists(f):
                continue
            e = json.load(open(f))
            q = json.load(open(os.path.join(out, f"{name}-{cfg}.quantize.json")))
            delta = 100 * (e["top1"] - fp32["top1"])
            ratio = q["fp32WeightBytes"] / q["dsconvWeightBytes"]
            print(f"| {name} | {label} | {100 * e['top1']:.2f} ({delta:+.2f}) | {100 * e['agreement']:.2f} "
                  f"| {ratio:.2f}x | {e['images']} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
