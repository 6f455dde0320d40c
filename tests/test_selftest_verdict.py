"""The regime self-test's verdict is kept per build, model, CPU and regime, so a read starts in milliseconds."""
from engine.api import Engine
from engine.codecs.lossless import selftest
from engine.core.runner import RunnerConfig


def test_a_kept_verdict_skips_the_self_test_and_a_new_key_runs_it(lossless_engine, lossless_model_path, monkeypatch,
                                                                   tmp_path):
    key = selftest.verdict_path(lossless_engine.runner, lossless_engine.compressor.regime, lossless_engine.model_sha)
    assert key is None or key.parent.name == "selftest"  # None: llama.cpp was imported before semzip set the force
    calls = []
    real_check = selftest.check
    monkeypatch.setattr(selftest, "check", lambda runner, regime: calls.append(1) or real_check(runner, regime))
    kept = tmp_path / "selftest" / "this-build.passed"
    monkeypatch.setattr(selftest, "verdict_path", lambda runner, regime, model: kept)
    for _ in range(2):
        with Engine(str(lossless_model_path), RunnerConfig(num_slots=8), mode="lossless") as engine:
            assert engine.compress(["kept verdict"])[0].kind in ("lossless", "raw")
    assert calls == [1] and kept.is_file()  # the first load ran the test and kept its pass; the second did not
    monkeypatch.setattr(selftest, "verdict_path", lambda runner, regime, model: None)  # an untrusted load
    with Engine(str(lossless_model_path), RunnerConfig(num_slots=8), mode="lossless"):
        pass
    assert calls == [1, 1]
