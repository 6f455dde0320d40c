"""Lossless coding: exact text through the model's arithmetic code (codec.py), and its coders, regime and profile."""
