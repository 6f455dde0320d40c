"""No import circles in engine/ and bindings/: lazy imports inside functions count, and a package's __init__ is a
module (its re-exports can close a circle). Direction is test_layers.py's job; this one catches circles inside a
layer, which the layering allows."""
from __future__ import annotations

from imports_graph import cycles, import_graph, source_modules


def test_no_module_imports_itself_through_others():
    found = cycles(import_graph(source_modules()))
    assert not found, "import circles (move what both sides need down into the lower module):\n" + "\n".join(
        " -> ".join(circle) for circle in found)


def test_lazy_imports_submodules_and_package_reexports_close_circles():
    fake = {
        # a lazy import inside a function closes a circle as surely as one at the top
        "engine.codecs.record": "def render():\n    from engine.codecs.zstd import zstd_text\n",
        "engine.codecs.zstd": "from engine.codecs.record import Record\n",
        # `from package import submodule` imports the submodule
        "engine.core.runner": "from engine.core import sequence\n",
        "engine.core.sequence": "import engine.core.runner as runner\n",
        # a package's __init__ re-exports a module that imports the package back
        "engine.store": "from engine.store.memory import MemoryStore\n",
        "engine.store.memory": "from engine.store.dump import import_lines\n",
        "engine.store.dump": "from engine.store import MemoryStore\n",
        "engine.core": "",
        "engine.codecs.container": "from engine.codecs.record import Record\nfrom engine.codecs import varint\n",
        "engine.codecs.varint": "",
    }
    assert cycles(import_graph(fake)) == [
        ["engine.codecs.record", "engine.codecs.zstd", "engine.codecs.record"],
        ["engine.core.runner", "engine.core.sequence", "engine.core.runner"],
        ["engine.store", "engine.store.memory", "engine.store.dump", "engine.store"],
    ]


def test_a_tree_of_imports_has_no_circle():
    fake = {
        "engine.codecs.lossless.codec": "from engine.codecs.lossless import legacy\n"
                                        "from engine.codecs.lossless.errors import DecodeError\n",
        "engine.codecs.lossless.legacy": "from engine.codecs.lossless.errors import DecodeError\n",
        "engine.codecs.lossless.legacy_child": "from engine.codecs.lossless.codec import LosslessCodec\n",
        "engine.codecs.lossless.errors": "",
        "engine.codecs.lossless": "",
    }
    assert cycles(import_graph(fake)) == []
