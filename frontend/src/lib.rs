//! The browser side of Nocturne.
//!
//! cargo-leptos compiles this crate to `wasm32-unknown-unknown` and runs
//! `wasm-bindgen` over it; the server-rendered page loads the result and calls
//! [`hydrate`], which attaches the `app` crate's components to the HTML the
//! server already sent. The crypto worker (issue #5) will live here too.

use wasm_bindgen::prelude::wasm_bindgen;

/// Attaches the Leptos application to the server-rendered `<body>`.
///
/// Called once by the module script that `HydrationScripts` emits.
#[wasm_bindgen]
pub fn hydrate() {
    // A panic in the page otherwise shows up as an opaque `unreachable` trap.
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
