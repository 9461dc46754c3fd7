use super::*;
use crate::{AuthType, Catalog, ClientAuth, Pagination};

const YAML: &str = r#"
shop-thing:
  auth_mode: OAUTH2
  display_name: Shop Thing
  categories: [e-commerce, dev-tools]
  docs: https://example.com/docs/shop
  authorization_url: https://${connectionConfig.subdomain}.shop.example/oauth/authorize
  token_url: https://${connectionConfig.subdomain}.shop.example/oauth/token
  authorization_params:
    prompt: consent
  token_params:
    grant_type: authorization_code
    expiring: 1
  scope_separator: ","
  default_scopes: [read]
  authorization_method: header
  connection_config:
    subdomain:
      type: string
      title: Shop domain
      pattern: ^[a-z0-9-]+$
      prefix: https://
      suffix: .shop.example
  proxy:
    base_url: https://${connectionConfig.subdomain}.shop.example/api
    headers:
      x-shop-token: ${accessToken}
    retry:
      at: x-reset
      after: [Retry-After]
      remaining: x-remaining
      error_code: ['403', 5xx, '401']
    paginate:
      type: cursor
      cursor_name_in_request: after
      cursor_path_in_response: paging.next
cc-thing:
  auth_mode: OAUTH2_CC
  categories: [crm, hr-tools]
  token_url: https://login.cc.example/token
  token_request_auth_method: basic
  disable_pkce: true
  proxy:
    base_url: https://api.cc.example
    paginate:
      type: link
key-thing:
  auth_mode: API_KEY
  categories: [ai]
  credentials:
    apiKey:
      type: string
      title: Secret key
  proxy:
    base_url: https://api.key.example
    query:
      key: ${apiKey}
    paginate:
      type: offset
      offset_name_in_request: offset
basic-thing:
  auth_mode: BASIC
  categories: [communication]
  credentials:
    username: {type: string, title: Account SID, pattern: '^AC[a-z0-9]+$'}
    password: {type: string, title: Auth token, secret: true}
  proxy:
    base_url: https://api.basic.example
    verification:
      method: get
      endpoints: ['/v1/${credentials.username}/me']
host-thing:
  auth_mode: API_KEY
  categories: [ai]
  authorization_url: https://${connectionConfig.hostname}/x || https://login.host.example/x
  connection_config:
    hostname: {type: string, title: Host, optional: true}
  proxy:
    base_url: https://${connectionConfig.hostname}/api || https://api.host.example
    headers:
      authorization: Basic ${base64(${apiKey}:)}
shop-alias:
  alias: shop-thing
  display_name: Shop Alias
  proxy:
    base_url: https://${connectionConfig.subdomain}.shop.example/v2
sig-thing:
  auth_mode: JWT
  categories: [x]
oauth-one:
  auth_mode: OAUTH1
  categories: [productivity]
  request_url: https://one.example/1/OAuthGetRequestToken
  authorization_url: https://one.example/1/OAuthAuthorizeToken
  token_url: https://one.example/1/OAuthGetAccessToken
  signature_method: 'HMAC-SHA1'
  scope_separator: ','
  default_scopes: [read, write]
  request_params:
    x_auth_access_type: write
  authorization_params:
    expiration: never
  proxy:
    base_url: https://api.one.example
plain-one:
  auth_mode: OAUTH1
  categories: [x]
  request_url: https://plain.example/request
  authorization_url: https://plain.example/authorize
  token_url: https://plain.example/access
  signature_method: PLAINTEXT
client-thing:
  auth_mode: OAUTH2
  categories: [x]
  authorization_url: https://client.example/auth
  token_url: https://client.example/token
  authorization_params:
    nonce: ${random}
  proxy:
    base_url: https://api.client.example
    headers:
      api-key: ${clientId}
      x-request-id: ${random}
random-token:
  auth_mode: OAUTH2
  categories: [x]
  authorization_url: https://rt.example/auth
  token_url: https://rt.example/token
  token_params:
    jti: ${random}
