"""Tools that are neither the package nor a measurement, and that the tests exercise: the GPU run's matrix and its
report (bench/gpu_run.sh runs them), and random-weight shape models of real GGUFs (what that run measures)."""
