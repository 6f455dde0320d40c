"""Batches in flight finish in any order, yet the journal, output and cache counts are those of one at a time."""
import json

import pytest

from engine.codecs.record import Record
from engine.jobs.batch import BatchResult
from engine.jobs.cache import settings_fingerprint
from engine.jobs.pipeline import BatchProcessor, RunOptions


class Executor:
    """Records without a model (the text, upper-cased); answers its batches newest first when reverse is set."""

    def __init__(self, capacity: int, reverse: bool):
        self.capacity, self.reverse = capacity, reverse
        self.queue, self.computed = [], []

    def identity(self):
        return "model", "settings"

    def rungs(self):
        return [("cpu", "")]

    @property
    def num_in_flight(self):
        return len(self.queue)

    def submit(self, number, items, group_threshold, on_done=None):
        self.queue.append((number, items))

    def wait(self):
        number, items = self.queue.pop(-1 if self.reverse else 0)
        self.computed += [x.text for x in items]
        return [BatchResult(number, [Record(x.id, "raw", text=x.text.upper()) for x in items], worker=f"w{number % 2}")]


@pytest.mark.parametrize("output", ["file", "stdout"])
def test_out_of_order_batches_give_the_bytes_of_one_at_a_time(tmp_path, capsys, output):
    texts = ["alpha", "beta", "alpha", "gamma", "beta", "delta", "alpha", "", "epsilon", "gamma", "zeta", "eta"]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    runs = {}
    for name, executor in {"serial": Executor(1, False), "reversed": Executor(4, True)}.items():
        out = str(tmp_path / f"{name}.jsonl") if output == "file" else "-"
        summary = BatchProcessor(None, RunOptions(batch=2), executor=executor).run(str(src), out)
        data = (tmp_path / f"{name}.jsonl").read_text() if output == "file" else capsys.readouterr().out
        runs[name] = (data, summary.cache, sorted(executor.computed), summary.kinds)
    assert runs["reversed"] == runs["serial"]
    data, cache, computed, kinds = runs["serial"]
    assert [json.loads(line)["id"] for line in data.splitlines()] == [str(i) for i in range(len(texts))]
    assert computed == sorted({t for t in texts if t})  # each distinct text once: repeats wait for the first
    assert cache["hits"] == 4 and kinds["error"] == 1


def test_the_thread_count_is_part_of_the_settings():
    from engine.codecs.summary.compressor import CompressConfig
    from engine.core.runner import RunnerConfig

    one, two = (settings_fingerprint(CompressConfig(), RunnerConfig(), threads) for threads in (1, 2))
    assert one != two and '"threads": 1' in one
