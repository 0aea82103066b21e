"""Cooperative stand-ins for blocking primitives. Internal to LoadPilot.

In Python mode every virtual user is a greenlet on one thread. A plain
``threading.Lock`` held by one user across a client call (the distributed-mode guide's
``ProjectCRUDFlow`` does exactly that in ``on_start``) would block the whole thread as
soon as a second user tried to take it: the holder could never run again to release it.
Likewise ``time.sleep`` would stall every user. So, from interpreter start, the
``threading.Lock`` factory and ``time.sleep`` are replaced by these versions, which *yield to the hub* when called on a virtual user and behave exactly
like the originals anywhere else (outside a run, or on a thread the scenario started).
"""

from __future__ import annotations

import _thread
import threading
import time
from typing import Any

_real_sleep = time.sleep
_real_lock = _thread.allocate_lock

#: The running Python-mode hub (loadpilot._runtime.Hub), if any.
HUB: Any = None
#: True while the plan is captured: task bodies run once against placeholder responses,
#: and waiting there would only delay the start.
CAPTURING = False


def _user_hub() -> Any:
    """The hub when the caller is one of its virtual users, else None."""
    hub = HUB
    if hub is None or threading.get_ident() != hub.thread_id:
        return None
    import greenlet

    return hub if greenlet.getcurrent() is not hub.main else None


def sleep(secs: float) -> None:
    """time.sleep that parks only the calling virtual user."""
    if CAPTURING:
        return
    hub = _user_hub()
    if hub is None:
        _real_sleep(secs)
    else:
        hub.nap(max(0.0, float(secs)))


class Lock:
    """threading.Lock that a waiting virtual user waits for without blocking the others."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = _real_lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(False):
            return True
        if not blocking:
            return False
        hub = _user_hub()
        if hub is None:
            return self._lock.acquire(True, timeout)
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        while True:
            hub.nap(0.001)  # the holder runs meanwhile; it releases between its calls
            if self._lock.acquire(False):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    __enter__ = acquire

    def release(self) -> None:
        self._lock.release()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


def install() -> None:
    """Replaces threading.Lock and time.sleep (idempotent).

    threading.RLock is left alone: the standard library re-enters its RLocks from
    garbage-collector callbacks (logging does), which a lock owned by a greenlet cannot
    tell from another user. As every user runs on the one thread, an RLock re-enters for
    all of them, so it does not keep users apart in Python mode: use threading.Lock."""
    threading.Lock = Lock  # type: ignore[misc]
    time.sleep = sleep
