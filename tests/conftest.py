"""Shared fixtures: the real default model (fetched by `make test` before pytest runs) and one runner."""
from __future__ import annotations

import itertools
import subprocess

import pytest

import pg_server
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
def lossless_engine(lossless_model_path):
    """One lossless Engine for the session (32 slots), shared by the lossless, golden and store tests. Its
    decoded-text cache is off: every test's read must go through the model (test_read_cache turns one on)."""
    from engine.api import Engine
    from engine.core.runner import RunnerConfig

    with Engine(str(lossless_model_path), RunnerConfig(num_slots=32), mode="lossless", read_cache_bytes=0) as e:
        yield e


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
def embedder():
    """all-MiniLM-L6-v2 from its package, loaded once."""
    from engine.codecs.quality import Embedder

    return Embedder()


# The memory store's two backends: a SQLite file, and a real PostgreSQL server started for the session.
_pg_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server_dsn():
    """The DSN of a PostgreSQL server started for this test session; skipped, saying why, where none can start."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'semzip[postgres]'; make install does)")
    server = pg_server.Server() if _can_try() else None
    if server is None:
        pytest.skip("no PostgreSQL server binaries here (apt-get install postgresql; make test does as root)")
    try:
        dsn = server.start()
    except pg_server.Unavailable as exc:
        server.stop()
        pytest.skip(f"PostgreSQL cannot start here: {exc}")
    yield dsn
    server.stop()


def _can_try() -> bool:
    try:
        pg_server._binaries()
        return True
    except pg_server.Unavailable:
        return False


def fresh_database(server_dsn: str) -> str:
    """A new empty database on the server; its DSN."""
    import psycopg

    name = f"t{next(_pg_names)}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_dsn.replace("@/postgres?", f"@/{name}?")


@pytest.fixture(params=["sqlite", "postgres"])
def conn(request, tmp_path):
    """Where a store lives: a SQLite file, or a fresh database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return fresh_database(request.getfixturevalue("pg_server_dsn"))


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs to fill up: a full disk under the store; skipped where it cannot be mounted (needs root)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for the full-disk test (needs root): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)
