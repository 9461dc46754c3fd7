//! Each mapping rule and each refusal, on small hand-written specs.

use serde_json::{Value, json};
use switchboard_net::outbound::{Outbound, Policy};

use super::*;
use crate::action::props_context;
use crate::runtime::Session;

/// A YAML spec exercising most rules: parameters shared by the path item
/// and by reference, every query style, headers, a body merged from
/// `allOf` behind two references, and a list response.
const PETS: &str = r#"
openapi: 3.0.3
info: {title: Pets, version: 2.1.0}
servers: [{url: "https://api.github.com"}]
paths:
  /stores/{store}/pets:
    parameters:
      - $ref: '#/components/parameters/store'
    get:
      operationId: pets/list
      summary: List pets
      tags: [pets]
      externalDocs: {url: "https://docs.example.com/pets#list"}
      parameters:
        - {name: state, in: query, description: Which pets., schema: {type: string, enum: [open, sold, all], default: open}}
        - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 30}}
        - {name: labels, in: query, explode: false, schema: {type: array, items: {type: string}}}
        - {name: ids, in: query, schema: {type: array, items: {type: integer}}}
        - {name: X-Request-Id, in: header, schema: {type: string}}
        - {name: Accept, in: header, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
        - {name: since, in: query, content: {application/json: {schema: {type: object}}}}
      responses:
        200:
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: '#/components/schemas/Pet'}}
    post:
      operationId: pets/create
      summary: Create a {{ pet }}
      description: Adds a pet to the store.
      parameters:
        - {name: state, in: query, schema: {type: string}}
      requestBody:
        $ref: '#/components/requestBodies/NewPet'
      responses:
        201: {description: created}
  /stores/{store}/pets/{pet_id}:
    parameters:
      - $ref: '#/components/parameters/store'
      - {name: pet_id, in: path, required: true, schema: {type: integer}}
    delete:
      operationId: pets/delete
      responses: {204: {description: gone}}
    put:
      summary: Replace a pet
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, additionalProperties: true}
      responses: {200: {description: ok}}
components:
  parameters:
    store:
      name: store
      in: path
      required: true
      description: The store's slug.
      schema: {type: string}
  requestBodies:
    NewPet:
      required: true
      content:
        application/json:
          schema: {$ref: '#/components/schemas/NewPet'}
        multipart/form-data:
          schema: {type: object}
  schemas:
    Pet:
      type: object
      properties:
        id: {type: integer}
    NewPet:
      allOf:
        - $ref: '#/components/schemas/Named'
        - type: object
          required: [weight]
          properties:
            id: {type: integer, readOnly: true}
            weight: {type: number, description: In kg.}
            tags: {type: array, items: {type: string, enum: [cat, dog]}}
            meta: {type: object}
            state: {type: string}
            mood: {oneOf: [{type: string}, {type: integer}]}
            traits: {type: array, items: {oneOf: [{type: string}, {type: object}]}}
    Named:
      type: object
      required: [name]
      properties:
        name: {type: string, title: Pet name}
"#;

fn sel(app: &str, include: &[&str]) -> Selection {
    Selection {
        app: app.into(),
        include: include.iter().map(|s| s.to_string()).collect(),
        exclude: Vec::new(),
    }
}

fn load(spec: &str, s: &Selection) -> (Catalog, Report) {
    let mut c = Catalog::builtin().unwrap();
    let r = c.add_openapi(spec, s, "pets.yaml").unwrap();
    (c, r)
}

fn refusal<'a>(r: &'a Report, operation: &str) -> &'a str {
    match &r
        .operations
        .iter()
        .find(|e| e.operation == operation)
        .unwrap_or_else(|| panic!("{operation} not reported: {}", r.text()))
        .outcome
    {
        Outcome::Refused { reason } => reason,
        o => panic!("{operation} was not refused: {o:?}"),
    }
}

fn props(c: &Component) -> Vec<Value> {
    c.props
        .iter()
        .map(|p| serde_json::to_value(p).unwrap())
        .collect()
}

fn prop(c: &Component, name: &str) -> Value {
    props(c)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no prop {name} in {}", c.key))
}

/// The request the action's step would send with these props.
fn request(
    cat: &Catalog,
    c: &Component,
    configured: Value,
) -> switchboard_net::outbound::HttpRequest {
    let ob = Outbound::new(Policy::new(&[]).unwrap()).unwrap();
    let app = cat.get(&c.app).unwrap();
    let s = Session::new(&ob, app, None, None, std::time::Duration::from_secs(5));
    let all: Vec<&crate::props::Prop> = c.props.iter().collect();
    let ctx = json!({"props": props_context(&all, configured.as_object().unwrap())});
    s.build(&c.steps[0].request, &ctx).unwrap()
}

