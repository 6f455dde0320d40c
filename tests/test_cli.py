"""The command line: doctor and models list run against this installation."""
from engine.cli import main


def test_doctor_reports_backends_and_models(capsys, model_path):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ggml backends compiled in: " in out and "CPU" in out
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m (default): present, verified" in out
    assert "GPU seen by NVML/ROCm SMI" in out or "GPU (" in out


def test_models_list_marks_the_default(capsys, model_path):
    assert main(["models", "list"]) == 0
    assert "* qwen2.5-coder-0.5b-instruct-q4_k_m" in capsys.readouterr().out
