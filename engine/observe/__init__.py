"""Watching a run: metrics and alerts (monitor), GPU sampling (gpu), charts and tables from a run store (report)."""
