"""Every tunable setting in one declarative table: its semzip.toml key, type, default, range and flag.

A new setting is one more entry in SETTINGS: the config file, the command-line flag, the range
check and `semzip config show` all follow from it.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UsageError
from engine.models.lockfile import DEFAULT_MODE, MODES

ENGINE_COMMANDS = ("compress", "reconstruct", "eval")  # the commands that load a model


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # "section.name" in semzip.toml
    kind: type  # int, float, bool or str
    default: object  # None: unset (model.name then means the lock's default)
    flag: str  # the command-line flag; a bool's flag sets the opposite of its default (--no-score)
    help: str
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    choices: tuple[str, ...] = ()
    commands: tuple[str, ...] = ("compress",)
    unit: str = ""

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def dest(self) -> str:
        """The argparse attribute: derived from the key, so it never clashes with a command's own options."""
        return "setting_" + self.key.replace(".", "_")

    def allowed(self) -> str:
        """The allowed values, as an error message states them."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind is bool:
            return "true or false"
        if self.low is not None or self.high is not None:
            return f"{self.kind.__name__} in {_num(self.low)}..{_num(self.high)}{' ' + self.unit if self.unit else ''}"
        return f"a {self.kind.__name__}"

    def check(self, value: object, where: str) -> object:
        """value converted (an int where a float is expected) and range-checked; a UsageError names where it was."""
        ok_type = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}[self.kind]
        if value is None or isinstance(value, bool) != (self.kind is bool) or not isinstance(value, ok_type):
            raise UsageError(f"{where}: {self.key} = {value!r} is not allowed: expected {self.allowed()}")
        value = self.kind(value)
        out_of_range = (self.low is not None and value < self.low) or (self.high is not None and value > self.high)
        if out_of_range or (self.choices and value not in self.choices):
            raise UsageError(f"{where}: {self.key} = {value!r} is out of range: allowed {self.allowed()}")
        return value


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


SETTINGS: tuple[Setting, ...] = (
    Setting("model.name", str, None, "--model", "models.lock name or GGUF path (default: the lock's default)",
            commands=ENGINE_COMMANDS + ("demo",)),
    Setting("model.gpu_layers", int, 0, "--gpu-layers", "layers offloaded to the GPU (-1: all)", -1, 10_000,
            commands=ENGINE_COMMANDS),
    Setting("model.fallback", bool, True, "--no-fallback", "fail instead of stepping down the fallback ladder"),
    Setting("performance.batch_size", int, 64, "--batch", "items read and compressed together (a checkpoint each)",
            1, 1_000_000),
    # llama.cpp holds at most 256 sequences (LLAMA_MAX_SEQ) and one of them keeps the shared prompt prefix.
    Setting("performance.slots", int, 16, "--slots", "sequences decoded together", 1, 255, commands=ENGINE_COMMANDS),
    Setting("performance.token_budget", int, 2048, "--token-budget",
            "most tokens (prompt chunks + one per generating sequence) in one llama_decode", 1, 1 << 20,
            commands=ENGINE_COMMANDS, unit="tokens"),
    Setting("performance.ctx_size", int, 32768, "--ctx-size", "KV cache size in tokens, shared by all slots",
            512, 1 << 24, commands=ENGINE_COMMANDS, unit="tokens"),
    Setting("performance.threads", int, 0, "--threads",
            "llama.cpp CPU threads (0: the physical cores); summary text can differ with it, coded records cannot",
            0, 1024, commands=ENGINE_COMMANDS),
    Setting("performance.warm_up", bool, True, "--no-warm-up",
            "admit every slot at once (faster by a few %; the first memory then waits for every slot's prompt)",
            commands=ENGINE_COMMANDS),
    Setting("performance.cache_size", int, 10_000, "--cache-size", "records kept in the in-memory LRU cache",
            0, 100_000_000),
    Setting("performance.cache_ttl", float, 24 * 3600.0, "--cache-ttl", "in-memory cache entry lifetime",
            1, 10 * 365 * 24 * 3600, unit="seconds"),
    Setting("performance.persistent_cache", bool, True, "--no-persistent-cache",
            "do not keep records in the run store's cache (a re-run then recomputes them)"),
    Setting("compression.mode", str, DEFAULT_MODE, "--mode",
            "summary: readable summary and facts; lossless: the exact text arithmetic-coded under the model "
            "(decoding needs the same model)", choices=MODES, commands=("compress", "eval")),
    Setting("compression.ratio", float, None, "--ratio",
            "target ratio: lossless mode keeps the most informative spans of memories whose exact record would "
            "exceed bytes/R; summary mode sizes its records to it (default 8)", 1.01, 10_000,
            commands=("compress", "eval")),
    Setting("compression.threshold", float, 0.85, "--threshold", "quality under which a record is retried once",
            0, 1, commands=ENGINE_COMMANDS),
    Setting("compression.score", bool, True, "--no-score", "skip fidelity scoring (and the retry it drives)",
            commands=ENGINE_COMMANDS),
    Setting("compression.group", float, None, "--group",
            "order each batch by similarity (sentence embeddings, cosine e.g. 0.85); default: input order", 0, 1),
    Setting("monitoring.enabled", bool, True, "--no-monitor", "no metrics, no system sampling"),
    Setting("monitoring.metrics_port", int, 0, "--metrics-port", "serve Prometheus /metrics on localhost:PORT (0: off)",
            0, 65535),
    Setting("monitoring.sample_interval", float, 1.0, "--sample-interval", "time between system samples",
            0.05, 3600, unit="seconds"),
)
BY_KEY = {s.key: s for s in SETTINGS}

# Starting points by hardware: slots, batch sizes and KV size. The GPU ones are sized for the 7B production
# model's KV cache (about 57 KB a token at f16) and LoCoMo-sized memories (about 2,000 tokens a slot); they
# were not measured here (no GPU on the development machine).
PRESETS: dict[str, dict[str, object]] = {
    "cpu": {"model.gpu_layers": 0, "performance.slots": 16, "performance.batch_size": 64,
            "performance.token_budget": 2048, "performance.ctx_size": 32768},
    "gpu-16gb": {"model.gpu_layers": -1, "performance.slots": 64, "performance.batch_size": 256,
                 "performance.token_budget": 4096, "performance.ctx_size": 131072},
    "gpu-80gb": {"model.gpu_layers": -1, "performance.slots": 255, "performance.batch_size": 1024,
                 "performance.token_budget": 8192, "performance.ctx_size": 524288},
}
