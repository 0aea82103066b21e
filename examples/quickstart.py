"""The smallest useful scenario: two static GETs, no setup.

Every call is known before the test starts, so the engine renders the requests once
and Python never runs during the load.

    loadpilot-target --port 8000 &
    loadpilot run examples/quickstart.py --target http://localhost:8000
"""

from loadpilot import LoadClient, scenario, task


@scenario(rps=20, duration="20s", ramp_up="5s", thresholds={"p95_ms": 200, "error_rate": 1.0})
class Quickstart:
    @task(weight=3)
    def list_products(self, client: LoadClient) -> None:
        client.get("/api/products")

    @task
    def health(self, client: LoadClient) -> None:
        client.get("/health")
