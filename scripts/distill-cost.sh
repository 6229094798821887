#!/usr/bin/env bash
# Issue 4's cost target: one distillation epoch <= 2x an FP32 training epoch of the same model. For each family,
# times an FP32 training pass (`train --train-limit N`, from scratch, labels) and a distillation pass over the same
# number of unlabelled images (`distill --limit N --held-out 0`, W3 student with CDS), back to back under the same
# conditions, and prints the seconds per image of each and their ratio. Both timings include the command's own
# fixed costs (loading the data, a 100-image test for train; the before/after test-set evaluation is outside
# distill's history seconds), so small N favours neither much. Environment:
#   FAMILIES  families (default: resnet vgg googlenet densenet)
#   N         training images per run (default 1920 = 30 batches of 64)
#   OUT       output folder (default demo-out/distill-cost)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${OUT:-demo-out/distill-cost}"
n="${N:-1920}"
mkdir -p "$out"
for f in ${FAMILIES:-resnet vgg googlenet densenet}; do
  ./dsconv train --arch "$f" --epochs 1 --train-limit "$n" --test-limit 100 --seed 42 --out "$out/$f-fp32.zip" \
    --json "$out/$f-train.json" >/dev/null
  ./dsconv quantize --in "models/fmnist-$f.zip" --out "$out/$f-w3.zip" --weight-bits 3 --act-bits 8 --block 32 \
    --cds >/dev/null
  ./dsconv distill --teacher "models/fmnist-$f.zip" --student "$out/$f-w3.zip" --data fashion-mnist --epochs 1 \
    --limit "$n" --held-out 0 --test-limit 100 --out "$out/$f-w3.distilled.zip" --json "$out/$f-distill.json" \
    >/dev/null
done
python3 - "$out" ${FAMILIES:-resnet vgg googlenet densenet} <<'PY'
import json, os, sys
out, families = sys.argv[1], sys.argv[2:]
res = {}
print("| family | FP32 train s/image | distill s/image | ratio |")
print("|---|---|---|---|")
for f in families:
    t = json.load(open(os.path.join(out, f + "-train.json")))
    d = json.load(open(os.path.join(out, f + "-distill.json")))
    ts = t["seconds"] / t["trainImages"]
    ds = d["history"][0]["seconds"] / d["trainImages"]
    res[f] = {"trainSecondsPerImage": ts, "distillSecondsPerImage": ds, "ratio": ds / ts,
              "trainImages": t["trainImages"], "distillImages": d["trainImages"]}
    print(f"| {f} | {ts:.4f} | {ds:.4f} | {ds / ts:.2f} |")
json.dump(res, open(os.path.join(out, "distill-cost.json"), "w"), indent=2)
PY
