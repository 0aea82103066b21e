"""A scenario importing a helper module that sits next to it."""
from loadpilot import scenario, task
from scenario_helpers import PRODUCT_PATHS, auth_headers


@scenario(rps=2, duration="30s", ramp_up="0")
class WithHelper:
    @task
    def browse(self, client):
        for path in PRODUCT_PATHS:
            client.get(path, headers=auth_headers("static-token"))
