"""Cooperative stand-ins for blocking primitives. Internal to LoadPilot.

In Python mode every virtual user is a greenlet on one thread. A plain
``threading.Lock`` held by one user across a client call (the distributed-mode guide's
``ProjectCRUDFlow`` does exactly that in ``on_start``) would block the whole thread as
soon as a second user tried to take it: the holder could never run again to release it.
The same goes for ``time.sleep``, and for everything built on ``threading.Condition``:
``threading.Event``, ``Semaphore``, ``BoundedSemaphore``, ``Barrier`` and
``queue.Queue``. So, from interpreter start, ``threading.Lock``, ``threading.Condition``
and ``time.sleep`` are replaced by these versions. Called on a virtual user they *park
that user* (the hub runs the others meanwhile); anywhere else (outside a run, on the
hub itself, on a thread the scenario started) they behave exactly like the originals.

A parked user is resumed by whoever releases what it waits for. A release from another
thread is handed to the hub, which resumes the user on its own thread within one turn
(at most 50 ms). When a run stops, users still parked in a wait get ``Interrupted``
raised there, so a wait that will never be satisfied cannot hold the run open.
"""

from __future__ import annotations

import _thread
import collections
import threading
import time
from typing import Any, Deque, Optional

_real_sleep = time.sleep
_real_lock = _thread.allocate_lock
_RealCondition = threading.Condition

#: The running Python-mode hub (loadpilot._runtime.Hub), if any.
HUB: Any = None
#: True while the plan is captured: task bodies run once against placeholder responses,
#: and waiting there would only delay the start.
CAPTURING = False


class Interrupted(KeyboardInterrupt):
    """Raised in scenario code when a run stops: in a wait that was still parked
    (``stuck`` False), or in code that kept the thread past the stop (a busy loop, a
    blocking call: ``stuck`` True, delivered by a signal)."""

    def __init__(self, stuck: bool) -> None:
        super().__init__("the run was stopped" + (" while this code held the thread" if stuck else ""))
        self.stuck = stuck


def _user_hub() -> Any:
    """The hub when the caller is one of its virtual users, else None."""
    hub = HUB
    if hub is None or threading.get_ident() != hub.thread_id:
        return None
    import greenlet

    return hub if greenlet.getcurrent() is not hub.main else None


