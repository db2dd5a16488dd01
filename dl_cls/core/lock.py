"""One writer per output: an exclusive lock file that records who holds it.

The lock is an OS file lock (flock) on DIR/<name>, held for as long as the writing process lives: a process killed
by kill -9 or a crash releases it, so a stale lock of a dead process is simply taken over by the next writer. The
file records pid, host, command and start time, so a refused writer can say who holds it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from dl_cls.core.errors import DlClsError

LOCK_NAME = ".lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']} ({info['command']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def is_held(path) -> bool:
    """True while a live process holds the lock file `path`. Probes read-only and lets go at once, writing
    nothing: a reader (`dl-cls runs`) must not look like a writer, nor create lock files where there are none."""
    try:
        fh = open(path, "r", encoding="utf-8")
    except OSError:  # no lock file (never locked) or unreadable: nobody we can see holds it
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


class Lock:
    """Exclusive lock on `dir/name`. Use as a context manager, or acquire() and keep the object alive."""

    def __init__(self, directory, what: str, name: str = LOCK_NAME):
        self.path = Path(directory) / name
        self.what = what  # e.g. "run work/runs/a", used in the refusal message
        self._fh = None

    def acquire(self, wait_s: float = 0.0) -> "Lock":
        fh = open(self.path, "a+", encoding="utf-8")
        # at least a second: a reader's is_held() probe holds the lock for an instant and must not refuse a writer
        deadline = time.monotonic() + max(wait_s, 1.0)
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.close()
                    raise DlClsError(f"{self.what} is being written by {_holder(self.path)}; wait for it to end or "
                                     f"stop it (the lock {self.path} is released when that process exits)") from None
                time.sleep(0.2)
        self._fh = fh
        self._record()
        return self

    def _record(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv[:3]) or "python",
                "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(json.dumps(info) + "\n")
        self._fh.flush()

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.seek(0)
                self._fh.truncate()  # an empty lock file says nobody holds it
            self._fh.close()  # closing drops the flock
            self._fh = None

    def __enter__(self) -> "Lock":
        return self.acquire() if self._fh is None else self

    def __exit__(self, *exc) -> None:
        self.release()