two-step:
  auth_mode: TWO_STEP
  categories: [x]
  body_format: json
  token_url: https://${connectionConfig.domain}/connect/token
  token_params:
    grant_type: client_credentials
    client_id: ${credentials.clientId}
    client_secret: ${credentials.clientSecret}
  token_headers:
    accept: application/json
  token_response:
    token: data.token
    token_expiration: expiresIn
    token_expiration_strategy: expireIn
  token_expires_in_ms: 3600000
  proxy:
    base_url: https://${connectionConfig.domain}/xapi
  credentials:
    clientId: {type: string, title: Client ID}
    clientSecret: {type: string, title: API Key, secret: true}
  connection_config:
    domain: {type: string, title: Domain}
jwt-step:
  auth_mode: TWO_STEP
  categories: [x]
  token_url: https://oauth2.example/token
  token:
    signing_key: ${credentials.privateKey}
  credentials:
    privateKey: {type: string}
weird-thing:
  auth_mode: API_KEY
  categories: [x]
  proxy:
    base_url: https://api.weird.example
    headers:
      x-sig: ${hmacSha1Hex(${apiKey})}
stripe:
  auth_mode: OAUTH2
  categories: [payments]
  authorization_url: https://connect.stripe.com/oauth/authorize
  token_url: https://connect.stripe.com/oauth/token
"#;

fn imported() -> (Catalog, Report) {
    let mut c = Catalog::builtin().unwrap();
    let r = c.add_providers(YAML).unwrap();
    (c, r)
}

fn outcome<'a>(r: &'a Report, provider: &str) -> &'a Outcome {
    &r.providers
        .iter()
        .find(|e| e.provider == provider)
        .unwrap_or_else(|| panic!("{provider} not reported"))
        .outcome
}

fn refusal(r: &Report, provider: &str) -> String {
    match outcome(r, provider) {
        Outcome::Refused { reason } => reason.clone(),
        o => panic!("{provider}: {o:?}"),
    }
}

#[test]
fn oauth2_with_connection_config_maps_to_a_validated_app() {
    let (c, r) = imported();
    assert!(
        matches!(outcome(&r, "shop-thing"), Outcome::Imported { app, .. } if app == "shop_thing")
    );
    let a = c.get("shop_thing").unwrap();
    assert_eq!(a.id, "app_shop_thing");
    assert_eq!(a.name, "Shop Thing");
    assert_eq!(a.categories, vec!["E Commerce", "Dev Tools"]);
    assert!(a.description.contains("https://example.com/docs/shop"));
    assert_eq!(a.auth.kind, AuthType::Oauth);
    let o = a.auth.oauth.as_ref().unwrap();
    assert_eq!(
        o.authorize_url,
        "https://{{ account.subdomain }}.shop.example/oauth/authorize"
    );
    assert_eq!(o.scope_separator, ",");
    assert_eq!(o.scopes, vec!["read"]);
    assert!(o.pkce, "PKCE unless disable_pkce");
    assert_eq!(o.client_auth, ClientAuth::Basic);
    assert_eq!(o.extra_authorize_params["prompt"], "consent");
    assert_eq!(o.extra_token_params["expiring"], "1");
    assert!(!o.extra_token_params.contains_key("grant_type"));
    let f = &a.auth.fields[0];
    assert_eq!(
        (f.name.as_str(), f.label.as_str(), f.in_host),
        ("subdomain", "Shop domain", true)
    );
    assert_eq!(f.prefix.as_deref(), Some("https://"));
    assert_eq!(f.suffix.as_deref(), Some(".shop.example"));
    let api = a.api.as_ref().unwrap();
    assert_eq!(
        api.base_url,
        "https://{{ account.subdomain }}.shop.example/api"
    );
    assert_eq!(
        api.headers["x-shop-token"],
        "{{ account.oauth_access_token }}"
    );
    assert!(
        !api.headers.contains_key("Authorization"),
        "the provider's own header"
    );
    assert_eq!(a.connect.allowed_domains, vec!["*.shop.example"]);
    assert_eq!(api.rate_limit.reset.as_deref(), Some("x-reset"));
    assert_eq!(api.rate_limit.remaining.as_deref(), Some("x-remaining"));
    assert_eq!(api.rate_limit.retry_after, "retry-after");
    assert_eq!(api.retry.statuses, vec![403, 429, 500, 502, 503, 504]);
    assert!(
        matches!(&api.pagination, Some(Pagination::Cursor { cursor_path, param }) if cursor_path == "$.paging.next" && param == "after")
    );
}

