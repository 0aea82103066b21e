"""Static tasks with weights, query parameters and headers."""
from loadpilot import scenario, task


@scenario(rps=25, duration="2m30s", ramp_up="30s", thresholds={"p95_ms": 300, "error_rate": 1.0})
class Catalog:
    @task(weight=5)
    def list_products(self, client):
        client.get("/api/products", params={"page": 2, "sort": "price asc"})

    @task()
    def view_product(self, client):
        client.get("/api/products/1", headers={"Accept": "application/json", "X-Client": "loadpilot"})

    @task
    def health(self, client):
        client.get("/health?deep=1", params=[("verbose", "yes")])
