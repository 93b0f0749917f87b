"""Who is computing a run: a lease (owner pid, host, heartbeat) kept in the run's row.

`begin_run` writes the caller's identity into the row it inserts; while the run is computed a
`Heartbeat` thread refreshes `heartbeat_at` every few seconds through its own connection. An
owner counts as alive while its heartbeat is fresh and, on the same host, while its process
exists; a run whose owner is gone (killed, machine rebooted) may be taken over and redone, a
live one never is.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

HEARTBEAT_SECONDS = 5.0
"""How often a live owner refreshes its heartbeat."""

STALE_AFTER_SECONDS = 300.0
"""A heartbeat older than this means the owner is gone (even if a process with its pid exists:
pids are reused)."""


@dataclass(frozen=True)
class Owner:
    """The process computing a run."""

    pid: int
    host: str

    @staticmethod
    def me() -> Owner:
        """This process."""
        return Owner(os.getpid(), socket.gethostname())


def now() -> str:
    """The current UTC time as ISO 8601 with microseconds (how the store writes times)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def seconds_since(stamp: str | None) -> float:
    """Seconds since an ISO 8601 time written by `now` (infinite for None or garbage)."""
    try:
        return (datetime.now(timezone.utc) - datetime.fromisoformat(str(stamp))).total_seconds()
    except ValueError:
        return float("inf")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def owner_alive(pid: int | None, host: str | None, heartbeat_at: str | None) -> bool:
    """Whether the owner recorded in a run's row may still be computing it. Rows written before
    leases existed (no owner) count as abandoned."""
    if pid is None or host is None or seconds_since(heartbeat_at) > STALE_AFTER_SECONDS:
        return False
    if host == socket.gethostname():
        return _process_exists(int(pid))
    return True


class Heartbeat:
    """A daemon thread refreshing the heartbeat of `run_id` (owned by this process) in the
    database at `path`, using its own connection. Use as a context manager."""

    def __init__(self, path: Path, run_id: str, interval: float = HEARTBEAT_SECONDS) -> None:
        self._path, self._run_id, self._interval = path, run_id, interval
        self._owner = Owner.me()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 35)

    def _loop(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
        except sqlite3.Error:
            return
        try:
            while not self._stop.wait(self._interval):
                try:
                    conn.execute(
                        "UPDATE runs SET heartbeat_at=? WHERE run_id=? AND status='running' "
                        "AND owner_pid=? AND owner_host=?",
                        (now(), self._run_id, self._owner.pid, self._owner.host),
                    )
                except sqlite3.Error:
                    pass  # a busy database: try again at the next beat
        finally:
            conn.close()
