"""Lossless coding: exact text through the model's arithmetic code (codec.py), its coders (arithmetic.py,
step_coding.py), regime and profile, and the ratio knob over it (selective_codec.py, spans.py)."""
