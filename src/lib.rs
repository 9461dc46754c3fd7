//! Switchboard as a library: the application (`application.rs`), built
//! from a `Config` by the binary and by in-process tests, and the command
//! line the binary parses.

mod admin;
pub mod application;
pub mod cli;
mod startup;

pub use application::{Application, Roles};
pub use startup::main as run_cli;
