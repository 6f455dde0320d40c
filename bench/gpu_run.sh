#!/usr/bin/env bash
# The GPU run in one command, on an air-gapped machine: build, shape models, every measurement, one table.
#
#   bench/gpu_run.sh                        # from the repo root on the GPU machine, .gpubundle/ beside it
#   BACKEND=cpu QUICK=1 bench/gpu_run.sh    # the same steps on a CPU machine: CPU build, tiny shapes, few sequences
#
# .gpubundle/ comes from bench/gpu_bundle.sh (run where there is network). With the device tool:
#   run(command="bench/gpu_run.sh", carry=[".gpubundle"], timeout_s=600)   and again while it prints NOT DONE
# Each step leaves its output in .gpuwork/ (ignored by git, kept by a warm machine between calls) and is
# skipped when that output exists, so a call stopped by the 10-minute limit continues in the next one.
#   1 python   wheels from the bundle into .gpuwork/site; the sdist's llama_cpp package on PYTHONPATH
#   2 build    libllama + ggml (CUDA for the GPU's compute capability) and llama-batched-bench, llama-quantize,
#              one build of the bundled source for the engine (LLAMA_CPP_LIB_PATH) and the tools
#   3 models   random-weight shape models of the 0.5B default, gemma-3-270m and Qwen2.5-7B (F16, then
#              llama-quantize Q4_K_M), pinned in .gpuwork/models.lock; `semzip doctor` on that lock
#   4 matrix   tools/gpu_matrix.py: summary throughput + llama-batched-bench, lossless self-test + throughput
# Env: BACKEND (cuda | cpu; default cuda where nvidia-smi answers), QUICK=1, SLOTS (default 1,8,32,64,128),
# GEN_TOKENS (53), BUDGET_S (seconds this call may run; default 550), PYTHON (default python3), CUDA_ARCH,
# STOP_AFTER (build | models: end there, e.g. to build in one call and measure in the next).
# Output: the table on stdout and in .gpuwork/run-cuda/results/table.md (run-cpu-quick, ...); with $OUT set,
# table.md, rows.json, the logs and figures/*.jsonl (the benches' figures: append them to bench/results/) there.
set -uo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
BUDGET_S=${BUDGET_S:-550}
BUNDLE=${BUNDLE:-$HERE/.gpubundle}
WORK=${WORK:-$HERE/.gpuwork}
PYTHON=${PYTHON:-python3}
QUICK=${QUICK:-0}
if [ -z "${BACKEND:-}" ]; then
  if nvidia-smi -L >/dev/null 2>&1; then BACKEND=cuda; else BACKEND=cpu; fi
