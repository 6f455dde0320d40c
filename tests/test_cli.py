"""The command line: doctor, models list and --version run against this installation; settings and options are
checked first."""
import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import engine
from engine.cli.cli import build_parser, main
from engine.codecs.profiles import REFERENCES

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_doctor_reports_backends_and_models(capsys, model_path):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ggml backends compiled in: " in out and "CPU" in out
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m (default: summary): present, verified" in out
    assert "gemma-3-270m-q4_k_m (default: lossless): present, verified" in out
    assert "GPU seen by NVML/ROCm SMI" in out or "GPU (" in out


def test_models_list_marks_the_default(capsys, model_path):
    assert main(["models", "list"]) == 0
    assert "* qwen2.5-coder-0.5b-instruct-q4_k_m" in capsys.readouterr().out


def test_settings_out_of_range_are_clear_errors_before_anything_is_created(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    for flags, words in [(["--slots", "0"], "flag --slots: performance.slots = 0 is out of range: allowed int in 1..255"),
                         (["--token-budget", "0"], "performance.token_budget = 0 is out of range"),
                         (["--cache-ttl", "-1"], "performance.cache_ttl = -1.0 is out of range: allowed float in "
                                                 "1..315360000 seconds"),
                         (["--batch", "0"], "performance.batch_size = 0 is out of range"),
                         (["--threshold", "1.5"], "compression.threshold = 1.5 is out of range: allowed float in 0..1")]:
        assert main(["compress", "/dev/null", "-o", str(out), *flags]) == 2
        assert words in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no output, no store


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_no_parser_takes_abbreviated_options(tmp_path, capsys):
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 8 and all(p.allow_abbrev is False for p in parsers)
    # `--mode` once passed for `--model`, and the ladder stepped over the "missing" model lossless: with both
    # options real now, a prefix of them must name neither.
    with pytest.raises(SystemExit) as exc:
        main(["compress", "/dev/null", "-o", str(tmp_path / "o.jsonl"), "--mod", "lossless"])
    assert exc.value.code == 2 and "unrecognized arguments: --mod lossless" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_every_command_prints_its_help():
    # A bare "%" in one setting's help once made `compress --help` and `eval --help` raise ValueError.
    for parser in _parsers(build_parser()):
        text = parser.format_help()
        assert parser.prog in text and "usage:" in text


def test_version_prints_semzip_llama_cpp_python_and_the_lossless_profiles(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert engine.__version__ == metadata.version("semzip") and f"semzip {engine.__version__}\n" in out
    assert f"llama-cpp-python {metadata.version('llama-cpp-python')}\n" in out
    read, written = out.split("lossless profiles read")[1].split("lossless profiles written by default")
    assert "regimes r1 r2" in read and "coders c1 c2 s1" in read
    assert all(f"  {n} {key}\n" in read for n, key in REFERENCES.items())  # this release reads every registered one
    assert f"  7 {REFERENCES[7]}\n" in written and f"  8 {REFERENCES[8]}\n" in written  # s1 for gemma and qwen
    assert ".r2.8625a2b7.c2.cpu-x86-64-v3 (a model with no shortlist)" in written


def test_version_loads_no_model_library_nor_torch():
    code = """
import sys
from engine.cli.cli import main
try:
    main(["--version"])
except SystemExit as exc:
    print(exc.code, sorted(m for m in ("llama_cpp", "torch", "sentence_transformers") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT).stdout
    assert out.splitlines()[-1] == "0 []"


def test_engine_version_falls_back_to_pyproject_in_an_uninstalled_tree(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == engine.DISTRIBUTION and engine.__version__ == project["version"]
