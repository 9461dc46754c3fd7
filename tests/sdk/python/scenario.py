"""Drives the real `pipedream` Python SDK against a running switchboard binary.

Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET.
The SDK validates every response with pydantic, so a wire-shape mismatch
fails here as a ParsingError.
"""
import json
import time

from sb_common import env, server_client, stepper
from pipedream.core.api_error import ApiError




base_url = env("SB_BASE_URL")
client = server_client("production")
step = stepper("py")
user = f"py-user-{int(time.time() * 1000)}"

step("1. access token")
assert len(client.raw_access_token) > 20

step("2. connect token")
tok = client.tokens.create(external_user_id=user, expires_in=600, webhook_uri="https://example.com/hook")
assert tok.token.startswith("ctok_") and len(tok.token) == 37, tok.token
assert tok.connect_link_url.startswith(base_url)
assert tok.expires_at is not None

step("3. key-based account")
created = client.accounts.create(
    external_user_id=user,
    app_slug="stripe",
    cfmap_json=json.dumps({"api_key": "sk_test_py_secret"}),
    connect_token=tok.token,
)
assert created.id.startswith("apn_")
assert created.external_id == user
assert created.app.name_slug == "stripe"
assert created.credentials is None

step("4. list and retrieve, with and without credentials")
listed = list(client.accounts.list(external_user_id=user, app="stripe"))
assert [a.id for a in listed] == [created.id], listed
assert listed[0].credentials is None
with_creds = list(client.accounts.list(external_user_id=user, include_credentials=True))
assert with_creds[0].credentials.api_key == "sk_test_py_secret"
got = client.accounts.retrieve(created.id)
assert got.id == created.id and got.credentials is None
got = client.accounts.retrieve(created.id, include_credentials=True)
assert got.credentials.api_key == "sk_test_py_secret"
by_user = client.accounts.list_by_external_user(user)
assert [a.id for a in by_user] == [created.id]
apps = [a.name_slug for a in client.apps.list(q="stri")]
assert "stripe" in apps, apps
assert client.apps.retrieve("stripe").data.name == "Stripe"

step("5. delete the account")
client.accounts.delete(created.id)
try:
    client.accounts.retrieve(created.id)
    raise AssertionError("deleted account is still retrievable")
except ApiError as e:
    assert e.status_code == 404, e.status_code

step("6. delete the user")
client.users.delete_external_user(user)
assert user not in [u.external_id for u in client.users.list()]
print("py: scenario passed")
