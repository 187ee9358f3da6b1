"""A throwaway PostgreSQL cluster for the tests, started from the server binaries installed on
this machine (Debian's `postgresql` package: /usr/lib/postgresql/VERSION/bin).

`initdb` refuses to run as root, so as root the cluster runs as the `postgres` user (which the
package creates), as `.ci/run` does. The cluster lives in a temporary folder: its data, its
Unix socket and its log. It listens on that socket only, never on a TCP port: a port found free
could be taken by another process (the suite runs in parallel) before the server bound it.
`stop()` removes every trace of it. A session killed before it could stop its cluster leaves
the folder behind with its owner's pid; the next session stops such clusters and removes them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

BINARIES = "/usr/lib/postgresql/*/bin"
# Collation and character classes decide how full-text search splits words: pin them, so the
# tests do not depend on the locale of the shell that runs them.
INITDB_OPTIONS = ["-A", "trust", "-U", "postgres", "--encoding=UTF8", "--locale=C.UTF-8"]
# A cluster that is thrown away needs no durability.
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
FOLDER_PREFIX = "signal-bot-pg-"
OWNER_FILE = "owner.pid"
# Only names the socket file in the cluster's own folder (.s.PGSQL.5432): no TCP port is opened.
SOCKET_PORT = 5432


class ClusterUnavailable(Exception):
    """This machine cannot run a throwaway cluster; the text says why, in one line."""


class ClusterFailed(Exception):
    """The binaries are here but the cluster would not start; the text holds its log."""


def server_binaries() -> Path:
    """The newest installed PostgreSQL's bin folder; ClusterUnavailable if there is none."""
    found = [Path(p) for p in glob.glob(BINARIES) if (Path(p) / "initdb").exists()]
    if not found:
        raise ClusterUnavailable(
            f"PostgreSQL is not installed (no {BINARIES}/initdb): install Debian's "
            "`postgresql` package, or set SIGNAL_BOT_TEST_POSTGRES_URL to a server"
        )
    return max(found, key=lambda path: _version_key(path.parent.name))


class ThrowawayCluster:
    """`url = cluster.start()` ... `cluster.stop()`: one private PostgreSQL server."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.run_as = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
        (self.folder / OWNER_FILE).write_text(str(os.getpid()))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._stop_abandoned_clusters()

    def start(self) -> str:
        """initdb, then start; the SQLAlchemy URL of its `postgres` database (over the socket)."""
        if self.run_as is not None:
            shutil.chown(self.folder, self.run_as.pw_uid, self.run_as.pw_gid)
        self._run("initdb", "-D", str(self.data), "--no-sync", *INITDB_OPTIONS)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o",
                  self._server_options(), "start")  # fmt: skip
        return f"postgresql+psycopg://postgres@/postgres?host={self.folder}&port={SOCKET_PORT}"

    def stop(self) -> None:
        """Stop the server (without waiting for clients) and delete the cluster."""
        self._stop_and_remove(self.folder)

    def _stop_abandoned_clusters(self) -> None:
        for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
            if not _owner_alive(folder / OWNER_FILE):
                self._stop_and_remove(folder)

    def _stop_and_remove(self, folder: Path) -> None:
        data = folder / "data"
        try:
            if (data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        except ClusterFailed:
            pass  # not running after all: removing the folder is all that is left to do
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _server_options(self) -> str:
        listen = f"-c listen_addresses='' -c unix_socket_directories={self.folder}"
        return f"-p {SOCKET_PORT} {listen} {SERVER_OPTIONS}"

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.binaries / program), *arguments]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as.pw_name, "--", *command]
        finished = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd="/", timeout=120
        )
        if finished.returncode != 0:
            output = (finished.stdout + finished.stderr).strip()
            raise ClusterFailed(f"{program} failed: {output}\n{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def _owner_alive(owner_file: Path) -> bool:
    try:
        os.kill(int(owner_file.read_text()), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True  # unreadable or not ours to judge: leave it alone
    return True


def _server_user() -> pwd.struct_passwd | None:
    """Whom to run the server as: ourselves, or `postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterUnavailable(
            "running as root, and PostgreSQL refuses root: no `postgres` user to run it as"
        ) from None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
