"""Worker processes that never outlive the command, and SIGTERM handled like Ctrl-C.

A `kill -9` of `dl-cls ocr` once left its spawned workers (and multiprocessing's resource tracker) running for good,
re-parented to pid 1 and still writing cache entries; a killed augment's workers wrote on for seconds without the
set's lock. So: every worker asks the kernel to kill it when its parent dies (Linux prctl PR_SET_PDEATHSIG; a
watchdog thread elsewhere), and a pool is terminated, not drained, when the command stops on an exception. The
resource tracker exits by itself once no process holds its pipe.

A job started in the background from a script inherits SIGINT ignored, so Ctrl-C cannot be the only clean stop:
`on_sigterm_interrupt` turns SIGTERM into `Terminated` (a KeyboardInterrupt), so every stage's Ctrl-C path (journal
flushed, pool terminated, run dir left resumable) also runs on SIGTERM.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from multiprocessing import get_context

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as on Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


def on_sigterm_interrupt() -> None:
    """In the command's main process: SIGTERM raises Terminated (main thread only, as Python requires)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def die_with_parent(parent_pid: int | None = None) -> None:
    """In a child process: be killed when the parent dies, even by kill -9. `parent_pid`, when known, also catches
    a parent that died before this call (the child is then already re-parented)."""
    parent_pid = os.getppid() if parent_pid is None else parent_pid
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:
        os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)


def default_workers() -> int:
    """Worker processes by default: the cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _init_child(parent_pid: int, initializer, initargs) -> None:
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: no traceback per worker
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def worker_env(values: dict[str, str]):
    """Environment variables set while a pool starts its workers (spawned workers take the environment at start:
    thread pools that read it once, as OpenMP's, are pinned before they load), the parent's own put back after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def worker_pool(workers: int, initializer=None, initargs=()):
    """A spawn pool (safe whatever the parent holds: threads, torch) whose workers die with this process:
    terminated when the block ends on any exception (Ctrl-C, SIGTERM, an error), killed by the kernel when this
    process is killed."""
    pool = get_context("spawn").Pool(workers, initializer=_init_child,
                                     initargs=(os.getpid(), initializer, tuple(initargs)))
    try:
        yield pool
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
