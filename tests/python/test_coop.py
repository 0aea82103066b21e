"""The cooperative primitives (loadpilot._coop) off a virtual user: outside a Python-mode
run, on threads a scenario starts, they must behave exactly like threading's own. (On a
virtual user they park it instead: tests/e2e/test_python_mode.py checks that.)"""

import queue
import threading

import pytest

from loadpilot import _coop


@pytest.fixture
def installed(monkeypatch):
    """threading.Lock and threading.Condition replaced, as the binary does at start."""
    monkeypatch.setattr(threading, "Lock", _coop.Lock)
    monkeypatch.setattr(threading, "Condition", _coop.Condition)


def test_a_condition_waits_for_a_notify_from_another_thread():
    cond = _coop.Condition()
    items = []

    def producer():
        with cond:
            items.append(1)
            cond.notify()

    with cond:
        worker = threading.Thread(target=producer)
        worker.start()
        notified = cond.wait_for(lambda: items, timeout=10)
    worker.join()

    assert notified and items == [1]


def test_a_wait_nobody_notifies_times_out():
    cond = _coop.Condition(_coop.Lock())

    with cond:
        assert cond.wait(timeout=0.01) is False
        assert cond.wait(timeout=0) is False
        assert cond.wait(timeout=-1) is False


def test_the_default_lock_of_a_condition_is_reentrant_and_owned_by_one_thread():
    cond = _coop.Condition()
    taken_elsewhere = []

    with cond:
        with cond:  # re-entered by its owner
            worker = threading.Thread(target=lambda: taken_elsewhere.append(cond.acquire(blocking=False)))
            worker.start()
            worker.join()

    assert taken_elsewhere == [False]
    assert cond.acquire(blocking=False)
    cond.release()


def test_releasing_a_condition_lock_nobody_holds_raises():
    cond = _coop.Condition()

    with pytest.raises(RuntimeError, match="un-acquired"):
        cond.release()
    with pytest.raises(RuntimeError, match="un-acquired"):
        cond.wait(timeout=0)


def test_a_lock_blocks_another_thread_until_released():
    lock = _coop.Lock()
    lock.acquire()
    got = []

    worker = threading.Thread(target=lambda: got.append(lock.acquire(timeout=10)))
    worker.start()
    lock.release()
    worker.join()

    assert got == [True] and lock.locked()
    assert lock.acquire(blocking=False) is False
    assert lock.acquire(timeout=0.01) is False


def test_queue_event_and_semaphore_built_on_them_work_across_threads(installed):
    jobs = queue.Queue()
    done = threading.Event()
    gate = threading.BoundedSemaphore(1)
    results = []

    def worker():
        with gate:
            results.append(jobs.get(timeout=10))
        done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    jobs.put("job")

    assert done.wait(timeout=10)
    thread.join()
    assert results == ["job"]
    with pytest.raises(queue.Empty):
        jobs.get(timeout=0.01)
    with pytest.raises(ValueError):
        gate.release()  # bounded: released more often than acquired
