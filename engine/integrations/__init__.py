"""Faces of the memory store for agent frameworks (each needs its framework: pip install 'semzip[NAME]')."""
