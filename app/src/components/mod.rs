//! Pieces shared by the pages.

mod cipher_picker;
mod header;
mod size;
mod transfers;

pub(crate) use cipher_picker::{Cipher, CipherPicker};
pub(crate) use header::Header;
pub(crate) use size::{human_size, parse_size};
pub(crate) use transfers::TransferPanel;
