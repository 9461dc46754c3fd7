"""The deployed-trigger scenario with the real `pipedream` Python SDK
(strict parsing): deploy http-new-requests with a webhook_url, post to its
endpoint, verify the delivery with the real `standardwebhooks` package, list
events, pause, resume, regenerate the signing key, delete.

Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET, SB_HTTP_DOUBLE.
"""
import json
import time
import urllib.request

from sb_common import env, server_client, stepper
from standardwebhooks.webhooks import Webhook




def http(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


client = server_client("production")
step = stepper("py triggers")
double = env("SB_HTTP_DOUBLE")
user = f"py-trigger-user-{int(time.time() * 1000)}"
sink_path = f"/anything/py-sink-{int(time.time() * 1000)}"


def deliveries():
    _, body = http("GET", f"{double}/__control/requests")
    return [r for r in json.loads(body)["requests"] if r["path"] == sink_path]


def wait_for(n):
    for _ in range(200):
        got = deliveries()
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"expected {n} deliveries, got {len(deliveries())}")


def verify(key, d):
    h = d["headers"]
    headers = {k: h[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    return Webhook(key).verify(d["body"], headers)


step("1. deploy http-new-requests with a webhook_url")
dc = client.triggers.deploy(id="http-new-requests", external_user_id=user, configured_props={},
                            webhook_url=f"{double}{sink_path}")
endpoint = dc.configured_props["http"]["endpoint_url"]
key = dc.webhook_signing_key
assert key.startswith("whsec_"), key

step("2. POST to the endpoint_url; 3. the delivery verifies with standardwebhooks")
assert http("POST", endpoint, b'{"n": 1}')[0] == 200
payload = verify(key, wait_for(1)[0])
assert payload["event"]["body"] == {"n": 1}, payload
assert payload["context"]["deployment_id"] == dc.id

step("4. list events")
events = client.deployed_triggers.list_events(dc.id, external_user_id=user, n=5)
assert events[0].e["body"]["n"] == 1, events

step("5. pause: the URL answers 404; 6. resume")
client.deployed_triggers.update(dc.id, external_user_id=user, active=False)
assert http("POST", endpoint, b"{}")[0] == 404
assert client.deployed_triggers.update(dc.id, external_user_id=user, active=True).active is True
assert dc.id in [t.id for t in client.deployed_triggers.list(external_user_id=user)]

step("7. regenerate the signing key; the next delivery verifies with the new key")
hooks = client.deployed_triggers.list_webhooks(dc.id, external_user_id=user)
webhook_id = hooks.webhooks[0].id
new_key = client.deployed_triggers.regenerate_webhook_signing_key(dc.id, webhook_id, external_user_id=user).data.signing_key
assert new_key != key
http("POST", endpoint, b'{"n": 2}')
second = [d for d in wait_for(2) if json.loads(d["body"])["event"]["body"].get("n") == 2][0]
assert verify(new_key, second)["event"]["body"]["n"] == 2

step("8. delete")
client.deployed_triggers.delete(dc.id, external_user_id=user)
assert http("POST", endpoint, b"{}")[0] == 404
print("py triggers: scenario passed")
