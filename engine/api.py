"""The Python API for host processes: open an Engine once (model loaded once), then compress and reconstruct."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterable

from engine import models
from engine.batcher import SubmissionBatcher
from engine.codecs.decoded import DecodedCache
from engine.codecs.events import OnItemDone, ignore
from engine.codecs.item import Item
from engine.codecs.record import MODEL_CODED, Record, render
from engine.codecs.summary.compressor import CompressConfig, Compressor
from engine.codecs.summary.expand import expand
from engine.core.runner import ModelRunner, RunnerConfig, backend_report
from engine.models import DEFAULT_MODE, MODES



class Engine:
    """One model, shared by every caller; safe to call from several threads (calls take turns on the model).

    mode: summary (the model writes a summary and facts: readable without a model) or lossless (the exact
    text, arithmetic-coded under the model's predictions: decoding needs the same model).
    ratio: lossless mode's knob: memories whose exact record would be larger than bytes / ratio keep only
    their most informative spans (verbatim, coded the same way). Summary mode sizes its records to it.
    read_cache: texts already decoded, served again without the model (read_cache_bytes=0 turns it off).
    on_read(seconds, decoded): told of each read of model-coded records: the decode's seconds and how many the
    model decoded (None and 0 when the cache had them all); Monitor.watch_reads wires it.
    """

    def __init__(
        self,
        model: str | None = None,
        runner_config: RunnerConfig = RunnerConfig(),
        compress_config: CompressConfig = CompressConfig(),
        mode: str = DEFAULT_MODE,
        ratio: float | None = None,
        read_cache_bytes: int = 64 << 20,
        read_cache_ttl_s: float = 3600.0,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.model_path, self.model_entry = models.resolve(model, mode=mode)
        self.model_sha = _identity(self.model_path, self.model_entry, exact=mode != "summary")
        if mode == "summary":
            if ratio is not None:
                compress_config = dataclasses.replace(compress_config, target_ratio=ratio)
            self.runner = ModelRunner(self.model_path, runner_config)
            self.compressor = Compressor(self.runner, compress_config)
        else:
            self.runner, self.compressor = _lossless(self.model_path, self.model_sha, runner_config, ratio)
        self.read_cache = DecodedCache(read_cache_bytes, read_cache_ttl_s)
        self.on_read = None
        self._lock = threading.Lock()  # the model runs one call at a time; the batcher merges callers
        self.num_waiting = 0  # callers waiting for the model while another call holds it (a compaction yields)
        self._batcher = SubmissionBatcher(self._compress_locked)
        # Reads from several threads at once (a store's gets and searches) decode together: one stream each.
        self._decode_batcher = SubmissionBatcher(self._decompress_locked, name="semzip-decode-batcher")

    def _compress_locked(self, items: list[Item]) -> list[Record]:
        with self._waiting():
            return self.compressor.compress(items)

    def _decompress_locked(self, records: list[Record]) -> list:
        with self._waiting():
            return self.compressor.decompress(records)

    @contextlib.contextmanager
    def _waiting(self):
        """The model's lock, counted in num_waiting while waited for."""
        self.num_waiting += 1  # under the GIL; a stale count only delays or hastens a compaction's yield
        try:
            self._lock.acquire()
        finally:
            self.num_waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    def compress(self, texts: Iterable[str | Item]) -> list[Record]:
        """One record per text, in order. Plain strings get ids "0", "1", ...

        Calls from several threads at once are merged into shared batches by one worker.
        """
        items = [t if isinstance(t, Item) else Item(id=str(i), text=t) for i, t in enumerate(texts)]
        if not items:
            return []
        return self._batcher.submit(items).result()

    def compress_direct(self, items: list[Item], on_done: OnItemDone = ignore, pace=None) -> list[Record]:
        """compress() without the cross-caller batcher: exactly this list is one batch (the batch processor's
        fixed batches rely on it for deterministic output). on_done(ItemDone) fires per item as it is final.
        pace(), when given, is called before each of the model's steps: it may wait, or raise to abandon the batch
        (a store's background compaction yields to its host that way)."""
        with self._waiting():
            self.runner.pace = pace
            try:
                return self.compressor.compress(items, on_done)
            finally:
                self.runner.pace = None

    def decode(self, records: Iterable[Record]) -> list[str | ValueError]:
        """The text each record gives back, or the error that names why it cannot (coded records decode together)."""
        records = list(records)
        out: list[str | ValueError | None] = [None] * len(records)
        coded = [i for i, r in enumerate(records) if r.kind in MODEL_CODED]
        if coded and self.mode == "summary":
            raise ValueError(f"record {records[coded[0]].id!r} is {records[coded[0]].kind}-coded: open "
                             f"Engine(mode='lossless') with the model that coded it")
        todo = []
        for i in coded:
            out[i] = self.read_cache.get(records[i])
            if out[i] is None:
                todo.append(i)
        seconds = None
        if todo:
            t0 = time.perf_counter()
            texts = self._decode_batcher.submit([records[i] for i in todo]).result()
            for i, text in zip(todo, texts):
                out[i] = text
                if isinstance(text, str):
                    self.read_cache.put(records[i], text)
            seconds = time.perf_counter() - t0
        if coded and self.on_read is not None:
            self.on_read(seconds, len(todo))
        for i, rec in enumerate(records):
            if out[i] is None:
                try:
                    out[i] = render(rec)
                except ValueError as exc:
                    out[i] = exc
        return out  # type: ignore[return-value]

    def compress_parts(self, streams: list[list[str]], pace=None) -> list[tuple[Record, list[int]]]:
        """Exact lossless streams of parts (a store's packs: codecs/lossless/parts.py), one batch: for each, its
        record and its parts' token counts. pace as in compress_direct."""
        from engine.codecs.lossless import parts

        with self._waiting():
            self.runner.pace = pace
            try:
                return parts.compress_parts(self._lossless_codec(), streams)
            finally:
                self.runner.pace = None

    def decode_prefixes(self, records: list[Record], num_tokens: list[int]) -> list[bytes | ValueError]:
        """The bytes of each lossless record's first num_tokens tokens (at least), or the error naming it; one batch."""
        from engine.codecs.lossless import parts

        with self._waiting():
            return parts.decode_prefixes(self._lossless_codec(), records, num_tokens)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """How many tokens each text codes as, alone (a store plans its packs with it); ValueError for one that
        cannot be coded exactly."""
        tokenizer = self._lossless_codec().tokenizer
        return [len(tokenizer.encode(t)) for t in texts]

    def _lossless_codec(self):
        if self.mode != "lossless":
            raise ValueError(f"packs need a lossless engine, this one is {self.mode}")
        return getattr(self.compressor, "codec", self.compressor)  # a ratio engine's exact codec within

    def reconstruct(self, records: Iterable[Record], mode: str = "render") -> list[str]:
        """render: the record's own text (decoded for coded kinds); expand: a narrative written by the model.

        Raises the first decoding error; decode() returns them per record instead.
        """
        records = list(records)
        if mode == "render":
            texts = self.decode(records)
            for t in texts:
                if isinstance(t, ValueError):
                    raise t
            return texts  # type: ignore[return-value]
        if mode != "expand" or self.mode != "summary":
            raise ValueError(f"reconstruct mode must be 'render' (or 'expand' on a summary engine), got {mode!r}")
        with self._lock:
            return expand(self.compressor.generator, records)

    async def acompress(self, texts: Iterable[str | Item]) -> list[Record]:
        return await asyncio.to_thread(self.compress, list(texts))

    async def areconstruct(self, records: Iterable[Record], mode: str = "render") -> list[str]:
        return await asyncio.to_thread(self.reconstruct, list(records), mode)

    def close(self) -> None:
        self._batcher.close()
        self._decode_batcher.close()
        with self._lock:
            self.runner.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _identity(path, entry, exact: bool) -> str:
    """The weights' identity: the pinned sha256; for an unpinned file, its sha256 when records must name their
    model (coded modes), else path, size and mtime (cache keys only)."""
    if entry is not None and entry.sha256:
        return entry.sha256
    if exact:
        return models.sha256_file(path)
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _lossless_kernels(n_gpu_layers: int) -> str:
    """The kernel set lossless coding runs on: the portable CPU profile, or the GPU's; refuses any other CPU build."""
    from engine.codecs.lossless.profile import PORTABLE_KERNELS
    from engine.core import cpu
    from engine.errors import UnsupportedCpu, UsageError

    report = backend_report()
    if n_gpu_layers and report.gpus:
        gpu = report.gpus[0]
        backend = gpu.name.rstrip("0123456789").lower()
        return f"{backend}-" + "-".join("".join(c for c in w if c.isalnum()) for w in gpu.description.lower().split())
    kernels = cpu.kernel_set(report.system_info)
    if kernels != PORTABLE_KERNELS:
        raise UsageError(f"lossless coding runs only on the portable CPU kernels {PORTABLE_KERNELS} (AVX2, FMA, "
                         f"F16C), so that its records read back on every x86-64 machine; this llama.cpp build runs "
                         f"{kernels}: unset LLAMA_CPP_LIB_PATH (semzip's own build), or build yours with "
                         f"the Makefile's PORTABLE_CMAKE_ARGS")
    missing = cpu.cpu_info().missing_portable
    if missing:
        raise UnsupportedCpu(f"this CPU ({cpu.cpu_info().model}) cannot run the portable lossless profile "
                             f"{PORTABLE_KERNELS}: it lacks {', '.join(missing)}")
    return kernels


def _lossless(path, model_sha: str, runner_config: RunnerConfig, ratio: float | None):
    """A runner in the canonical regime, proven by the self-test, and the codec over it."""
    from engine.codecs.lossless import selftest
    from engine.codecs.lossless.codec import LosslessCodec
    from engine.codecs.lossless.selective_codec import SelectiveCodec
    from engine.codecs.lossless.regime import REGIME_ID, Regime, process_regime, regime_env_hint

    current = process_regime()  # ggml's matmul switches, as bindings (or the host) set them before it loaded
    if current is None:
        raise selftest.RegimeError(f"lossless mode needs llama.cpp loaded with {regime_env_hint(REGIME_ID)} (semzip "
                                   f"sets them when it is imported before any other llama.cpp user; or export them)")
    regime = Regime(id=current)
    config = regime.runner_config(max(runner_config.num_slots, 8), runner_config.n_gpu_layers, runner_config.n_threads)
    runner = ModelRunner(path, config)
    try:
        kernels = _lossless_kernels(config.n_gpu_layers)
        regime = selftest.check_once(runner, regime, model_sha)
        codec = LosslessCodec(runner, model_sha, kernels, regime)
        return runner, (codec if ratio is None else SelectiveCodec(codec, ratio))
    except BaseException:
        runner.close()
        raise
