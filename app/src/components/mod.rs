//! Pieces shared by the pages.

mod cipher_picker;
mod header;

pub(crate) use cipher_picker::{Cipher, CipherPicker};
pub(crate) use header::Header;