#[test]
fn a_host_field_cannot_move_the_host() {
    let (c, _) = imported();
    let f = &c.get("shop_thing").unwrap().auth.fields[0];
    f.check_value("my-shop").unwrap();
    let long = "a".repeat(254);
    for bad in [
        "evil.com/x",
        "a@b",
        "a:1",
        "a?b",
        "a#b",
        "",
        "Shop",
        long.as_str(),
    ] {
        assert!(f.check_value(bad).is_err(), "{bad:?} accepted");
    }
    let u = &c.get("basic_thing").unwrap().auth.fields;
    let user = u.iter().find(|f| f.name == "username").unwrap();
    assert!(!user.in_host);
    user.check_value("ACabc").unwrap();
    assert!(user.check_value("xyz").unwrap_err().contains("Account SID"));
}

#[test]
fn client_credentials_keys_and_basic() {
    let (c, _) = imported();
    let cc = c.get("cc_thing").unwrap();
    assert_eq!(cc.auth.kind, AuthType::Keys);
    assert_eq!(cc.categories, vec!["CRM", "HR Tools"]);
    let names: Vec<&str> = cc.auth.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["client_id", "client_secret"]);
    assert!(cc.auth.fields[1].secret);
    // The client-credentials grant is a token exchange with the
    // account's client, authenticated with Basic as the provider says.
    let g = cc.auth.token_exchange.as_ref().unwrap();
    assert_eq!(g.token_url, "https://login.cc.example/token");
    assert_eq!(g.params["grant_type"], "client_credentials");
    assert!(!g.params.contains_key("client_secret"));
    assert_eq!(
        g.headers["Authorization"],
        "Basic {{ (account.client_id ~ ':' ~ account.client_secret) | b64encode }}"
    );
    let api = cc.api.as_ref().unwrap();
    assert_eq!(
        api.headers["Authorization"],
        "Bearer {{ account.oauth_access_token }}"
    );
    assert!(matches!(api.pagination, Some(Pagination::LinkHeader)));
    assert_eq!(
        cc.connect.base_proxy_target_url.as_deref(),
        Some("https://api.cc.example")
    );

    let k = c.get("key_thing").unwrap();
    assert_eq!(k.auth.fields[0].name, "api_key");
    assert_eq!(k.auth.fields[0].label, "Secret key");
    assert!(k.auth.fields[0].secret);
    assert_eq!(
        k.api.as_ref().unwrap().query["key"],
        "{{ account.api_key }}"
    );
    assert!(
        matches!(k.api.as_ref().unwrap().pagination, Some(Pagination::Offset { ref param, start: 0 }) if param == "offset")
    );

    let b = c.get("basic_thing").unwrap();
    assert_eq!(b.auth.kind, AuthType::Basic);
    let ba = b.api.as_ref().unwrap().basic_auth.as_ref().unwrap();
    assert_eq!(ba.username, "{{ account.username }}");
    assert_eq!(ba.password, "{{ account.password }}");
    let v = b.api.as_ref().unwrap().verify.as_ref().unwrap();
    assert_eq!(
        (v.method.as_str(), v.url.as_str()),
        ("GET", "/v1/{{ account.username }}/me")
    );
}

#[test]
fn fallbacks_and_base64_translate() {
    let (c, _) = imported();
    let h = c.get("host_thing").unwrap();
    let api = h.api.as_ref().unwrap();
    let ctx = |v: serde_json::Value| serde_json::json!({ "account": v });
    let k = serde_json::json!({"api_key": "k"});
    assert_eq!(
        crate::template::render(&api.base_url, &ctx(k.clone())).unwrap(),
        "https://api.host.example"
    );
    assert_eq!(
        crate::template::render(
            &api.base_url,
            &ctx(serde_json::json!({"api_key": "k", "hostname": "h.example"}))
        )
        .unwrap(),
        "https://h.example/api"
    );
    assert_eq!(
        crate::template::render(&api.headers["authorization"], &ctx(k)).unwrap(),
        "Basic azo="
    );
    assert!(
        h.auth
            .fields
            .iter()
            .any(|f| f.name == "hostname" && f.in_host)
    );
}

