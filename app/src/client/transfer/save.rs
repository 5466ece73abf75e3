//! Where a download's plaintext goes: a file from the save dialog (File
//! System Access API), a folder for a shared set, the service worker's
//! stream (an ordinary browser download), or an in-memory Blob.

use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use zeroize::Zeroizing;

use super::{Transfers, get, set};

/// What a download needs to know about a listed file.
#[derive(Debug, Clone)]
pub(crate) struct FileRef {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Ciphertext bytes.
    pub(crate) size: u64,
    pub(crate) plain_size: Option<u64>,
    /// The plaintext was padded past `plain_size` (see `FileMeta::padded`).
    pub(crate) padded: bool,
    /// Where the ciphertext is (`/api/files/{id}/content`, or a share's).
    pub(crate) content_url: String,
    /// A share download's claim, sent as `Authorization: Bearer`.
    pub(crate) bearer: Option<String>,
}

/// Saves several downloads at once (a shared set): into one folder the
/// person picks where the browser can (`showDirectoryPicker`), else through
/// the service worker (or in memory). Call straight from the click;
/// `prepare` supplies every key and file; `failed` as for [`save`].
pub(crate) fn save_all(
    transfers: Transfers,
    prepare: impl Future<Output = Result<Vec<(Zeroizing<[u8; 32]>, FileRef)>, String>> + 'static,
    failed: impl Fn(String) + 'static,
) {
    let picker = web_sys::window().and_then(|window| {
        let pick = get(&window, "showDirectoryPicker")
            .dyn_into::<js_sys::Function>()
            .ok()?;
        let options = js_sys::Object::new();
        set(&options, "mode", &JsValue::from_str("readwrite"));
        pick.call1(&window, &options)
            .ok()?
            .dyn_into::<js_sys::Promise>()
            .ok()
    });
    let service_worker = register_service_worker();
    wasm_bindgen_futures::spawn_local(async move {
        let folder = match picker {
            // A cancelled dialog rejects: nothing to report but that.
            Some(p) => match wasm_bindgen_futures::JsFuture::from(p).await {
                Ok(folder) => Some(folder),
                Err(_) => return failed(String::new()),
            },
            None => None,
        };
        let ready = match prepare.await {
            Ok(ready) => ready,
            Err(e) => return failed(e),
        };
        for (key, file) in ready {
            let sink = match &folder {
                Some(folder) => match file_in(folder, &file.name).await {
                    Ok(handle) => Sink::Handle(handle),
                    Err(e) => {
                        failed(e);
                        continue;
                    }
                },
                None if service_worker => Sink::ServiceWorker,
                None => Sink::Blob,
            };
            if let Err(e) = transfers.download(key, &file, sink).await {
                failed(e);
            }
        }
    });
}

/// A new file named `name` in a folder from `showDirectoryPicker`.
pub(super) async fn file_in(folder: &JsValue, name: &str) -> Result<JsValue, String> {
    let refused = || format!("Could not create \u{201c}{name}\u{201d} in that folder.");
    let get_handle = get(folder, "getFileHandle")
        .dyn_into::<js_sys::Function>()
        .map_err(|_| refused())?;
    let options = js_sys::Object::new();
    set(&options, "create", &JsValue::TRUE);
    let promise = get_handle
        .call2(folder, &JsValue::from_str(name), &options)
        .map_err(|_| refused())?
        .dyn_into::<js_sys::Promise>()
        .map_err(|_| refused())?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|_| refused())
}

