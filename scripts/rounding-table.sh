#!/usr/bin/env bash
# The equal-bytes comparison of docs/results.md (issue "does DSConv's block structure pay for itself?"): for each
# weight method (DSConv B=32, per-channel symmetric) and each rounding (nearest, Hessian-aware, AdaRound), all with
# bias correction on the same calibration images, quantize at each bit width and evaluate against the FP32 model on
# every test image (on the integer engine, whose logits are bit-identical to the float simulation).
# Usage: scripts/rounding-table.sh NAME MODEL TEST_DATA CALIB_DATA OUT_DIR [PREPROCESSING...]
#   e.g. scripts/rounding-table.sh resnet models/fmnist-resnet.zip fashion-mnist fashion-mnist docs/rounding
#        scripts/rounding-table.sh resnet20 r20.zip cifar10/test cifar10/train-5k docs/rounding \
#          --scale 1/255 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
# Writes OUT_DIR/NAME-<method>-<rounding>-w<bits>.{json,quantize.json} and OUT_DIR/NAME-fp32.json;
# scripts/rounding-table.py OUT_DIR NAME prints the table and draws the Pareto plot.
# BITS="4 3 2", METHODS="dsconv rtn-per-channel", ROUNDINGS="nearest hessian adaround", IMAGES=512 (calibration),
# LIMIT=N (test images; default all), DSCONV=/path/to/launcher are the knobs. Existing results are kept (rerun-safe).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="$1"; model="$2"; test_data="$3"; calib="$4"; out="$5"; shift 5
pre=("$@")
limit=(); [ -n "${LIMIT:-}" ] && limit=(--limit "$LIMIT")
dsconv() { "${DSCONV:-$root/dsconv}" "$@"; }
mkdir -p "$out"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
[ -f "$out/$name-fp32.json" ] || dsconv evaluate --model "$model" --data "$test_data" "${pre[@]}" "${limit[@]}" \
  --json "$out/$name-fp32.json" 2>/dev/null | tail -1
for bits in ${BITS:-4 3 2}; do
  for method in ${METHODS:-dsconv rtn-per-channel}; do
    for rounding in ${ROUNDINGS:-nearest hessian adaround}; do
      cfg="$name-$method-$rounding-w$bits"
      [ -f "$out/$cfg.json" ] && continue
      dsconv quantize --in "$model" --out "$work/$cfg.zip" --method "$method" --weight-bits "$bits" --act-bits 8 \
        --rounding "$rounding" --calibration-data "$calib" --calibration-images "${IMAGES:-512}" "${pre[@]}" \
        --json "$out/$cfg.quantize.json" > "$work/$cfg.log"
      dsconv evaluate --model "$work/$cfg.zip" --reference "$model" --data "$test_data" "${pre[@]}" "${limit[@]}" \
        --engine integer --json "$out/$cfg.json" 2>/dev/null | head -1 | sed "s/^/$cfg: /"
      rm -f "$work/$cfg.zip"
    done
  done
done
