"""semzip.toml, presets and flags: the settings table, where the file is found, precedence, and clear errors."""
import json

import pytest

from engine.cli.cli import main
from engine.cli.settings import PRESETS, SETTINGS


def test_the_table_is_consistent():
    assert len({s.key for s in SETTINGS}) == len({s.flag for s in SETTINGS}) == len({s.dest for s in SETTINGS}) == len(SETTINGS)
    for s in SETTINGS:
        if s.default is not None:
            assert s.check(s.default, "default") == s.default
    by_key = {s.key: s for s in SETTINGS}
    for name, values in PRESETS.items():
        for key, value in values.items():
            by_key[key].check(value, f"preset {name}")  # raises if a preset leaves the allowed range


def _show(capsys, *argv) -> dict:
    assert main(["config", "show", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_precedence_defaults_preset_file_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _show(capsys)["performance.slots"] == {"value": 16, "source": "default"}
    (tmp_path / "semzip.toml").write_text('preset = "gpu-16gb"\n[performance]\nbatch_size = 32\n'
                                          '[monitoring]\nmetrics_port = 9464\n')
    got = _show(capsys)
    assert got["performance.slots"] == {"value": 64, "source": "preset gpu-16gb"}
    assert got["performance.batch_size"] == {"value": 32, "source": str(tmp_path / "semzip.toml")}
    assert got["monitoring.metrics_port"]["value"] == 9464
    got = _show(capsys, "--batch", "8", "--preset", "cpu", "--no-score")
    assert got["performance.batch_size"] == {"value": 8, "source": "flag --batch"}
    assert got["performance.slots"] == {"value": 16, "source": "preset cpu"}  # --preset replaces the file's preset
    assert got["compression.score"] == {"value": False, "source": "flag --no-score"}


def test_the_file_is_found_in_the_working_directory_then_the_user_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "xdg" / "semzip"
    user.mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (user / "semzip.toml").write_text("[performance]\nslots = 4\n")
    assert _show(capsys)["performance.slots"] == {"value": 4, "source": str(user / "semzip.toml")}
    (tmp_path / "semzip.toml").write_text("[performance]\nslots = 8\n")
    assert _show(capsys)["performance.slots"]["value"] == 8
    other = tmp_path / "other.toml"
    other.write_text("[performance]\nslots = 2\n")
    assert _show(capsys, "--config", str(other))["performance.slots"]["value"] == 2


def test_show_prints_toml_with_the_source_of_every_setting(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "semzip.toml").write_text('[compression]\nthreshold = 0.7\n')
    assert main(["config", "show", "--slots", "8"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# config file: {tmp_path / 'semzip.toml'}\n")
    assert "\n[performance]\n" in out and "\n[compression]\n" in out
    lines = {line.split("=")[0].strip(): line for line in out.splitlines() if "=" in line and not line.startswith("#")}
    assert lines["slots"].split("#")[-1].strip() == "flag --slots"
    assert lines["threshold"].startswith("threshold = 0.7") and lines["threshold"].endswith(str(tmp_path / "semzip.toml"))
    assert lines["batch_size"].endswith("# default")
    assert "# model = (unset: the lock default)" not in out and "# name = (unset: the lock default)" in out


@pytest.mark.parametrize("text, words", [
    ("[performance]\nslots = 0\n", "performance.slots = 0 is out of range: allowed int in 1..255"),
    ("[performance]\nslots = \"16\"\n", "performance.slots = '16' is not allowed: expected int in 1..255"),
    ("[compression]\nthreshold = true\n", "compression.threshold = True is not allowed: expected float in 0..1"),
    ("[performance]\nslot = 8\n", "unknown key performance.slot: allowed in [performance]: batch_size, slots"),
    ("[tuning]\nslots = 8\n", "unknown section or key 'tuning': allowed preset and the sections [compression]"),
    ('preset = "gpu-8gb"\n', "preset = 'gpu-8gb' is not a preset: allowed one of cpu, gpu-16gb, gpu-80gb"),
    ("[performance\nslots = 8\n", "is not valid TOML"),
])
def test_a_bad_value_names_the_file_the_key_and_what_is_allowed(text, words, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["compress", "/dev/null", "-o", str(tmp_path / "o.jsonl"), "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # nothing was run


def test_a_missing_config_file_is_an_error(tmp_path, capsys):
    assert main(["config", "show", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "config file" in capsys.readouterr().err


def test_a_run_takes_its_settings_from_the_file(tmp_path, monkeypatch, capsys, model_path):
    monkeypatch.chdir(tmp_path)
    # cache_size 0 turns the in-memory cache off (cachetools itself refuses every entry at size 0).
    (tmp_path / "semzip.toml").write_text("[performance]\nbatch_size = 1\ncache_size = 0\n"
                                          "[compression]\nmode = \"summary\"\nscore = false\n[monitoring]\nenabled = false\n")
    (tmp_path / "in.txt").write_text("a short note about lunch\nanother short note\n")
    assert main(["compress", "in.txt", "-o", "out.jsonl", "--summary-json", "s.json"]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["records"] == 2
    assert "cache hits / misses                             0 / 2" in capsys.readouterr().err
