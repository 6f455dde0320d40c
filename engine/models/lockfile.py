"""models.lock parsed: the pinned model entries, the default, and where the lock lives."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.errors import LockfileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Ways of storing a memory, and the one a plain `semzip compress` or Engine() uses: lossless stores LoCoMo-like
# sessions exactly at a higher ratio than summaries reach, and compresses faster (README, "Choosing a mode").
MODES = ("lossless", "summary")
DEFAULT_MODE = "lossless"


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    architecture: str
    quantization: str
    source: str  # "pypi-chunks" or "user-path"
    size: int | None
    sha256: str | None
    packages: tuple[str, ...] = ()
    chunks: tuple[str, ...] = ()
    fallback_order: int = 0
    path: str | None = None  # user-path entries: where the pinned file was found


@dataclass(frozen=True, slots=True)
class Lock:
    path: Path
    default: str  # the summary writer
    entries: dict[str, ModelEntry]
    default_lossless: str = ""  # the predictor for lossless and --ratio records (default: the same as default)

    def get(self, name: str) -> ModelEntry:
        if name not in self.entries:
            raise LockfileError(f"{self.path} has no model named {name!r}; known: {', '.join(sorted(self.entries))}")
        return self.entries[name]

    def default_for(self, mode: str = DEFAULT_MODE) -> str:
        return (self.default_lossless or self.default) if mode == "lossless" else self.default

    def by_sha(self, prefix: str) -> ModelEntry | None:
        """The entry whose pinned sha256 starts with prefix (a coded record names its model so)."""
        return next((e for e in self.entries.values() if e.sha256 and e.sha256.startswith(prefix)), None)


def lock_path() -> Path:
    """SEMZIP_MODELS_LOCK, else the models.lock at the project root (the package is installed editable)."""
    env = os.environ.get("SEMZIP_MODELS_LOCK")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models.lock"


def load_lock(path: Path | None = None) -> Lock:
    path = path or lock_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LockfileError(f"models lock file {path} not found (set SEMZIP_MODELS_LOCK to its path)") from None
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(f"models lock file {path} is not valid TOML: {exc}") from None
    entries = {}
    for name, raw in data.get("models", {}).items():
        try:
            entries[name] = ModelEntry(
                name=name,
                architecture=raw["architecture"],
                quantization=raw["quantization"],
                source=raw["source"],
                size=raw.get("size"),
                sha256=raw.get("sha256"),
                packages=tuple(raw.get("packages", ())),
                chunks=tuple(raw.get("chunks", ())),
                fallback_order=int(raw.get("fallback_order", 0)),
                path=raw.get("path"),
            )
        except KeyError as exc:
            raise LockfileError(f"{path}: model {name!r} lacks the field {exc.args[0]!r}") from None
    default = data.get("default")
    if default not in entries:
        raise LockfileError(f"{path}: default model {default!r} has no [models] entry")
    default_lossless = data.get("default_lossless", default)
    if default_lossless not in entries:
        raise LockfileError(f"{path}: default_lossless model {default_lossless!r} has no [models] entry")
    return Lock(path, default, entries, default_lossless)
