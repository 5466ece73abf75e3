//! The JSON API and the server process, over real HTTP against the `nocturne` binary: accounts, uploads and files, share links, serving and shutdown.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod admin;
mod files;
mod serve;
mod shares;
