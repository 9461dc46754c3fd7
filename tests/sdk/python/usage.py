"""Usage, app overrides and the file stash with the real `pipedream` SDK.
Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET, SB_HTTP_DOUBLE."""
import datetime
import time

from pipedream.core.api_error import ApiError

from sb_common import env, server_client, stepper

client = server_client("production")
step = stepper("python usage")

step("1. an action whose answer is a file returns a $stash; file_stash.download_file gives it back")
run = client.actions.run(
    id="http-custom-request", external_user_id="sdk-py",
    configured_props={"url": f"{env('SB_HTTP_DOUBLE')}/bytes/70000"},
)
stash = run.ret["$stash"]
assert stash["size"] == 70000, run.ret
data = b"".join(client.file_stash.download_file(s_3_key=stash["s3_key"]))
assert data == bytes(i % 256 for i in range(70000)), len(data)

step("2. usage.list counts the run")
now = int(time.time())
usage = client.usage.list(start_ts=now - 3600, end_ts=now + 60)
assert sum(w.action_run_credits_used or 0 for w in usage.data) >= 1, usage
assert all(w.usage_end_ts - w.usage_start_ts == 3600 for w in usage.data), usage

step("3. app_overrides: create, list, retrieve, update, delete")
created = client.app_overrides.create(app="openai", name="py-override", cfmap={"organization": "org-py"})
assert created.app.name_slug == "openai" and created.cfmap == {"organization": "org-py"}, created
assert created.owner_id == env("SB_PROJECT_ID") and isinstance(created.created_at, datetime.datetime)
assert created.id in [o.id for o in client.app_overrides.list(app="openai")]
assert client.app_overrides.retrieve(created.id).name == "py-override"
updated = client.app_overrides.update(created.id, cfmap={"organization": "org-py2"})
assert updated.cfmap["organization"] == "org-py2", updated
client.app_overrides.delete(created.id)
try:
    client.app_overrides.retrieve(created.id)
    raise AssertionError("a deleted override is still there")
except ApiError as e:
    assert e.status_code == 404, e
step("done")
