//! The Content-Security-Policy of rendered pages.
//!
//! Pages run exactly one inline script: the module loader `HydrationScripts`
//! emits, which carries a per-response nonce. Everything else (the WASM, its
//! JS glue, the stylesheet, the icon) comes from this origin. WebAssembly
//! compilation needs `'wasm-unsafe-eval'`; nothing needs `'unsafe-inline'` or
//! `'unsafe-eval'`. Non-HTML responses get an even stricter policy from the
//! server's security-header layer.

/// The policy for an HTML page whose inline scripts carry `nonce`.
///
/// Without a nonce no inline script may run at all.
pub fn page_policy(nonce: Option<&str>) -> String {
    let inline = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    format!(
        "default-src 'none'; \
         script-src 'self'{inline} 'wasm-unsafe-eval'; \
         style-src 'self'; \
         img-src 'self' data: blob:; \
         font-src 'self'; \
         connect-src 'self'; \
         worker-src 'self' blob:; \
         manifest-src 'self'; \
         base-uri 'none'; \
         form-action 'self'; \
         frame-ancestors 'none'; \
         object-src 'none'"
    )
}

/// Sets the page policy on the current server response.
///
/// Fails closed: if Leptos provided no nonce (the `nonce` feature missing),
/// the policy allows no inline script at all, so the page renders but does
/// not hydrate, rather than running scripts the policy cannot vouch for.
#[cfg(feature = "ssr")]
pub(crate) fn apply_page_policy() {
    use http::{HeaderValue, header::CONTENT_SECURITY_POLICY};
    use leptos::prelude::use_context;

    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::use_nonce();
    let policy = page_policy(nonce.as_deref());
    // Leptos' nonce is URL-safe base64, so this cannot fail; if it ever did,
    // the server's layer still sets its strict default policy.
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::page_policy;

    #[test]
    fn page_policy_allows_only_the_nonce_and_wasm() {
        let policy = page_policy(Some("abc123"));
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("'unsafe-eval'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.starts_with("default-src 'none';"));
    }

    #[test]
    fn without_a_nonce_no_inline_script_runs() {
        let policy = page_policy(None);
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("nonce-"));
    }
}
