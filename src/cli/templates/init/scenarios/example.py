"""An example LoadPilot scenario: a shopper who logs in, browses and fills a cart.

It runs against the bundled demo target (loadpilot-target), so you can try it at once:

    loadpilot-target --port 8000 &
    loadpilot run scenarios/example.py --target http://localhost:8000
    loadpilot run scenarios/example.py --dry-run          # validate, print the plan, send nothing
    loadpilot run scenarios/example.py --report report.html --results-json results.json

Change the paths to your own service's, and the rate and thresholds to what it must hold.
See `loadpilot run --help` for the flags that override these settings in CI
(--rps, --duration, --ramp-up, --mode, --steps, --vusers, --threshold).
"""

from loadpilot import LoadClient, VUser, scenario, task


@scenario(rps=20, duration="30s", ramp_up="10s", mode="ramp",
          thresholds={"p95_ms": 300, "p99_ms": 500, "error_rate": 1.0})
class Example(VUser):
    def on_start(self, client: LoadClient) -> None:
        # Once per virtual user, before its tasks: log in and keep the token.
        resp = client.post("/auth/login", json={"username": "demo", "password": "demo"})
        resp.raise_for_status()
        self.headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}

    @task(weight=5)
    def browse(self, client: LoadClient) -> None:
        client.get("/api/products", headers=self.headers)

    def check_browse(self, status_code: int, body) -> None:
        # Runs after each browse with the last response: raising counts it as an error.
        assert status_code == 200, f"status {status_code}"
        assert isinstance(body, list), "expected a list of products"

    @task(weight=3)
    def view_product(self, client: LoadClient) -> None:
        client.get("/api/products/1", headers=self.headers)

    @task
    def add_to_cart(self, client: LoadClient) -> None:
        client.post("/api/cart", json={"items": [{"product_id": 1, "quantity": 2}]},
                    headers=self.headers)
