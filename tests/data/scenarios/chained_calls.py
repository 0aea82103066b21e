"""One task making several calls: a chain, recorded in order, bodies as sent."""
from loadpilot import VUser, scenario, task


@scenario(rps=0.5, duration="90", ramp_up="500ms", mode="constant")
class Checkout(VUser):
    @task
    def checkout(self, client):
        client.get("/api/products")
        client.post("/api/cart", json={"items": [{"product_id": 1, "quantity": 2}]})
        client.put("/api/v1/projects/1", data={"name": "a b", "tag": ["x", "y"]})
        client.patch("/api/v1/projects/1", data="raw text", headers={"Content-Type": "text/plain"})
        client.delete("/api/v1/projects/1")
