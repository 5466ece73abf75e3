//! Argon2id in the crypto worker, so deriving keys never freezes the page.
//!
//! Each derivation starts a module worker (`/crypto-worker.js`, which loads
//! the same WASM as the page), hands it the password, salt and cost, takes
//! back the 64 bytes and terminates it, which also returns Argon2id's 64 MiB
//! to the system. Only the browser build has workers; the server build,
//! where event handlers never run, derives in place.

use noctis::{format::Argon2Params, keys::AccountKeys};

#[cfg(feature = "hydrate")]
pub(crate) async fn account_keys(
    password: &str,
    salt: &[u8],
    params: Argon2Params,
) -> Result<AccountKeys, String> {
    use wasm_bindgen::{JsCast, JsValue, closure::Closure};
    use zeroize::Zeroizing;

    let unavailable = |_| "This browser could not start the key-derivation worker.".to_owned();
    let options = web_sys::WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    let worker =
        web_sys::Worker::new_with_options(&super::build_script("crypto-worker.js"), &options)
            .map_err(unavailable)?;
    let answer = js_sys::Promise::new(&mut |resolve, reject| {
        let on_message = Closure::once_into_js(move |event: web_sys::MessageEvent| {
            let _ = resolve.call1(&JsValue::NULL, &event.data());
        });
        let on_error = Closure::once_into_js(move |event: web_sys::ErrorEvent| {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&event.message()));
        });
        worker.set_onmessage(Some(on_message.unchecked_ref()));
        worker.set_onerror(Some(on_error.unchecked_ref()));
    });
    let request = js_sys::Object::new();
    for (key, value) in [
        ("password", JsValue::from_str(password)),
        ("salt", js_sys::Uint8Array::from(salt).into()),
        ("m_kib", params.m_kib.into()),
        ("t", params.t.into()),
        ("p", params.p.into()),
    ] {
        js_sys::Reflect::set(&request, &JsValue::from_str(key), &value).map_err(unavailable)?;
    }
    worker.post_message(&request).map_err(unavailable)?;
    let result = wasm_bindgen_futures::JsFuture::from(answer).await;
    worker.terminate();
    let data = result.map_err(|_| "Key derivation failed in the worker.".to_owned())?;
    let keys = js_sys::Reflect::get(&data, &JsValue::from_str("keys"))
        .ok()
        .and_then(|k| k.dyn_into::<js_sys::Uint8Array>().ok())
        .filter(|k| k.length() == 64)
        .ok_or_else(|| "Key derivation failed in the worker.".to_owned())?;
    let mut bytes = Zeroizing::new([0u8; 64]);
    keys.copy_to(bytes.as_mut_slice());
    keys.fill(0, 0, 64);
    let mut out = AccountKeys {
        kek: [0; 32],
        auth: [0; 32],
    };
    out.kek.copy_from_slice(&bytes[..32]);
    out.auth.copy_from_slice(&bytes[32..]);
    Ok(out)
}

#[cfg(not(feature = "hydrate"))]
pub(crate) async fn account_keys(
    password: &str,
    salt: &[u8],
    params: Argon2Params,
) -> Result<AccountKeys, String> {
    noctis::keys::account_keys(password.as_bytes(), salt, params)
        .map_err(|_| "Key derivation failed.".to_owned())
}
