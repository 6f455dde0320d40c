"""Batched decoding: the unit of work (sequence), who runs next (scheduler), the decode (runner), the loop (generator)."""