/// Saves a download into the best sink this browser has. Must be called
/// straight from a click (the save dialog needs the gesture); `prepare`
/// then supplies the key and the file (a share page claims its download
/// there), and `failed` hears why nothing started (an empty message when
/// the person cancelled the dialog).
pub(crate) fn save(
    transfers: Transfers,
    name: &str,
    prepare: impl Future<Output = Result<(Zeroizing<[u8; 32]>, FileRef), String>> + 'static,
    failed: impl Fn(String) + 'static,
) {
    let picker = if has_save_picker() {
        match save_picker(name) {
            Some(p) => Some(p),
            None => return,
        }
    } else {
        None
    };
    let fallback = if register_service_worker() {
        Sink::ServiceWorker
    } else {
        Sink::Blob
    };
    wasm_bindgen_futures::spawn_local(async move {
        let sink = match picker {
            // A cancelled dialog rejects: nothing to report but that.
            Some(p) => match wasm_bindgen_futures::JsFuture::from(p).await {
                Ok(handle) => Sink::Handle(handle),
                Err(_) => return failed(String::new()),
            },
            None => fallback,
        };
        let (key, file) = match prepare.await {
            Ok(ready) => ready,
            Err(e) => {
                if let Sink::Handle(handle) = &sink {
                    // The dialog created an empty file; it must not stay.
                    if let Ok(remove) = js_sys::Reflect::get(handle, &JsValue::from_str("remove"))
                        .and_then(|f| f.dyn_into::<js_sys::Function>())
                    {
                        let _ = remove.call0(handle);
                    }
                }
                failed(e);
                return;
            }
        };
        if let Err(e) = transfers.download(key, &file, sink).await {
            failed(e);
        }
    });
}

/// Where a download's plaintext goes.
#[derive(Debug)]
pub(crate) enum Sink {
    /// A `FileSystemFileHandle` from `showSaveFilePicker`.
    Handle(JsValue),
    ServiceWorker,
    Blob,
}

/// Whether the browser has `showSaveFilePicker` (File System Access API).
fn has_save_picker() -> bool {
    web_sys::window()
        .map(|w| get(&w, "showSaveFilePicker").is_function())
        .unwrap_or(false)
}

/// Opens the save dialog. Must be called straight from the click handler
/// (the browser requires a user gesture); the promise resolves to a file
/// handle, or rejects if the user cancels.
fn save_picker(name: &str) -> Option<js_sys::Promise> {
    let window = web_sys::window()?;
    let picker = get(&window, "showSaveFilePicker")
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let options = js_sys::Object::new();
    set(&options, "suggestedName", &JsValue::from_str(name));
    picker
        .call1(&window, &options)
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()
}

/// The service worker's scope: its download URLs and nothing else. Scoped to
/// the whole site it saw every request of the pages and the file worker
/// (each 8 MiB part of an upload went through its fetch event, 13 % of a
/// core in the browser bench) while answering none but these.
const SERVICE_WORKER_SCOPE: &str = "/__download/";

/// Registers the download service worker (once per page load; the browser
/// keeps it) and returns its registration's promise, or `None` where
/// service workers are unavailable.
fn register(container: &web_sys::ServiceWorkerContainer) -> Option<js_sys::Promise> {
    let options = js_sys::Object::new();
    set(&options, "scope", &JsValue::from_str(SERVICE_WORKER_SCOPE));
    get(container, "register")
        .dyn_into::<js_sys::Function>()
        .ok()?
        .call2(container, &JsValue::from_str("/sw.js"), &options)
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()
}

fn container() -> Option<web_sys::ServiceWorkerContainer> {
    let container = get(&web_sys::window()?.navigator(), "serviceWorker");
    (!container.is_undefined() && !container.is_null()).then(|| container.unchecked_into())
}

/// Registers the download service worker. Returns whether service workers
/// are available at all.
pub(crate) fn register_service_worker() -> bool {
    let Some(container) = container() else {
        return false;
    };
    let Some(registered) = register(&container) else {
        return false;
    };
    // Versions before the narrow scope registered for the whole site: that
    // registration would keep seeing every request. `getRegistration("/")`
    // finds only it, as the current one's scope does not cover "/".
    let stale = container.get_registration_with_document_url("/");
    wasm_bindgen_futures::spawn_local(async move {
        // A rejection (say, storage blocked) surfaces when a download needs it.
        let _ = wasm_bindgen_futures::JsFuture::from(registered).await;
        if let Ok(found) = wasm_bindgen_futures::JsFuture::from(stale).await
            && let Ok(old) = found.dyn_into::<web_sys::ServiceWorkerRegistration>()
            && let Ok(unregistering) = old.unregister()
        {
            let _ = wasm_bindgen_futures::JsFuture::from(unregistering).await;
        }
    });
    true
}

