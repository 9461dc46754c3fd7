"""The components scenario with the real `pipedream` Python SDK (strict
pydantic parsing): catalog, remote options, reload props, runAction and the
proxy, against the provider doubles.

Env: SB_BASE_URL, SB_PROJECT_ID, SB_CLIENT_ID, SB_CLIENT_SECRET, SB_USER,
SB_SLACK_ACCOUNT, SB_GITHUB_ACCOUNT.
"""

from sb_common import env, server_client, stepper
from pipedream.core.api_error import ApiError




client = server_client("production")
step = stepper("py components")
user = env("SB_USER")
slack = {"authProvisionId": env("SB_SLACK_ACCOUNT")}
github = {"authProvisionId": env("SB_GITHUB_ACCOUNT")}

step("1. list and retrieve components, actions and triggers")
keys = [c.key for c in client.components.list(app="slack")]
assert "slack-send-message" in keys, keys
assert "github-create-issue" in [c.key for c in client.actions.list(q="issue")]
assert "rss-new-item-in-feed" in [c.key for c in client.triggers.list()]
send = client.actions.retrieve("slack-send-message")
assert send.key == "slack-send-message"
channel_prop = [p for p in send.configurable_props if p.name == "channel"][0]
assert channel_prop.remote_options, channel_prop
for key in [c.key for c in client.components.list()]:
    client.components.retrieve(key)  # every built-in parses strictly

step("2. configure a remote-options prop")
opts = client.actions.configure_prop(
    id="slack-send-message", external_user_id=user, prop_name="channel",
    configured_props={"slack": slack}, query="general",
)
assert len(opts.options) == 1, opts
channel = opts.options[0].value

step("3. reload props")
reloaded = client.actions.reload_props(
    id="stripe-create-customer", external_user_id=user, configured_props={"include_address": True},
)
assert "address_line1" in [p.name for p in reloaded.dynamic_props.configurable_props]

step("4. run slack-send-message and github-create-issue")
sent = client.actions.run(
    id="slack-send-message", external_user_id=user,
    configured_props={"slack": slack, "channel": channel, "text": "from the Python SDK"},
)
assert "Successfully sent" in sent.exports["$summary"], sent
issue = client.actions.run(
    id="github-create-issue", external_user_id=user,
    configured_props={"github": github, "repoFullname": "octocat/hello-world", "title": "From the Python SDK"},
)
assert issue.ret["title"] == "From the Python SDK", issue.ret
try:
    client.actions.run(id="github-create-issue", external_user_id=user, configured_props={"github": github})
    raise AssertionError("invalid props were accepted")
except ApiError as e:
    assert e.status_code == 400 and "repoFullname" in str(e.body), e.body

step("5. the proxy")
repo = client.proxy.get(url="/repos/octocat/hello-world", external_user_id=user, account_id=github["authProvisionId"])
assert repo["full_name"] == "octocat/hello-world", repo
created = client.proxy.post(
    url="/repos/octocat/hello-world/issues", external_user_id=user,
    account_id=github["authProvisionId"], body={"title": "Via the Python proxy"},
)
assert created["title"] == "Via the Python proxy", created
print("py components: scenario passed")
