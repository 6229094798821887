#!/usr/bin/env bash
# The test command: installs missing test data, then builds and runs every module's tests
# (unit, integration and accuracy tests on real Fashion-MNIST data). Tests tagged "slow" are excluded;
# run them with: ./scripts/test.sh -Dtest.excludedGroups=none
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/install-data.sh
mvn -B -ntp verify "$@"
