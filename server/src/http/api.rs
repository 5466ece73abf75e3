//! The JSON API under `/api`, and its OpenAPI document.
//!
//! Routes are registered through utoipa-axum, so the document at
//! `/api/openapi.json` is generated from the same list the router is built
//! from and cannot drift from it.

use api::Health;
use axum::{Json, Router, extract::State, routing::get};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{AppState, admin, auth, files, invites, mesh, shares, uploads};
use crate::Error;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nocturne",
        description = "End-to-end encrypted file storage. The server stores ciphertext, \
                       wrapped keys and encrypted metadata; it never sees a password, a \
                       key that decrypts or a plaintext byte. Errors are JSON \
                       `{error, message}` with a 4xx or 5xx status. Browsers authenticate \
                       with an HttpOnly SameSite=Strict cookie, programs with \
                       `Authorization: Bearer <token>` from `POST /api/auth/login` with \
                       `token: true`."
    ),
    tags((name = "accounts", description = "Registration, sessions, recovery, invites"),
         (name = "files", description = "Resumable uploads and encrypted files"),
         (name = "shares", description = "Share links: the owner's side under /shares, the \
                                           public side under /s/{id}"),
         (name = "server", description = "Health"))
)]
struct ApiDoc;

/// The routes under `/api` (anything else there is a JSON 404 or 405) and
/// the OpenAPI document describing them, with paths as clients see them.
pub(super) fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(auth::params))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::recovery_key))
        .routes(routes!(auth::recovery_reset))
        .routes(routes!(auth::account, auth::delete_account))
        .routes(routes!(auth::change_password))
        .routes(routes!(invites::create_invite, invites::list_invites))
        .routes(routes!(invites::revoke_invite))
        .routes(routes!(admin::list_accounts))
        .routes(routes!(admin::update_account))
        .routes(routes!(uploads::create_upload, uploads::list_uploads))
        .routes(routes!(uploads::get_upload, uploads::cancel_upload))
        .routes(routes!(uploads::put_part))
        .routes(routes!(files::finish_upload))
        .routes(routes!(files::list_files))
        .routes(routes!(
            files::get_file,
            files::update_file,
            files::delete_file
        ))
        .routes(routes!(files::download))
        .routes(routes!(mesh::mesh_view))
        .routes(routes!(shares::create_share, shares::list_shares))
        .routes(routes!(shares::update_share, shares::revoke_share))
        .routes(routes!(shares::share_info))
        .routes(routes!(shares::open_share))
        .routes(routes!(shares::claim_share))
        .routes(routes!(shares::share_content))
        .split_for_parts();
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_iter()
        .map(|(path, item)| (format!("/api{path}"), item))
        .collect();
    complete(&mut doc);
    let served = doc.clone();
    let router = router
        .route("/openapi.json", get(move || async move { Json(served) }))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed });
    (router, doc)
}

/// Routes anyone may call: everything else needs a session, answers 401
/// without one, and says so in the document.
const PUBLIC: &[&str] = &[
    "/api/health",
    "/api/auth/params",
    "/api/auth/register",
    "/api/auth/login",
    "/api/auth/recovery/key",
    "/api/auth/recovery/reset",
    "/api/s/{id}",
    "/api/s/{id}/open",
    "/api/s/{id}/claim",
    "/api/s/{id}/files/{index}/content",
];

/// Adds what the shared extractors make true of every route, so that no
/// handler's annotation can forget it: a session route declares the
/// session (cookie or bearer) and its 401; a JSON body, a path or a query
/// parameter can be malformed (400); a JSON body can be too large (413).
fn complete(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        Content, Ref, ResponseBuilder,
        security::{
            ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
        },
    };
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".into(),
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.security_schemes.insert(
        "cookie".into(),
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
            crate::http::session::COOKIE,
        ))),
    );
    let error = |why: &str| {
        ResponseBuilder::new()
            .description(why)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            let mut add = |status: &str, why: &str| {
                op.responses
                    .responses
                    .entry(status.into())
                    .or_insert_with(|| error(why).into());
            };
            if op.request_body.is_some() {
                add("400", "The body is not the JSON this route takes.");
                add("413", "The body is larger than this route takes.");
            }
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                add("400", "A path or query parameter does not parse.");
            }
            if !public {
                add("401", "No live session (cookie or bearer token).");
                op.security = Some(vec![
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                    SecurityRequirement::new("cookie", Vec::<String>::new()),
                ]);
            }
        }
    }
}

/// Liveness and readiness in one: answers only once the database answers.
#[utoipa::path(get, path = "/health", tag = "server",
    responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub(crate) async fn health(State(state): State<AppState>) -> Result<Json<Health>, Error> {
    state.db.ping().await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}
