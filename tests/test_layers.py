"""The layering stays true: every import in engine/ and bindings/ points down, never up (STYLE.md, rule 0)."""
from __future__ import annotations

from imports_graph import imported, source_modules

# Low to high: a module imports its own layer and the layers below it. store (the memory store) sits beside
# jobs, over the engine and the codecs; its faces (integrations: the LangGraph store) beside the cli. cluster
# runs jobs' batches on Ray actors. observe sits above them because the monitor writes into the run store; the pipeline, the
# ladder and the Ray executor are handed a monitor, never import it.
LAYERS = (
    ("bindings",),
    ("engine.core",),
    ("engine.codecs",),
    ("engine.api", "engine.batcher"),
    ("engine.jobs", "engine.store"),
    ("engine.cluster",),
    ("engine.observe",),
    ("engine.cli", "engine.integrations"),
)
# Used from every engine layer; they import only each other. bindings stays standalone: no engine at all.
BASE = ("engine.errors", "engine.models")
BINDINGS_GATE = "engine.core.runner"  # the only engine module that imports bindings


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    """Rank in LAYERS (0 = bindings), -1 for a base module, None for a module outside the map."""
    if module == "engine" or any(_within(module, b) for b in BASE):  # the root package imports no module of engine
        return -1
    for rank, prefixes in enumerate(LAYERS):
        if any(_within(module, p) for p in prefixes):
            return rank
    return None


def codec_of(module: str) -> str | None:
    """The codec subpackage a module belongs to (engine.codecs.summary...), None for the shared codecs modules."""
    parts = module.split(".")
    if parts[:2] == ["engine", "codecs"] and len(parts) > 3:
        return parts[2]
    return None


def violations(modules: dict[str, str]) -> list[str]:
    """Every import that breaks the layering, as 'importer -> imported: why'."""
    known = set(modules)
    bad = []
    for module, source in modules.items():
        rank = layer_of(module)
        if rank is None:
            bad.append(f"{module}: in no layer (place it in LAYERS or BASE)")
            continue
        for target in sorted(imported(source, known)):
            to = layer_of(target)
            why = None
            if target.startswith("."):
                why = "relative import (write it absolute)"
            elif to is None:
                why = "imports a module in no layer"
            elif rank == -1 and to != -1:
                why = "a base module imports a layer"
            elif rank == 0 and to == -1:
                why = "bindings imports engine"
            elif to > rank:
                why = f"upward ({LAYERS[rank][0]} -> {LAYERS[to][0]})"
            elif to == 0 and rank > 0 and module != BINDINGS_GATE:
                why = f"only {BINDINGS_GATE} imports bindings"
            elif codec_of(target) and codec_of(target) != codec_of(module) and rank == layer_of("engine.codecs"):
                why = "into one codec from outside it (shared codec modules and other codecs stay independent of it)"
            if why:
                bad.append(f"{module} -> {target}: {why}")
    return bad


def test_every_import_points_down():
    assert violations(source_modules()) == []


def test_the_walk_sees_the_imports_it_checks():
    modules = source_modules()
    assert "bindings" in imported(modules["engine.core.runner"], set(modules))
    assert "engine.api" in imported(modules["engine.jobs.ladder"], set(modules))  # a lazy one, inside a method


def test_upward_and_sideways_imports_are_caught():
    fake = {
        "engine.core.scheduler": "def f():\n    from engine.jobs.store import RunStore\n",
        "engine.core.sequence": "from bindings import SamplingParams\n",
        "engine.codecs.record": "from engine.codecs.summary.facts import x\n",
        "engine.codecs.summary.facts": "x = 1\n",
        "engine.errors": "import engine.cli.cli\n",
        "engine.cli.cli": "from engine.jobs import pipeline\n",
        "engine.jobs.pipeline": "",
        "engine.jobs.store": "",
        "engine.loose": "",
        "engine.jobs.cache": "from .store import RunStore\n",
        "bindings": "from engine.errors import SemzipError\n",
    }
    found = "\n".join(violations(fake))
    assert "engine.core.scheduler -> engine.jobs.store: upward" in found
    assert "engine.core.sequence -> bindings: only engine.core.runner" in found
    assert "engine.codecs.record -> engine.codecs.summary.facts: into one codec" in found
    assert "engine.errors -> engine.cli.cli: a base module" in found
    assert "bindings -> engine.errors: bindings imports engine" in found
    assert "engine.loose: in no layer" in found
    assert "engine.jobs.cache -> .store: relative import" in found
    assert "engine.cli.cli ->" not in found


def test_the_memory_store_sits_under_its_faces_and_over_the_engine():
    fake = {
        "engine.api": "from engine.store.memory import MemoryStore\n",
        "engine.codecs.record": "import engine.integrations.langgraph\n",
        "engine.store.memory": "from engine.api import Engine\nfrom engine.codecs.container import encode_record\n",
        "engine.store.sql": "from engine.cli.cli import main\n",
        "engine.integrations.langgraph": "from engine.store import MemoryStore\n",
        "engine.cli.store": "from engine.store.memory import MemoryStore\n",
        "engine.store": "", "engine.cli.cli": "", "engine.codecs.container": "",
    }
    found = "\n".join(violations(fake))
    assert "engine.api -> engine.store.memory: upward" in found
    assert "engine.codecs.record -> engine.integrations.langgraph: upward" in found
    assert "engine.store.sql -> engine.cli.cli: upward" in found
    assert "engine.store.memory ->" not in found
    assert "engine.integrations.langgraph ->" not in found
    assert "engine.cli.store ->" not in found
