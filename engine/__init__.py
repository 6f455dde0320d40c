"""semzip's engine: memories compressed with a local LLM. Layers are subpackages (STYLE.md); here only the version."""
from __future__ import annotations

DISTRIBUTION = "semzip"  # pyproject.toml's [project] name


def __getattr__(name: str) -> str:
    # engine.__version__ is computed when asked: importlib.metadata costs ~30 ms that every `import engine.x` (and each
    # child process) would pay otherwise.
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


def version() -> str:
    """The installed distribution's version; pyproject.toml's in a source tree where semzip is not installed."""
    from importlib import metadata
    from pathlib import Path

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == DISTRIBUTION and "version" in project:
            return project["version"]
    return "0+unknown"  # PEP 440's local form: sorts below every release
