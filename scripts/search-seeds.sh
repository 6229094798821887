#!/usr/bin/env bash
# The bit-width search tables of docs/results.md: `dsconv search` with every baseline for seeds 42, 1 and 2.
# Usage: scripts/search-seeds.sh NAME MODEL OUT_DIR [SEARCH OPTIONS...]
#   e.g. scripts/search-seeds.sh resnet models/fmnist-resnet.zip docs/search
#        scripts/search-seeds.sh resnet20 r20.zip docs/search --data cifar10/test --calibration-data cifar10/train-5k \
#          --scale 1/255 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
# Writes OUT_DIR/NAME-s<seed>.{json,plan.json,png} and keeps each run's evaluation log beside them.
# Evaluations are deterministic functions of the configuration (the calibration and scoring images are fixed), so
# each seed after the first starts from a copy of the previous seed's evaluation log: configurations already
# evaluated (the uniform ones, the greedy baseline, which does not depend on the seed) are read back instead of
# recomputed. Those runs' "seconds" therefore count only new evaluations; the first seed's is the full cost.
# SEEDS="42 1 2", BUDGET=40 and BASELINES=random,greedy-sensitivity,single-task-gp are the defaults;
# DSCONV=/path/to/launcher runs another build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="$1"; model="$2"; out="$3"; shift 3
dsconv() { "${DSCONV:-$root/dsconv}" "$@"; }
mkdir -p "$out"
previous=""
for seed in ${SEEDS:-42 1 2}; do
  base="$out/$name-s$seed"
  log="$base.search-log.json"
  resume=()
  if [ -f "$log" ]; then
    resume=(--resume)                      # an interrupted run of this seed: continue it
  elif [ -n "$previous" ]; then
    cp "$previous" "$log"; resume=(--resume)
  fi
  dsconv search --model "$model" --budget "${BUDGET:-40}" --baselines "${BASELINES:-random,greedy-sensitivity,single-task-gp}" \
    --seed "$seed" --out "$base.plan.json" --json "$base.json" --plot "$base.png" --checkpoint "$log" \
    "${resume[@]}" "$@" 2>"$base.err" | tee "$base.txt"
  previous="$log"
done