#[test]
fn operations_become_actions_with_typed_props() {
    let (c, r) = load(PETS, &sel("github", &[]));
    assert_eq!(
        (r.generated, r.refused, r.excluded),
        (4, 0, 0),
        "{}",
        r.text()
    );
    let list = c
        .component("github-pets-list")
        .expect("key from the operationId");
    assert_eq!(list.name, "List pets");
    assert_eq!(list.version, "2.1.0");
    assert_eq!(
        list.description,
        "List pets See [the documentation](https://docs.example.com/pets#list)."
    );
    assert!(list.annotations.read_only_hint && list.annotations.idempotent_hint);
    assert!(!list.annotations.destructive_hint);
    let names: Vec<String> = list.props.iter().map(|p| p.name.clone()).collect();
    assert_eq!(
        names,
        [
            "github",
            "store",
            "state",
            "per_page",
            "labels",
            "ids",
            "X_Request_Id",
            "maxResults"
        ],
        "the app first, then path, query and header parameters; Accept, cookies and content-described ones are left out"
    );
    assert_eq!(
        prop(list, "github"),
        json!({"name": "github", "type": "app", "app": "github"})
    );
    assert_eq!(
        prop(list, "store"),
        json!({"name": "store", "type": "string", "label": "store", "description": "The store's slug."})
    );
    assert_eq!(
        prop(list, "state"),
        json!({"name": "state", "type": "string", "label": "state", "description": "Which pets.",
               "optional": true, "default": "open", "options": ["open", "sold", "all"]})
    );
    let per_page = prop(list, "per_page");
    assert_eq!(
        (
            per_page["type"].clone(),
            per_page["min"].clone(),
            per_page["max"].clone(),
            per_page["default"].clone()
        ),
        (json!("integer"), json!(1), json!(100), json!(30))
    );
    assert_eq!(prop(list, "labels")["type"], "string[]");
    assert_eq!(prop(list, "ids")["type"], "integer[]");
    let notes = match &r
        .operations
        .iter()
        .find(|e| e.operation == "pets/list")
        .unwrap()
        .outcome
    {
        Outcome::Generated { notes, .. } => notes.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(
        notes,
        [
            "query parameter \"since\" is described by `content`, not a schema: left out",
            "cookie parameter \"session\" cannot be sent: left out"
        ]
    );
    // A list response follows the app's pages, and returns the items.
    let step = &list.steps[0];
    assert_eq!(
        step.paginate.as_ref().unwrap().max_items,
        "{{ props.maxResults }}"
    );
    assert_eq!(list.returns, Some(json!("{{ steps.request['items'] }}")));
    assert_eq!(list.summary.as_deref(), Some("List pets succeeded"));

    let create = c.component("github-pets-create").unwrap();
    assert_eq!(
        create.name, "Create a { { pet }}",
        "spec text is never a template"
    );
    assert_eq!(create.description, "Adds a pet to the store.");
    assert!(!create.annotations.read_only_hint && !create.annotations.idempotent_hint);
    let names: Vec<String> = create.props.iter().map(|p| p.name.clone()).collect();
    assert_eq!(
        names,
        [
            "github",
            "store",
            "state",
            "name",
            "weight",
            "meta",
            "mood",
            "body_state",
            "tags",
            "traits"
        ],
        "required body fields first; a field named like a parameter is renamed; readOnly ones are not inputs"
    );
    assert_eq!(prop(create, "name")["label"], "Pet name");
    assert!(
        prop(create, "name").get("optional").is_none(),
        "required through allOf"
    );
    let weight = prop(create, "weight");
    assert_eq!(
        (weight["type"].clone(), weight["description"].clone()),
        (json!("string"), json!("In kg. (a number)"))
    );
    assert_eq!(prop(create, "body_state")["label"], "state");
    assert_eq!(prop(create, "meta")["type"], "object");
    assert_eq!(
        prop(create, "mood")["type"],
        "string",
        "string or integer: a string"
    );
    assert_eq!(prop(create, "traits")["type"], "any", "mixed items");
    assert_eq!(prop(create, "tags")["options"], json!(["cat", "dog"]));
    assert!(create.steps[0].paginate.is_none());

    let delete = c.component("github-pets-delete").unwrap();
    assert!(delete.annotations.destructive_hint && delete.annotations.idempotent_hint);
    assert_eq!(prop(delete, "pet_id")["type"], "integer");
    // No operationId: method and path.
    let put = c.component("github-put-stores-store-pets-pet-id").unwrap();
    assert_eq!(put.name, "Replace a pet");
    assert_eq!(
        prop(put, "body")["type"],
        "object",
        "a body without properties is one object prop"
    );
    assert!(
        c.component("github-create-issue").is_some(),
        "built-ins stay"
    );
}

#[test]
fn requests_send_only_what_is_set_and_encode_path_segments() {
    let (c, _) = load(PETS, &sel("github", &[]));
    let list = c.component("github-pets-list").unwrap();
    let r = request(
        &c,
        list,
        json!({"store": "a/../b c", "labels": ["x", "y"], "ids": [1, 2], "X_Request_Id": "r1"}),
    );
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.url.path(),
        "/stores/a%2F..%2Fb%20c/pets",
        "one segment, whatever it holds"
    );
    assert_eq!(
        r.url.query(),
        Some("ids=1&ids=2&labels=x%2Cy&per_page=30&state=open"),
        "exploded arrays repeat, others join; defaults apply"
    );
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "X-Request-Id" && v == "r1")
    );
    let r = request(&c, list, json!({"store": "s"}));
    assert!(
        !r.headers.iter().any(|(k, _)| k == "X-Request-Id"),
        "an unset header is not sent"
    );
    assert_eq!(r.url.query(), Some("per_page=30&state=open"));

    let create = c.component("github-pets-create").unwrap();
    let r = request(
        &c,
        create,
        json!({"store": "s", "name": "Rex", "weight": "4.5", "body_state": "new", "state": "q"}),
    );
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url.as_str(),
        "https://api.github.com/stores/s/pets?state=q"
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"name": "Rex", "weight": 4.5, "state": "new"}),
        "unset optional fields are not sent"
    );
    let put = c.component("github-put-stores-store-pets-pet-id").unwrap();
    let r = request(
        &c,
        put,
        json!({"store": "s", "pet_id": 7, "body": {"a": [1]}}),
    );
    assert_eq!(r.url.path(), "/stores/s/pets/7");
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"a": [1]})
    );
    // Dot segments would move the request elsewhere: refused.
    let ob = Outbound::new(Policy::new(&[]).unwrap()).unwrap();
    let s = Session::new(
        &ob,
        c.get("github").unwrap(),
        None,
        None,
        std::time::Duration::from_secs(5),
    );
    let all: Vec<&crate::props::Prop> = list.props.iter().collect();
    let ctx = json!({"props": props_context(&all, json!({"store": ".."}).as_object().unwrap())});
    let e = s.build(&list.steps[0].request, &ctx).unwrap_err();
    assert!(e.to_string().contains("path parameter"), "{e}");
}

