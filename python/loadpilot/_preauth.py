"""Distributed mode's pre-authenticated pool of virtual users. Internal to LoadPilot.

Agents have no Python, so the CLI runs ``on_start`` here, for real, against the target,
for each virtual user of the pool; records, per user and per task, every call the task
would make with what ``on_start`` left behind (its token, the shared project's id);
ships those calls with the plan; and runs ``on_stop`` for each user after the run.

The users are the Python-mode hub's greenlets (``loadpilot._runtime.Hub``): their
calls go through the engine concurrently, and a ``threading.Lock`` held across a call
(the distributed-mode guide's ``ProjectCRUDFlow`` does that) parks only the user that
waits for it. Between ``start()`` and ``stop()`` every user is parked idle in the hub,
where ``on_stop`` finds it.

Example (what src/python/preauth_pool.cpp does)::

    pool = Pool(engine, ProjectCRUDFlow, "http://127.0.0.1:8000", ["read_project"], True, True)
    failure, stopped = pool.start(5)     # on_start x 5: the first alone, then the rest
    captured = pool.capture()            # {"users": [{"read_project": [call, ...]}, ...], ...}
    ...                                  # the agents replay the calls
    pool.stop()                          # on_stop x 5
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from loadpilot import _coop
from loadpilot._capture import capture_user
from loadpilot._runtime import Hub


class Pool:
    """The pre-authenticated virtual users of one distributed run (see the module doc)."""

    def __init__(self, engine: Any, cls: type, target: str, tasks: List[str], has_on_start: bool,
                 has_on_stop: bool) -> None:
        self.cls = cls
        # No check_<task> runs here: tasks only run against a recording client.
        self.hub = Hub(engine, cls, target, tasks, [False] * len(tasks), has_on_start, has_on_stop)
        self._stopped = False

    def start(self, size: int) -> Tuple[Optional[str], bool]:
        """Runs on_start for `size` users: the first alone, then the rest at once.

        Returns (traceback of the first user's on_start if it raised, else None;
        whether the engine said stop meanwhile). When the first fails, no other user
        starts: the run must not go ahead unauthenticated."""
        hub = self.hub
        _coop.HUB = hub
        try:
            hub._spawn()
            stopped = hub._start_users()
            if hub.first_failure is not None or stopped:
                return hub.first_failure, stopped
            for _ in range(size - 1):
                hub._spawn()
            return None, hub._start_users()
        finally:
            _coop.HUB = None

    def capture(self) -> Dict[str, Any]:
        """Every call each task would make, per user whose on_start succeeded.

        Returns {"users": [calls by task, or None for a user whose on_start failed],
        "problems": ["virtual user N: ..."], "needs_python": [[task, reason], ...]}
        (the first user's reason for each task)."""
        users: List[Optional[Dict[str, Any]]] = []
        problems: List[str] = []
        needs: Dict[str, str] = {}
        for index, vuser in enumerate(self.hub.instances):
            if vuser is None or index in self.hub.failed:
                users.append(None)
                continue
            one = capture_user(vuser, self.cls)
            users.append(one["calls"])
            problems += [f"virtual user {index + 1}: {p}" for p in one["problems"]]
            for name, why in one["needs_python"]:
                needs.setdefault(name, why)
        return {"users": users, "problems": problems, "needs_python": [[n, w] for n, w in needs.items()]}

    def stop(self) -> None:
        """Runs on_stop for every user (once; a later call does nothing). Users still in
        on_start (a stop came meanwhile) finish it first."""
        if self._stopped:
            return
        self._stopped = True
        _coop.HUB = self.hub
        try:
            self.hub._stop_users()
        finally:
            _coop.HUB = None
