//! Noctis-256: a 256-bit-block, 20-round Feistel cipher whose round function
//! is one AES-style round with a key-dependent S-box.
//!
//! Experimental and not audited. Defined bit for bit in the project's
//! `noctis-256.md`; checked against its known-answer vectors.
//!
//! [`Noctis256`] implements RustCrypto's `cipher` block-cipher traits, so
//! `ctr::Ctr64BE<Noctis256>` is the specified CTR keystream. Backends, chosen
//! at run time: AVX2 (constant-time, eight blocks at once) on x86-64; on
//! WebAssembly built with `simd128` (as the browser bundle is), the simd128
//! function (constant-time, four blocks at once); else the portable
//! table-driven function (not constant-time; see `soft`).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod schedule;
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod shuffle;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
mod soft;

use core::fmt;

use cipher::{
    AlgorithmName, Block, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt,
    BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut, Key,
    KeyInit, KeySizeUser, ParBlocksSizeUser,
    consts::{U1, U32},
};
use zeroize::ZeroizeOnDrop;

use schedule::Schedule;

/// The Noctis-256 block cipher (32-byte key, 32-byte block).
#[derive(Clone)]
pub struct Noctis256 {
    schedule: Schedule,
    #[cfg(target_arch = "x86_64")]
    avx2: Option<avx2::Avx2>,
    /// Whether to use the simd128 function (always, unless a test asked
    /// for the portable one).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd128: bool,
}

impl Noctis256 {
    /// Expands `key` (32 bytes) into the S-box, round keys and whitening.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Noctis256 {
            schedule: Schedule::new(key),
            #[cfg(target_arch = "x86_64")]
            avx2: avx2::Avx2::detect(),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            simd128: true,
        }
    }

    /// The portable, table-driven backend only (not constant-time), for
    /// tests and benchmarks that compare backends.
    #[doc(hidden)]
    pub fn portable_only(self) -> Self {
        Noctis256 {
            #[cfg(target_arch = "x86_64")]
            avx2: None,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            simd128: false,
            ..self
        }
    }

    /// Which block function runs here: `"avx2"`, `"simd128"` or `"portable"`.
    pub fn backend(&self) -> &'static str {
        #[cfg(target_arch = "x86_64")]
        if self.avx2.is_some() {
            return "avx2";
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.simd128 {
            return "simd128";
        }
        "portable"
    }
}

impl fmt::Debug for Noctis256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Noctis256 { .. }")
    }
}

impl ZeroizeOnDrop for Noctis256 {}

impl KeySizeUser for Noctis256 {
    type KeySize = U32;
}

impl KeyInit for Noctis256 {
    fn new(key: &Key<Self>) -> Self {
        Self::from_key(&key.0)
    }
}

impl BlockSizeUser for Noctis256 {
    type BlockSize = U32;
}

impl AlgorithmName for Noctis256 {
    fn write_alg_name(f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Noctis-256")
    }
}

impl BlockCipherEncrypt for Noctis256 {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U32>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = self.avx2 {
            return f.call(&Avx2Backend(&self.schedule, token));
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.simd128 {
            return f.call(&Simd128Backend(&self.schedule));
        }
        f.call(&SoftBackend(&self.schedule))
    }
}

impl BlockCipherDecrypt for Noctis256 {
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = U32>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = self.avx2 {
            return f.call(&Avx2Backend(&self.schedule, token));
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.simd128 {
            return f.call(&Simd128Backend(&self.schedule));
        }
        f.call(&SoftBackend(&self.schedule))
    }
}

fn as_array(block: &mut Block<Noctis256>) -> &mut [u8; 32] {
    &mut block.0
}

/// The portable backend, one block at a time.
struct SoftBackend<'a>(&'a Schedule);

impl BlockSizeUser for SoftBackend<'_> {
    type BlockSize = U32;
}

impl ParBlocksSizeUser for SoftBackend<'_> {
    type ParBlocksSize = U1;
}

impl BlockCipherEncBackend for SoftBackend<'_> {
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut b = *block.get_in();
        soft::encrypt(self.0, as_array(&mut b));
        *block.get_out() = b;
    }
}

