#!/usr/bin/env bash
# Build llama-cpp-python (the pinned version) for x86-64-v3, never for the build machine's CPU, and print the
# wheel's path on the last line.
#
# Why: a GGML_NATIVE build carries the build machine's best kernels (AVX-512, AMX). On another CPU it can die
# with SIGILL, and its lossless records decode only where the same kernels compute the same floats. This build
# compiles exactly one kernel set (the Makefile's PORTABLE_CMAKE_ARGS: AVX, AVX2, FMA, F16C, BMI2, the
# `cpu-x86-64-v3` numerics profile), with AVX-512, AVX-VNNI and AMX off, so it runs on every x86-64 server of the
# last ten years and codes the same bits on each.
#
# The wheel is kept in ~/.cache/semzip/wheels/<key>, the key a hash of the version, these flags and the compiler,
# so a wheel built with other flags (pip's own cache holds it by version alone) can never be picked up instead.
#   PYTHON=.venv/bin/python bench/build_portable_wheel.sh     (CMAKE_ARGS: default the Makefile's PORTABLE_CMAKE_ARGS)
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
VERSION=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$HERE/pyproject.toml" | head -1)
[ -n "$VERSION" ] || { echo "no llama-cpp-python==X pin found in pyproject.toml" >&2; exit 2; }

FLAGS=${CMAKE_ARGS:-$(make -s -C "$HERE" portable-cmake-args)}
case " $FLAGS " in *" -DGGML_NATIVE=OFF "*) ;; *) echo "refusing a build without -DGGML_NATIVE=OFF: $FLAGS" >&2; exit 2 ;; esac
CC_ID=$(${CC:-cc} --version | head -1)
KEY=$(printf '%s\n%s\n%s\n%s\n' "$VERSION" "$FLAGS" "$CC_ID" "$(uname -m)" | sha256sum | cut -c1-16)
OUT=${SEMZIP_WHEEL_CACHE:-$HOME/.cache/semzip/wheels}/llama-cpp-python-$VERSION-x86-64-v3-$KEY

wheel=$(ls "$OUT"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  mkdir -p "$OUT"
  tmp=$(mktemp -d "$OUT.tmp.XXXXXX")
  echo "building llama-cpp-python $VERSION for x86-64-v3 (about 7 min on 2 cores): $FLAGS" >&2
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    "$PYTHON" -m pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python \
    -w "$tmp" "llama-cpp-python==$VERSION" >&2
  mv "$tmp"/llama_cpp_python-*.whl "$OUT"/ && rm -rf "$tmp"
  printf '%s\n' "$FLAGS" > "$OUT/CMAKE_ARGS"
  wheel=$(ls "$OUT"/llama_cpp_python-"$VERSION"-*.whl | head -1)
fi
echo "$wheel"
