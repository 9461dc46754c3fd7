//! End-to-end tests against the real `switchboard` binary over loopback.

#[path = "../common/api.rs"]
mod api;
mod browser;
mod browser_sdk;
mod catalog_connect;
mod catalog_openapi;
mod catalog_providers;
mod chaos;
mod components;
mod connect_lifecycle;
mod connect_oauth;
mod connect_page;
mod data_limits;
mod durability;
mod endpoints;
#[path = "../common/eventually.rs"]
mod eventually;
mod harness;
mod hostile;
mod hostile_expressions;
mod openapi_doc;
mod ops;
mod polling;
mod polling_catalog;
#[path = "../common/receiver.rs"]
mod receiver;
mod sdk;
mod sdk_surface;
mod slack;
mod triggers;
mod web_security;