impl BlockCipherDecBackend for SoftBackend<'_> {
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut b = *block.get_in();
        soft::decrypt(self.0, as_array(&mut b));
        *block.get_out() = b;
    }
}

/// The AVX2 backend, eight blocks at a time.
#[cfg(target_arch = "x86_64")]
struct Avx2Backend<'a>(&'a Schedule, avx2::Avx2);

#[cfg(target_arch = "x86_64")]
impl BlockSizeUser for Avx2Backend<'_> {
    type BlockSize = U32;
}

#[cfg(target_arch = "x86_64")]
impl ParBlocksSizeUser for Avx2Backend<'_> {
    type ParBlocksSize = cipher::consts::U8;
}

#[cfg(target_arch = "x86_64")]
impl Avx2Backend<'_> {
    fn run_par(&self, mut blocks: InOut<'_, '_, cipher::ParBlocks<Self>>, decrypt: bool) {
        let mut buf = [[0u8; 32]; avx2::PAR];
        for (dst, src) in buf.iter_mut().zip(blocks.get_in().iter()) {
            *dst = src.0;
        }
        if decrypt {
            self.1.decrypt(self.0, &mut buf);
        } else {
            self.1.encrypt(self.0, &mut buf);
        }
        for (dst, src) in blocks.get_out().iter_mut().zip(buf.iter()) {
            dst.0 = *src;
        }
    }

    fn run_one(&self, mut block: InOut<'_, '_, Block<Self>>, decrypt: bool) {
        let mut buf = [block.get_in().0];
        if decrypt {
            self.1.decrypt(self.0, &mut buf);
        } else {
            self.1.encrypt(self.0, &mut buf);
        }
        block.get_out().0 = buf[0];
    }
}

#[cfg(target_arch = "x86_64")]
impl BlockCipherEncBackend for Avx2Backend<'_> {
    fn encrypt_block(&self, block: InOut<'_, '_, Block<Self>>) {
        self.run_one(block, false);
    }

    fn encrypt_par_blocks(&self, blocks: InOut<'_, '_, cipher::ParBlocks<Self>>) {
        self.run_par(blocks, false);
    }
}

#[cfg(target_arch = "x86_64")]
impl BlockCipherDecBackend for Avx2Backend<'_> {
    fn decrypt_block(&self, block: InOut<'_, '_, Block<Self>>) {
        self.run_one(block, true);
    }

    fn decrypt_par_blocks(&self, blocks: InOut<'_, '_, cipher::ParBlocks<Self>>) {
        self.run_par(blocks, true);
    }
}

/// The simd128 backend, four blocks at a time.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
struct Simd128Backend<'a>(&'a Schedule);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl BlockSizeUser for Simd128Backend<'_> {
    type BlockSize = U32;
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl ParBlocksSizeUser for Simd128Backend<'_> {
    type ParBlocksSize = cipher::consts::U4;
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Simd128Backend<'_> {
    fn run(&self, blocks: &mut [Block<Noctis256>], decrypt: bool) {
        let mut buf = [[0u8; 32]; simd128::PAR];
        let n = blocks.len().min(simd128::PAR);
        for (dst, src) in buf.iter_mut().zip(blocks.iter()) {
            *dst = src.0;
        }
        simd128::crypt(self.0, &mut buf[..n], decrypt);
        for (dst, src) in blocks.iter_mut().zip(buf.iter()) {
            dst.0 = *src;
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl BlockCipherEncBackend for Simd128Backend<'_> {
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut b = [*block.get_in()];
        self.run(&mut b, false);
        *block.get_out() = b[0];
    }

    fn encrypt_par_blocks(&self, mut blocks: InOut<'_, '_, cipher::ParBlocks<Self>>) {
        let mut b = blocks.clone_in();
        self.run(&mut b, false);
        *blocks.get_out() = b;
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl BlockCipherDecBackend for Simd128Backend<'_> {
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let mut b = [*block.get_in()];
        self.run(&mut b, true);
        *block.get_out() = b[0];
    }

    fn decrypt_par_blocks(&self, mut blocks: InOut<'_, '_, cipher::ParBlocks<Self>>) {
        let mut b = blocks.clone_in();
        self.run(&mut b, true);
        *blocks.get_out() = b;
    }
}

#[cfg(test)]
mod tests;
