"""The ratio knob's codec (`--ratio R`): a lossless record that fits bytes / R as it is, else a "kept" record of the
memory's most informative spans (spans.py chooses them; codec.py codes them), re-cut until it fits."""
from __future__ import annotations

import dataclasses
import time

from engine.codecs.events import ItemDone, OnItemDone, ignore
from engine.codecs.item import Item
from engine.codecs.lossless.codec import LosslessCodec
from engine.codecs.lossless.errors import DecodeError
from engine.codecs.record import Record


class SelectiveCodec:
    """The ratio knob: a memory whose lossless record fits bytes / ratio is stored exactly; a larger one keeps
    its most informative spans (spans.py), coded the same way, re-cut until its record fits."""

    ROUNDS = 4  # codings of the kept text at most
    CLOSE = 0.92  # a record within this share of its target stops the search

    def __init__(self, codec: LosslessCodec, ratio: float):
        if ratio <= 1:
            raise ValueError(f"the ratio must be above 1, got {ratio}")
        self.codec = codec
        self.ratio = ratio
        self.config = (codec.regime, ratio)
        self.tokenizer, self.primed = codec.tokenizer, codec.primed

    def decompress(self, records: list[Record]) -> list[str | DecodeError]:
        return self.codec.decompress(records)

    def compress(self, items: list[Item], on_done: OnItemDone = ignore,
                 lossless: tuple[list[Record], list[list[float]]] | None = None) -> list[Record]:
        """lossless: these items' exact records and per-token bits, when already made (one pass serves many ratios).

        on_done fires for each item the moment its record is final: during the lossless pass for a memory whose
        exact record fits, after the re-cut that fits for the others.
        """
        from engine.codecs.container import record_size
        from engine.codecs.lossless.spans import kept_text, select, split_spans, weigh

        t0 = time.perf_counter()
        fired: set[int] = set()
        fits = lambda i, rec: rec.kind != "lossless" or record_size(rec) <= len(items[i].text.encode()) / self.ratio  # noqa: E731

        def fire(event: ItemDone) -> None:
            fired.add(event.index)
            on_done(dataclasses.replace(event, latency_s=time.perf_counter() - t0))

        def early(event: ItemDone) -> None:
            if fits(event.index, event.record):
                fire(event)

        if lossless is None:
            records, bits = self.codec.compress(items, early, with_bits=True)
        else:
            records, bits = lossless
            for i, rec in enumerate(records):
                early(ItemDone(i, rec, None, len(bits[i])))
        records = list(records)
        plans: dict[int, list] = {}  # item -> [spans, target bytes, budget bits, best record that fits]
        for i, (item, rec) in enumerate(zip(items, records)):
            target = len(item.text.encode()) / self.ratio
            if rec.kind != "lossless" or record_size(rec) <= target:
                continue
            spans = split_spans(item.text)
            pieces = [self.tokenizer.model.token_to_piece(t) for t in self.tokenizer.encode(item.text)]
            weigh(item.text, spans, pieces, bits[i])
            payload_bits = max(target - (record_size(rec) - len(rec.payload)), 0) * 8
            kept = payload_bits / max(sum(bits[i]), 1)
            # Dropped spans take their context with them: measured on LoCoMo, the kept text codes 1.2x (half
            # kept) to 1.35x (a third kept) dearer than its spans did in place.
            plans[i] = [spans, target, payload_bits / (1 + 0.5 * (1 - min(kept, 1))), None]
        for _ in range(self.ROUNDS):
            if not plans:
                break
            order = list(plans)
            kept_items = [Item(items[i].id, kept_text(items[i].text, plans[i][0], select(plans[i][0], plans[i][2])),
                               meta=items[i].meta, line=items[i].line) for i in order]
            for i, rec in zip(order, self.codec.compress(kept_items)):
                rec.kind = "kept" if rec.kind == "lossless" else rec.kind
                plan = plans[i]
                size, target = record_size(rec), plan[1]
                if size <= target and (plan[3] is None or size > record_size(plan[3])):
                    plan[3] = rec
                if plan[3] is not None and record_size(plan[3]) >= self.CLOSE * target or plan[2] <= 0:
                    records[i] = plan[3] or rec
                    del plans[i]
                    fire(ItemDone(i, records[i], None, len(bits[i])))
                else:
                    plan[2] *= target / size * 0.98
                    records[i] = plan[3] or rec  # the last coding, should the rounds run out
        for i in range(len(items)):  # the rounds ran out for these
            if i not in fired:
                fire(ItemDone(i, records[i], None, len(bits[i])))
        return records
