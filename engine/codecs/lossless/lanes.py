"""One canonical batch: parallel streams of equal length, on consecutive sequence ids, padded to the regime.

llama.cpp splits a batch over split KV streams into ubatches of equal tokens per sequence and of
consecutive sequence ids (llama_batch_allocr::split_equal, sequential). Laying the batch out that way
ourselves, gaps and short tails filled with padding, makes one llama_decode exactly one ubatch whose
shape we chose.
"""
from __future__ import annotations

from dataclasses import dataclass

PAD_TOKEN = 0  # any valid id: padded rows ask for no logits and their KV cells are dropped after the step


@dataclass(frozen=True, slots=True)
class Plan:
    tokens: list[int]
    positions: list[int]
    seq_ids: list[int]
    wants: list[bool]
    rows: dict[int, slice]  # slot -> its rows among the returned logits
    pad_slots: list[int]  # streams used only for padding: drop them after the decode


def plan_batch(feeds: dict[int, tuple[list[int], int]], chunk: int, min_rows: int, num_slots: int,
               last_only: bool = False) -> Plan:
    """feeds: slot -> (tokens to feed, position of the first); each feed holds 1..chunk tokens.

    Every stream in [lo, hi] feeds exactly chunk tokens; streams are added until the batch has min_rows rows.
    Every fed token asks for logits, or only each feed's last one (last_only: a context, not a code).
    """
    if not feeds:
        raise ValueError("nothing to feed")
    lo, hi = min(feeds), max(feeds)
    while (hi - lo + 1) * chunk < min_rows:
        if hi + 1 < num_slots:
            hi += 1
        elif lo > 0:
            lo -= 1
        else:
            raise ValueError(f"{num_slots} streams cannot hold a batch of {min_rows} rows in chunks of {chunk}")
    plan = Plan([], [], [], [], {}, [])
    n_out = 0
    for slot in range(lo, hi + 1):
        feed = feeds.get(slot)
        if feed is None:
            plan.pad_slots.append(slot)
            tokens, start, real = [PAD_TOKEN] * chunk, 0, 0
        else:
            tokens, start = list(feed[0]), feed[1]
            real = len(tokens)
            if not 1 <= real <= chunk:
                raise ValueError(f"slot {slot} feeds {real} tokens, chunk is {chunk}")
            tokens += [PAD_TOKEN] * (chunk - real)  # a short tail: later positions, never attended by real rows
            outputs = 1 if last_only else real
            plan.rows[slot] = slice(n_out, n_out + outputs)
            n_out += outputs
        plan.tokens.extend(tokens)
        plan.positions.extend(range(start, start + chunk))
        plan.seq_ids.extend([slot] * chunk)
        if feed is not None and last_only:
            plan.wants.extend([False] * (real - 1) + [True] + [False] * (chunk - real))
        else:
            plan.wants.extend([True] * real + [False] * (chunk - real))
    return plan
