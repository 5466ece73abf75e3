//! What the browser does for itself: JSON API calls and the key hierarchy.
//!
//! `keys` is plain Rust over `noctis` and compiles everywhere; `api` talks
//! to the server with `fetch` and only works in the browser (on the server,
//! where components are rendered but their event handlers never run, its
//! calls return an error instead of linking browser APIs).

pub(crate) mod api;
pub(crate) mod keys;
pub(crate) mod share;
pub(crate) mod transfer;
pub(crate) mod worker;

/// Marks the moment the WASM took over the page (`performance.mark`), so
/// the browser benchmark can read time to interactive from the page itself.
pub(crate) fn mark_hydrated() {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark("nocturne-hydrated");
    }
}
