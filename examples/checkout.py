"""A shopper: log in once, then browse, view a product and add it to the cart.

on_start runs once per virtual user, so each one logs in and sends its own token;
LoadPilot starts as many virtual users as the rate needs (Python mode).

    loadpilot-target --port 8000 &
    loadpilot run examples/checkout.py --target http://localhost:8000
    loadpilot run examples/checkout.py --dry-run     # the plan; sends nothing
"""

from typing import Dict

from loadpilot import LoadClient, VUser, scenario, task

CREDENTIALS = {"username": "demo", "password": "demo"}


@scenario(rps=30, duration="15s", ramp_up="5s",
          thresholds={"p99_ms": 500, "p95_ms": 300, "error_rate": 1.0})
class CheckoutFlow(VUser):
    def on_start(self, client: LoadClient) -> None:
        resp = client.post("/auth/login", json=CREDENTIALS)
        resp.raise_for_status()
        self.token = resp.json()["access_token"]

    def _auth(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @task(weight=5)
    def browse(self, client: LoadClient) -> None:
        client.get("/api/products", headers=self._auth())

    @task(weight=3)
    def view_product(self, client: LoadClient) -> None:
        client.get("/api/products/1", headers=self._auth())

    @task
    def add_to_cart(self, client: LoadClient) -> None:
        client.post("/api/cart", json={"items": [{"product_id": 1, "quantity": 2}]},
                    headers=self._auth())
