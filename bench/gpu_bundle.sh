#!/usr/bin/env bash
# Prepare, on a machine with network, what bench/gpu_run.sh needs on an air-gapped GPU machine, in
# .gpubundle/ (git-ignored; it travels with the device tool's `carry`, 64 MiB a call with the repo):
#
#   llama-cpp-python-src.tar.gz  the pinned sdist's llama_cpp package, CMakeLists.txt and vendor/llama.cpp,
#                                trimmed to what builds libllama, ggml (CPU, CUDA, HIP, Vulkan) and the tools
#   shapes/*.meta.gguf.gz        tokenizer, hyperparameters and tensor list of each real model (no weights):
#                                gpu_run.sh writes random-weight shape models from them
#   data/dialogsum-dev.jsonl     the corpus the benches read (../shared/data does not travel)
#   wheels/*.whl                 the Python packages the GPU image lacks (KINDS.md lists what it has), cp312
#   MANIFEST                     sizes and sha256s
#
#   bench/gpu_bundle.sh          # SDIST=path/to/llama_cpp_python-0.3.36.tar.gz skips the sdist download
#
# Network: `pip download` of the sdist (unless SDIST is given) and of the wheels; `semzip models fetch`
# if a real model is missing. Then, with a GPU machine lent (CMakeLists-notes.md, "GPU runs in one command"):
#   run(command="bench/gpu_run.sh", carry=[".gpubundle"], timeout_s=600), again at once while it says NOT DONE.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
PYTHON=${PYTHON:-$HERE/.venv/bin/python}
OUT=${BUNDLE:-$HERE/.gpubundle}
LIMIT_MIB=${LIMIT_MIB:-60}  # the device tool takes 64 MiB a call, the repository's own files included
VERSION=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml | head -1)
# Python packages the engine and llama-cpp-python import that the GPU image lacks (numpy, psutil, jinja2,
# prometheus-client, nvidia-ml-py are there); constriction is the lossless codec's arithmetic coder.
WHEELS=${WHEELS:-"diskcache cachetools zstandard constriction"}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$OUT" && mkdir -p "$OUT/shapes" "$OUT/data" "$OUT/wheels"

# 1. the llama-cpp-python source, trimmed
SDIST=${SDIST:-}
if [ -z "$SDIST" ]; then
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$tmp"
  SDIST=$tmp/llama_cpp_python-$VERSION.tar.gz
fi
tar -xzf "$SDIST" -C "$tmp"
s=$tmp/llama_cpp_python-$VERSION
v=$s/vendor/llama.cpp
# Not needed to build libllama, ggml and llama-batched-bench / llama-quantize: models, docs, tests,
# examples, the server and its web UI, gguf-py (engine/models/gguf.py reads GGUF), backends other than
# CPU / CUDA / HIP / Vulkan (ggml adds a backend's folder only when it is switched on).
rm -rf "$v"/{models,docs,media,benches,gguf-py,pocs,scripts,.github,.devops,conversion} "$v/examples"/*/ \
  "$v/tools"/{ui,server,cli,tuning,rpc} "$v/tests"
for b in sycl opencl metal hexagon et webgpu openvino cann virtgpu zdnn zendnn musa; do rm -rf "$v/ggml/src/ggml-$b"; done
mkdir -p "$v/tests" && : > "$v/tests/CMakeLists.txt" && : > "$v/examples/CMakeLists.txt"
tar -czf "$OUT/llama-cpp-python-src.tar.gz" -C "$tmp" --owner=0 --group=0 \
  "llama_cpp_python-$VERSION/llama_cpp" "llama_cpp_python-$VERSION/vendor" \
  "llama_cpp_python-$VERSION"/{CMakeLists.txt,pyproject.toml,README.md,LICENSE.md}

# 2. shape metadata of the real models (fetched and verified if missing)
for name in qwen2.5-coder-0.5b-instruct-q4_k_m gemma-3-270m-q4_k_m; do
  path=$("$PYTHON" -m engine.cli models fetch "$name" | sed -n 's/^[^:]*: \(.*\) (verified)$/\1/p')
  "$PYTHON" -m tools.make_shape_model meta "$path" -o "$tmp/$name.meta.gguf"
  gzip -9 -c "$tmp/$name.meta.gguf" > "$OUT/shapes/$name.meta.gguf.gz"
done

# 3. the corpus
cp "$HERE/../shared/data/dialogsum-dev.jsonl" "$OUT/data/"

# 4. wheels for the GPU image's Python 3.12 (manylinux x86-64), at the versions installed here
for pkg in $WHEELS; do
  ver=$("$PYTHON" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$pkg" 2>/dev/null || true)
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$OUT/wheels" "$pkg${ver:+==$ver}"
done

(cd "$OUT" && find . -type f ! -name MANIFEST | sort | xargs sha256sum > MANIFEST && du -b $(cut -c67- MANIFEST) >> MANIFEST)
total=$(du -sm "$OUT" | cut -f1)
repo=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
echo "bundle $OUT: $total MiB (+ $((repo / 1048576)) MiB of tracked files); limit $LIMIT_MIB MiB"
(cd "$OUT" && find . -type f | sort | xargs du -h)
[ "$total" -le "$LIMIT_MIB" ] || { echo "bundle over $LIMIT_MIB MiB: it would not travel in one call" >&2; exit 1; }
