"""The batch processor: cache equality, resume after SIGKILL byte-identical, refusing a changed input."""
import json
import os
import signal
import subprocess
import sys

import pytest

from engine.cli.cli import main
from engine.jobs.store import RunStore

from corpus import dialogues, openings, write_jsonl
from journal import journal_rows, wait_for_journal


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = write_jsonl(tmp_path_factory.mktemp("corpus") / "in.jsonl", openings(5))
    with path.open("a") as f:
        f.write("not json\n")
    return path


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory, model_path):
    out = tmp_path_factory.mktemp("ref") / "out.jsonl"
    assert main(["compress", str(corpus), "-o", str(out), "--mode", "summary", "--no-score", "--batch", "2"]) == 1  # one bad line
    return out


def test_second_run_is_all_cache_hits_and_identical(corpus, reference, tmp_path, capsys):
    out = tmp_path / "again.jsonl"
    store = str(reference) + ".semzip.db"
    assert main(["compress", str(corpus), "-o", str(out), "--mode", "summary", "--no-score", "--batch", "2", "--store", store]) == 1
    assert out.read_bytes() == reference.read_bytes()
    assert "cache hits / misses                             5 / 0" in capsys.readouterr().err


def test_resume_after_sigkill_is_byte_identical(corpus, reference, tmp_path):
    """SIGKILLed once its first batch is committed (the journal says when: no guessed delay), then again in
    its resumed run; the last resume finishes the rest: the output is the uninterrupted run's, byte for byte."""
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "engine.cli", "compress", str(corpus), "-o", str(out), "--mode", "summary", "--no-score", "--batch", "2"]
    for resume, committed in ((False, 2), (True, 4)):  # each kill leaves model work to do
        proc = subprocess.Popen(cmd + (["--resume"] if resume else []), stderr=subprocess.DEVNULL)
        try:
            wait_for_journal(out, proc, committed)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            proc.kill()
        assert committed <= journal_rows(out) < 6 and not out.exists()
    assert subprocess.run(cmd + ["--resume"], stderr=subprocess.DEVNULL, timeout=600).returncode == 1  # the bad line
    assert out.read_bytes() == reference.read_bytes()


def test_resume_refuses_a_changed_input(corpus, tmp_path, capsys):
    changed = tmp_path / "in.jsonl"
    changed.write_text(corpus.read_text().replace("#Person1#", "#PersonA#", 1))
    store = tmp_path / "out.jsonl.semzip.db"
    with RunStore(store) as s:
        s.set_meta("input_sha256", "0" * 64)
    assert main(["compress", str(changed), "-o", str(tmp_path / "out.jsonl"), "--resume", "--mode", "summary", "--no-score"]) == 2
    assert "changed since the checkpoint" in capsys.readouterr().err


def test_corrupt_store_is_a_clear_error(tmp_path, capsys, model_path):
    store = tmp_path / "bad.db"
    store.write_bytes(b"this is not sqlite" * 100)
    src = tmp_path / "in.txt"
    src.write_text("x" * 200 + "\n")
    assert main(["compress", str(src), "-o", str(tmp_path / "o.jsonl"), "--store", str(store), "--resume", "--mode", "summary", "--no-score"]) == 2
    assert "is corrupt" in capsys.readouterr().err


def test_grouped_run_reorders_admission_but_not_the_output(corpus, reference, tmp_path):
    # At cosine 0.25 the five openings group as [0, 1, 2, 4, 3] (1-2: 0.28, 2-4: 0.34; opening 0's cosines 0.13-0.22).
    out, summary = tmp_path / "grouped.jsonl", tmp_path / "summary.json"
    argv = ["compress", str(corpus), "-o", str(out), "--mode", "summary", "--no-score", "--batch", "8", "--group", "0.25"]
    assert main(argv + ["--summary-json", str(summary)]) == 1
    ids = lambda p: [json.loads(line)["id"] for line in p.open()]  # noqa: E731
    assert ids(out) == ids(reference)
    assert [json.loads(line)["k"] for line in out.open()] == ["l"] * 5 + ["e"]
    s = json.loads(summary.read_text())
    assert s["records"] == 6 and s["failed"] == 1 and s["kinds"] == {"llm": 5, "error": 1}
    assert 0 < s["checkpoint_s"] < s["wall_s"]
    assert s["prompt_tokens"] > 5 * 50 and s["generated_tokens"] > 5 * 10