#[test]
fn an_alias_inherits_then_overrides() {
    let (c, r) = imported();
    let a = c.get("shop_alias").unwrap();
    assert_eq!(a.name, "Shop Alias");
    assert_eq!(a.auth.kind, AuthType::Oauth);
    assert_eq!(a.categories, vec!["E Commerce", "Dev Tools"]);
    assert_eq!(
        a.api.as_ref().unwrap().base_url,
        "https://{{ account.subdomain }}.shop.example/v2"
    );
    assert_eq!(
        a.api.as_ref().unwrap().headers["x-shop-token"],
        "{{ account.oauth_access_token }}",
        "proxy keys the alias does not set are inherited"
    );
    let e = r
        .providers
        .iter()
        .find(|e| e.provider == "shop-alias")
        .unwrap();
    assert_eq!(e.auth_mode, "OAUTH2");
}

#[test]
fn refusals_name_their_reason_and_builtins_win() {
    let (c, r) = imported();
    assert_eq!(
        refusal(&r, "sig-thing"),
        "auth mode JWT is not supported yet"
    );
    assert_eq!(
        refusal(&r, "plain-one"),
        "OAUTH1 signature_method PLAINTEXT is not supported (HMAC-SHA1 only)"
    );
    let rt = refusal(&r, "random-token");
    assert!(
        rt.contains("token_params.jti") && rt.contains("${random}"),
        "{rt}"
    );
    assert_eq!(
        refusal(&r, "jwt-step"),
        "TWO_STEP with a signed JWT assertion (token.signing_key) is not supported"
    );
    let w = refusal(&r, "weird-thing");
    assert!(
        w.contains("proxy.headers.x-sig") && w.contains("hmacSha1Hex"),
        "{w}"
    );
    assert!(c.get("weird_thing").is_none());
    assert!(matches!(outcome(&r, "stripe"), Outcome::Shadowed { app } if app == "stripe"));
    assert_eq!(
        c.get("stripe").unwrap().auth.kind,
        AuthType::Keys,
        "the built-in"
    );
    assert!(
        r.text()
            .contains("stripe [OAUTH2] -> stripe: shadowed by the built-in app")
    );
    let m = &r.modes["OAUTH2"];
    assert_eq!((m.total, m.imported, m.shadowed, m.refused), (5, 3, 1, 1));
    assert_eq!(r.modes["API_KEY"].refused, 1);
    assert_eq!(
        r.modes["JWT"].reasons["auth mode JWT is not supported yet"],
        1
    );
    let m = &r.modes["OAUTH1"];
    assert_eq!((m.total, m.imported, m.refused), (2, 1, 1));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["providers"][0]["outcome"], "imported");
}

#[test]
fn slugs_are_pipedream_style_and_unique() {
    assert_eq!(slug("google-mail"), "google_mail");
    assert_eq!(slug("1Password--SCIM"), "1password_scim");
    let mut c = Catalog::builtin().unwrap();
    let r = c
        .add_providers("a-b:\n  auth_mode: API_KEY\n  categories: [x]\na_b:\n  auth_mode: API_KEY\n  categories: [x]\n")
        .unwrap();
    assert!(refusal(&r, "a_b").contains("already taken by provider a-b"));
    assert!(c.add_providers("- not a map").is_err());
}

#[test]
fn a_validator_failure_is_a_refusal() {
    let mut c = Catalog::builtin().unwrap();
    let r = c
        .add_providers("p:\n  auth_mode: API_KEY\n  categories: [x]\n  credentials:\n    apiKey: {pattern: '(['}\n")
        .unwrap();
    let reason = refusal(&r, "p");
    assert!(
        reason.starts_with("invalid manifest: auth.fields[0].pattern"),
        "{reason}"
    );
}

/// Runs the importer over a real catalog when one is given (not in CI:
/// the file is its publisher's; the e2e target installs it).
#[test]
#[ignore]
fn real_catalog_from_env() {
    let Ok(path) = std::env::var("PROVIDERS_YAML") else {
        return;
    };
    let (c, reports) = Catalog::with_providers(&[path.into()]).unwrap();
    print!("{}", reports[0].text());
    println!("apps in catalog: {}", c.apps().len());
    for slug in std::env::var("PROVIDERS_SHOW")
        .unwrap_or_default()
        .split(',')
    {
        if let Some(a) = c.get(slug) {
            println!("{}", serde_json::to_string_pretty(a).unwrap());
        }
    }
}

