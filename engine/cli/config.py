"""semzip.toml: found, read and checked, then merged with a preset and the flags into the effective settings.

Precedence, lowest first: built-in defaults, the preset (`preset = "gpu-16gb"` in the file, or
--preset), the file's own keys, then flags. The file is --config FILE, else ./semzip.toml, else
semzip.toml in the user's config folder ($XDG_CONFIG_HOME/semzip, default ~/.config/semzip).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from engine.cli.settings import BY_KEY, PRESETS, SETTINGS
from engine.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FILE_NAME = "semzip.toml"


def user_config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "semzip"


def find_config(explicit: str | None) -> Path | None:
    """--config FILE (which must exist), else the first semzip.toml of the working directory and the user's folder."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"config file {explicit} does not exist")
        return path
    for path in (Path.cwd() / FILE_NAME, user_config_dir() / FILE_NAME):
        if path.is_file():
            return path
    return None


def read_config(path: Path) -> tuple[str | None, dict[str, object]]:
    """(preset name or None, {key: checked value}) from a semzip.toml; any problem names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    preset = data.pop("preset", None)
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"{path}: preset = {preset!r} is not a preset: allowed one of {', '.join(PRESETS)}")
    sections = sorted({s.section for s in SETTINGS})
    values: dict[str, object] = {}
    for section, table in data.items():
        if section not in sections or not isinstance(table, dict):
            raise UsageError(f"{path}: unknown section or key {section!r}: allowed preset and the sections "
                             + ", ".join(f"[{s}]" for s in sections))
        for name, value in table.items():
            setting = BY_KEY.get(f"{section}.{name}")
            if setting is None:
                known = ", ".join(s.name for s in SETTINGS if s.section == section)
                raise UsageError(f"{path}: unknown key {section}.{name}: allowed in [{section}]: {known}")
            values[setting.key] = setting.check(value, str(path))
    return preset, values


@dataclass(frozen=True, slots=True)
class Effective:
    """The settings a command runs with, and where each came from."""

    values: dict[str, object]
    sources: dict[str, str]  # key -> "default", "preset cpu", the file's path, or "flag --slots"
    file: Path | None = None
    preset: str | None = None
    searched: list[Path] = field(default_factory=list)

    def __getitem__(self, key: str) -> object:
        return self.values[key]


def resolve(args: argparse.Namespace) -> Effective:
    """Defaults, then the preset, then the config file, then the flags given on this command line."""
    path = find_config(getattr(args, "config", None))
    preset, from_file = read_config(path) if path else (None, {})
    preset = getattr(args, "preset", None) or preset
    from_preset = PRESETS.get(preset, {}) if preset else {}
    values, sources = {}, {}
    for s in SETTINGS:
        values[s.key], sources[s.key] = s.default, "default"
        if s.key in from_preset:
            values[s.key], sources[s.key] = from_preset[s.key], f"preset {preset}"
        if s.key in from_file:
            values[s.key], sources[s.key] = from_file[s.key], str(path)
        flagged = getattr(args, s.dest, None)
        if flagged is not None:
            values[s.key], sources[s.key] = s.check(flagged, f"flag {s.flag}"), f"flag {s.flag}"
    searched = [] if path else [Path.cwd() / FILE_NAME, user_config_dir() / FILE_NAME]
    return Effective(values, sources, path, preset, searched)


def add_setting_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """--config, --preset and the flag of every setting this command uses; a flag not given stays None."""
    parser.add_argument("--config", default=None, metavar="FILE",
                        help=f"settings file (default: ./{FILE_NAME}, else {user_config_dir() / FILE_NAME})")
    parser.add_argument("--preset", default=None, choices=sorted(PRESETS),
                        help="slots and batch sizes for the hardware")
    for s in SETTINGS:
        if command != "config" and command not in s.commands:
            continue
        text = s.help.replace("%", "%%")  # argparse %-formats help strings
        if s.kind is bool:  # the flag turns the default off
            parser.add_argument(s.flag, dest=s.dest, action="store_const", const=not s.default, default=None,
                                help=f"{text} [{s.key}]")
        else:
            parser.add_argument(s.flag, dest=s.dest, type=s.kind, default=None, choices=s.choices or None,
                                metavar=s.unit.upper() or None, help=f"{text} (default {s.default}) [{s.key}]")


def show(effective: Effective) -> str:
    """The effective settings as `key = value  # source` lines, TOML a user can paste into semzip.toml."""
    if effective.file:
        head = [f"# config file: {effective.file}"]
    else:
        head = ["# no config file (looked for " + ", ".join(str(p) for p in effective.searched) + ")"]
    if effective.preset:
        head.append(f'preset = "{effective.preset}"')
    lines, section = [], None
    width = max(len(s.name) + 3 + len(_toml(effective[s.key])) for s in SETTINGS)
    for s in SETTINGS:
        if s.section != section:
            section = s.section
            lines.append(f"\n[{section}]")
        text = f"{s.name} = {_toml(effective[s.key])}"
        if effective[s.key] is None:  # TOML has no null: an unset key is shown commented out
            text = f"# {s.name} = (unset{': the lock default' if s.key == 'model.name' else ''})"
        lines.append(f"{text.ljust(width)}  # {effective.sources[s.key]}")
    return "\n".join(head + lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return "none" if value is None else str(value)
