//! A resource builder that notes each (method, path) it registers while a
//! listing is being taken, so the OpenAPI document and its drift test read
//! the routes `configure` really serves rather than a second, hand-kept list.

use std::cell::RefCell;

use actix_web::dev::{AppService, HttpServiceFactory, ResourceDef};
use actix_web::{FromRequest, Handler, Resource, Responder, web};

/// Methods an any-method resource (webhook ingress, proxy) is documented with.
pub const ANY: [&str; 5] = ["get", "post", "put", "patch", "delete"];

thread_local! {
    /// `Some` only while [`routes`] runs `configure`.
    static NOTED: RefCell<Option<Vec<(String, String)>>> = const { RefCell::new(None) };
    static PREFIX: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Every (lower-case method, OpenAPI path) the router serves, sorted.
/// Regex segments (`{tail:.*}`) become plain `{tail}`.
pub fn routes() -> Vec<(String, String)> {
    NOTED.with(|n| *n.borrow_mut() = Some(Vec::new()));
    let _ = actix_web::App::new().configure(super::configure);
    let mut all = NOTED.with(|n| n.borrow_mut().take()).unwrap_or_default();
    all.sort();
    all.dedup();
    all
}

/// Runs `f` (which registers a scope's resources) noting paths under `prefix`.
pub fn under(prefix: &str, f: impl FnOnce()) {
    let old = PREFIX.with(|p| std::mem::replace(&mut *p.borrow_mut(), prefix.to_string()));
    f();
    PREFIX.with(|p| *p.borrow_mut() = old);
}

pub struct Res {
    inner: Resource,
    paths: Vec<String>,
}

/// `web::resource` over one or more paths.
pub fn res<const N: usize, S: AsRef<str>>(paths: [S; N]) -> Res {
    let paths: Vec<String> = paths.iter().map(|p| p.as_ref().to_string()).collect();
    Res {
        inner: web::resource(paths.clone()),
        paths,
    }
}

macro_rules! method {
    ($($name:ident),*) => {$(
        pub fn $name<F, Args>(self, handler: F) -> Self
        where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.note(&[stringify!($name)]);
            Res { inner: self.inner.$name(handler), paths: self.paths }
        }
    )*};
}

impl Res {
    method!(get, post, put, patch, delete);

    /// Every method goes to `handler`.
    pub fn any<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.note(&ANY);
        Res {
            inner: self.inner.route(web::route().to(handler)),
            paths: self.paths,
        }
    }

    pub fn app_data<U: 'static>(self, data: U) -> Self {
        Res {
            inner: self.inner.app_data(data),
            paths: self.paths,
        }
    }

    fn note(&self, methods: &[&str]) {
        NOTED.with(|n| {
            let mut n = n.borrow_mut();
            let Some(list) = n.as_mut() else { return };
            let prefix = PREFIX.with(|p| p.borrow().clone());
            for path in ResourceDef::new(self.paths.clone()).pattern_iter() {
                for m in methods {
                    list.push((m.to_string(), format!("{prefix}{}", openapi_path(path))));
                }
            }
        });
    }
}

/// `/hooks/{hook_id}/{tail:.*}` -> `/hooks/{hook_id}/{tail}`.
fn openapi_path(path: &str) -> String {
    path.split('/')
        .map(|seg| match (seg.strip_prefix('{'), seg.find(':')) {
            (Some(_), Some(colon)) => format!("{}}}", &seg[..colon]),
            _ => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl HttpServiceFactory for Res {
    fn register(self, config: &mut AppService) {
        self.inner.register(config)
    }
}
