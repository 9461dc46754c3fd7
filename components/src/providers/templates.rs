//! Nango's `${…}` interpolation, translated into manifest templates over
//! `account` (minijinja, strict undefined).

use std::collections::BTreeSet;

/// A translated value and the account fields it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub template: String,
    pub fields: BTreeSet<String>,
    pub access_token: bool,
    /// Uses `${random}`: a fresh value each time it is rendered, which only
    /// the authorize URL's params and the API's headers and query provide.
    pub random: bool,
}

/// What a reference reads: an account field, or a value a session or flow
/// provides (the access token, the OAuth client, a random nonce).
enum Ref {
    Field(String),
    Value(&'static str),
}

/// `apiKey` → `api_key`, `ACCESS_URL` → `access_url`, `x-server` → `x_server`:
/// Pipedream-style field names (the manifest's slug pattern).
pub fn snake(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            out.push('_');
            prev_lower = false;
        }
    }
    let mut collapsed = String::new();
    for c in out.chars() {
        if !(c == '_' && collapsed.ends_with('_')) {
            collapsed.push(c);
        }
    }
    collapsed.trim_matches('_').to_string()
}

enum Part {
    Lit(String),
    Ref(String),
}

/// Splits one alternative into literal text and `${…}` references (which
/// may nest, as in `${base64(${credentials.a}:${credentials.b})}`).
fn parts(src: &str) -> Result<Vec<Part>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("${") {
        if i > 0 {
            out.push(Part::Lit(rest[..i].to_string()));
        }
        let body = &rest[i + 2..];
        let mut depth = 1;
        let mut end = None;
        for (j, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("unterminated ${{ in {src:?}"))?;
        out.push(Part::Ref(body[..end].trim().to_string()));
        rest = &body[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Part::Lit(rest.to_string()));
    }
    for p in &out {
        if let Part::Lit(l) = p
            && (l.contains("{{") || l.contains("{%") || l.contains("{#"))
        {
            return Err(format!("literal text {l:?} looks like a template"));
        }
    }
    Ok(out)
}

/// What a reference reads. The OAuth client's id and secret are the
/// project's (`oauth_apps`), added to a session's account values only
/// (never stored on the account).
fn field_of(r: &str) -> Result<Ref, String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    match r {
        "accessToken" => return Ok(Ref::Value("account.oauth_access_token")),
        "clientId" => return Ok(Ref::Value("account.oauth_client_id")),
        "clientSecret" => return Ok(Ref::Value("account.oauth_client_secret")),
        "random" => return Ok(Ref::Value("random")),
        "apiKey" => return Ok(Ref::Field("api_key".into())),
        _ => {}
    }
    for prefix in ["connectionConfig.", "credentials."] {
        if let Some(name) = r.strip_prefix(prefix)
            && plain(name)
        {
            return Ok(Ref::Field(snake(name)));
        }
    }
    Err(format!("${{{r}}} has no template equivalent"))
}

/// Translates a Nango value; `optional` names the account fields that may be
/// absent (they render as empty strings instead of failing).
pub fn translate(src: &str, optional: &BTreeSet<String>) -> Result<Translated, String> {
    let alts: Vec<&str> = src.split("||").map(str::trim).collect();
    let mut fields = BTreeSet::new();
    let mut access_token = false;
    let mut random = false;
    let mut value = |v: &'static str| {
        access_token |= v == "account.oauth_access_token";
        random |= v == "random";
        v
    };
    let mut rendered = Vec::new();
    for alt in &alts {
        let mut t = String::new();
        let mut used = Vec::new();
        for p in parts(alt)? {
            match p {
                Part::Lit(l) => t.push_str(&l),
                Part::Ref(r) if r.starts_with("base64(") && r.ends_with(')') => {
                    let inner = &r["base64(".len()..r.len() - 1];
                    let mut terms = Vec::new();
                    for q in parts(inner)? {
                        match q {
                            Part::Lit(l) => terms.push(format!(
                                "'{}'",
                                l.replace('\\', "\\\\").replace('\'', "\\'")
                            )),
                            Part::Ref(r) => match field_of(&r)? {
                                Ref::Value(v) => terms.push(value(v).into()),
                                Ref::Field(f) => {
                                    terms.push(if optional.contains(&f) {
                                        format!("(account.{f} | default(''))")
                                    } else {
                                        format!("account.{f}")
                                    });
                                    used.push(f.clone());
                                    fields.insert(f);
                                }
                            },
                        }
                    }
                    t.push_str(&format!("{{{{ ({}) | b64encode }}}}", terms.join(" ~ ")));
                }
                Part::Ref(r) => match field_of(&r)? {
                    Ref::Value(v) => t.push_str(&format!("{{{{ {} }}}}", value(v))),
                    Ref::Field(f) => {
                        if optional.contains(&f) {
                            t.push_str(&format!("{{{{ account.{f} | default('') }}}}"));
                        } else {
                            t.push_str(&format!("{{{{ account.{f} }}}}"));
                        }
                        used.push(f.clone());
                        fields.insert(f);
                    }
                },
            }
        }
        rendered.push((t, used));
    }
    if rendered.len() == 1 {
        let (template, _) = rendered.pop().unwrap_or_default();
        return Ok(Translated {
            template,
            fields,
            access_token,
            random,
        });
    }
    // `a || b`: the first alternative whose fields are all set. A literal
    // prefix they share (`https://`) stays outside the condition, so URLs
    // still start with their scheme.
    let raw: Vec<&str> = alts.clone();
    let mut common = raw[0].split("${").next().unwrap_or("").to_string();
    for r in &raw[1..] {
        let n = common
            .chars()
            .zip(r.chars())
            .take_while(|(a, b)| a == b)
            .count();
        common = common.chars().take(n).collect();
    }
    let cut = common.len();
    let mut t = common.clone();
    let last = rendered.len() - 1;
    for (i, (body, used)) in rendered.iter().enumerate() {
        let body = &body[cut..];
        let cond: Vec<String> = used
            .iter()
            .map(|f| format!("account.{f} is defined and account.{f}"))
            .collect();
        if i == 0 {
            if cond.is_empty() {
                t.push_str(body);
                return Ok(Translated {
                    template: t,
                    fields,
                    access_token,
                    random,
                });
            }
            t.push_str(&format!("{{% if {} %}}{body}", cond.join(" and ")));
        } else if i == last || cond.is_empty() {
            t.push_str(&format!("{{% else %}}{body}{{% endif %}}"));
            break;
        } else {
            t.push_str(&format!("{{% elif {} %}}{body}", cond.join(" and ")));
        }
    }
    Ok(Translated {
        template: t,
        fields,
        access_token,
        random,
    })
}

