"""Reconstruction by the model: a natural narrative written from a record's summary and facts, batched."""
from __future__ import annotations

from engine.codecs.record import Record, render
from engine.core.generator import BatchedGenerator
from engine.core.sequence import Request

SYSTEM = (
    "You rewrite compressed memory notes as a short natural paragraph. Use every fact given, keep names, dates, "
    "numbers and places exactly as written, and add nothing that is not in the notes."
)


def expand(generator: BatchedGenerator, records: list[Record], max_tokens: int = 384) -> list[str]:
    """Narratives in record order; raw records come back as their text, error records as empty strings."""
    model = generator.runner.model
    out = ["" if r.kind == "error" else render(r) for r in records]
    todo = [i for i, r in enumerate(records) if r.kind in ("llm", "extractive")]
    if not todo:
        return out
    head = model.apply_chat_template([{"role": "system", "content": SYSTEM}], add_assistant=False)
    requests = []
    for i in todo:
        full = model.apply_chat_template(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": render(records[i])}]
        )
        requests.append(Request(tuple(model.tokenize(full[len(head) :])), max_tokens=max_tokens))
    results = generator.generate_all(requests, prefix=tuple(model.tokenize(head)))
    for i, res in zip(todo, results):
        out[i] = model.detokenize(res.tokens).strip()
    return out
