#!/usr/bin/env bash
# Build llama.cpp tools from the source vendored in the pinned llama-cpp-python sdist, so a benchmark
# compares our engine with llama.cpp's own programs on exactly the same kernels.
#
#   bench/build_llama_cpp.sh [BACKEND] [TARGET ...]
#     BACKEND: cpu (default: -march=native, the build machine's best kernels) | avx2 (x86-64-v3 only, exactly
#              semzip's own build: the Makefile's PORTABLE_CMAKE_ARGS) | cuda | vulkan      TARGET: default llama-server
#
# Prints the folder holding the binaries (and libllama.so / libggml*.so for LLAMA_CPP_LIB_PATH) on its
# last line. Idempotent: an existing build is reused. Extra CMake flags: EXTRA_CMAKE_ARGS="...".
# Network: only `pip download` of the sdist from the package registry (skipped when SDIST= is given).
set -euo pipefail

BACKEND=${1:-cpu}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(llama-server)

HERE=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$HERE/pyproject.toml" | head -1)
[ -n "$VERSION" ] || { echo "no llama-cpp-python==X pin found in pyproject.toml" >&2; exit 2; }
ROOT=${SEMZIP_BUILD_ROOT:-$HOME/.cache/semzip/llama.cpp-$VERSION}
SRC=$ROOT/src
BUILD=$ROOT/build-$BACKEND

case $BACKEND in
  cpu) FLAGS=() ;;
  avx2) read -ra FLAGS <<< "$(make -s -C "$HERE" portable-cmake-args | sed 's/-DLLAVA_BUILD=OFF//')" ;;
  cuda) FLAGS=(-DGGML_CUDA=on "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-90}") ;;
  vulkan) FLAGS=(-DGGML_VULKAN=on) ;;
  *) echo "unknown backend '$BACKEND' (cpu, avx2, cuda or vulkan)" >&2; exit 2 ;;
esac

if [ ! -f "$SRC/CMakeLists.txt" ]; then
  mkdir -p "$ROOT"
  SDIST=${SDIST:-}
  if [ -z "$SDIST" ]; then
    python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$ROOT" >&2
    SDIST=$(ls "$ROOT"/llama_cpp_python-"$VERSION".tar.gz)
  fi
  # A trimmed copy: the build needs neither the models (but the Qwen2 vocab, for shape models),
  # docs, examples nor tests (about 10 MB instead of 176 MB).
  tmp=$(mktemp -d)
  tar -xzf "$SDIST" -C "$tmp" "llama_cpp_python-$VERSION/vendor/llama.cpp"
  v=$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp
  mkdir -p "$v/keep" && cp "$v/models/ggml-vocab-qwen2.gguf" "$v/keep/" 2>/dev/null || true
  rm -rf "$v/models" "$v/docs" "$v/tests" "$v/media" "$v/examples"/*/ "$v/benches" "$v/gguf-py/tests"
  mkdir -p "$v/models" "$v/tests" && mv "$v/keep"/* "$v/models/" 2>/dev/null || true
  rmdir "$v/keep"
  # CMake refers to these folders: keep them as empty projects.
  echo "" > "$v/tests/CMakeLists.txt"
  echo "" > "$v/examples/CMakeLists.txt"
  rm -rf "$SRC" && mv "$v" "$SRC" && rm -rf "$tmp"
fi

cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF "${FLAGS[@]}" ${EXTRA_CMAKE_ARGS:-} >&2
cmake --build "$BUILD" --target "${TARGETS[@]}" -j "$(nproc)" >&2
echo "$BUILD/bin"
