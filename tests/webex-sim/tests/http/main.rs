//! HTTP tests against a started simulator: what a Webex client, and a client of each other
//! API the simulator plays, sees on the wire.

// Helpers outside `#[test]` functions are test code too: a panic is how they report failure.
#![allow(clippy::unwrap_used)]

mod events;
mod faults;
mod general_a;
mod general_b;
mod general_c;
mod graph;
mod oauth;
mod orgs;
mod secure_endpoint;
mod support;
mod webhooks;
