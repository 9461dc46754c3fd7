"""Actions generated from GitHub's OpenAPI description (@octokit/openapi,
`[[catalog.openapi]]`) through the real `pipedream` Python SDK (strict
pydantic parsing): every generated action retrieved, create-issue run
against the GitHub double, bad props refused.

Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET, SB_USER,
SB_GITHUB_ACCOUNT.
"""

from sb_common import env, server_client, stepper
from pipedream.core.api_error import ApiError

client = server_client("production")
step = stepper("py openapi")
user = env("SB_USER")
github = {"authProvisionId": env("SB_GITHUB_ACCOUNT")}

step("1. every github action is listed and retrieved, and parses strictly")
keys = [c.key for c in client.actions.list(app="github")]
assert "github-issues-create" in keys and "github-repos-get" in keys, keys[:20]
assert len(keys) > 200, len(keys)
for key in keys:
    client.actions.retrieve(key)
create = client.actions.retrieve("github-issues-create")
assert [p.name for p in create.configurable_props][:4] == ["github", "owner", "repo", "title"], create

step("2. run the generated create-issue")
title = "Generated, from the Python SDK"
run = client.actions.run(
    id="github-issues-create", external_user_id=user,
    configured_props={"github": github, "owner": "octocat", "repo": "hello-world", "title": title},
)
assert run.ret["title"] == title, run.ret
assert run.exports["$summary"] == "Create an issue succeeded", run.exports

step("3. bad props are refused with the prop named")
try:
    client.actions.run(
        id="github-issues-create", external_user_id=user,
        configured_props={"github": github, "owner": "octocat", "repo": "hello-world", "title": "x", "milestone": []},
    )
    raise AssertionError("invalid props were accepted")
except ApiError as e:
    assert e.status_code == 400 and "milestone" in str(e.body), e.body
print("py openapi: scenario passed")
