"""Text to tokens and back, byte for byte: the model's own tokenization where it round-trips, byte tokens where not.

A tokenizer may normalise what it reads (SentencePiece turns U+2581 into a space, for one), so
`detokenize(tokenize(t)) == t` does not hold for every text. Each line that fails is split into
words, and each word that still fails is spelled with single-byte tokens (every vocabulary here has
one for each of the 256 byte values). The model predicts those less well, but nothing is lost.
"""
from __future__ import annotations

import re

_LINES = re.compile(r"(?<=\n)")  # keeps each newline at the end of its line
_WORDS = re.compile(r"\S*\s*")  # a word with the blanks after it; blanks first on a line stay alone


class ExactTokenizer:
    """Tokenizes any text into ids whose pieces concatenate to exactly its UTF-8 bytes."""

    def __init__(self, model):
        self.model = model
        self.byte_tokens = self._byte_tokens()
        self.num_fallback_words = 0  # words spelled byte by byte since this tokenizer was made

    def _byte_tokens(self) -> list[int] | None:
        found: dict[int, int] = {}
        for tid in range(self.model.n_vocab):
            piece = self.model.token_to_piece(tid)
            if len(piece) == 1 and piece[0] not in found:
                found[piece[0]] = tid
                if len(found) == 256:
                    return [found[b] for b in range(256)]
        return None  # some byte has no token of its own: texts that need it cannot be coded exactly

    def pieces(self, tokens) -> bytes:
        return b"".join(self.model.token_to_piece(int(t)) for t in tokens)

    def _exact(self, text: str) -> list[int] | None:
        tokens = self.model.tokenize(text, add_special=False, parse_special=False)
        return tokens if self.pieces(tokens) == text.encode("utf-8") else None

    def encode(self, text: str) -> list[int]:
        """Token ids for text; raises ValueError when a byte has no token in this vocabulary."""
        whole = self._exact(text)
        if whole is not None:
            return whole
        out: list[int] = []
        for line in filter(None, _LINES.split(text)):
            tokens = self._exact(line)
            if tokens is None:
                tokens = [t for word in _WORDS.findall(line) if word for t in self._word(word)]
            out += tokens
        return out

    def _word(self, word: str) -> list[int]:
        tokens = self._exact(word)
        if tokens is not None:
            return tokens
        if self.byte_tokens is None:
            raise ValueError(f"the text holds {word!r}, which this vocabulary can neither tokenize exactly nor spell in bytes")
        self.num_fallback_words += 1
        return [self.byte_tokens[b] for b in word.encode("utf-8")]
