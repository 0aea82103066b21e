"""async def tasks and client.batch, captured without an event loop."""
from loadpilot import scenario, task


@scenario(rps=10, duration="1h", mode="spike")
class AsyncBatch:
    @task(weight=2)
    async def dashboard(self, client):
        first = await client.get("/api/products")
        first.raise_for_status()
        await client.batch([
            {"method": "GET", "path": "/api/products/1"},
            {"method": "POST", "path": "/api/cart", "json": {"items": []}},
        ])

    @task
    async def health(self, client):
        await client.get("/health")
