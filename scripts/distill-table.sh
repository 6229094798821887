#!/usr/bin/env bash
# The distillation results table (issue 4): for each committed small family and each weight bit width, convert
# the FP32 model to DSConv (A8, B=32, CDS initialised to the identity so "before" is plain DSConv), adapt it with
# label-free distillation for at most one epoch, and collect the before/after JSON into one file plus a Markdown
# table. Environment:
#   FAMILIES  families to run            (default: every committed models/fmnist-<family>.zip)
#   BITS      weight bit widths          (default: 4 3 2)
#   LIMIT     unlabelled training images (default: 0 = all 60,000, i.e. one full epoch)
#   OUT       output folder              (default: demo-out/distill)
#   QUANTIZE_FLAGS  more `quantize` options for the student, e.g. "--kds-bias --clip-search --bias-correct 512"
#                   to distil the calibrated student of the accuracy table rather than plain DSConv (default none)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${OUT:-demo-out/distill}"
bits="${BITS:-4 3 2}"
limit="${LIMIT:-0}"
families="${FAMILIES:-}"
if [ -z "$families" ]; then
  for f in resnet vgg googlenet densenet; do
    [ -f "models/fmnist-$f.zip" ] && families="$families $f"
  done
fi
mkdir -p "$out"
for f in $families; do
  for b in $bits; do
    stem="$out/$f-w$b"
    if [ -f "$stem.distill.json" ]; then
      echo "distill-table: $stem.distill.json exists, skipping" >&2
      continue
    fi
    ./dsconv quantize --in "models/fmnist-$f.zip" --out "$stem.zip" --weight-bits "$b" --act-bits 8 --block 32 \
      --cds ${QUANTIZE_FLAGS:-} --json "$stem.quantize.json" >/dev/null
    ./dsconv distill --teacher "models/fmnist-$f.zip" --student "$stem.zip" --data fashion-mnist --epochs 1 \
      --limit "$limit" --out "$stem.distilled.zip" --json "$stem.distill.json.tmp"
    mv "$stem.distill.json.tmp" "$stem.distill.json"
  done
done
python3 - "$out" $families <<'PY'
import json, os, sys
out, families = sys.argv[1], sys.argv[2:]
rows, all_ = [], {}
print("| family | W | images | before top-1 % | after top-1 % | FP32 top-1 % | after - FP32 pp | distill s | FP32 train s/epoch |")
print("|---|---|---|---|---|---|---|---|---|")
for f in families:
    prov = json.load(open(f"models/fmnist-{f}.zip.provenance.json"))
    for name in sorted(os.listdir(out)):
        if not (name.startswith(f + "-w") and name.endswith(".distill.json")):
            continue
        d = json.load(open(os.path.join(out, name)))
        w = name[len(f) + 2:].split(".")[0]
        all_[f"{f}-w{w}"] = d
        fp32 = prov["top1"]
        print(f"| {f} | W{w} | {d['images']} | {100*d['before']['top1']:.2f} | {100*d['after']['top1']:.2f} | "
              f"{100*fp32:.2f} | {100*(d['after']['top1']-fp32):+.2f} | {d['seconds']:.0f} | "
              f"{prov['seconds']/prov['epochs']:.0f} |")
json.dump(all_, open(os.path.join(out, "distill-table.json"), "w"), indent=2)
PY
