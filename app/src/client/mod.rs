//! What the browser does for itself: JSON API calls and the key hierarchy.
//!
//! `keys` is plain Rust over `noctis` and compiles everywhere; `api` talks
//! to the server with `fetch` and only works in the browser (on the server,
//! where components are rendered but their event handlers never run, its
//! calls return an error instead of linking browser APIs).

pub(crate) mod api;
pub(crate) mod keyring;
pub(crate) mod keys;
pub(crate) mod share;
pub(crate) mod transfer;
pub(crate) mod worker;

/// The URL of one of this build's scripts (`crypto-worker.js`, …): under
/// the build's root that the server put in the stylesheet link it rendered
/// (`/v/<build>/…`), so a worker and the WASM module it loads come from the
/// same build as this page, from cache, even after the server was upgraded
/// under an open tab. At the site's root when the page names no build.
pub(crate) fn build_script(name: &str) -> String {
    let css = format!("/pkg/{}.css", crate::OUTPUT_NAME);
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("nocturne-style"))
        .and_then(|link| link.get_attribute("href"))
        .and_then(|href| href.strip_suffix(&css).map(str::to_owned))
        .unwrap_or_default();
    format!("{root}/{name}")
}

/// Marks the moment the WASM took over the page (`performance.mark`), so
/// the browser benchmark can read time to interactive from the page itself.
pub(crate) fn mark_hydrated() {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark("nocturne-hydrated");
    }
}

/// Puts `text` on the clipboard (`navigator.clipboard.writeText`, reached
/// by reflection: web-sys keeps the Clipboard API behind an unstable flag).
/// `false` when this browser offers no clipboard to the page.
pub(crate) fn copy_text(text: &str) -> bool {
    use wasm_bindgen::JsCast as _;
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return false;
    };
    let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok();
    let write = clipboard.as_ref().and_then(|c| {
        js_sys::Reflect::get(c, &"writeText".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    });
    match (clipboard, write) {
        (Some(c), Some(write)) => write.call1(&c, &text.into()).is_ok(),
        _ => false,
    }
}

/// Seconds since 1970 as the browser's local date and time.
pub(crate) fn local_time(seconds: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(seconds as f64 * 1000.0));
    String::from(d.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}
