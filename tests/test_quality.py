"""Fidelity scoring's embedder: unit vectors, long texts pooled, and vectors remembered across calls."""
import numpy as np

from engine.codecs.quality import Embedder, Scorer


def test_embedder_remembers_vectors_so_grouping_then_scoring_embeds_each_text_once():
    emb = Embedder()
    calls = []
    encode = emb.model.encode
    emb.model.encode = lambda spans, **kw: calls.append(len(spans)) or encode(spans, **kw)
    a, b = "Anna adopted a cat named Miso in Kyoto.", "The meeting moved to Friday at 3 pm in room 12. " * 40
    first = emb.embed([a, b])
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert calls == [1 + 3]  # a: one window; b (440 words): three windows of 160 words, mean-pooled
    again = emb.embed([b, a, b])
    assert calls == [4]  # nothing new to encode
    assert np.array_equal(again, first[[1, 0, 1]])
    fid = Scorer(emb).score_many([a], ["Anna adopted a cat, Miso, in Kyoto."])[0]
    assert fid.cosine > 0.8 and 0 <= fid.score <= 1
    assert calls == [4, 1]  # only the reconstruction was new
    assert emb.embed([]).shape == (0, 384)
