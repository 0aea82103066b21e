"""on_start state (a login token, a created id) shows as placeholders in a dry run;
inheritance and super().on_start work."""
import threading

from loadpilot import VUser, scenario, task


class Authenticated(VUser):
    def on_start(self, client):
        resp = client.post("/auth/login", json={"username": "demo", "password": "demo"})
        resp.raise_for_status()
        self.token = resp.json()["access_token"]

    def _auth(self):
        return {"Authorization": f"Bearer {self.token}"}


@scenario(rps=5, duration="2m", ramp_up="20s", mode="step", steps=4,
          thresholds={"p50_ms": 50, "p99_ms": 500, "max_ms": 2000})
class Projects(Authenticated):
    _lock = threading.Lock()
    _shared_project_id = None

    def on_start(self, client):
        super().on_start(client)
        with self.__class__._lock:
            if self.__class__._shared_project_id is None:
                resp = client.post("/api/v1/projects", json={"name": "shared"}, headers=self._auth())
                self.__class__._shared_project_id = resp.json()["id"]
        self.project_id = self.__class__._shared_project_id

    @task(weight=4)
    def read_project(self, client):
        client.get(f"/api/v1/projects/{self.project_id}", headers=self._auth())

    @task
    def list_projects(self, client):
        client.get("/api/v1/projects", headers=self._auth())
