#!/usr/bin/env bash
# Shows that a refactoring changed no result: builds the CLI of another revision (default: main~1) in a temporary
# clone, runs the same command with both builds and compares their JSON outputs with timing fields removed
# (any key containing "seconds" or "PerSec", and "created").
#   scripts/same-results.sh [REV] [-- COMMAND ARGS...]   (default command: demo --limit 500)
# Prints "identical" and exits 0, or the differing paths and exits 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rev="${1:-main~1}"; shift || true
[ "${1:-}" = "--" ] && shift
cmd=("$@"); [ ${#cmd[@]} -eq 0 ] && cmd=(demo --limit 500)
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
git -C "$root" worktree add -q --detach "$work/old" "$rev"
trap 'git -C "$root" worktree remove --force "$work/old"; rm -rf "$work"' EXIT
(cd "$work/old" && mvn -q -B -o -DskipTests -pl dl4j-dsconv-examples -am package >&2)
jar_old="$(ls "$work"/old/dl4j-dsconv-examples/target/*-cli.jar)"
(cd "$root" && ./dsconv --version >/dev/null)   # builds this checkout's jar if needed
jar_new="$(ls "$root"/dl4j-dsconv-examples/target/*-cli.jar)"
for side in old new; do
  jar="jar_$side"
  (cd "$root" && java -Xmx8g -Ddsconv.home="$root" -Djava.awt.headless=true \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -jar "${!jar}" "${cmd[@]}" --json "$work/$side.json" \
      > "$work/$side.txt" 2>/dev/null)
done
python3 - "$work/old.json" "$work/new.json" <<'PY'
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if "seconds" not in k.lower() and "persec" not in k.lower()
                and k != "created"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
def diff(x, y, path="$"):
    if type(x) != type(y):
        return [path]
    if isinstance(x, dict):
        out = [path + "." + k for k in set(x) ^ set(y)]
        for k in set(x) & set(y):
            out += diff(x[k], y[k], path + "." + k)
        return out
    if isinstance(x, list):
        if len(x) != len(y):
            return [path + " (length)"]
        return [p for i in range(len(x)) for p in diff(x[i], y[i], f"{path}[{i}]")]
    return [] if x == y else [f"{path}: {x!r} != {y!r}"]
d = diff(a, b)
print("identical" if not d else "\n".join(d[:40]))
sys.exit(0 if not d else 1)
PY
