"""The regime self-test's verdict is kept per build, model, CPU and regime, so a read starts in milliseconds."""
from engine.api import Engine
from engine.codecs.lossless import selftest
from engine.core.runner import RunnerConfig


def test_a_kept_verdict_skips_the_self_test_and_a_new_key_runs_it(lossless_engine, lossless_model_path, monkeypatch,
                                                                   tmp_path):
    kept = selftest.verdict_path(lossless_engine.runner, lossless_engine.compressor.regime, lossless_engine.model_sha)
    assert kept is not None and kept.is_file()  # the session's engine passed and kept it
    calls = []
    real_check = selftest.check
    monkeypatch.setattr(selftest, "check", lambda runner, regime: calls.append(1) or real_check(runner, regime))
    with Engine(str(lossless_model_path), RunnerConfig(num_slots=32), mode="lossless") as engine:  # the same key
        assert engine.compress(["kept verdict"])[0].kind in ("lossless", "raw")
    elsewhere = tmp_path / "selftest" / "other.passed"
    monkeypatch.setattr(selftest, "verdict_path", lambda runner, regime, model: elsewhere)
    with Engine(str(lossless_model_path), mode="lossless"):
        pass
    assert calls == [1] and elsewhere.is_file()  # only the unknown key ran the test, and kept its pass
