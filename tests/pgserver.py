"""A throw-away PostgreSQL cluster for the test suite, built from the machine's own binaries.

Usage::

    pg = ThrowawayPostgres()
    admin_url = pg.start()                  # initdb + postgres on 127.0.0.1:<free port>
    url = pg.create_database("t_1_my_test")  # a fresh, empty database
    ...
    pg.stop()                               # stops the server, deletes the temp folder

The cluster lives in a temp folder (``propdesk-pg-*``: on the /dev/shm RAM disk when it has
room, else in the system temp folder; $PROPDESK_PG_TMPDIR overrides), listens on 127.0.0.1
only, keeps its unix socket inside that folder, trusts every local connection (user
``postgres``, no password) and runs with fsync off: it is for tests only and nothing in it
survives ``stop()``.

Running as root: PostgreSQL refuses to run as root. The server processes are then started as an
unprivileged user (``postgres`` if it exists, as on any machine where Debian's postgresql
package is installed, else ``nobody``) via ``subprocess.Popen(user=..., group=...)``; the temp
folder is chown'ed to that user. No sudo/su/runuser is needed.

Safety nets, so that a crashed or killed test run leaves nothing behind:
- ``stop()`` is registered with ``atexit``;
- on Linux the server gets PR_SET_PDEATHSIG=SIGQUIT, so it shuts down even if the test process
  is SIGKILLed;
- ``start()`` removes stale ``propdesk-pg-*`` folders whose owner process is gone.

Run ``python tests/pgserver.py`` to start a cluster by hand and print its URL (Ctrl-C stops it).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["PgNotFoundError", "ThrowawayPostgres", "find_pg_bin"]

SUPERUSER = "postgres"
_DIR_PREFIX = "propdesk-pg-"
_OWNER_FILE = "owner.pid"
_REQUIRED = ("initdb", "postgres")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Where PostgreSQL server binaries live on common systems (newest version wins).
_GLOBS = (
    "/usr/lib/postgresql/*/bin",  # Debian / Ubuntu
    "/usr/pgsql-*/bin",  # RHEL / Fedora (PGDG)
    "/opt/homebrew/opt/postgresql@*/bin",  # macOS, Apple silicon
    "/usr/local/opt/postgresql@*/bin",  # macOS, Intel
)
_FIXED = ("/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin")


class PgNotFoundError(RuntimeError):
    """No PostgreSQL server binaries (initdb, postgres) were found on this machine."""


def _has_server(d: Path) -> bool:
    return all(os.access(d / name, os.X_OK) for name in _REQUIRED)


def _version_key(p: Path) -> tuple[int, ...]:
    nums = re.findall(r"\d+", str(p))
    return tuple(int(n) for n in nums) or (0,)


def find_pg_bin() -> Path | None:
    """Return the folder holding PostgreSQL's ``initdb`` and ``postgres``, or None.

    Order: $PROPDESK_PG_BIN, then the folder of ``initdb`` on $PATH, then the usual install
    locations (the newest major version first).
    """
    env = os.environ.get("PROPDESK_PG_BIN")
    if env:
        return Path(env) if _has_server(Path(env)) else None
    on_path = shutil.which("initdb")
    if on_path and _has_server(Path(on_path).resolve().parent):
        return Path(on_path).resolve().parent
    candidates: list[Path] = []
    for pattern in _GLOBS:
        root = Path("/")
        candidates += sorted(root.glob(pattern.lstrip("/")), key=_version_key, reverse=True)
    candidates += [Path(p) for p in _FIXED]
    for d in candidates:
        if _has_server(d):
            return d
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _base_dirs() -> list[Path]:
    """Where cluster folders may go: a big enough RAM disk first (CREATE DATABASE is ~15x
    faster there than on a disk), then the system temp folder. $PROPDESK_PG_TMPDIR overrides."""
    env = os.environ.get("PROPDESK_PG_TMPDIR")
    if env:
        return [Path(env)]
    dirs: list[Path] = []
    shm = Path("/dev/shm")
    with contextlib.suppress(OSError):
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK | os.X_OK) and st.f_bavail * st.f_frsize >= 1 << 30:
            dirs.append(shm)
    dirs.append(Path(tempfile.gettempdir()))
    return dirs


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """True if process ``pid`` is a postgres server for ``data_dir`` (Linux /proc check)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(data_dir).encode() in cmdline


def _file_system_now(base: Path) -> float:
    """"Now" as the kernel stamps files: under libfaketime (the moved-clock CI run) time.time()
    is far from the folders' mtimes, and every folder would look stale."""
    try:
        with tempfile.NamedTemporaryFile(dir=base) as probe:
            return os.stat(probe.name).st_mtime
    except OSError:
        return time.time()


def _sweep_stale_dirs() -> None:
    """Remove cluster folders of earlier runs whose test process no longer exists."""
    for base in {*_base_dirs(), Path(tempfile.gettempdir())}:
        now = _file_system_now(base)
        for d in base.glob(_DIR_PREFIX + "*"):
            try:
                owner = int((d / _OWNER_FILE).read_text().strip())
            except (OSError, ValueError):
                # No owner file: another run may be creating it right now; only remove old ones.
                with contextlib.suppress(OSError):
                    if now - d.stat().st_mtime > 3600:
                        shutil.rmtree(d, ignore_errors=True)
                continue
            if _pid_alive(owner):
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                pm = int((d / "data" / "postmaster.pid").read_text().splitlines()[0])
                if _is_postmaster_of(pm, d / "data"):  # orphaned server: immediate shutdown
                    os.kill(pm, signal.SIGQUIT)
                    time.sleep(0.5)
            shutil.rmtree(d, ignore_errors=True)


