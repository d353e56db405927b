"""A supervised process ends when its supervisor does, even after `kill -9` of it.

Two mechanisms, both on by default:
- a parent-death signal (Linux `prctl(PR_SET_PDEATHSIG)`, set between fork and exec):
  the kernel sends the child SIGTERM when the supervisor dies. Valkey nodes rely on it.
- a watchdog pipe (gateways and worker): the supervisor holds the only write end; the
  child reads the other end in a thread, and end-of-file means the supervisor is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

WATCHDOG_FD_ENV = "GAMESERVER_WATCHDOG_FD"
# Set when the child also has a parent-death signal: the watchdog then only makes sure.
PDEATHSIG_ENV = "GAMESERVER_PDEATHSIG"
_PR_SET_PDEATHSIG = 1
# After the supervisor's death, how long a child may take to stop cleanly.
_GRACE_S = 15.0


def parent_death_preexec(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that asks the kernel for `signum` when this process dies; None
    where the platform has no such thing."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    supervisor = os.getpid()

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The supervisor may have died between fork and prctl: nobody would signal us.
        if os.getppid() != supervisor:
            os.kill(os.getpid(), signum)

    return arm


def watch_supervisor() -> None:
    """In a supervised child: stop this process once the supervisor's pipe closes."""
    raw = os.environ.pop(WATCHDOG_FD_ENV, "")
    if not raw:
        return
    fd = int(raw)
    signalled = os.environ.pop(PDEATHSIG_ENV, "") == "1"

    def watch() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        log.warning("the supervisor is gone; stopping")
        if not signalled:
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(_GRACE_S)
        os._exit(70)

    threading.Thread(target=watch, name="supervisor-watchdog", daemon=True).start()
