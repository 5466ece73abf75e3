//! `GET /api/mesh`: the storage mesh for administrators.

use api::mesh::{MeshFiles, MeshNode, MeshView};
use axum::{Json, extract::State};

use super::session::Session;
use crate::{Error, state::AppState};

const TAG: &str = "mesh";

/// The mesh's mode, coding, nodes and file counts (administrators only).
#[utoipa::path(get, path = "/mesh", tag = TAG,
    responses((status = 200, body = MeshView), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn mesh_view(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<MeshView>, Error> {
    if !session.is_admin {
        return Err(Error::Forbidden {
            code: "admin_only",
            message: "Only an administrator can see the storage mesh.",
        });
    }
    let Some(mesh) = &state.mesh else {
        return Ok(Json(MeshView {
            mode: "off".into(),
            coding: String::new(),
            nodes: Vec::new(),
            files: MeshFiles {
                total: 0,
                placed: 0,
                pending: 0,
                degraded: 0,
            },
        }));
    };
    let (rows, connected) = mesh.nodes().await?;
    let (total, placed, pending, degraded) = mesh.totals().await?;
    Ok(Json(MeshView {
        mode: mesh.mode().as_str().into(),
        coding: mesh.coding().to_string(),
        nodes: rows
            .into_iter()
            .map(|n| MeshNode {
                peer_id: n.peer.to_string(),
                connected: connected.contains(&n.peer),
                last_seen: n.last_seen,
                fragments: n.fragments,
                bytes_used: n.used,
                max_storage: n.capacity,
                audits_passed: n.audits_passed,
                audits_failed: n.audits_failed,
            })
            .collect(),
        files: MeshFiles {
            total,
            placed,
            pending,
            degraded,
        },
    }))
}
