//! All integration tests in one binary: one link of the crate instead of one per file (each
//! debug test binary is hundreds of MB and minutes of linking on two cores), and the shipped
//! models are loaded once for the whole run. Each module is one area of the service; most
//! tests run on SQLite and on PostgreSQL (`both_backends!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod abuse;
mod api;
mod brand;
mod consent;
mod crash;
mod customer_links;
mod integrity;
mod keystroke;
mod ledger;
mod passkeys;
mod policies;
mod sessions;
mod signing;
mod startup;
mod voice;
mod voice_stream;
mod web_login;