/// Account fields whose values land in a URL's host (so they must not be
/// able to move it), and fields that are a whole URL.
pub fn host_fields(src: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut host = BTreeSet::new();
    let mut whole = BTreeSet::new();
    for alt in src.split("||").map(str::trim) {
        let (rest, schemed) = match alt.split_once("://") {
            Some((s, r)) if !s.contains("${") => (r, true),
            _ => (alt, false),
        };
        let authority = if schemed {
            rest.split('/').next().unwrap_or("")
        } else {
            // No scheme: the leading reference is the whole URL.
            ""
        };
        if let Ok(ps) = parts(authority) {
            for p in ps {
                if let Part::Ref(r) = p
                    && let Ok(Ref::Field(f)) = field_of(&r)
                {
                    host.insert(f);
                }
            }
        }
        if !schemed
            && let Ok(ps) = parts(alt)
            && let Some(Part::Ref(r)) = ps.into_iter().next()
            && let Ok(Ref::Field(f)) = field_of(&r)
        {
            whole.insert(f);
        }
    }
    (host, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        translate(s, &BTreeSet::from(["opt".to_string()]))
            .unwrap()
            .template
    }

    #[test]
    fn references_become_account_fields() {
        assert_eq!(snake("apiKey"), "api_key");
        assert_eq!(snake("ACCESS_URL"), "access_url");
        assert_eq!(snake("x-server"), "x_server");
        assert_eq!(snake("instanceUrl"), "instance_url");
        assert_eq!(t("Bearer ${apiKey}"), "Bearer {{ account.api_key }}");
        assert_eq!(t("${accessToken}"), "{{ account.oauth_access_token }}");
        assert_eq!(
            t("https://${connectionConfig.subdomain}.myshopify.com"),
            "https://{{ account.subdomain }}.myshopify.com"
        );
        assert_eq!(
            t("/x/${credentials.username}/${connectionConfig.opt}"),
            "/x/{{ account.username }}/{{ account.opt | default('') }}"
        );
        assert_eq!(t("2022-06-28"), "2022-06-28");
        // The project's OAuth client and a fresh nonce: session values.
        assert_eq!(
            t("${clientId}:${clientSecret}"),
            "{{ account.oauth_client_id }}:{{ account.oauth_client_secret }}"
        );
        let r = translate("${random}", &BTreeSet::new()).unwrap();
        assert_eq!((r.template.as_str(), r.random), ("{{ random }}", true));
        assert!(!translate("${clientId}", &BTreeSet::new()).unwrap().random);
    }

    #[test]
    fn fallbacks_pick_the_first_complete_alternative() {
        let got = t("https://${connectionConfig.hostname}/a || https://login.example.com/a");
        assert_eq!(
            got,
            "https://{% if account.hostname is defined and account.hostname %}{{ account.hostname }}/a{% else %}login.example.com/a{% endif %}"
        );
        let ctx = |v: serde_json::Value| serde_json::json!({ "account": v });
        assert_eq!(
            crate::template::render(&got, &ctx(serde_json::json!({"hostname": "h.example.com"})))
                .unwrap(),
            "https://h.example.com/a"
        );
        assert_eq!(
            crate::template::render(&got, &ctx(serde_json::json!({}))).unwrap(),
            "https://login.example.com/a"
        );
    }

    #[test]
    fn untranslatable_references_are_named() {
        let none = BTreeSet::new();
        for (src, needle) in [
            ("${hmacSha1Hex(${credentials.a})}", "hmacSha1Hex"),
            ("Basic ${base64(${now})}", "${now}"),
            ("${now}", "${now}"),
            ("${step1.token}", "step1"),
            ("${connectionConfig.x", "unterminated"),
            ("{{ evil }}", "template"),
        ] {
            let e = translate(src, &none).unwrap_err();
            assert!(e.contains(needle), "{e} should name {needle}");
        }
    }

    #[test]
    fn host_fields_are_found() {
        let (h, w) = host_fields("https://${connectionConfig.sub}.x.com/${connectionConfig.path}");
        assert_eq!(h, BTreeSet::from(["sub".to_string()]));
        assert!(w.is_empty());
        let (h, w) = host_fields("${connectionConfig.restUrl}");
        assert!(h.is_empty());
        assert_eq!(w, BTreeSet::from(["rest_url".to_string()]));
    }
}