#[test]
fn include_and_exclude_globs_select_by_operation_id_then_tag() {
    let (_, r) = load(PETS, &sel("github", &["pets/c*"]));
    assert_eq!((r.generated, r.excluded), (1, 3), "{}", r.text());
    let (_, r) = load(PETS, &sel("github", &["PETS"]));
    assert_eq!(r.generated, 1, "the tag, case-insensitively");
    let mut s = sel("github", &["pets/*"]);
    s.exclude = vec!["*/delete".into()];
    let (_, r) = load(PETS, &s);
    assert_eq!((r.generated, r.excluded), (2, 2), "{}", r.text());
    assert!(glob("issues/*", "issues/create"));
    assert!(glob("*s/li?t*", "pets/list-all"));
    assert!(!glob("issues/*", "repos/get"));
    assert!(glob("a*b*c", "a-b-b-c"));
    assert!(!glob("a*b*c", "a-b-b-d"));
    // Many stars against a long text stay linear.
    let t = "a".repeat(10_000);
    assert!(!glob(&format!("{}b", "*a".repeat(50)), &t));
}

fn one_op(op: Value) -> String {
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
           "paths": {"/things/{id}": {"post": op}}})
    .to_string()
}

fn with_id(extra: Value) -> Value {
    let mut op = json!({"operationId": "things/do", "responses": {"200": {"description": "ok"}},
                        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]});
    op.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    op
}

