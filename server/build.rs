//! Tells the asset embedder where cargo-leptos put the built site.
//!
//! cargo-leptos passes `LEPTOS_SITE_ROOT` (relative to the workspace root);
//! plain `cargo` builds fall back to the same default, `target/site`. Cargo
//! re-runs this script, and so re-embeds, whenever anything under that
//! directory changes.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LEPTOS_SITE_ROOT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest_dir.parent().map(PathBuf::from).unwrap_or_default();
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
    let site = workspace.join(site_root);
    println!("cargo:rerun-if-changed={}", site.display());
    println!("cargo:rustc-env=NOCTURNE_SITE_DIR={}", site.display());
}
