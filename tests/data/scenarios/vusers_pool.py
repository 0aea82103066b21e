"""A fixed pool of virtual users (vusers=3) is part of the plan; an unset pool is not
(it is chosen at run time from the rate)."""
from loadpilot import VUser, scenario, task


@scenario(rps=20, duration="30s", ramp_up="0", mode="constant", vusers=3)
class Pool(VUser):
    def on_start(self, client):
        self.token = client.post("/auth/login", json={}).json()["access_token"]

    @task
    def browse(self, client):
        client.get("/api/products", headers={"Authorization": f"Bearer {self.token}"})

    def check_browse(self, status_code, body):
        assert status_code == 200