fn refused_for(op: Value) -> String {
    let (_, r) = load(&one_op(op), &sel("github", &[]));
    assert_eq!(r.refused, 1, "{}", r.text());
    refusal(&r, "things/do").to_string()
}

#[test]
fn what_cannot_be_expressed_is_refused_with_its_reason() {
    let body =
        |ct: &str, schema: Value| json!({"requestBody": {"content": {ct: {"schema": schema}}}});
    let cases = [
        (
            body("multipart/form-data", json!({"type": "object"})),
            "multipart bodies",
        ),
        (
            body(
                "application/octet-stream",
                json!({"type": "string", "format": "binary"}),
            ),
            "binary bodies",
        ),
        (
            body("text/plain", json!({"type": "string"})),
            "only JSON bodies are supported, not text/plain",
        ),
        (
            body("application/json", json!({"type": "array", "items": {}})),
            "the JSON request body is an array, not an object",
        ),
        (
            body("application/json", json!({"type": "string"})),
            "the JSON request body is a string",
        ),
        (
            json!({"callbacks": {"done": {}}}),
            "callbacks are not supported",
        ),
        (
            json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "sid", "in": "cookie", "required": true, "schema": {"type": "string"}}]}),
            "cookie parameter \"sid\" cannot be sent, and it is required",
        ),
        (
            json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "array", "items": {"type": "string"}}}]}),
            "path parameter \"id\" is not a single value",
        ),
        (
            json!({"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "f", "in": "query", "required": true, "style": "deepObject", "schema": {"type": "object"}}]}),
            "query parameter \"f\" is an object, and it is required",
        ),
        (
            json!({"parameters": []}),
            "path parameter \"id\" is not declared",
        ),
        (
            json!({"parameters": [{"$ref": "https://example.com/p.json#/id"}]}),
            "remote $ref",
        ),
        (
            json!({"parameters": [{"$ref": "#/components/parameters/nope"}]}),
            "points nowhere",
        ),
    ];
    for (extra, want) in cases {
        let reason = refused_for(with_id(extra.clone()));
        assert!(
            reason.contains(want),
            "{extra}: {reason:?} should say {want:?}"
        );
    }
    // Methods an action step cannot send.
    let spec = json!({"openapi": "3.0.0", "info": {}, "paths": {"/x": {"trace": {"operationId": "x/trace", "responses": {}}}}});
    let (_, r) = load(&spec.to_string(), &sel("github", &[]));
    assert_eq!(refusal(&r, "x/trace"), "method TRACE is not supported");
    // An app without an API.
    let (_, r) = load(&one_op(with_id(json!({}))), &sel("http", &[]));
    assert_eq!(refusal(&r, "things/do"), "app http has no API base URL");
    // Reasons are grouped without their specifics.
    let (_, r) = load(
        &one_op(with_id(body("multipart/form-data", json!({})))),
        &sel("github", &[]),
    );
    assert_eq!(r.reasons.len(), 1, "{:?}", r.reasons);
}

