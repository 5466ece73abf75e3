//! The command line: `nocturne`'s commands and `encrypt` / `decrypt`.

#[path = "../common/mod.rs"]
mod common;

mod commands;
mod crypt;
