# Sourced by bench/gpu_run.sh for BACKEND=cuda: finds what ggml-cuda links against and adds the CMake
# flags to CMAKE_EXTRA and the run-time folders to LD_LIBRARY_PATH. Needs log(), PYTHON and WORK.
#
# A CUDA toolkit assembled from pip (as on the CPU machine here: nvcc 13.0 in /usr/local/cuda-13.0 with
# only cudart) has neither cuBLAS nor libcuda's stub. cuBLAS then comes from pip's nvidia-cublas, which
# PyTorch's images carry (nvidia/cu13/{include,lib}, or nvidia/cublas for CUDA 12); libcuda from the
# driver's own folders; without one (a machine with no driver), GGML_CUDA_NO_VMM=ON drops the link.

cuda_link_dir() {  # NAME TARGET: FindCUDAToolkit asks for libNAME.so; wheels and drivers ship libNAME.so.N
  mkdir -p "$WORK/cuda-link"
  ln -sfn "$2" "$WORK/cuda-link/lib$1.so"
  echo "$WORK/cuda-link/lib$1.so"
}

cuda_find_cublas() {
  local bin inc d sub
  bin=$(dirname "$(command -v nvcc)")
  for inc in "$bin/../include" "$bin/../targets/x86_64-linux/include" /usr/include /usr/local/cuda/include; do
    [ -f "$inc/cublas_v2.h" ] && return 0
  done
  for d in $("$PYTHON" -c "import nvidia; print(' '.join(nvidia.__path__))" 2>/dev/null) ${CUBLAS_SEARCH:-}; do
    for sub in cu13 cublas cu12; do
      [ -f "$d/$sub/include/cublas_v2.h" ] || continue
      CMAKE_EXTRA="$CMAKE_EXTRA -DCUDA_cublas_LIBRARY=$(cuda_link_dir cublas "$(ls "$d/$sub"/lib/libcublas.so.* | head -1)")"
      CMAKE_EXTRA="$CMAKE_EXTRA -DCUDA_cublasLt_LIBRARY=$(cuda_link_dir cublasLt "$(ls "$d/$sub"/lib/libcublasLt.so.* | head -1)")"
      CMAKE_EXTRA="$CMAKE_EXTRA -DCMAKE_CUDA_FLAGS=-I$d/$sub/include -DCMAKE_CXX_FLAGS=-I$d/$sub/include"
      export LD_LIBRARY_PATH="$d/$sub/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      log "cuBLAS from pip: $d/$sub"
      return 0
    done
  done
  log "no cuBLAS found (CUDA toolkit or pip's nvidia-cublas): the CUDA build will fail"
}

cuda_find_driver() {
  local bin f
  bin=$(dirname "$(command -v nvcc)")
  for f in "$bin"/../lib64/stubs/libcuda.so "$bin"/../lib/stubs/libcuda.so "$bin"/../targets/x86_64-linux/lib/stubs/libcuda.so; do
    [ -f "$f" ] && return 0  # FindCUDAToolkit finds the stub itself
  done
  for f in /usr/local/nvidia/lib64/libcuda.so.1 /usr/local/nvidia/lib/libcuda.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so.1 \
           /usr/lib64/libcuda.so.1 $(ldconfig -p 2>/dev/null | sed -n 's/.*libcuda\.so\.1 .*=> //p'); do
    if [ -f "$f" ]; then
      CMAKE_EXTRA="$CMAKE_EXTRA -DCUDA_cuda_driver_LIBRARY=$(cuda_link_dir cuda "$f")"
      log "libcuda: $f"
      return 0
    fi
  done
  CMAKE_EXTRA="$CMAKE_EXTRA -DGGML_CUDA_NO_VMM=ON"
  log "no libcuda (driver) found: building with GGML_CUDA_NO_VMM=ON (ggml's legacy memory pool)"
}

for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
  command -v nvcc >/dev/null && break
  [ -x "$d/nvcc" ] && export PATH="$PATH:$d"
done
command -v nvcc >/dev/null || log "no nvcc on PATH: the CUDA build will fail"
cuda_find_cublas
cuda_find_driver
