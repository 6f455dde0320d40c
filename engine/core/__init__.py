"""Batched decoding: sequence (the unit of work), scheduler (decides), runner (decodes), generator (loops)."""