/// The registration's active worker, once there is one: right away after
/// the first install, else when the installing worker starts activating
/// (`sw.js` skips waiting).
async fn active_worker(
    registration: &web_sys::ServiceWorkerRegistration,
) -> Option<web_sys::ServiceWorker> {
    if let Some(active) = registration.active() {
        return Some(active);
    }
    let pending = registration
        .installing()
        .or_else(|| registration.waiting())?;
    let activating = js_sys::Promise::new(&mut |resolve, _reject| {
        let worker = pending.clone();
        let on_change = Closure::<dyn FnMut()>::new(move || {
            if worker.state() != web_sys::ServiceWorkerState::Installed {
                let _ = resolve.call0(&JsValue::NULL);
            }
        });
        let _ = pending
            .add_event_listener_with_callback("statechange", on_change.as_ref().unchecked_ref());
        // Freed by the JS garbage collector with the listener.
        let _ = on_change.into_js_value();
    });
    wasm_bindgen_futures::JsFuture::from(within(activating, 10_000))
        .await
        .ok()?;
    registration.active()
}

/// Hands the service worker a port for one download; resolves once it has
/// registered the token. Returns the worker's end of the port and the token.
pub(super) async fn service_worker_download(file: &FileRef) -> Result<(JsValue, String), String> {
    let unavailable = || "This browser could not start the download.".to_owned();
    let container = container().ok_or_else(unavailable)?;
    let registered = register(&container).ok_or_else(unavailable)?;
    let registration: web_sys::ServiceWorkerRegistration =
        wasm_bindgen_futures::JsFuture::from(within(registered, 10_000))
            .await
            .map_err(|_| unavailable())?
            .unchecked_into();
    let active = active_worker(&registration).await.ok_or_else(unavailable)?;
    let data = web_sys::MessageChannel::new().map_err(|_| unavailable())?;
    let ack = web_sys::MessageChannel::new().map_err(|_| unavailable())?;
    let mut token = [0u8; 16];
    getrandom::fill(&mut token).map_err(|_| unavailable())?;
    let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let message = js_sys::Object::new();
    set(&message, "type", &JsValue::from_str("download"));
    set(&message, "token", &JsValue::from_str(&token));
    set(&message, "name", &JsValue::from_str(&file.name));
    if let Some(size) = file.plain_size {
        set(&message, "size", &JsValue::from_f64(size as f64));
    }
    let acked = js_sys::Promise::new(&mut |resolve, _reject| {
        let on_ack = Closure::once_into_js(move |_event: web_sys::MessageEvent| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        ack.port1().set_onmessage(Some(on_ack.unchecked_ref()));
    });
    active
        .post_message_with_transferable(&message, &js_sys::Array::of2(&data.port1(), &ack.port2()))
        .map_err(|_| unavailable())?;
    wasm_bindgen_futures::JsFuture::from(within(acked, 10_000))
        .await
        .map_err(|_| unavailable())?;
    ack.port1().close();
    Ok((data.port2().into(), token))
}

/// `promise`, or a rejection after `ms`: a service worker that never
/// becomes ready must not leave a download waiting for ever.
pub(super) fn within(promise: js_sys::Promise, ms: i32) -> js_sys::Promise {
    let timeout = js_sys::Promise::new(&mut |_resolve, reject| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&reject, ms);
        }
    });
    js_sys::Promise::race(&js_sys::Array::of2(&promise, &timeout))
}

pub(super) fn click_link(href: &str, download: Option<&str>) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(anchor) = document.create_element("a") else {
        return;
    };
    let anchor: web_sys::HtmlAnchorElement = anchor.unchecked_into();
    anchor.set_href(href);
    // Not a route of the app: without this the router would handle the
    // click itself and render its not-found page.
    anchor.set_rel("external");
    if let Some(name) = download {
        anchor.set_download(name);
    }
    anchor.set_hidden(true);
    if let Some(body) = document.body() {
        let _ = body.append_child(&anchor);
        anchor.click();
        let _ = body.remove_child(&anchor);
    }
}

pub(super) fn save_blob(name: &str, parts: &js_sys::Array) {
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    click_link(&url, Some(name));
    // The click has started the download; the URL can go once it has been
    // read, which the browser does before the next task.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(w) = web_sys::window() {
        let _ =
            w.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    }
}
