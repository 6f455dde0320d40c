"""pytest-benchmark fixtures for semzip throughput: semzip's own bench/ runs on them, and a host project can
benchmark its own corpus with them (its conftest.py: `pytest_plugins = ["engine.cli.pytest_plugin"]`).

    def test_my_corpus(semzip_bench):
        records = semzip_bench("memories.jsonl")                        # compress, summary mode
        semzip_bench(records, op="reconstruct", mode="expand")
        coded = semzip_bench("memories.jsonl", mode="lossless")        # the exact text, arithmetic-coded
        semzip_bench(coded, op="reconstruct", mode="lossless")          # decoded back

Each mode's model loads once per session, outside every timing; each round is one whole pass over the corpus
(pedantic: rounds x 1 iteration, no warm-up round), sized for a 2-core CPU by default (--semzip-rounds).
Items per minute, bytes and the honest ratio go into the JSON's extra_info.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.codecs.item import Item
from engine.codecs.record import Record


def _compress(engine, items: list[Item]) -> list[Record]:
    return engine.compress_direct(items)


def _reconstruct(mode: str) -> Callable:
    return lambda engine, records: engine.reconstruct(records, mode=mode)


def _decode(engine, records: list[Record]) -> list[str]:
    return engine.reconstruct(records)  # raises on a record that does not decode


# (operation, mode) -> (the engine's mode, what one round runs). A codec is benchmarked by adding its entries.
OPERATIONS: dict[tuple[str, str], tuple[str, Callable]] = {
    ("compress", "summary"): ("summary", _compress),
    ("reconstruct", "render"): ("summary", _reconstruct("render")),
    ("reconstruct", "expand"): ("summary", _reconstruct("expand")),
    ("compress", "lossless"): ("lossless", _compress),
    ("reconstruct", "lossless"): ("lossless", _decode),
}


def pytest_addoption(parser) -> None:
    group = parser.getgroup("semzip", "semzip throughput benchmarks")
    group.addoption("--semzip-model", default=None, help="models.lock name or GGUF path (default: the lock's default)")
    group.addoption("--semzip-slots", type=int, default=16, help="sequences decoded together (default 16)")
    group.addoption("--semzip-score", action="store_true", help="score fidelity (and retry) as `semzip compress` does")
    group.addoption("--semzip-rounds", type=int, default=3, help="timed passes over the corpus (default 3)")


def load_items(corpus) -> list[Item]:
    """Items from a JSONL file ('text' or 'dialogue' field), a text file (a memory a line), or a list of str/Item."""
    if isinstance(corpus, (str, Path)):
        path = Path(corpus)
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in lines]
            return [Item(str(r.get("id", n)), r.get("text", r.get("dialogue"))) for n, r in enumerate(rows, 1)]
        return [Item(str(n), line) for n, line in enumerate(lines, 1)]
    return [c if isinstance(c, Item) else Item(str(n), c) for n, c in enumerate(corpus, 1)]


@pytest.fixture(scope="session")
def semzip_engines(request):
    """engines(mode): one Engine per mode for the whole session, with the options' model, slots and scoring
    (--semzip-model names summary mode's model; lossless mode takes the lock's default_lossless)."""
    from engine.api import Engine
    from engine.codecs.summary.compressor import CompressConfig
    from engine.core.runner import RunnerConfig

    opt = request.config.getoption
    opened: dict[str, Engine] = {}

    def engines(mode: str) -> Engine:
        if mode not in opened:
            model = opt("--semzip-model") if mode == "summary" else None
            opened[mode] = Engine(model, RunnerConfig(num_slots=opt("--semzip-slots")),
                                  CompressConfig(score=opt("--semzip-score")), mode=mode)
        return opened[mode]

    yield engines
    for engine in opened.values():
        engine.close()


@pytest.fixture(scope="session")
def semzip_engine(semzip_engines):
    """Summary mode's Engine."""
    return semzip_engines("summary")


@pytest.fixture
def semzip_bench(benchmark, semzip_engines, request):
    """semzip_bench(corpus, op="compress", mode="summary"): time OPERATIONS[op, mode] over the corpus, return its output.

    corpus: a path or a list of texts/Items for compress, a list of Records for reconstruct.
    """
    rounds = request.config.getoption("--semzip-rounds")

    def run(corpus, op: str = "compress", mode: str = "summary"):
        if (op, mode) not in OPERATIONS:
            raise ValueError(f"no benchmark for {op} in mode {mode}; known: {sorted(OPERATIONS)}")
        data = corpus if op == "reconstruct" else load_items(corpus)
        engine_mode, fn = OPERATIONS[op, mode]
        engine = semzip_engines(engine_mode)  # loaded (and, lossless, self-tested) outside the timing
        out = benchmark.pedantic(fn, args=(engine, data), rounds=rounds, iterations=1, warmup_rounds=0)
        stats = getattr(benchmark, "stats", None)  # none under --benchmark-disable: the function ran once, untimed
        median = stats.stats.median if stats is not None else None
        info = {"op": op, "mode": mode, "items": len(data),
                "items_per_min": len(data) / median * 60 if median else None}
        if op == "compress":
            size_in = sum(len(it.text.encode("utf-8")) for it in data)
            size_out = sum(r.stored_bytes for r in out)
            info.update(bytes_in=size_in, bytes_out=size_out, honest_ratio=size_in / size_out if size_out else None)
        benchmark.extra_info.update(info)
        return out

    return run