#[test]
fn whole_documents_that_are_not_openapi_3_are_errors() {
    let mut c = Catalog::builtin().unwrap();
    let s = sel("github", &[]);
    for (text, want) in [
        (
            r#"{"swagger": "2.0", "paths": {}}"#,
            "OpenAPI 2 (Swagger) documents are not supported",
        ),
        ("swagger: '2.0'\npaths: {}\n", "convert it to OpenAPI 3"),
        (r#"{"openapi": "4.0.0"}"#, "OpenAPI 4.0.0 is not supported"),
        (r#"{"info": {}}"#, "no `openapi` version"),
        ("{", "not a JSON document"),
        ("a: [", "not a YAML document"),
        (
            r#"{"openapi": "3.0.0", "paths": []}"#,
            "`paths` is not an object",
        ),
    ] {
        let e = c.add_openapi(text, &s, "x").unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
    }
    let e = c.add_openapi(PETS, &sel("nope", &[]), "x").unwrap_err();
    assert!(e.contains("no app \"nope\""), "{e}");
    let e = c
        .add_openapi_file(std::path::Path::new("/nonexistent/spec.json"), &s)
        .unwrap_err();
    assert!(e.starts_with("OpenAPI spec /nonexistent/spec.json:"), "{e}");
}

#[test]
fn reference_cycles_and_deep_schemas_are_refused_not_followed_forever() {
    let spec = |schemas: Value, body: Value| {
        json!({"openapi": "3.0.0", "info": {}, "components": {"schemas": schemas, "parameters": {
                  "loop": {"$ref": "#/components/parameters/loop"}}},
               "paths": {"/x": {"post": {"operationId": "x/do", "responses": {},
                   "requestBody": {"content": {"application/json": {"schema": body}}}}}}})
        .to_string()
    };
    let r = |text: String| load(&text, &sel("github", &[])).1;
    // allOf through each other.
    let a = r(spec(
        json!({"A": {"allOf": [{"$ref": "#/components/schemas/B"}]}, "B": {"allOf": [{"$ref": "#/components/schemas/A"}]}}),
        json!({"$ref": "#/components/schemas/A"}),
    ));
    assert!(refusal(&a, "x/do").contains("$ref cycle"), "{}", a.text());
    // A reference to itself.
    let b = r(spec(
        json!({"A": {"$ref": "#/components/schemas/A"}}),
        json!({"$ref": "#/components/schemas/A"}),
    ));
    assert!(refusal(&b, "x/do").contains("$ref cycle"), "{}", b.text());
    // A recursive property type is fine: only the top level is read.
    let c = r(spec(
        json!({"Tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
                                                      "self": {"oneOf": [{"$ref": "#/components/schemas/Tree"}, {"type": "string"}]}}}}),
        json!({"$ref": "#/components/schemas/Tree"}),
    ));
    assert_eq!(c.generated, 1, "{}", c.text());
    // Nesting past the bound.
    let mut deep = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    for _ in 0..40 {
        deep = json!({"allOf": [deep]});
    }
    let d = r(spec(json!({}), deep));
    assert!(
        refusal(&d, "x/do").contains("nests more than"),
        "{}",
        d.text()
    );
    // A parameter that references itself.
    let mut e: Value = serde_json::from_str(&spec(json!({}), json!({"type": "object"}))).unwrap();
    e["paths"]["/x"]["post"]["parameters"] = json!([{"$ref": "#/components/parameters/loop"}]);
    let e = r(e.to_string());
    assert!(refusal(&e, "x/do").contains("$ref cycle"), "{}", e.text());
}

#[test]
fn names_and_text_are_bounded_and_unique() {
    let long = "x".repeat(5_000);
    let many: Vec<String> = (0..500).map(|i| format!("v{i}")).collect();
    let mut params =
        vec![json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})];
    params.push(
        json!({"name": long, "in": "query", "schema": {"type": "string"}, "description": long}),
    );
    params.push(json!({"name": "kind", "in": "query", "schema": {"type": "string", "enum": many}}));
    params.push(json!({"name": "9lives", "in": "query", "schema": {"type": "string"}}));
    params.push(json!({"name": "a-b", "in": "query", "schema": {"type": "string"}}));
    params.push(json!({"name": "a_b", "in": "query", "schema": {"type": "string"}}));
    params.push(json!({"name": "github", "in": "query", "schema": {"type": "string"}}));
    let op = json!({"operationId": format!("things/{long}"), "summary": long, "description": long,
                    "externalDocs": {"url": "https://docs.example.com/x"},
                    "parameters": params, "responses": {}});
    let spec = json!({"openapi": "3.0.0", "info": {}, "paths": {"/things/{id}": {"post": op}}})
        .to_string();
    let (c, r) = load(&spec, &sel("github", &[]));
    assert_eq!(r.generated, 1, "{}", r.text());
    let a = &c
        .components()
        .iter()
        .find(|c| c.key.starts_with("github-things-"))
        .unwrap();
    assert!(a.key.len() <= 100, "{}", a.key);
    assert!(a.name.chars().count() <= 120 && a.name.ends_with('…'));
    assert!(
        a.description.len() <= 2_000
            && a.description
                .ends_with("See [the documentation](https://docs.example.com/x).")
    );
    let names: Vec<&str> = a.props.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names[0], "github");
    assert!(names[2].len() <= 64 && names[2].starts_with("xxx"));
    assert_eq!(
        &names[3..],
        ["kind", "p_9lives", "a_b", "a_b_2", "github_2"]
    );
    let long_prop = &a.props[2];
    assert!(long_prop.description.as_ref().unwrap().len() <= 1_000);
    assert!(long_prop.label.as_ref().unwrap().len() <= 120);
    let kind = &a.props[3];
    assert!(
        kind.options.is_none(),
        "500 values are not listed as options"
    );
    assert!(
        kind.description
            .as_ref()
            .unwrap()
            .starts_with("One of (500 values): \"v0\", \"v1\"")
    );
    // Too many inputs for one action.
    let props: serde_json::Map<String, Value> = (0..300)
        .map(|i| (format!("f{i}"), json!({"type": "string"})))
        .collect();
    let op = with_id(
        json!({"requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": props}}}}}),
    );
    assert!(refused_for(op).contains("more than the 200"));
}