def _deadline(timeout: Optional[float]) -> Optional[int]:
    """A monotonic-ns deadline for a timeout in seconds (None or < 0: no deadline)."""
    if timeout is None or timeout < 0:
        return None
    return time.monotonic_ns() + int(timeout * 1e9)


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
    """threading.Lock that a waiting virtual user waits for without blocking the others.

    Waiting users queue in order; a release resumes the first of them (which takes the
    lock unless someone running meanwhile took it first: then it queues again)."""

    __slots__ = ("_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = _real_lock()
        self._waiters: Optional[Deque[Any]] = None  # parked users (Parked), on first contention

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(False):
            return True
        if not blocking:
            return False
        hub = _user_hub()
        if hub is None:
            return self._lock.acquire(True, timeout)
        deadline = _deadline(timeout)
        if self._waiters is None:
            self._waiters = collections.deque()
        while True:
            # Queued before the second try, so a release from another thread in between
            # finds this user and wakes it.
            parked = hub.parked_until(deadline)
            self._waiters.append(parked)
            if self._lock.acquire(False):
                hub.cancel(parked)
                return True
            hub.sleep_on(parked)
            if self._lock.acquire(False):
                return True
            if deadline is not None and time.monotonic_ns() >= deadline:
                return False

    __enter__ = acquire

    def release(self) -> None:
        self._lock.release()
        waiters = self._waiters
        if waiters:
            hub = HUB
            while waiters:
                parked = waiters.popleft()
                if parked.active:
                    if hub is not None:
                        hub.wake(parked)
                    break

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def locked(self) -> bool:
        return self._lock.locked()

    # Condition(lock) uses these when the lock has them.
    def _at_fork_reinit(self) -> None:
        self._lock = _real_lock()
        self._waiters = None


class _RLock:
    """The reentrant lock of a ``Condition()`` created without one. The owner is the
    greenlet, so each virtual user (and each real thread) owns it on its own; the C
    RLock would let every user on the hub's thread in at once, and its wait-restore
    would block the thread. Not installed as threading.RLock (see install())."""

    __slots__ = ("_lock", "_owner", "_count")

    def __init__(self) -> None:
        self._lock = Lock()
        self._owner: Any = None
        self._count = 0

    @staticmethod
    def _me() -> Any:
        import greenlet

        return greenlet.getcurrent()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = self._me()
        if self._owner is me:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner, self._count = me, 1
        return True

    __enter__ = acquire

    def release(self) -> None:
        if self._owner is not self._me():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._lock.release()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _is_owned(self) -> bool:
        return self._owner is self._me()

    def _release_save(self) -> Any:
        state = (self._count, self._owner)
        self._owner, self._count = None, 0
        self._lock.release()
        return state

    def _acquire_restore(self, state: Any) -> None:
        self._lock.acquire()
        self._count, self._owner = state


class _Waiter:
    """What Condition.wait queues for a virtual user; notify() calls release()."""

    __slots__ = ("hub", "parked", "signalled")

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.parked: Any = None
        self.signalled = False

    def release(self) -> None:
        if self.signalled:
            raise RuntimeError("release unlocked lock")  # what notify() expects of a used waiter
        self.signalled = True
        if self.parked is not None:
            self.hub.wake(self.parked)

    def wait(self, deadline: Optional[int]) -> bool:
        while True:
            # Parked before the check, so a notify from another thread in between wakes it.
            self.parked = self.hub.parked_until(deadline)
            if self.signalled:
                self.hub.cancel(self.parked)
                return True
            if deadline is not None and time.monotonic_ns() >= deadline:
                self.hub.cancel(self.parked)
                return False
            self.hub.sleep_on(self.parked)


class Condition(_RealCondition):
    """threading.Condition whose wait() parks a virtual user instead of the thread.
    Event, Semaphore, BoundedSemaphore, Barrier and queue.Queue are built on it."""

    def __init__(self, lock: Any = None) -> None:
        super().__init__(_RLock() if lock is None else lock)

    def wait(self, timeout: Optional[float] = None) -> bool:
        hub = _user_hub()
        if hub is None:
            return super().wait(timeout)
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = _Waiter(hub)
        self._waiters.append(waiter)
        saved = self._release_save()
        signalled = False
        try:
            # As threading's: no timeout waits for ever, one <= 0 does not wait at all.
            signalled = waiter.wait(None if timeout is None else time.monotonic_ns() + int(max(timeout, 0) * 1e9))
            return signalled
        finally:
            self._acquire_restore(saved)
            if not signalled:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass


def install() -> None:
    """Replaces threading.Lock, threading.Condition and time.sleep (idempotent).

    threading.RLock is left alone: the standard library re-enters its RLocks from
    garbage-collector callbacks (logging does), which a lock owned by a greenlet cannot
    tell from another user. As every user runs on the one thread, an RLock re-enters for
    all of them, so it does not keep users apart in Python mode: use threading.Lock."""
    threading.Lock = Lock  # type: ignore[misc]
    threading.Condition = Condition  # type: ignore[misc]
    time.sleep = sleep


def _on_interrupt_signal(signum: int, frame: Any) -> None:
    """The run stopped and scenario code kept the hub's thread (a busy loop, a blocking
    call): the engine's watchdog sent this signal. Raised only in a virtual user: if
    the hub itself runs, nothing is stuck any more."""
    hub = HUB
    if hub is None:
        return
    import greenlet

    if greenlet.getcurrent() is hub.main:
        return
    raise Interrupted(stuck=True)


def arm_interrupt(signum: int) -> Any:
    """Makes signal `signum` interrupt a stuck virtual user (see _on_interrupt_signal);
    returns the previous handler, for disarm(). Python's own handler is installed
    without SA_RESTART, so a blocking system call returns early with EINTR."""
    import signal

    return signal.signal(signum, _on_interrupt_signal)


def disarm_interrupt(signum: int, previous: Any) -> None:
    import signal

    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
