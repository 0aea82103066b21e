"""CRUD on one project shared by every virtual user (the distributed-mode guide's
example): log in per virtual user, create the shared project once under a lock, read
and update it during the load, delete it when the last virtual user stops.

    loadpilot-target --port 8000 &
    loadpilot run examples/projects.py --target http://localhost:8000
"""

import threading
from typing import Dict, Optional

from loadpilot import LoadClient, VUser, scenario, task


def new_project() -> Dict[str, str]:
    return {"name": "loadpilot-shared", "description": "created by examples/projects.py"}


class AuthenticatedVUser(VUser):
    """Logs in on start; `_auth()` gives the header every call needs."""

    token: str = ""

    def on_start(self, client: LoadClient) -> None:
        resp = client.post("/auth/login", json={"username": "demo", "password": "demo"})
        resp.raise_for_status()
        self.token = resp.json()["access_token"]

    def _auth(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@scenario(rps=5, duration="2m", ramp_up="20s", thresholds={"p99_ms": 500, "error_rate": 1.0})
class ProjectCRUDFlow(AuthenticatedVUser):
    _lock = threading.Lock()
    _shared_project_id: Optional[int] = None  # one project shared across all VUsers
    _vuser_count = 0

    def on_start(self, client: LoadClient) -> None:
        # login
        super().on_start(client)
        # create the shared project once; all VUsers reuse the same ID
        with self.__class__._lock:
            self.__class__._vuser_count += 1
            if self.__class__._shared_project_id is None:
                resp = client.post("/api/v1/projects", json=new_project(), headers=self._auth())
                resp.raise_for_status()
                self.__class__._shared_project_id = resp.json()["id"]
        self.project_id = self.__class__._shared_project_id

    @task(weight=4)
    def read_project(self, client: LoadClient) -> None:
        # URL /api/v1/projects/{self.project_id} is captured per-VUser
        client.get(f"/api/v1/projects/{self.project_id}", headers=self._auth())

    @task(weight=2)
    def list_projects(self, client: LoadClient) -> None:
        client.get("/api/v1/projects", headers=self._auth())

    @task
    def rename_project(self, client: LoadClient) -> None:
        client.patch(f"/api/v1/projects/{self.project_id}", json={"description": "renamed"},
                     headers=self._auth())

    def on_stop(self, client: LoadClient) -> None:
        with self.__class__._lock:
            self.__class__._vuser_count -= 1
            last = self.__class__._vuser_count == 0
            if last and self.__class__._shared_project_id is not None:
                client.delete(
                    f"/api/v1/projects/{self.__class__._shared_project_id}",
                    headers=self._auth(),
                )
                self.__class__._shared_project_id = None
