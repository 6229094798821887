#!/usr/bin/env bash
# The test command: installs missing test data, then builds and runs every module's tests
# (unit, integration and accuracy tests on real Fashion-MNIST data), then executes every notebook of
# dl4j-dsconv-examples/notebooks headless on small subsets (run.sh; reuses the CLI jar this build made) and
# checks their outputs. Tests tagged "slow" are excluded; run them with:
# ./scripts/test.sh -Dtest.excludedGroups=none. DSCONV_SKIP_NOTEBOOKS=1 skips the notebooks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/install-data.sh
mvn -B -ntp verify "$@"
if [ "${DSCONV_SKIP_NOTEBOOKS:-0}" != "1" ]; then
  ./dl4j-dsconv-examples/notebooks/run.sh
fi
