//! The JSON API, from the browser. Every call goes to the page's own origin
//! with the session cookie (HttpOnly, SameSite=Strict: script never sees it).

use serde::{Serialize, de::DeserializeOwned};

/// Why a call failed, in words fit to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// The HTTP status (0 when the server could not be reached).
    pub(crate) status: u16,
    /// The server's machine-readable code (`bad_credentials`, ...).
    pub(crate) code: String,
    /// The server's sentence, or a description of the network failure.
    pub(crate) message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// `POST path` with a JSON body; the JSON answer (or `null` for 204).
pub(crate) async fn post<B: Serialize, R: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<R, ApiError> {
    imp::send(
        "POST",
        path,
        Some(serde_json::to_string(body).map_err(local)?),
    )
    .await
}

/// `PATCH path` with a JSON body; the JSON answer.
pub(crate) async fn patch<B: Serialize, R: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<R, ApiError> {
    imp::send(
        "PATCH",
        path,
        Some(serde_json::to_string(body).map_err(local)?),
    )
    .await
}

/// `DELETE path`.
pub(crate) async fn delete(path: &str) -> Result<(), ApiError> {
    imp::send::<serde_json::Value>("DELETE", path, None)
        .await
        .map(drop)
}

/// `GET path`; the JSON answer.
pub(crate) async fn get<R: DeserializeOwned>(path: &str) -> Result<R, ApiError> {
    imp::send("GET", path, None).await
}

fn local(e: impl std::fmt::Display) -> ApiError {
    ApiError {
        status: 0,
        code: "client".into(),
        message: e.to_string(),
    }
}

#[cfg(feature = "hydrate")]
mod imp {
    use gloo_net::http::{Method, RequestBuilder};
    use serde::de::DeserializeOwned;

    use super::{ApiError, local};

    pub(super) async fn send<R: DeserializeOwned>(
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<R, ApiError> {
        let method = match method {
            "POST" => Method::POST,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            _ => Method::GET,
        };
        let builder = RequestBuilder::new(path)
            .method(method)
            .credentials(web_sys::RequestCredentials::SameOrigin);
        let request = match body {
            Some(json) => builder
                .header("content-type", "application/json")
                .body(json)
                .map_err(local)?,
            None => builder.build().map_err(local)?,
        };
        let response = request.send().await.map_err(|_| ApiError {
            status: 0,
            code: "network".into(),
            message: "The server could not be reached. Check the connection and try again.".into(),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(local)?;
        if !(200..300).contains(&status) {
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return Err(ApiError {
                status,
                code: parsed["error"].as_str().unwrap_or("unknown").to_owned(),
                message: parsed["message"]
                    .as_str()
                    .unwrap_or("The server refused the request.")
                    .to_owned(),
            });
        }
        let text = if text.is_empty() {
            "null".to_owned()
        } else {
            text
        };
        serde_json::from_str(&text).map_err(local)
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use serde::de::DeserializeOwned;

    use super::ApiError;

    pub(super) async fn send<R: DeserializeOwned>(
        _method: &str,
        _path: &str,
        _body: Option<String>,
    ) -> Result<R, ApiError> {
        Err(ApiError {
            status: 0,
            code: "client".into(),
            message: "API calls are made from the browser.".into(),
        })
    }
}
