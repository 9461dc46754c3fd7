"""What every scenario shares: its environment, a server client and step logs."""
import os

from pipedream import Pipedream


def env(k):
    v = os.environ.get(k)
    if not v:
        raise SystemExit(f"{k} is not set")
    return v


def server_client(project_environment):
    """The official client with the project's server credentials."""
    return Pipedream(
        base_url=env("SB_BASE_URL"),
        project_id=env("SB_PROJECT_ID"),
        project_environment=project_environment,
        client_id=env("SB_CLIENT_ID"),
        client_secret=env("SB_CLIENT_SECRET"),
    )


def stepper(prefix):
    return lambda name: print(f"{prefix}: {name}", flush=True)