fi
VERSION=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml | head -1)
# Builds are per backend; models, results and the lock per backend and mode (a QUICK run never feeds a full one).
RUN=$WORK/run-$BACKEND$([ "$QUICK" = 1 ] && echo -quick)
mkdir -p "$RUN/results" "$RUN/models" "$WORK/logs"
log() { echo "[$(date +%H:%M:%S) +${SECONDS}s] $*" >&2; }
left() { echo $((BUDGET_S - SECONDS)); }
need() { [ "$(left)" -ge "$1" ] || not_done "$2 needs about $1 s and $(left) s are left in this call"; }
not_done() {
  log "NOT DONE: $1. Run the same command again: finished steps are kept in $WORK while the machine is warm."
  save_out; exit 3
}
save_out() {
  [ -n "${OUT:-}" ] || return 0
  cp "$RUN/results/table.md" "$OUT/" 2>/dev/null
  cp "$RUN/rows.json" "$OUT/" 2>/dev/null
  [ -d "$RUN/figures" ] && mkdir -p "$OUT/figures" && cp "$RUN"/figures/*.jsonl "$OUT/figures/" 2>/dev/null
  for f in "$WORK"/logs/*.log; do [ -f "$f" ] && tail -c 2000000 "$f" > "$OUT/$(basename "$f")"; done
  return 0
}
[ -f "$BUNDLE/llama-cpp-python-src.tar.gz" ] || { echo "no $BUNDLE: run bench/gpu_bundle.sh where there is network" >&2; exit 2; }

# 1. python: the engine runs from this checkout, llama_cpp from the sdist, over the libraries built below
SDIST=$WORK/sdist/llama_cpp_python-$VERSION
if [ ! -f "$WORK/sdist/.done" ]; then
  rm -rf "$WORK/sdist" && mkdir -p "$WORK/sdist"
  tar -xzf "$BUNDLE/llama-cpp-python-src.tar.gz" -C "$WORK/sdist" && touch "$WORK/sdist/.done" || exit 2
  ln -sfn "sdist/llama_cpp_python-$VERSION/vendor/llama.cpp" "$WORK/src"
fi
[ -d "$SDIST/llama_cpp" ] || { echo "the bundle holds no llama-cpp-python $VERSION (pyproject's pin): run bench/gpu_bundle.sh again" >&2; exit 2; }
if [ ! -f "$WORK/site/.done" ]; then
  mkdir -p "$WORK/site"
  for whl in "$BUNDLE"/wheels/*.whl; do  # one at a time: a wheel for another Python is reported, not fatal
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$WORK/site" "$whl" \
      >>"$WORK/logs/python.log" 2>&1 || log "wheel $(basename "$whl") not installed for this Python (see logs/python.log)"
  done
  touch "$WORK/site/.done"
fi
export PYTHONPATH="$WORK/site:$SDIST:$HERE${PYTHONPATH:+:$PYTHONPATH}"
export LLAMA_CPP_LIB_PATH="$WORK/build-$BACKEND/bin"
export SEMZIP_DATA="$BUNDLE/data" SEMZIP_CACHE="$WORK/cache" PYTHONUNBUFFERED=1
# the benches' figures as JSON lines (bench/results.py), back through $OUT/figures to be appended to bench/results
export SEMZIP_BENCH_RESULTS="$RUN/figures"
# On a CPU shared with other work, OpenMP's spinning waits made llama-batched-bench 10-50x slower at one
# sequence (6-14 against 145-378 generated tok/s, 2-core machine at load 7): both sides wait passively there.
[ "$BACKEND" = cpu ] && export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# 2. build: one CMake build of the bundled llama.cpp for the engine's libraries and llama.cpp's own tools
CMAKE_EXTRA="-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF"
[ "$BACKEND" = cuda ] && . bench/cuda_env.sh  # cuBLAS and libcuda: CMake flags, LD_LIBRARY_PATH
if [ ! -f "$WORK/build-$BACKEND/.done" ]; then
  if [ "$BACKEND" = cuda ] && [ -z "${CUDA_ARCH:-}" ]; then
    CUDA_ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
    export CUDA_ARCH
  fi
  need 60 "the build"
  log "build ($BACKEND${CUDA_ARCH:+, CUDA arch $CUDA_ARCH}), $(left) s left in this call"
  SEMZIP_BUILD_ROOT=$WORK EXTRA_CMAKE_ARGS="$CMAKE_EXTRA" \
    timeout "$(left)" bash bench/build_llama_cpp.sh "$BACKEND" llama ggml llama-batched-bench llama-quantize \
    >>"$WORK/logs/build.log" 2>&1
  rc=$?
  [ $rc -eq 124 ] && not_done "the build is not finished ($(grep -c '^\[' "$WORK/logs/build.log") steps logged)"
  [ $rc -eq 0 ] || { tail -30 "$WORK/logs/build.log" >&2; log "build failed ($rc)"; save_out; exit 2; }
  touch "$WORK/build-$BACKEND/.done"
  log "build done"
fi
BIN=$WORK/build-$BACKEND/bin
[ "${STOP_AFTER:-}" = build ] && { log "stopping after the build (STOP_AFTER)"; exit 0; }

# 3. models: shape models from the bundled metadata (no weights travel)
Q05=qwen2.5-coder-0.5b-instruct-q4_k_m GEMMA=gemma-3-270m-q4_k_m
SHAPE_ARGS=() TINY7B=()
if [ "$QUICK" = 1 ]; then SHAPE_ARGS=(--layers 2); TINY7B=(--layers 2 --hidden 256 --heads 4 --kv-heads 2 --ffn 512); fi
M=$RUN/models
for name in $Q05 $GEMMA; do
  [ -f "$M/$name.meta.gguf" ] && continue
  gunzip -c "$BUNDLE/shapes/$name.meta.gguf.gz" > "$M/$name.meta.gguf.part" && mv "$M/$name.meta.gguf.part" "$M/$name.meta.gguf" || exit 2
done
make_model() {  # NAME SECONDS ARGS...: skipped when the file exists (make_shape_model.py writes it atomically)
  local out=$M/$1.gguf seconds=$2; shift 2
  [ -f "$out" ] && return 0
  need "$seconds" "shape model $(basename "$out")"
  log "shape model $(basename "$out"), $(left) s left"
  timeout "$(left)" "$PYTHON" -m tools.make_shape_model "$@" -o "$out" >>"$WORK/logs/models.log" 2>&1
  local rc=$?
  [ $rc -eq 124 ] && not_done "the shape models are not finished"
  [ $rc -eq 0 ] || { tail -20 "$WORK/logs/models.log" >&2; log "shape model failed ($rc)"; save_out; exit 2; }
  tail -1 "$WORK/logs/models.log" >&2
}
make_model shape-$Q05 30 clone "$M/$Q05.meta.gguf" "${SHAPE_ARGS[@]}"
make_model shape-$GEMMA 30 clone "$M/$GEMMA.meta.gguf" "${SHAPE_ARGS[@]}"
# the 7B: 15.2 GB of F16, then llama-quantize; started only with time for both
make_model shape-qwen2.5-7b-instruct-q4_k_m $([ "$QUICK" = 1 ] && echo 30 || echo 240) qwen2.5-7b \
  --vocab "$M/$Q05.meta.gguf" --quantize "$BIN/llama-quantize" "${TINY7B[@]}"
export SEMZIP_MODELS_LOCK=$RUN/models.lock
if [ ! -f "$RUN/results/doctor.txt" ]; then
  {
    echo "# shape models of this GPU run (random weights, real shapes): bench/gpu_run.sh"
    echo "default = \"shape-$Q05\""
    for entry in shape-$Q05:qwen2 shape-$GEMMA:gemma3 shape-qwen2.5-7b-instruct-q4_k_m:qwen2; do
      printf '\n[models."%s"]\narchitecture = "%s"\nquantization = "Q4_K_M"\nsource = "user-path"\n' "${entry%:*}" "${entry#*:}"
    done
  } > "$SEMZIP_MODELS_LOCK"
  for name in shape-$Q05 shape-$GEMMA shape-qwen2.5-7b-instruct-q4_k_m; do
    "$PYTHON" -m engine.cli models pin "$name" "$M/$name.gguf" >>"$WORK/logs/models.log" 2>&1 || { log "pin $name failed"; exit 2; }
  done
  "$PYTHON" -m engine.cli doctor > "$RUN/results/doctor.txt" 2>&1 || log "doctor exited $? (see results/doctor.txt)"
  cat "$RUN/results/doctor.txt" >&2
fi

[ "${STOP_AFTER:-}" = models ] && { log "stopping after the models (STOP_AFTER)"; exit 0; }

# 4. the measurements, then the table
if [ "$BACKEND" = cuda ]; then
  GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)
  GPU="$GPU, CUDA $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), arch ${CUDA_ARCH:-?}"
else
  GPU="no GPU: CPU build"
fi
HEADER="GPU run $(date -u +%Y-%m-%dT%H:%MZ): $GPU; $(nproc) CPU threads; $("$PYTHON" -V 2>&1); backend $BACKEND$([ "$QUICK" = 1 ] && echo ', QUICK (tiny shapes)')"
if [ "$QUICK" = 1 ]; then
  MATRIX=(--slots "${SLOTS:-1,4}" --gen-tokens "${GEN_TOKENS:-8}" --n-per-slot 1 --min-n 4 --min-row-s 10)
else
  MATRIX=(--slots "${SLOTS:-1,8,32,64,128}" --gen-tokens "${GEN_TOKENS:-53}")
fi
[ "$BACKEND" = cuda ] && MATRIX+=(--gpu-layers -1) || MATRIX+=(--gpu-layers 0)
need 30 "the measurements"
log "measurements, $(left) s left"
"$PYTHON" -m tools.gpu_matrix "${MATRIX[@]}" --python "$PYTHON" --batched-bench "$BIN/llama-batched-bench" \
  --results "$RUN/results" --deadline $(($(date +%s) + $(left))) --header "$HEADER" \
  --model "qwen2.5-7b=$M/shape-qwen2.5-7b-instruct-q4_k_m.gguf" --model "qwen2.5-0.5b=$M/shape-$Q05.gguf" \
  --model "gemma-3-270m=$M/shape-$GEMMA.gguf" --all "$RUN/rows.json" \
  > "$RUN/results/table.md" 2> >(tee -a "$WORK/logs/matrix.log" >&2)
rc=$?
cat "$RUN/results/table.md"
[ $rc -eq 3 ] && not_done "measurements remain"
save_out
[ $rc -eq 0 ] || { log "the matrix exited $rc (see logs/matrix.log)"; exit $rc; }
log "done"
