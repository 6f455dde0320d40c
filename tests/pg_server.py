"""A throwaway PostgreSQL server for tests: Debian's binaries, initdb into a temporary folder as a non-root
user, a unix socket only. start() returns its DSN, or raises Unavailable saying why it cannot run here."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile


class Unavailable(Exception):
    pass


def _binaries() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb is None:
        raise Unavailable("no PostgreSQL server binaries (apt-get install postgresql; .ci/run does)")
    return os.path.dirname(initdb)


def _user() -> str | None:
    """The user the server runs as: ourselves unless root (postgres refuses root), then postgres or nobody."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise Unavailable("running as root and no postgres or nobody user to run the server as")


class Server:
    def __init__(self):
        self.bin, self.user = _binaries(), _user()
        self.root = tempfile.mkdtemp(prefix="semzip-pg-")  # under /tmp: the server's user must reach it
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = list(args) if self.user is None else ["runuser", "-u", self.user, "--", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def start(self) -> str:
        try:
            if self.user is not None:
                shutil.chown(self.root, self.user)
            r = self._run(f"{self.bin}/initdb", "-D", self.data, "-A", "trust", "-U", "semzip", "--no-sync", "-E", "UTF8")
            if r.returncode != 0:
                raise Unavailable(f"initdb failed: {r.stderr.strip()[-300:]}")
            opts = f"-k {self.root} -c listen_addresses='' -c fsync=off"
            r = self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-o", opts, "-l", f"{self.root}/log", "-w", "start")
            if r.returncode != 0:
                raise Unavailable(f"pg_ctl start failed: {r.stderr.strip()[-300:]}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"cannot start PostgreSQL: {exc}") from None
        return f"postgresql://semzip@/postgres?host={self.root}"

    def stop(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