def _unprivileged_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root; None when we are not root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd  # POSIX only

    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if pw.pw_uid != 0:
            return pw.pw_uid, pw.pw_gid
    raise RuntimeError("running as root and neither user 'postgres' nor 'nobody' exists")


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """preexec_fn: ask Linux to SIGQUIT the server (immediate shutdown) when we die."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGQUIT), 0, 0, 0)


class ThrowawayPostgres:
    """One temporary PostgreSQL cluster. ``start()``, use, ``stop()``; safe to ``stop()`` twice."""

    def __init__(self, bin_dir: Path | None = None, startup_timeout: float = 30.0) -> None:
        found = bin_dir or find_pg_bin()
        if found is None:
            raise PgNotFoundError(
                "PostgreSQL server binaries (initdb, postgres) not found. Install them "
                "(Debian/Ubuntu: apt-get install postgresql) or set PROPDESK_PG_BIN to their "
                "folder, or run the tests with PROPDESK_TEST_DB=sqlite."
            )
        self.bin_dir: Path = found
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.root: Path | None = None
        self.url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: Any = None  # psycopg.Connection, autocommit, to database "postgres"
        self._lock = threading.Lock()

    # -- paths -----------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        assert self.root is not None, "not started"
        return self.root / "postgres.log"

    def url_for(self, dbname: str) -> str:
        assert self.port is not None, "not started"
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """initdb a fresh cluster, start it, wait until it accepts connections.

        Returns the SQLAlchemy URL of its ``postgres`` database (use ``create_database`` for
        the databases the tests work in).
        """
        if self.url is not None:
            return self.url
        _sweep_stale_dirs()
        ids = _unprivileged_user()
        self.root = Path(tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=_base_dirs()[0]))
        (self.root / _OWNER_FILE).write_text(str(os.getpid()))
        if ids is not None:
            os.chown(self.root, *ids)
        atexit.register(self.stop)
        try:
            self._initdb(ids)
            last_error = ""
            for _attempt in range(3):  # the free port may be taken in between: retry
                self.port = _free_port()
                if self._start_server(ids):
                    break
                last_error = self._log_tail()
            else:
                raise RuntimeError(f"PostgreSQL did not start; log:\n{last_error}")
            self.url = self.url_for("postgres")
            return self.url
        except BaseException:
            self.stop()
            raise

    def _child_kwargs(self, ids: tuple[int, int] | None) -> dict[str, Any]:
        assert self.root is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG"))}
        env.update(LC_ALL="C", LANG="C", HOME=str(self.root), TZ="UTC")
        kw: dict[str, Any] = {"env": env, "cwd": str(self.root)}
        if ids is not None:
            kw.update(user=ids[0], group=ids[1], extra_groups=[])
        return kw

    def _initdb(self, ids: tuple[int, int] | None) -> None:
        cmd = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # don't fsync the new cluster: it is thrown away
            "--no-instructions",
        ]
        res = subprocess.run(
            cmd, capture_output=True, text=True, check=False, **self._child_kwargs(ids)
        )
        if res.returncode != 0:
            raise RuntimeError(f"initdb failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")

    def _start_server(self, ids: tuple[int, int] | None) -> bool:
        """Start ``postgres`` on self.port; True once it accepts connections."""
        assert self.root is not None and self.port is not None
        cmd = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for setting in (
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self.root}",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "max_connections=200",
            "shared_buffers=64MB",
            "max_wal_size=1GB",
            "timezone=UTC",
            "log_min_messages=warning",
            "logging_collector=off",
        ):
            cmd += ["-c", setting]
        kw = self._child_kwargs(ids)
        with open(self.log_file, "ab") as log:  # the child inherits the fd
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal doesn't reach the server
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                **kw,
            )
        import psycopg

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:  # exited: port taken, bad setting, ...
                self._proc = None
                return False
            try:
                self._admin = psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user=SUPERUSER,
                    dbname="postgres",
                    autocommit=True,
                    connect_timeout=2,
                )
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        self._kill_server()
        raise RuntimeError(
            f"PostgreSQL did not accept connections within {self.startup_timeout}s; log:\n"
            + self._log_tail()
        )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _kill_server(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # SIGINT = "fast" shutdown (disconnects clients, clean); then SIGQUIT, then SIGKILL.
        for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        """Stop the server and delete its temp folder. Idempotent."""
        with self._lock:
            if self._admin is not None:
                with contextlib.suppress(Exception):
                    self._admin.close()
                self._admin = None
            self._kill_server()
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None
            self.url = None
            self.port = None
        atexit.unregister(self.stop)

    # -- databases ---------------------------------------------------------------------------
    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` (lowercase identifier) and return its SQLAlchemy URL."""
        self._check_name(name)
        with self._lock:
            if self._admin is None:
                raise RuntimeError("ThrowawayPostgres is not started")
            # FILE_COPY (PostgreSQL 15+) copies the files instead of WAL-logging every page.
            fast = " STRATEGY FILE_COPY" if self._admin.info.server_version >= 150000 else ""
            self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0{fast}')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE ``name``, disconnecting whoever is still connected to it."""
        self._check_name(name)
        with self._lock:
            if self._admin is None:
                return
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    def _check_name(name: str) -> None:
        if not _IDENT.match(name) or name in ("postgres", "template0", "template1"):
            raise ValueError(f"bad test database name: {name!r}")

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # manual use: python tests/pgserver.py
    t0 = time.perf_counter()
    with ThrowawayPostgres() as pg:
        print(f"bin: {pg.bin_dir}\nurl: {pg.url}\nstarted in {time.perf_counter() - t0:.2f}s")
        print("Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
