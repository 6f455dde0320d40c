# Two commands set everything up on a fresh machine: `make demo` and `make test` (both idempotent).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)
# The one CPU kernel set llama.cpp is built with: x86-64-v3 (AVX, AVX2, FMA, F16C, BMI2), never -march=native. A
# native build crashed with SIGILL on an Intel Xeon with AMX and codes other bits than another machine's; this one
# runs on every x86-64 server of the last ten years and codes the same bits on each (numerics profile cpu-x86-64-v3).
# Changing it changes lossless records' numerics: it needs a new profile (engine/codecs/profiles.py).
PORTABLE_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF \
	-DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: install model demo test test-services portable-cmake-args vulkan-test bench bench-server results clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	# llama-cpp-python with PORTABLE_CMAKE_ARGS, built once per flags and compiler, kept in ~/.cache/semzip/wheels
	$(PY) -m pip install --quiet --no-deps --force-reinstall \
		"$$(CMAKE_ARGS='$(PORTABLE_CMAKE_ARGS)' PYTHON=$(PY) bash bench/build_portable_wheel.sh | tail -1)"
	# torch first, pinned to the CPU wheel present on these machines, so sentence-transformers pulls no CUDA packages
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,ray,langgraph,postgres,mcp,keyring]'
	touch $@

model: install
	$(VENV)/bin/semzip models fetch

demo: model
	$(VENV)/bin/semzip demo

test: model test-services
	$(PY) -m pytest -q

# The memory store's PostgreSQL tests start their own server from Debian's postgresql package; installed here when
# missing and we may (root with apt-get), else those tests skip, saying why.
test-services:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
				|| echo "postgresql could not be installed: the PostgreSQL store tests will skip" >&2; \
		else echo "no postgresql (needs root to install): the PostgreSQL store tests will skip" >&2; fi; \
	fi

portable-cmake-args:
	@echo $(PORTABLE_CMAKE_ARGS)

# Optional, not part of `make test`: a Vulkan build of the same llama.cpp, run on Mesa's lavapipe
# (needs root for apt; 4 to 5 min to build on 2 cores).
vulkan-test: model
	lib=$$(bash bench/build_vulkan_lavapipe.sh | tail -1) && export LLAMA_CPP_LIB_PATH=$$lib GGML_VK_VISIBLE_DEVICES=0 && \
		$(VENV)/bin/semzip doctor && $(PY) -m pytest -q tests/test_vulkan.py tests/test_bindings.py

bench: model
	$(PY) bench/bench_generate.py --n 32

# llama.cpp's own llama-server (built from the vendored source on first use) against `semzip compress`
bench-server: model
	$(PY) bench/bench_server.py --n 64

# bench/RESULTS.md and README.md's results block from bench/results/*.jsonl (the bench scripts append to them)
results:
	$(PY) -m bench.report

clean:
	rm -rf $(VENV) build *.egg-info
