//! The `leadscore` command's tests, as a user runs it: one binary, so that its slow tests
//! (schemathesis's Python, chromium) run beside the others instead of one after another.

mod cli;
mod common;
mod openapi;
mod train;
mod web;
