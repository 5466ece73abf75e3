//! What the local API's handlers and the revealer reach (`Peer`), and how
//! they sign, check and publish this operator's records and turn the
//! mesh's errors into the API's.

use std::sync::Arc;

use mesh::agent::{self, Body, OperatorId, OperatorKey, RecordId, Signed};
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::Error;

/// What the handlers reach.
#[derive(Clone)]
pub(super) struct Peer {
    pub(super) client: agent::Client,
    pub(super) key: Arc<OperatorKey>,
    pub(super) network: agent::NetworkId,
    pub(super) label: String,
    pub(super) token: Arc<zeroize::Zeroizing<String>>,
    pub(super) api: String,
    pub(super) stop: Arc<Notify>,
    pub(super) rules: agent::Rules,
    pub(super) ballots: super::ballots::Ballots,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("operator", &self.key.id())
            .finish_non_exhaustive()
    }
}

/// A 400 naming what is wrong (`code` for programs).
pub(super) fn invalid(code: &'static str, why: impl ToString) -> Error {
    Error::Invalid {
        code,
        message: why.to_string(),
    }
}

pub(super) fn operator_of(text: &str) -> Result<OperatorId, Error> {
    text.parse()
        .map_err(|e: agent::RecordError| invalid("invalid_operator", e))
}

/// A record by this peer's operator, made now and checked like any other.
pub(super) fn sign_now(peer: &Peer, body: Body, code: &'static str) -> Result<Signed, Error> {
    let signed = peer.key.make(peer.network, agent::now(), body);
    signed
        .verify(&peer.network, agent::now())
        .map_err(|e| invalid(code, e))?;
    Ok(signed)
}

pub(super) fn mesh_error(e: mesh::Error) -> Error {
    match e {
        mesh::Error::Invalid(message) => invalid("invalid_record", message),
        mesh::Error::Paced { retry_after } => Error::Paced { retry_after },
        other => Error::MeshUnavailable(other.to_string()),
    }
}

/// A published record's id.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Published {
    id: String,
}

impl Published {
    pub(super) fn of(id: RecordId) -> Published {
        Published { id: id.to_string() }
    }
}

/// Refuses what would count for nothing: votes, claims, tasks and reports
/// count only from operators enrolled and not quarantined.
pub(super) async fn may_act(peer: &Peer) -> Result<(), Error> {
    let me = peer.key.id();
    if !peer.client.is_enrolled(me).await.map_err(mesh_error)? {
        return Err(Error::Forbidden {
            code: "not_enrolled",
            message: "This operator is not enrolled: only enrolled operators' votes, claims, tasks and reports count.",
        });
    }
    let quarantined = peer
        .client
        .quarantines()
        .await
        .map_err(mesh_error)?
        .into_iter()
        .any(|q| q.operator == me && (q.network || q.local.is_some()));
    if quarantined {
        return Err(Error::Forbidden {
            code: "quarantined",
            message: "This operator is quarantined: its records are ignored until the quarantine is lifted.",
        });
    }
    Ok(())
}

/// Publishes; a network of one (no other peer to store it) still keeps the
/// record locally and gossips it, so that is not an error for knowledge.
pub(super) async fn publish_best_effort(peer: &Peer, signed: Signed) -> Result<RecordId, Error> {
    let id = signed.id();
    match peer.client.publish(signed).await {
        Ok(id) => Ok(id),
        Err(mesh::Error::Invalid(message)) if message.starts_with("no other peer stored") => Ok(id),
        Err(e) => Err(mesh_error(e)),
    }
}
