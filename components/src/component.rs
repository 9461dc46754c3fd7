//! Action and trigger manifests: props, HTTP steps, exports, and the
//! trigger's event source (polling, webhook or timer).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_net::signature::SignatureScheme;

use crate::app::ManifestKind;
use crate::props::Prop;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub manifest_version: u32,
    pub kind: ManifestKind,
    /// Pipedream-style key, `<app>-<name>`.
    pub key: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    /// Slug of the app the component belongs to.
    pub app: String,
    #[serde(default)]
    pub props: Vec<Prop>,
    /// Extra props that appear when a condition on earlier props holds
    /// (Pipedream's reload props).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dynamic_props: Vec<DynamicProps>,
    #[serde(default)]
    pub annotations: Annotations,
    /// Actions: at most this long, below the SDKs' 60 s client timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Template of `$summary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Named exports, each a template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exports: BTreeMap<String, String>,
    /// The action's return value, a template tree; by default the last
    /// step's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns: Option<Value>,
    /// Triggers: where events come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicProps {
    /// Condition template over `props`.
    pub when: String,
    pub props: Vec<Prop>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Annotations {
    #[serde(default)]
    pub read_only_hint: bool,
    #[serde(default)]
    pub destructive_hint: bool,
    #[serde(default)]
    pub idempotent_hint: bool,
    #[serde(default = "yes")]
    pub open_world_hint: bool,
}

fn yes() -> bool {
    true
}

/// One HTTP request of an action, remote options call or poll.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// A method, or a template yielding one.
    #[serde(default = "get")]
    pub method: String,
    /// Absolute, or relative to the app's base URL.
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Values are templates; null or empty results are left out, lists
    /// repeat the parameter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// A template yielding an object of more headers (user-supplied ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<String>,
    /// A template yielding an object of more query parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_query: Option<String>,
    /// A JSON body: a template tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A form body (`a[b]=c` bracket notation for nested objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<Value>,
    /// A raw body template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    /// Run the step only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub request: Request,
    /// Follow the app's pagination, collecting the items at this JSONPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paginate: Option<Paginate>,
    /// A condition on `response` that makes the action fail even on a 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_if: Option<String>,
    /// The failure message template (default: status and body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Named JSONPath extractions from the response body.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extract: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paginate {
    pub items: String,
    /// Template of the most items to collect.
    pub max_items: String,
}

/// Remote options of a prop: a request with the user's account, the items
/// it returns, and how each item becomes `{label, value}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsRequest {
    pub request: Request,
    /// JSONPath of the item list.
    pub items: String,
    /// Templates over `item`.
    pub label: String,
    pub value: String,
    /// Whether `query` (the user's search text) filters labels locally.
    #[serde(default)]
    pub filter_by_query: bool,
}

/// Where a trigger's events come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    Polling(Box<PollingSpec>),
    Webhook(Box<WebhookSpec>),
    Timer(TimerSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dedupe {
    /// Remember the ids seen (bounded).
    Unique,
    /// Emit only ids greater than the largest seen.
    Greatest,
    /// Emit only what comes after the last seen id.
    Last,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollingSpec {
    pub default_interval_secs: u64,
    pub request: Request,
    /// JSONPath of the items in the response.
    pub items: String,
    /// Item-relative JSONPath of each event's id.
    pub id: String,
    /// Item-relative JSONPath of each event's timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    pub dedupe: Dedupe,
    /// Template of the event summary, over `item`.
    pub summary: String,
    /// Cursor kept between polls: a template over `items` and `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Follow the app's pagination up to this many items per poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    /// The response body format.
    #[serde(default)]
    pub format: BodyFormat,
    /// Which items become events: a condition over `item` (GitHub's issue
    /// list also holds pull requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Template tree of each event over `item`; by default the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// Send the last response's `ETag` / `Last-Modified` back
    /// (`If-None-Match` / `If-Modified-Since`): a 304 costs nothing.
    #[serde(default)]
    pub conditional: bool,
    /// The order the provider lists items in (events go out oldest first;
    /// with `ts`, items are sorted by it instead).
    #[serde(default)]
    pub order: ItemOrder,
    /// Ask again at once, with the cursor moved on, while this condition
    /// over `response`, `items` and `state` holds (a search window sliding
    /// forward instead of deep paging), up to `max_items`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
    /// Polls of one account (or, without one, one app) running at once in
    /// one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOrder {
    NewestFirst,
    #[default]
    OldestFirst,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Json,
    /// RSS or Atom, read into `{items: [...]}`.
    Feed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// `deployment`: each deployment has its own URL; `app`: one shared
    /// URL per app, routed to deployments by `route`.
    pub ingress: Ingress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// A request answered at once without an event (pings, URL checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handshakes: Vec<Handshake>,
    /// Which requests become events: a condition over `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Template of the event id, used for dedupe (a delivery id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub summary: String,
    /// Template tree of the event; by default the request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// The response to an accepted request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    /// Provider registration on activate; its extractions are kept in the
    /// deployment's state (hook id, signing secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activate: Option<Step>,
    /// Removal on deactivate; a 404 counts as already removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivate: Option<Step>,
    /// App-level ingress: templates over `request` and over the
    /// deployment's `props` that must be equal for an event to reach it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ingress {
    Deployment,
    App,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteKey {
    pub request: String,
    /// A template over `props` that yields one value or a list of them.
    pub deployment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub scheme: SignatureScheme,
    /// Template of the secret: over `state` (set on activate) or `config`.
    pub secret: String,
    /// Largest accepted clock skew, for timestamped schemes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handshake {
    pub when: String,
    pub response: Response,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A template tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

fn ok() -> u16 {
    200
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerSpec {
    /// The event emitted on each tick, a template tree over `tick`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    pub summary: String,
}

impl Component {
    pub fn is_action(&self) -> bool {
        self.kind == ManifestKind::Action
    }

    /// Pipedream's `component_type`.
    pub fn component_type(&self) -> &'static str {
        if self.is_action() {
            "action"
        } else {
            "trigger"
        }
    }

    /// The webhook source of a trigger served by its app's shared URL.
    pub fn app_webhook(&self) -> Option<&WebhookSpec> {
        match &self.source {
            Some(Source::Webhook(w)) if w.ingress == Ingress::App => Some(w),
            _ => None,
        }
    }

    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props
            .iter()
            .chain(self.dynamic_props.iter().flat_map(|d| d.props.iter()))
            .find(|p| p.name == name)
    }
}
