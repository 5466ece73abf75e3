//! Security headers on every response.
//!
//! HTML pages get their Content-Security-Policy from the `app` crate, which
//! knows the per-response script nonce; everything else gets the strictest
//! policy here, so a file that is somehow served as HTML still runs nothing.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

use crate::state::AppState;

/// For responses that set no policy of their own: load nothing, be framed
/// nowhere.
const DEFAULT_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Nocturne needs none of these browser features.
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), display-capture=(), \
     geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), \
     usb=(), interest-cohort=()";

/// Two years, the preload list's minimum; only sent when a TLS-terminating
/// proxy is declared (browsers ignore HSTS over plain HTTP anyway).
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Adds the security headers to the response of every request.
pub(super) async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    apply(response.headers_mut(), state.trust_proxy);
    // A body refused before it was read (413) is still on the wire: the
    // connection cannot carry another request, so say so, and the client
    // opens a fresh one instead of sending into a closing connection.
    if response.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn apply(headers: &mut HeaderMap, behind_tls_proxy: bool) {
    let fixed: [(HeaderName, &'static str); 6] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(DEFAULT_CSP));
    // Pages and API answers are per-user: no shared cache may keep them.
    // Static assets set their own revalidation policy.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if behind_tls_proxy {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_policy_is_kept_and_others_get_the_default() {
        let mut page = HeaderMap::new();
        page.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("script-src 'nonce-x'"),
        );
        apply(&mut page, false);
        assert_eq!(
            page[header::CONTENT_SECURITY_POLICY],
            "script-src 'nonce-x'"
        );

        let mut other = HeaderMap::new();
        apply(&mut other, false);
        assert_eq!(other[header::CONTENT_SECURITY_POLICY], DEFAULT_CSP);
        assert!(other.get(header::STRICT_TRANSPORT_SECURITY).is_none());
    }

    #[test]
    fn hsts_only_behind_a_declared_proxy() {
        let mut headers = HeaderMap::new();
        apply(&mut headers, true);
        assert_eq!(headers[header::STRICT_TRANSPORT_SECURITY], HSTS);
    }
}
