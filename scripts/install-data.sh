#!/usr/bin/env bash
# Installs what the demo and the tests need from Debian when it is missing: the Fashion-MNIST IDX files
# (package dataset-fashion-mnist, into /usr/share/datasets/fashion-mnist). Idempotent.
# Skipped when FASHION_MNIST_DIR points at a folder that already holds the files.
set -euo pipefail

if [ -n "${FASHION_MNIST_DIR:-}" ] && [ -e "$FASHION_MNIST_DIR/t10k-labels-idx1-ubyte.gz" -o -e "$FASHION_MNIST_DIR/t10k-labels-idx1-ubyte" ]; then
  exit 0
fi
if [ -e /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-data: need root (or sudo) to run: apt-get install -y dataset-fashion-mnist" >&2; exit 1
  fi
fi
echo "install-data: installing Debian package dataset-fashion-mnist..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends dataset-fashion-mnist >/dev/null 2>&1; then
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y --no-install-recommends dataset-fashion-mnist >/dev/null
fi
test -e /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
