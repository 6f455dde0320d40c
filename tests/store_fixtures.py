"""Fixtures shared by the memory-store tests: a store location on each backend (SQLite file, real PostgreSQL)."""
from __future__ import annotations

import itertools

import pytest

import pg_server

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server_dsn():
    """The DSN of a PostgreSQL server started for this test session; skipped, saying why, where none can start."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'semzip[postgres]'; make install does)")
    server = pg_server.Server() if _can_try() else None
    if server is None:
        pytest.skip("no PostgreSQL server binaries here (apt-get install postgresql; .ci/run does)")
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

    name = f"t{next(_names)}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_dsn.replace("@/postgres?", f"@/{name}?")


@pytest.fixture(params=["sqlite", "postgres"])
def conn(request, tmp_path):
    """Where a store lives: a SQLite file, or a fresh database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return fresh_database(request.getfixturevalue("pg_server_dsn"))
