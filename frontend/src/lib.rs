//! The page's WASM entry point.
//!
//! cargo-leptos compiles this crate to `wasm32-unknown-unknown`, runs
//! `wasm-bindgen` over it and splits the result into a main module and one
//! chunk per page (`--split`); the server-rendered page loads the main module
//! and calls [`hydrate`], which attaches the `app` crate's components to the
//! HTML the server already sent. The Web Workers do not load this module:
//! their cryptography is the `worker` crate's own, smaller module.

// The dashboard's view types nest deeply; computing their layout for
// hydration needs more than the default 128 levels.
#![recursion_limit = "256"]

use wasm_bindgen::prelude::wasm_bindgen;

/// Attaches the Leptos application to the server-rendered `<body>`.
///
/// Called once by the module script that `HydrationScripts` emits.
#[wasm_bindgen]
pub fn hydrate() {
    // A panic in the page otherwise shows up as an opaque `unreachable` trap
    // in the console and a page that silently stops answering.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_stopped_notice();
    }));
    // `hydrate_lazy`: the pages are WASM chunks of their own (`#[lazy_route]`),
    // so hydration waits for the current page's chunk.
    leptos::mount::hydrate_lazy(app::App);
}

/// Tells the user the page stopped working, and offers a reload.
///
/// A panic aborts the WASM, after which nothing on the page answers. Since
/// the pages load their code in chunks, the likeliest cause is a chunk that
/// could not be fetched (the network dropped, or the server was upgraded
/// under an open tab, so the new chunks do not fit the old main module): a
/// reload fixes both. Built with plain DOM calls, since the app is gone; the
/// link works without any script.
fn show_stopped_notice() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if document.get_element_by_id("stopped").is_some() {
        return;
    }
    let build = || -> Result<(), wasm_bindgen::JsValue> {
        let notice = document.create_element("div")?;
        notice.set_id("stopped");
        notice.set_class_name("stopped");
        notice.set_attribute("role", "alert")?;
        let text = document.create_element("p")?;
        text.set_text_content(Some(
            "This page stopped working. Reload it to go on: what is stored is safe, \
             and an upload that was running can be resumed.",
        ));
        let reload = document.create_element("a")?;
        reload.set_id("stopped-reload");
        reload.set_class_name("button primary");
        // An empty reference is this page's own address: following it loads
        // the page afresh.
        reload.set_attribute("href", "")?;
        // The router leaves `rel="external"` links to the browser.
        reload.set_attribute("rel", "external")?;
        reload.set_text_content(Some("Reload"));
        notice.append_child(&text)?;
        notice.append_child(&reload)?;
        if let Some(body) = document.body() {
            body.append_child(&notice)?;
        }
        Ok(())
    };
    let _ = build();
}
