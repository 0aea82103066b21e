"""Not a scenario: a helper module helper_import.py imports."""
PRODUCT_PATHS = ["/api/products", "/api/products/2"]


def auth_headers(token):
    return {"Authorization": f"Bearer {token}"}
