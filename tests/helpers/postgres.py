"""A throwaway PostgreSQL server for the tests, started from PostgreSQL's own binaries.

Debian keeps ``initdb`` and ``postgres`` under ``/usr/lib/postgresql/<version>/bin``
(off the PATH), and PostgreSQL refuses to run as root: as root, the server runs
as the ``postgres`` system user (created when missing). The cluster lives in a
fresh temporary folder, listens on a free loopback port, trusts local
connections, and dies with the process that started it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from scripts.orthanc import free_port

SEARCH = Path("/usr/lib/postgresql")
SUPERUSER = "portal"
_PR_SET_PDEATHSIG = 1


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed, or its server would not start."""


def find_bin_dir(search: Path = SEARCH) -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``postgres``."""
    found = sorted(
        (p for p in search.glob("*/bin") if (p / "initdb").exists() and (p / "postgres").exists()),
        key=lambda p: float(p.parent.name) if p.parent.name.replace(".", "").isdigit() else 0.0,
    )
    if not found:
        raise PostgresUnavailable(
            f"no PostgreSQL server under {search}: install the Debian package postgresql"
        )
    return found[-1]


def _unprivileged_user() -> str | None:
    """The user to run the server as: ``None`` when not root, else ``postgres`` (created)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
            check=True,
            capture_output=True,
        )
    return "postgres"


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)  # SIGQUIT: immediate shutdown
    except (OSError, AttributeError):
        pass


class Postgres:
    """One PostgreSQL cluster: ``start()``, :meth:`url`, :meth:`create_database`, ``stop()``."""

    def __init__(self, bin_dir: Path | None = None, start_timeout: float = 60) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.start_timeout = start_timeout
        self.port = 0
        self.root: Path | None = None
        self.process: subprocess.Popen | None = None
        self.user = _unprivileged_user()

    def _run_as(self) -> dict:
        return {"user": self.user, "group": self.user} if self.user else {}

    def start(self) -> Postgres:
        self.root = Path(tempfile.mkdtemp(prefix="yarracloud-pg-"))
        data, sockets = self.root / "data", self.root / "sockets"
        sockets.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        done = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            **self._run_as(),
        )
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-2000:]}")
        self.port = free_port()
        self.log = self.root / "postgres.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(sockets),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
                preexec_fn=_die_with_parent,
                **self._run_as(),
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise PostgresUnavailable(
                    f"postgres exited ({self.process.returncode}): "
                    + self.log.read_text(errors="replace")[-2000:]
                )
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PostgresUnavailable(
                        "postgres did not accept connections in time"
                    ) from None
                time.sleep(0.05)

    def dsn(self, database: str) -> str:
        """A libpq connection string for ``database``."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for ``database`` (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create ``name`` (a copy of ``template`` when given) and return its SQLAlchemy URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(statement)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
