#!/usr/bin/env bash
# The README's real-model table: imports a Keras model, then for each configuration quantizes it (the library's
# defaults; the calibrated recipe where marked) and evaluates it against the FP32 model on every test image.
# Usage: scripts/real-models.sh NAME H5 TEST_DIR CALIB_DIR OUT_DIR [PREPROCESSING...]
#   e.g. scripts/real-models.sh resnet8 cifar10-resnet8-mlperf-tiny.h5 cifar10/test cifar10/train-5k docs/real \
#        --scale 1
# Writes OUT_DIR/NAME-<config>.json (evaluate's JSON plus the quantize report) and prints one line per config.
# DSConv models are evaluated on the integer engine (logits bit-identical to the float simulation, faster);
# LIMIT=N evaluates the first N images only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="$1"; h5="$2"; test_dir="$3"; calib_dir="$4"; out="$5"; shift 5
pre=("$@")
limit=(); [ -n "${LIMIT:-}" ] && limit=(--limit "$LIMIT")
mkdir -p "$out"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
# DSCONV=/path/to/launcher runs another build (e.g. a copy of the jar while this checkout is rebuilt).
dsconv() { "${DSCONV:-$root/dsconv}" "$@"; }
dsconv import-keras --h5 "$h5" --out "$work/fp32.zip" >/dev/null
dsconv evaluate --model "$work/fp32.zip" --data "$test_dir" "${pre[@]}" "${limit[@]}" --json "$out/$name-fp32.json" \
  2>/dev/null | tail -1
run() { # config-name, quantize options...
  local cfg="$1"; shift
  dsconv quantize --in "$work/fp32.zip" --out "$work/$cfg.zip" "$@" "${pre[@]}" --json "$out/$name-$cfg.quantize.json" \
    > "$work/$cfg.log"
  dsconv evaluate --model "$work/$cfg.zip" --reference "$work/fp32.zip" --data "$test_dir" "${pre[@]}" \
    "${limit[@]}" --engine integer --json "$out/$name-$cfg.json" 2>/dev/null | head -1 | sed "s/^/$cfg: /"
}
for b in 8 6 5 4 3 2; do run "w${b}a8" --weight-bits "$b" --act-bits 8; done
for b in 4 3 2; do
  run "w${b}a8-calibrated" --weight-bits "$b" --act-bits 8 --calibration-data "$calib_dir" --calibration-images 512
done
for b in 8 4; do run "rtn-w${b}a8" --weight-bits "$b" --act-bits 8 --method rtn-per-channel; done
