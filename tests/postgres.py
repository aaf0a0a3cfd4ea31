"""A throwaway PostgreSQL server for the test session, and fresh databases on it.

The server is started by this session itself (initdb + pg_ctl from the Debian packages, as the `postgres` OS user
when running as root, since initdb refuses root), listening on a free 127.0.0.1 port with its socket in a temporary
folder; it stops at session end. Without the PostgreSQL binaries the tests that need it FAIL with instructions:
they are never skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import asyncpg
import pytest

_PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


def _pg_bin() -> Path:
    candidates = sorted(
        (Path(p) for p in glob(_PG_BIN_GLOB) if (Path(p) / "initdb").exists() and (Path(p) / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        pytest.fail(
            f"PostgreSQL server binaries not found (no initdb/pg_ctl under {_PG_BIN_GLOB}). The storage contract "
            "tests run against PostgreSQL too: install it first, e.g. `apt-get install -y postgresql` (Debian), "
            "as .ci/run does.",
            pytrace=False,
        )
    return candidates[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for this test session (trust auth, no fsync: throwaway data)."""
    bin_dir = _pg_bin()
    as_root = os.geteuid() == 0
    if as_root:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the `postgres` OS user (the Debian package creates it)", pytrace=False)
        prefix = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"]
        user = "postgres"
    else:
        owner = pwd.getpwuid(os.geteuid())
        prefix = []
        user = owner.pw_name
    root = Path(tempfile.mkdtemp(prefix="threadpaint-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    for path in (root, sockets):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    os.chmod(root, 0o700)

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}\n{server_log}", pytrace=False)

    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off -c synchronous_commit=off " \
              "-c full_page_writes=off -c max_connections=200"
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "--encoding=UTF8",
        "--locale=en_US.UTF-8" if _has_locale("en_US.utf8") else "--locale=C.UTF-8", "-N")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    try:
        yield PostgresServer("127.0.0.1", port, user)
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, check=False, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _has_locale(name: str) -> bool:
    """A non-C locale where available: the schema must order timestamps right whatever the server's collation."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        command = [shutil.which("locale") or "/usr/bin/locale", "-a"]
        listed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10).stdout
        return name in listed.lower().split()
    return False


_databases = itertools.count(1)


@contextlib.asynccontextmanager
async def fresh_database(server: PostgresServer) -> AsyncIterator[str]:
    """A new empty database on the server; yields its URL and drops it (with any open connections) afterwards."""
    name = f"threadpaint_test_{os.getpid()}_{next(_databases)}"
    admin = await asyncpg.connect(server.url("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield server.url(name)
    finally:
        admin = await asyncpg.connect(server.url("postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
