"""Running a corpus safely: fixed batches, the run store (journal, cache), the fallback ladder, input parsing."""