def test_without_the_persistent_cache_a_rerun_recomputes(tmp_path, capsys, model_path):
    src = tmp_path / "in.txt"  # short lines are stored raw: the cache path without model work
    src.write_text("a short note about lunch\nanother short note\na short note about lunch\n")
    argv = ["compress", str(src), "-o", str(tmp_path / "o.jsonl"), "--mode", "summary", "--no-score", "--store", str(tmp_path / "s.db")]
    assert main(argv + ["--no-persistent-cache", "--cache-size", "5", "--cache-ttl", "60"]) == 0
    assert "cache hits / misses                             0 / 3" in capsys.readouterr().err
    assert main(argv + ["--no-persistent-cache"]) == 0
    assert "cache hits / misses                             0 / 3" in capsys.readouterr().err
    assert main(argv) == 0  # fills the store's cache
    capsys.readouterr()
    assert main(argv) == 0
    assert "cache hits / misses                             3 / 0" in capsys.readouterr().err


def test_drop_store_leaves_the_output_and_no_store_files(tmp_path, model_path):
    src = tmp_path / "in.txt"
    src.write_text("a short note about lunch\nanother short note\n")
    out = tmp_path / "o.jsonl"
    assert main(["compress", str(src), "-o", str(out), "--mode", "summary", "--no-score", "--drop-store"]) == 0  # monitor on: it writes last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "o.jsonl"]
    assert len(out.read_text().splitlines()) == 2


class _Bar:
    """Stands in for tqdm: remembers each update."""

    updates: list[int] = []

    def __init__(self, *args, **kwargs):
        type(self).updates = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        self.updates.append(n)


class _Monitor:
    def __init__(self):
        self.items = []

    def on_item(self, size, rec, done=None):
        self.items.append((rec.id, done is not None, done.latency_s if done else None))

    def on_cache(self, stats):
        pass

    def on_generation(self, stats):
        pass


def test_progress_and_monitor_advance_per_item_before_the_batch_commits(tmp_path, monkeypatch):
    """No model: the extractive rung fires the codecs' per-item events like the summary codec does."""
    from engine.codecs.summary.compressor import CompressConfig
    from engine.core.runner import RunnerConfig
    from engine.jobs import pipeline
    from engine.jobs.ladder import ExtractiveEngine

    monkeypatch.setattr(pipeline, "tqdm", _Bar)
    store = RunStore(tmp_path / "s.db")
    journal_at_each_event = []

    class Watched(ExtractiveEngine):
        def compress_direct(self, items, on_done):
            def watch(event):
                journal_at_each_event.append(len(store.journal_rows()))
                on_done(event)
            return super().compress_direct(items, watch)

    texts = [d["text"] for d in dialogues()[:3]]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts + [texts[0]]))
                   + "not json\n")
    monitor = _Monitor()
    engine = Watched(CompressConfig(score=False), RunnerConfig())
    options = pipeline.RunOptions(batch=5, store_path=str(tmp_path / "s.db"))
    summary = pipeline.BatchProcessor(engine, options, monitor).run(str(src), str(tmp_path / "out.jsonl"))
    store.close()
    assert journal_at_each_event == [0, 0, 0]  # three distinct texts, each reported before the batch committed
    assert _Bar.updates == [1] * 5  # the bad line, three texts, and the repeat of the first
    assert sorted(monitor.items) == sorted([("5", False, None), ("d0", True, None), ("d0", False, None),
                                            ("d1", True, None), ("d2", True, None)])  # a repeat costs nothing
    assert summary.num_records == 5 and summary.rungs == {"cpu": 4}