#[test]
fn with_providers_reads_files_and_names_the_unreadable_one() {
    let dir = std::env::temp_dir().join(format!("sb-providers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = dir.join("providers.yaml");
    std::fs::write(&ok, YAML).unwrap();
    let (c, reports) = Catalog::with_providers(std::slice::from_ref(&ok)).unwrap();
    assert!(c.get("shop_thing").is_some() && c.get("github").is_some());
    assert_eq!(reports.len(), 1);
    let missing = dir.join("nope.yaml");
    let err = Catalog::with_providers(&[ok, missing.clone()]).unwrap_err();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn aws_sigv4_headers_become_request_signing() {
    let mut c = Catalog::builtin().unwrap();
    let r = c
        .add_providers(
            r#"
aws-thing:
  auth_mode: BASIC
  categories: [dev-tools]
  proxy:
    base_url: https://thing.${connectionConfig.region}.amazonaws.com
    headers:
      authorization: '${awsSigV4(${credentials.username}, ${credentials.password}, ${connectionConfig.region}, thing, thing.${connectionConfig.region}.amazonaws.com)}'
      x-amz-date: '${now:YYYYMMDDTHHmmss[Z]}'
  credentials:
    username: {type: string, title: AWS Access Key ID}
    password: {type: string, title: AWS Secret Access Key}
  connection_config:
    region: {type: string, title: Region, pattern: '^[a-z0-9-]+$'}
"#,
        )
        .unwrap();
    assert!(
        matches!(outcome(&r, "aws-thing"), Outcome::Imported { .. }),
        "{:?}",
        outcome(&r, "aws-thing")
    );
    let app = c.get("aws_thing").unwrap();
    let api = app.api.as_ref().unwrap();
    let sig = api.aws_sigv4.as_ref().unwrap();
    assert_eq!(sig.access_key, "{{ account.username }}");
    assert_eq!(sig.secret_key, "{{ account.password }}");
    assert_eq!(sig.region, "{{ account.region }}");
    assert_eq!(sig.service, "thing");
    assert!(api.basic_auth.is_none(), "signed, not Basic");
    assert!(
        api.headers.is_empty(),
        "the signer sets authorization and x-amz-date: {:?}",
        api.headers
    );
    assert_eq!(app.connect.allowed_domains, ["*.amazonaws.com"]);
}

#[test]
fn imported_apps_with_an_api_get_a_custom_request_action() {
    let (c, _) = imported();
    let a = c.component("key_thing-custom-request").expect("generated");
    assert_eq!(a.app, "key_thing");
    assert_eq!(a.props[0].app.as_deref(), Some("key_thing"));
    assert!(
        c.component("sig_thing-custom-request").is_none(),
        "refused providers get none"
    );
    assert!(
        c.component("stripe-custom-request").is_none(),
        "a shadowed provider's app is the built-in one: no generated action"
    );
    let mut c = c;
    c.add_providers(
        "1thing:\n  auth_mode: API_KEY\n  categories: [x]\n  proxy:\n    base_url: https://api.one.example\n    headers:\n      x-key: ${apiKey}\n",
    )
    .unwrap();
    let one = c.component("1thing-custom-request").expect("generated");
    assert_eq!(
        one.props[0].name, "app",
        "a slug is no prop name when it starts with a digit"
    );
    let keys: Vec<&str> = c.components().iter().map(|c| c.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "components stay sorted by key");
    // Lookups are binary searches over that order.
    for k in keys {
        assert_eq!(c.component(k).map(|x| x.key.as_str()), Some(k));
    }
    for a in c.apps() {
        assert_eq!(c.get(&a.name_slug).map(|x| &x.id), Some(&a.id));
        assert_eq!(c.get(&a.id).map(|x| &x.name_slug), Some(&a.name_slug));
    }
    assert!(c.component("zzz-nothing").is_none() && c.get("zzz_nothing").is_none());
}

#[test]
fn two_step_is_a_token_exchange_over_the_accounts_fields() {
    let (c, _) = imported();
    let a = c.get("two_step").unwrap();
    assert_eq!(a.auth.kind, AuthType::Keys);
    let names: Vec<&str> = a.auth.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["client_id", "client_secret", "domain"]);
    let domain = a.auth.fields.iter().find(|f| f.name == "domain").unwrap();
    assert!(domain.in_host, "the domain lands in the token URL's host");
    let x = a.auth.token_exchange.as_ref().unwrap();
    assert_eq!(x.token_url, "https://{{ account.domain }}/connect/token");
    assert_eq!(x.format, crate::TokenRequestFormat::Json);
    assert_eq!(x.params["grant_type"], "client_credentials");
    assert_eq!(x.params["client_id"], "{{ account.client_id }}");
    assert_eq!(x.headers["accept"], "application/json");
    assert_eq!(x.token_fields.access_token, "$.data.token");
    assert_eq!(x.token_fields.expires_in, "$.expiresIn");
    assert_eq!(x.expires_in_secs, Some(3600));
    assert_eq!(
        a.api.as_ref().unwrap().headers["Authorization"],
        "Bearer {{ account.oauth_access_token }}"
    );
    // The user's own host (no fixed domain): see runtime's rule.
    assert!(a.connect.allowed_domains.is_empty());
}

#[test]
fn oauth1_maps_to_a_signed_oauth_app() {
    let (c, r) = imported();
    assert!(matches!(outcome(&r, "oauth-one"), Outcome::Imported { .. }));
    let a = c.get("oauth_one").unwrap();
    assert_eq!(a.auth.kind, AuthType::Oauth);
    assert!(a.auth.oauth.is_none());
    let o = a.auth.oauth1.as_ref().unwrap();
    assert_eq!(
        o.request_token_url,
        "https://one.example/1/OAuthGetRequestToken"
    );
    assert_eq!(o.authorize_url, "https://one.example/1/OAuthAuthorizeToken");
    assert_eq!(
        o.access_token_url,
        "https://one.example/1/OAuthGetAccessToken"
    );
    assert_eq!(o.request_params["x_auth_access_type"], "write");
    assert_eq!(o.authorize_params["expiration"], "never");
    assert_eq!((o.scopes.join(&o.scope_separator)).as_str(), "read,write");
    // Requests are signed, not given a bearer token; the session brings
    // the project's client (id and secret).
    let api = a.api.as_ref().unwrap();
    assert!(api.headers.is_empty(), "{:?}", api.headers);
    assert_eq!(a.session_client(), (true, true));
    assert_eq!(a.connect.allowed_domains, ["api.one.example"]);

    // `[apps.<slug>]` moves all three URLs.
    let mut moved = a.clone();
    moved.apply_override(&crate::AppOverride {
        authorize_url: Some("http://127.0.0.1:1/authorize".into()),
        token_url: Some("http://127.0.0.1:1/access".into()),
        request_token_url: Some("http://127.0.0.1:1/request".into()),
        ..Default::default()
    });
    let o = moved.auth.oauth1.as_ref().unwrap();
    assert_eq!(
        (
            o.request_token_url.as_str(),
            o.authorize_url.as_str(),
            o.access_token_url.as_str()
        ),
        (
            "http://127.0.0.1:1/request",
            "http://127.0.0.1:1/authorize",
            "http://127.0.0.1:1/access"
        )
    );
}

#[test]
fn the_oauth_client_id_and_random_are_session_values() {
    let (c, _) = imported();
    let a = c.get("client_thing").unwrap();
    let api = a.api.as_ref().unwrap();
    assert_eq!(api.headers["api-key"], "{{ account.oauth_client_id }}");
    assert_eq!(api.headers["x-request-id"], "{{ random }}");
    assert_eq!(
        a.auth.oauth.as_ref().unwrap().extra_authorize_params["nonce"],
        "{{ random }}"
    );
    // The id only: the secret is not named, so sessions do not carry it.
    assert_eq!(a.session_client(), (true, false));
    assert_eq!(
        c.get("shop_thing").unwrap().session_client(),
        (false, false)
    );
}
