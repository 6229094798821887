#!/usr/bin/env bash
# Builds the integer engine's native kernels (dsconv_kernels.c) into OUT_DIR/libdsconv-kernels.so with the machine's
# gcc; called by the Maven build (dl4j-dsconv-core/pom.xml, process-classes). Never fails the build: without gcc, JNI
# headers or an x86-64 Linux it says why and the engine keeps its Java/oneDNN path (NativeKernels.available()).
# Usage: build.sh OUT_DIR JAVA_HOME
set -u
out="$1"; jhome="$2"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/dsconv_kernels.c"
skip() { echo "[dsconv native] not built: $1 (the integer engine will use its Java/oneDNN path)"; exit 0; }
[ "$(uname -s)" = Linux ] || skip "not Linux"
[ "$(uname -m)" = x86_64 ] || skip "not x86-64"
cc="${CC:-gcc}"
command -v "$cc" >/dev/null 2>&1 || skip "no C compiler ($cc)"
inc="$jhome/include"
[ -f "$inc/jni.h" ] || inc="$jhome/../include"
[ -f "$inc/jni.h" ] || skip "no jni.h under $jhome"
mkdir -p "$out"
tmp="$out/.libdsconv-kernels.so.$$"
# -O2 without -ffast-math: the kernel's bit-identity depends on IEEE products and sums (no FTZ, no reassociation).
if "$cc" -O2 -std=c11 -fPIC -shared -fno-fast-math -ffp-contract=off -Wall -Wextra -Werror -I"$inc" -I"$inc/linux" -o "$tmp" "$src" -lm; then
  mv -f "$tmp" "$out/libdsconv-kernels.so"
  echo "[dsconv native] built $out/libdsconv-kernels.so"
else
  rm -f "$tmp"
  skip "$cc failed"
fi
