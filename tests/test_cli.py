"""The command line: doctor and models list run against this installation."""
from engine.cli.cli import main


def test_doctor_reports_backends_and_models(capsys, model_path):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ggml backends compiled in: " in out and "CPU" in out
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m (default): present, verified" in out
    assert "GPU seen by NVML/ROCm SMI" in out or "GPU (" in out


def test_models_list_marks_the_default(capsys, model_path):
    assert main(["models", "list"]) == 0
    assert "* qwen2.5-coder-0.5b-instruct-q4_k_m" in capsys.readouterr().out


def test_settings_out_of_range_are_clear_errors_before_anything_is_created(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    for flags, words in [(["--slots", "0"], "num_slots must be in 1..256, got 0"),
                         (["--token-budget", "0"], "token budget (n_batch) and n_ubatch must be >= 1"),
                         (["--cache-ttl", "-1"], "cache TTL > 0"), (["--batch", "0"], "need batch >= 1")]:
        assert main(["compress", "/dev/null", "-o", str(out), *flags]) == 2
        assert words in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no output, no store
