//! End to end in headless Chromium against the release binary: hydration and sign-up, the dashboard's transfers, share links between two browsers, and every page looked at (layout, accessibility, screenshots).

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod dashboard;
mod hydration;
mod look;
mod mesh;
mod sharing;