#[test]
fn keys_shadowed_or_taken_twice_are_reported() {
    // `create-issue` is a built-in key: the generated one is shadowed.
    let spec = json!({"openapi": "3.0.0", "info": {}, "paths": {
        "/a": {"get": {"operationId": "createIssue", "responses": {}}},
        "/b": {"get": {"operationId": "create_issue", "responses": {}}},
        "/c": {"get": {"operationId": "list/things", "responses": {}}},
        "/d": {"get": {"operationId": "list-things", "responses": {}}}}})
    .to_string();
    let (c, r) = load(&spec, &sel("github", &[]));
    assert_eq!(
        (r.generated, r.shadowed, r.refused),
        (1, 2, 1),
        "{}",
        r.text()
    );
    assert!(
        c.component("github-create-issue")
            .unwrap()
            .description
            .starts_with("Create a new issue")
    );
    assert!(refusal(&r, "list-things").contains("already generated for \"list/things\""));
    // A second spec for the same app: what the first generated wins.
    let mut c = c;
    let r = c
        .add_openapi(&spec, &sel("github", &[]), "again.json")
        .unwrap();
    assert_eq!((r.generated, r.shadowed), (0, 4), "{}", r.text());
}

#[test]
fn servers_paths_the_base_url_lacks_are_kept() {
    let spec = |server: &str| {
        json!({"openapi": "3.0.0", "info": {}, "servers": [{"url": server, "variables": {"v": {"default": "v2"}}}],
               "paths": {"/models": {"get": {"operationId": "models/list", "responses": {}}}}})
        .to_string()
    };
    for (server, path) in [
        ("https://api.openai.com/{v}", "/v2/models"),
        ("https://api.openai.com", "/models"),
        ("/v1/", "/v1/models"),
    ] {
        let (c, _) = load(&spec(server), &sel("openai", &[]));
        let a = c.component("openai-models-list").unwrap();
        let r = request(&c, a, json!({}));
        assert_eq!(r.url.path(), path, "{server}");
        assert!(a.steps[0].paginate.is_none(), "openai has no pagination");
        assert_eq!(a.props[0].name, "openai");
    }
}

#[test]
fn yaml_documents_are_bounded() {
    // Aliases that expand exponentially are refused by the YAML parser.
    let mut bomb = String::from("openapi: 3.0.0\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let started = std::time::Instant::now();
    let e = document::parse(&bomb).expect_err("refused");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{e}");
    let deep = format!(
        "openapi: 3.0.0\nx: {}1{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(document::parse(&deep).is_err());
    let big = " ".repeat(document::MAX_SPEC_BYTES + 1);
    assert!(document::parse(&big).unwrap_err().contains("more than"));
}

#[test]
fn a_form_encoded_body_is_sent_as_a_form_and_json_is_preferred() {
    let form = json!({"type": "object", "required": ["title"],
                      "properties": {"title": {"type": "string"}, "labels": {"type": "array", "items": {"type": "string"}}}});
    let op = with_id(json!({"requestBody": {"required": true, "content": {
        "application/x-www-form-urlencoded": {"schema": form}}}}));
    let (c, r) = load(&one_op(op), &sel("github", &[]));
    assert_eq!(r.generated, 1, "{}", r.text());
    let a = c.component("github-things-do").unwrap();
    let step = serde_json::to_value(&a.steps[0]).unwrap();
    assert_eq!(
        step["request"]["form"]["title"], "{{ props.title }}",
        "{step}"
    );
    assert!(
        step["request"].get("json").is_none_or(Value::is_null),
        "{step}"
    );
    assert!(r.text().contains("form-encoded arrays"), "{}", r.text());

    // Both offered: JSON wins.
    let op = with_id(json!({"requestBody": {"content": {
        "application/x-www-form-urlencoded": {"schema": form},
        "application/json": {"schema": form}}}}));
    let (c, _) = load(&one_op(op), &sel("github", &[]));
    let step = serde_json::to_value(&c.component("github-things-do").unwrap().steps[0]).unwrap();
    assert_eq!(
        step["request"]["json"]["title"], "{{ props.title }}",
        "{step}"
    );
}
