//! Noctis-256: a 256-bit-block, 20-round Feistel cipher whose round function
//! is one AES-style round with a key-dependent S-box.
//!
//! Experimental and not audited. Defined bit for bit in `docs/noctis-256.md`;
//! checked against its known-answer vectors (`noctis/tests/data/noctis-256.json`).
//!
//! [`Noctis256`] implements RustCrypto's `cipher` block-cipher traits, so
//! `ctr::Ctr64BE<Noctis256>` is the specified CTR keystream. Backends, chosen
//! at run time: AVX-512 VBMI (constant-time, sixteen blocks at once), AVX2
//! (constant-time, eight blocks) or SSSE3 on x86-64; on
//! WebAssembly built with `simd128` (as the browser bundle is), the simd128
//! function (constant-time, four blocks at once); else the portable
//! table-driven function (not constant-time; see `soft`). Every backend runs
//! the one Feistel structure in `feistel`; each supplies only its vector
//! type's xor and round function.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod feistel;
mod schedule;
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod shuffle;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
mod soft;
#[cfg(target_arch = "x86_64")]
mod ssse3;

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
    avx512: Option<avx512::Avx512>,
    #[cfg(target_arch = "x86_64")]
    avx2: Option<avx2::Avx2>,
    #[cfg(target_arch = "x86_64")]
    ssse3: Option<ssse3::Ssse3>,
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
            avx512: avx512::Avx512::detect(),
            #[cfg(target_arch = "x86_64")]
            avx2: avx2::Avx2::detect(),
            #[cfg(target_arch = "x86_64")]
            ssse3: ssse3::Ssse3::detect(),
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
            avx512: None,
            #[cfg(target_arch = "x86_64")]
            avx2: None,
            #[cfg(target_arch = "x86_64")]
            ssse3: None,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            simd128: false,
            ..self
        }
    }

    /// One instance per block function this machine can run, fastest
    /// first, for tests and benchmarks that compare backends.
    #[doc(hidden)]
    pub fn every_backend(key: &[u8; 32]) -> alloc::vec::Vec<Self> {
        let fastest = Self::from_key(key);
        let mut all = alloc::vec![fastest.clone()];
        #[cfg(target_arch = "x86_64")]
        {
            if fastest.avx512.is_some() && fastest.avx2.is_some() {
                all.push(Noctis256 {
                    avx512: None,
                    ..fastest.clone()
                });
            }
            if (fastest.avx512.is_some() || fastest.avx2.is_some()) && fastest.ssse3.is_some() {
                all.push(Noctis256 {
                    avx512: None,
                    avx2: None,
                    ..fastest.clone()
                });
            }
        }
        if fastest.backend() != "portable" {
            all.push(fastest.portable_only());
        }
        all
    }

    /// Which block function runs here: `"avx512"`, `"avx2"`, `"ssse3"`,
    /// `"simd128"` or `"portable"`.
    pub fn backend(&self) -> &'static str {
        #[cfg(target_arch = "x86_64")]
        if self.avx512.is_some() {
            return "avx512";
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2.is_some() {
            return "avx2";
        }
        #[cfg(target_arch = "x86_64")]
        if self.ssse3.is_some() {
            return "ssse3";
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

/// Hands the closure `$f` the best backend `$cipher` may use: AVX-512,
/// AVX2, SSSE3, simd128, else the portable one. (A macro, because the encrypt and decrypt
/// closures are different traits with generic `call` methods.)
macro_rules! dispatch {
    ($cipher:ident, $f:ident) => {{
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = $cipher.avx512 {
            return $f.call(&Batched::<avx512::ParBlocks, _>::new(
                &$cipher.schedule,
                move |s, b, d| token.crypt(s, b, d),
            ));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = $cipher.avx2 {
            return $f.call(&Batched::<avx2::ParBlocks, _>::new(
                &$cipher.schedule,
                move |s, b, d| token.crypt(s, b, d),
            ));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(token) = $cipher.ssse3 {
            return $f.call(&Batched::<ssse3::ParBlocks, _>::new(
                &$cipher.schedule,
                move |s, b, d| token.crypt(s, b, d),
            ));
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if $cipher.simd128 {
            return $f.call(&Batched::<simd128::ParBlocks, _>::new(
                &$cipher.schedule,
                simd128::crypt,
            ));
        }
        $f.call(&SoftBackend(&$cipher.schedule))
    }};
}

impl BlockCipherEncrypt for Noctis256 {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U32>) {
        dispatch!(self, f)
    }
}

impl BlockCipherDecrypt for Noctis256 {
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = U32>) {
        dispatch!(self, f)
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

/// A SIMD backend: up to `P` blocks per call of `crypt`, which is
/// constant-time and processes a whole batch in one pass.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
struct Batched<'a, P, F> {
    schedule: &'a Schedule,
    crypt: F,
    par: core::marker::PhantomData<P>,
}

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
impl<'a, P, F> Batched<'a, P, F>
where
    P: cipher::array::ArraySize,
    F: Fn(&Schedule, &mut [[u8; 32]], bool),
{
    fn new(schedule: &'a Schedule, crypt: F) -> Self {
        Batched {
            schedule,
            crypt,
            par: core::marker::PhantomData,
        }
    }

    fn run(&self, blocks: &mut [Block<Noctis256>], decrypt: bool) {
        let mut buf = [[0u8; 32]; 16];
        let n = blocks.len().min(P::USIZE).min(buf.len());
        for (dst, src) in buf.iter_mut().zip(blocks.iter()) {
            *dst = src.0;
        }
        (self.crypt)(self.schedule, &mut buf[..n], decrypt);
        for (dst, src) in blocks.iter_mut().zip(buf.iter()) {
            dst.0 = *src;
        }
    }
}

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
impl<P: cipher::array::ArraySize, F> BlockSizeUser for Batched<'_, P, F> {
    type BlockSize = U32;
}

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
impl<P: cipher::array::ArraySize, F> ParBlocksSizeUser for Batched<'_, P, F> {
    type ParBlocksSize = P;
}

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
impl<P, F> BlockCipherEncBackend for Batched<'_, P, F>
where
    P: cipher::array::ArraySize,
    F: Fn(&Schedule, &mut [[u8; 32]], bool),
{
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

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
impl<P, F> BlockCipherDecBackend for Batched<'_, P, F>
where
    P: cipher::array::ArraySize,
    F: Fn(&Schedule, &mut [[u8; 32]], bool),
{
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
