"""A throw-away PostgreSQL server for the tests, from Debian's ``postgresql`` package.

``start()`` makes a fresh data directory in a temporary folder, runs ``initdb`` (trust
authentication, no password) and ``pg_ctl start`` on a free TCP port of 127.0.0.1, and returns a
:class:`Server` whose ``create_database(name)`` gives a SQLAlchemy URL (psycopg2 driver) for a new,
empty database. ``stop()`` shuts the server down and deletes the folder.

PostgreSQL refuses to run as root: as root (CI), ``initdb`` and ``pg_ctl`` run as the ``postgres``
system user, which owns the folder. The fixtures ``postgres_server`` and ``postgres_url`` (one
database, ``course``) are session-scoped; without the binaries they skip, except under ``CI=true``,
where a missing server is a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUPERUSER = "postgres"  # the database role initdb creates; also the system user that runs the server as root


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here (binaries or system user missing)."""


def bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl (or the ones on PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version(Path(p).parent.name))
    for directory in reversed(candidates):
        if (Path(directory) / "initdb").is_file() and (Path(directory) / "pg_ctl").is_file():
            return Path(directory)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    raise Unavailable("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH; "
                      "install Debian's package: apt-get install -y postgresql")


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server: where it lives and how to reach it."""

    base: Path  # the temporary folder: data/, the log, the Unix socket
    port: int
    bindir: Path
    as_user: list[str] = field(default_factory=list)  # command prefix that runs a binary as the postgres user
    databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def url(self, database: str = "postgres") -> str:
        # The driver is named: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, which is not installed.
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its URL."""
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.databases.append(name)
        return self.url(name)

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args], check=check)


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def _as_postgres_user(base: Path) -> list[str]:
    """As root: hand ``base`` to the postgres system user and return the prefix that runs commands as it."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam(SUPERUSER)
    except KeyError as missing:
        raise Unavailable("running as root, and there is no 'postgres' system user to run the server as "
                          "(Debian's postgresql package creates it)") from missing
    runuser = shutil.which("runuser")
    if runuser is None:
        raise Unavailable("running as root, and there is no runuser to start the server as 'postgres'")
    os.chown(base, user.pw_uid, user.pw_gid)
    return [runuser, "-u", SUPERUSER, "--"]


def start(attempts: int = 3) -> Server:
    """Initialise and start a fresh server; raise :class:`Unavailable` when none can run here."""
    binaries = bindir()
    # Not under pytest's tmp folders: those are private to the current user, and the server may run as another.
    base = Path(tempfile.mkdtemp(prefix="pgtest-"))
    try:
        as_user = _as_postgres_user(base)
        server = Server(base=base, port=0, bindir=binaries, as_user=as_user)
        _run([*as_user, str(binaries / "initdb"), "-D", str(server.data), "-U", SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--locale=C", "--no-sync"])
        for attempt in range(attempts):  # another process may take the free port before the server binds it
            server.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={base} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            done = server.pg_ctl("-o", options, "-l", str(server.log), "-w", "-t", "60", "start", check=False)
            if done.returncode == 0:
                _wait_until_ready(server)
                return server
            if attempt == attempts - 1:
                log = server.log.read_text(errors="replace") if server.log.exists() else ""
                raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}{done.stderr}\n{log}")
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    raise AssertionError("unreachable")


def _wait_until_ready(server: Server, timeout: float = 30.0) -> None:
    import psycopg2

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(host="127.0.0.1", port=server.port, user=SUPERUSER, dbname="postgres").close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(server: Server) -> None:
    """Shut the server down (open connections are closed) and delete its folder."""
    try:
        if (server.data / "postmaster.pid").exists():
            server.pg_ctl("-m", "fast", "-w", "-t", "60", "stop", check=False)
    finally:
        shutil.rmtree(server.base, ignore_errors=True)


def start_or_skip() -> Server:
    """``start()``, or skip the test with the reason when no server can run here (fail instead under CI=true)."""
    try:
        return start()
    except Unavailable as why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no PostgreSQL server can be started: {why}")
        pytest.skip(str(why))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """A PostgreSQL server for the whole session; ``create_database(name)`` gives each test its own database."""
    server = start_or_skip()
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: Server) -> str:
    """The URL of an empty database ``course`` on the session's PostgreSQL server."""
    return postgres_server.create_database("course")
