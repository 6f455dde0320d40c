"""Shared fixtures: the real default model (fetched by `make test` before pytest runs) and one runner."""
from __future__ import annotations

import pytest

from engine import models


@pytest.fixture(scope="session")
def model_path():
    path, _ = models.resolve(None, mode="summary")  # raises with the fix command if `semzip models fetch` has not run
    return path


@pytest.fixture(scope="session")
def lossless_model_path():
    path, _ = models.resolve(None, mode="lossless")
    return path


@pytest.fixture(scope="session")
def runner(model_path):
    from engine.core.runner import ModelRunner, RunnerConfig

    r = ModelRunner(model_path, RunnerConfig(num_slots=8, n_ctx=8192, n_batch=512))
    yield r
    r.close()


@pytest.fixture(scope="session")
def chat_prompt(runner):
    """Tokenize a short chat prompt with the model's own template."""

    def make(question: str, system: str = "Answer in one short sentence.") -> tuple[int, ...]:
        text = runner.model.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": question}])
        return tuple(runner.model.tokenize(text))

    return make


@pytest.fixture(autouse=True)
def no_user_config(tmp_path_factory, monkeypatch):
    """A developer's own ~/.config/semzip/semzip.toml must not change what the tests run with."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture(scope="session")
def lossless_engine(lossless_model_path):
    """One lossless Engine for every store test (loading and self-testing the model once)."""
    from engine.api import Engine

    with Engine(str(lossless_model_path), mode="lossless") as e:
        yield e


@pytest.fixture(scope="session")
def embedder():
    """all-MiniLM-L6-v2 from its package, loaded once."""
    from engine.codecs.quality import Embedder

    return Embedder()
