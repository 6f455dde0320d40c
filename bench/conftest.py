"""`pytest bench/`: throughput benchmarks with the real model (pytest-benchmark). The CI suite (tests/) skips them."""
# The plugin's option hook and fixtures, imported into this conftest (pytest_plugins works only at the root).
from engine.cli.pytest_plugin import pytest_addoption, semzip_bench, semzip_engine, semzip_engines  # noqa: F401
