# Two commands set everything up on a fresh machine: `make demo` and `make test` (both idempotent).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)

.PHONY: install model demo test vulkan-test bench bench-server clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml bench/x86-64-v3.cmake-flags
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	# llama-cpp-python for x86-64-v3, never -march=native: it runs on every x86-64 server and codes the same bits
	# on each (bench/build_portable_wheel.sh); built once per flags and compiler, kept in ~/.cache/semzip/wheels
	$(PY) -m pip install --quiet --no-deps --force-reinstall "$$(PYTHON=$(PY) bash bench/build_portable_wheel.sh | tail -1)"
	# torch first, pinned to the CPU wheel present on these machines, so sentence-transformers pulls no CUDA packages
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,ray,langgraph,postgres]'
	touch $@

model: install
	$(VENV)/bin/semzip models fetch

demo: model
	$(VENV)/bin/semzip demo

test: model
	$(PY) -m pytest -q

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

clean:
	rm -rf $(VENV) build *.egg-info
