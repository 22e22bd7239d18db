//! The one integration-test binary: the real `scenebot` binary and the real bot, driven like a user would.
//!
//! - `check`: `scenebot check` on the shipped dataset and on a table of broken ones.
//! - `preview`: `scenebot preview` for every command, validated against Discord's OpenAPI description.
//! - `support`: helpers (running the binary, broken datasets) and the OpenAPI validator.

mod check;
// mod preview;
mod support;
