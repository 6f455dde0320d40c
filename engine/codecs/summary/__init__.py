"""The summary codec: the model writes a summary and facts under a grammar; facts, key phrases and checks finish it."""
