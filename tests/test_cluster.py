"""Scale-out on Ray, for real: a local cluster on 127.0.0.1, two actors, the single-process run's bytes.

One reference run in this process; then two actors over a Ray Dataset, one of them SIGKILLed mid-run,
and `semzip compress --ray` whose driver is SIGKILLed and resumed must both give its output byte for byte.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before ray: the test cluster binds 127.0.0.1 only
import ray  # noqa: E402  (the README's test command installs the ray extra)

from engine.cli.cli import main  # noqa: E402
from engine.codecs.container import Container  # noqa: E402

from journal import journal_rows, wait_for_journal  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "dialogues.jsonl"  # the project's own fixtures
NOTES = ["lunch with Sam on Friday at noon", "the wifi password is on the fridge", "Bob prefers tea, not coffee",
         "call the dentist about the March appointment", "parking is in lot C after 6 pm", "Ana's birthday is in June",
         "the report is due on the 14th", "bring the blue folder to the meeting", "renew the passport before August",
         "gym closes at 9 on Sundays", "Tom's flight lands at 7:40", "book club moved to Thursday"]
# Batches of 2: L = dialogue opening (the model writes its record), N = note (stored raw), E = empty (an error
# record). The repeats of L0, L2 and L1 land while the batch computing them may still be in flight.
ORDER = ["L0", "N0", "L1", "L0", "N1", "L2", "E", "N2", "N3", "N4", "N5",
         "N6", "N7", "L2", "N8", "N9", "N10", "N11", "E", "N3", "L1"]
RATIO = "2"  # on NOTES[:6]: two exact records and four kept ones (measured), so one run has both codecs
FLAGS = ["--mode", "summary", "--no-score", "--batch", "2", "--slots", "2", "--threads", "1"]  # threads change CPU greedy text


def _rows() -> list[dict]:
    dialogues = [json.loads(line) for line in DATA.open()][:3]
    rows = {f"L{k}": {"id": d["id"], "text": d["text"][:d["text"].find("\n", 220)]}
            for k, d in enumerate(dialogues)}
    rows.update({f"N{k}": {"id": f"note{k}", "text": t} for k, t in enumerate(NOTES)})
    rows["E"] = {"id": "empty", "text": "  "}
    return [rows[key] for key in ORDER]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    return path


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory, model_path):
    out = tmp_path_factory.mktemp("ref") / "out.jsonl"
    assert main(["compress", str(corpus), "-o", str(out), *FLAGS]) == 2  # the empty texts
    kinds = [json.loads(line)["k"] for line in out.open()]
    assert kinds.count("l") >= 3 and kinds.count("e") == 2  # the model's records are what is compared
    return out


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster: 3 CPUs, so two 1-CPU actors leave one for the driver's Dataset reads."""
    ray.init(num_cpus=3, include_dashboard=False, object_store_memory=256 * 2**20, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")
    yield address
    ray.shutdown()


def _cli(corpus, out) -> list[str]:
    return [sys.executable, "-m", "engine.cli", "compress", str(corpus), "-o", str(out), *FLAGS]


def _actor_pids() -> list[int]:
    """The actor processes of the test cluster (descendants of this process: its raylet started them)."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if " ".join(p.cmdline()).startswith("ray::BatchActor"):
                found.append(p.pid)
        except psutil.Error:
            pass
    return found


def test_two_actors_over_a_ray_dataset_give_the_single_process_bytes_through_a_sigkilled_actor(
        corpus, reference, cluster, tmp_path):
    from engine.cluster.dataset import compress_dataset
    from engine.cluster.executor import ClusterOptions
    from engine.codecs.summary.compressor import CompressConfig
    from engine.core.runner import RunnerConfig
    from engine.jobs.pipeline import RunOptions
    from engine.jobs.spec import EngineSpec

    out = tmp_path / "out.jsonl"
    killed = []

    def kill_one_actor_after_the_first_commit():
        deadline = time.monotonic() + 300
        while journal_rows(out) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        victims = _actor_pids()
        if len(victims) == 2:
            os.kill(victims[0], signal.SIGKILL)
            killed.append(victims[0])

    killer = threading.Thread(target=kill_one_actor_after_the_first_commit, daemon=True)
    killer.start()
    spec = EngineSpec(runner=RunnerConfig(num_slots=2, n_threads=1), compress=CompressConfig(score=False),
                      mode="summary")  # = FLAGS
    summary = compress_dataset(ray.data.from_items(_rows()), str(out), spec, RunOptions(batch=2),
                               ClusterOptions(actors=2))
    killer.join()
    assert killed, "no actor was killed mid-run"
    assert out.read_bytes() == reference.read_bytes()
    workers = summary.workers
    assert sorted(workers) == ["actor0", "actor1"]
    # Which processes report batches (the killed one, if it finished one before the kill; its restart, if batches
    # are left by the time its engine has loaded) is a timing matter: only the bytes and the counts are asserted.
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    assert sum(w["items"] for w in workers.values()) == 3 + 12  # distinct texts: a retried batch reports once
    assert summary.cache["hits"] == 4  # the repeats, as in one process
    assert summary.generated_tokens == sum(w["generated_tokens"] for w in workers.values()) > 0


def test_a_sigkilled_driver_resumes_to_the_same_bytes(corpus, reference, cluster, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(_cli(corpus, out) + ["--ray", cluster, "--actors", "2"], stderr=subprocess.DEVNULL)
    try:
        wait_for_journal(out, proc, 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    done = journal_rows(out)
    assert 2 <= done < len(ORDER) and not out.exists()
    resumed = subprocess.run(_cli(corpus, out) + ["--ray", cluster, "--actors", "2", "--resume"],
                             stderr=subprocess.DEVNULL, timeout=600)
    assert resumed.returncode == 2
    assert out.read_bytes() == reference.read_bytes()
    assert main(["report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == len(ORDER) and sorted(report["workers"]) == ["actor0", "actor1"]


def test_coded_modes_on_an_actor_give_the_single_process_bytes_and_decode_here(cluster, tmp_path, capsys):
    """The ratio knob on a Ray actor, whose records are both exact (lossless) and kept clauses: the actor's
    records are the bytes this process writes, and they decode here (the canonical regime holds across processes)."""
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"id": f"n{k}", "text": t}) + "\n" for k, t in enumerate(NOTES[:6])))
    flags = ["--mode", "lossless", "--ratio", RATIO, "--batch", "3", "--slots", "8", "--threads", "1", "--no-monitor"]
    here, there = tmp_path / "here.szr", tmp_path / "there.szr"
    assert main(["compress", str(src), "-o", str(here), *flags]) == 0
    assert main(["compress", str(src), "-o", str(there), *flags, "--ray", cluster, "--actors", "1"]) == 0
    assert there.read_bytes() == here.read_bytes()
    kinds = [r.kind for r in Container(there)]
    assert "lossless" in kinds and "kept" in kinds, kinds  # both codecs ran on the actor
    back = tmp_path / "back.jsonl"
    capsys.readouterr()
    assert main(["reconstruct", str(there), "-o", str(back)]) == 0
    texts = [json.loads(line)["text"] for line in back.open()]
    for kind, text, note in zip(kinds, texts, NOTES):
        if kind == "lossless":
            assert text == note
        else:  # kept clauses: every word was in the note
            assert set(text.replace("…", " ").split()) <= set(note.split())
