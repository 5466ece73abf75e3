//! Noctis-256-CTR-HMAC-SHA3-256: encrypt-then-MAC with independent keys.
//!
//! `seal(K_enc ‖ K_mac, N, A, P)`: `C = CTR(K_enc, N, P)`,
//! `T = HMAC-SHA3-256(K_mac, N ‖ A ‖ C ‖ u64be(len A) ‖ u64be(len C))`.
//! Opening checks the tag in constant time before a single byte is
//! decrypted, so a forgery releases nothing. Forging needs to break
//! HMAC-SHA3-256, whatever Noctis-256's own weaknesses.

use core::fmt;

use aead::{
    AeadCore, AeadInOut, Error, Nonce, Tag, TagPosition,
    array::Array,
    consts::{U24, U32, U64},
    inout::InOutBuf,
};
use cipher::{InnerIvInit, KeyInit, KeySizeUser, StreamCipher};
use hmac::{Mac, SimpleHmac};
use sha3::Sha3_256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Noctis256;

type Keystream = ctr::Ctr64BE<Noctis256>;

/// The Noctis-256 AEAD: 64-byte key (`K_enc ‖ K_mac`), 24-byte nonce,
/// 32-byte tag appended to the ciphertext.
#[derive(Clone)]
pub struct NoctisAead {
    cipher: Noctis256,
    mac_key: [u8; 32],
}

impl Drop for NoctisAead {
    fn drop(&mut self) {
        self.mac_key.zeroize();
    }
}

impl ZeroizeOnDrop for NoctisAead {}

impl fmt::Debug for NoctisAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoctisAead { .. }")
    }
}

impl KeySizeUser for NoctisAead {
    type KeySize = U64;
}

impl KeyInit for NoctisAead {
    fn new(key: &aead::Key<Self>) -> Self {
        let mut enc = [0u8; 32];
        let mut mac_key = [0u8; 32];
        enc.copy_from_slice(&key[..32]);
        mac_key.copy_from_slice(&key[32..]);
        let cipher = Noctis256::from_key(&enc);
        enc.zeroize();
        NoctisAead { cipher, mac_key }
    }
}

impl AeadCore for NoctisAead {
    type NonceSize = U24;
    type TagSize = U32;
    const TAG_POSITION: TagPosition = TagPosition::Postfix;
}

impl NoctisAead {
    fn keystream(&self, nonce: &Nonce<Self>) -> Keystream {
        let mut iv = Array::<u8, U32>::default();
        iv[..24].copy_from_slice(nonce);
        Keystream::from_core(ctr::CtrCore::inner_iv_init(self.cipher.clone(), &iv))
    }

    fn tag(&self, nonce: &Nonce<Self>, aad: &[u8], ciphertext: &[u8]) -> Tag<Self> {
        let mut mac = <SimpleHmac<Sha3_256> as KeyInit>::new_from_slice(&self.mac_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(nonce);
        mac.update(aad);
        mac.update(ciphertext);
        mac.update(&(aad.len() as u64).to_be_bytes());
        mac.update(&(ciphertext.len() as u64).to_be_bytes());
        mac.finalize().into_bytes()
    }
}

impl AeadInOut for NoctisAead {
    fn encrypt_inout_detached(
        &self,
        nonce: &Nonce<Self>,
        associated_data: &[u8],
        mut buffer: InOutBuf<'_, '_, u8>,
    ) -> aead::Result<Tag<Self>> {
        self.keystream(nonce)
            .try_apply_keystream_inout(buffer.reborrow())
            .map_err(|_| Error)?;
        Ok(self.tag(nonce, associated_data, buffer.get_out()))
    }

    fn decrypt_inout_detached(
        &self,
        nonce: &Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
        tag: &Tag<Self>,
    ) -> aead::Result<()> {
        let expected = self.tag(nonce, associated_data, buffer.get_in());
        if !bool::from(expected.ct_eq(tag)) {
            return Err(Error);
        }
        self.keystream(nonce)
            .try_apply_keystream_inout(buffer)
            .map_err(|_| Error)
    }
}
