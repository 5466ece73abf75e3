//! Reed-Solomon striping: how a file's ciphertext becomes k + m fragments.
//!
//! The file is cut into *stripes* of k × `shard_size` bytes (the last one
//! zero-padded). Each stripe is encoded into k data shards (the stripe
//! itself, cut in k) and m parity shards. Fragment *i* is shard *i* of every
//! stripe, one after another, so byte range `[s·shard, (s+1)·shard)` of any
//! fragment belongs to stripe *s*. Encoding and decoding therefore hold one
//! stripe at a time whatever the file size, and a range read needs only the
//! stripes it covers. Any k shards of a stripe rebuild it.
//!
//! The coding itself is `reed-solomon-simd` (GF(2^16), runtime-selected SIMD);
//! `benches/erasure.rs` compares it with `reed-solomon-erasure`.

use std::{fmt, ops::Range, str::FromStr};

use crate::Error;

/// The most shards a stripe may have: enough for any sensible coding, small
/// enough that a stripe's shards fit in memory a few times over.
pub const MAX_SHARDS: u16 = 64;

/// k data + m parity shards per stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coding {
    /// k: shards that hold the data; any k rebuild a stripe.
    pub data: u16,
    /// m: extra shards; a stripe survives the loss of any m.
    pub parity: u16,
}

impl Coding {
    /// k + m.
    pub fn total(self) -> usize {
        usize::from(self.data) + usize::from(self.parity)
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.data, self.parity)
    }
}

impl FromStr for Coding {
    type Err = String;

    /// `k+m`, such as `4+2` or `10+4`.
    fn from_str(text: &str) -> Result<Coding, String> {
        let bad = || format!("`{text}` is not a coding such as 4+2 (k data + m parity shards)");
        let (k, m) = text.trim().split_once('+').ok_or_else(bad)?;
        let data: u16 = k.trim().parse().map_err(|_| bad())?;
        let parity: u16 = m.trim().parse().map_err(|_| bad())?;
        if data == 0 || parity == 0 || data + parity > MAX_SHARDS {
            return Err(format!(
                "coding {text}: k and m must be at least 1 and k + m at most {MAX_SHARDS}"
            ));
        }
        Ok(Coding { data, parity })
    }
}

/// Where a file's bytes sit in its stripes and fragments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The coding.
    pub coding: Coding,
    /// Bytes of one shard; even (the coding works on 16-bit symbols) and
    /// at most [`super::wire::MAX_CHUNK`], so a shard is one message.
    pub shard_size: u32,
    /// The file's length in bytes.
    pub size: u64,
}

impl Layout {
    /// Data bytes per stripe.
    pub fn stripe_data(&self) -> u64 {
        u64::from(self.coding.data) * u64::from(self.shard_size)
    }

    /// How many stripes the file takes (at least one, so every fragment
    /// exists even for an empty file).
    pub fn stripes(&self) -> u64 {
        self.size.div_ceil(self.stripe_data()).max(1)
    }

    /// The length of every fragment.
    pub fn fragment_len(&self) -> u64 {
        self.stripes() * u64::from(self.shard_size)
    }

    /// The file bytes stripe `stripe` holds.
    pub fn stripe_range(&self, stripe: u64) -> Range<u64> {
        let start = stripe * self.stripe_data();
        start.min(self.size)..(start + self.stripe_data()).min(self.size)
    }

    /// The stripes a byte range of the file touches.
    pub fn stripes_for(&self, range: Range<u64>) -> Range<u64> {
        if range.is_empty() {
            return 0..0;
        }
        range.start / self.stripe_data()..(range.end - 1) / self.stripe_data() + 1
    }
}

/// Encodes one stripe (at most k × `shard_size` bytes; shorter is padded
/// with zeros) into its k + m shards.
pub fn encode_stripe(coding: Coding, shard_size: u32, data: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let shard = shard_size as usize;
    let k = usize::from(coding.data);
    if data.len() > k * shard {
        return Err(Error::Coding(format!(
            "a stripe of {} bytes is longer than {k} shards of {shard}",
            data.len()
        )));
    }
    let mut shards: Vec<Vec<u8>> = (0..k)
        .map(|i| {
            let start = (i * shard).min(data.len());
            let end = ((i + 1) * shard).min(data.len());
            let mut s = Vec::with_capacity(shard);
            s.extend_from_slice(&data[start..end]);
            s.resize(shard, 0);
            s
        })
        .collect();
    let parity = reed_solomon_simd::encode(k, usize::from(coding.parity), &shards)
        .map_err(|e| Error::Coding(e.to_string()))?;
    shards.extend(parity);
    Ok(shards)
}

/// Rebuilds a stripe's k data shards, concatenated (k × `shard_size`
/// bytes, padding included), from any k of its shards. `shards[i]` is shard
/// *i* if it is at hand; each present shard must be `shard_size` bytes and
/// already checked against its hash.
pub fn decode_stripe(
    coding: Coding,
    shard_size: u32,
    shards: &[Option<Vec<u8>>],
) -> Result<Vec<u8>, Error> {
    let k = usize::from(coding.data);
    check_shards(coding, shard_size, shards)?;
    let missing: Vec<usize> = (0..k).filter(|&i| shards[i].is_none()).collect();
    let restored = if missing.is_empty() {
        Default::default()
    } else {
        let originals = (0..k).filter_map(|i| shards[i].as_deref().map(|s| (i, s)));
        let recovery = (k..coding.total()).filter_map(|i| shards[i].as_deref().map(|s| (i - k, s)));
        reed_solomon_simd::decode(k, usize::from(coding.parity), originals, recovery)
            .map_err(|e| Error::Coding(e.to_string()))?
    };
    let mut out = Vec::with_capacity(k * shard_size as usize);
    for (i, shard) in shards.iter().enumerate().take(k) {
        match (shard, restored.get(&i)) {
            (Some(s), _) | (None, Some(s)) => out.extend_from_slice(s),
            (None, None) => return Err(Error::Coding(format!("shard {i} was not restored"))),
        }
    }
    Ok(out)
}

/// Rebuilds every shard of a stripe (data and parity) from any k of them:
/// what repair sends to the nodes that replace lost ones.
pub fn rebuild_stripe(
    coding: Coding,
    shard_size: u32,
    shards: &[Option<Vec<u8>>],
) -> Result<Vec<Vec<u8>>, Error> {
    let data = decode_stripe(coding, shard_size, shards)?;
    encode_stripe(coding, shard_size, &data)
}

fn check_shards(coding: Coding, shard_size: u32, shards: &[Option<Vec<u8>>]) -> Result<(), Error> {
    if shards.len() != coding.total() {
        return Err(Error::Coding(format!(
            "{} shard slots for coding {coding}",
            shards.len()
        )));
    }
    let present = shards.iter().flatten().count();
    if present < usize::from(coding.data) {
        return Err(Error::Coding(format!(
            "{present} shards at hand, {} needed",
            coding.data
        )));
    }
    if shards
        .iter()
        .flatten()
        .any(|s| s.len() != shard_size as usize)
    {
        return Err(Error::Coding("a shard of the wrong length".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn codings_parse_and_reject() {
        assert_eq!("4+2".parse::<Coding>(), Ok(Coding { data: 4, parity: 2 }));
        assert_eq!(
            " 10 + 4 ".parse::<Coding>(),
            Ok(Coding {
                data: 10,
                parity: 4
            })
        );
        for bad in ["4", "0+2", "4+0", "60+10", "a+b", "4+2+1", ""] {
            assert!(bad.parse::<Coding>().is_err(), "{bad}");
        }
    }

    #[test]
    fn layout_maps_ranges_to_stripes() {
        let layout = Layout {
            coding: Coding { data: 4, parity: 2 },
            shard_size: 1024,
            size: 10_000,
        };
        assert_eq!(layout.stripe_data(), 4096);
        assert_eq!(layout.stripes(), 3);
        assert_eq!(layout.fragment_len(), 3 * 1024);
        assert_eq!(layout.stripe_range(2), 8192..10_000);
        assert_eq!(layout.stripes_for(0..1), 0..1);
        assert_eq!(layout.stripes_for(4095..4097), 0..2);
        assert_eq!(layout.stripes_for(9_999..10_000), 2..3);
        assert_eq!(layout.stripes_for(5..5), 0..0);
        let empty = Layout { size: 0, ..layout };
        assert_eq!(empty.stripes(), 1);
    }

    /// Every choice of k shards out of k + m rebuilds the stripe, for a
    /// short (padded) stripe too; fewer than k is an error, not garbage.
    #[test]
    fn any_k_shards_rebuild_a_stripe() {
        for (coding, len) in [
            (Coding { data: 4, parity: 2 }, 4 * 512 - 7),
            (Coding { data: 3, parity: 3 }, 100),
        ] {
            let data = bytes(len, 7);
            let shards = encode_stripe(coding, 512, &data).expect("encode");
            assert_eq!(shards.len(), coding.total());
            let n = coding.total();
            for mask in 0u32..(1 << n) {
                if mask.count_ones() as usize != usize::from(coding.data) {
                    continue;
                }
                let kept: Vec<Option<Vec<u8>>> = (0..n)
                    .map(|i| (mask & (1 << i) != 0).then(|| shards[i].clone()))
                    .collect();
                let out = decode_stripe(coding, 512, &kept).expect("decode");
                assert_eq!(&out[..data.len()], &data[..], "mask {mask:b}");
                assert!(out[data.len()..].iter().all(|&b| b == 0));
                assert_eq!(rebuild_stripe(coding, 512, &kept).expect("rebuild"), shards);
            }
            let too_few: Vec<Option<Vec<u8>>> = (0..n)
                .map(|i| (i < usize::from(coding.data) - 1).then(|| shards[i].clone()))
                .collect();
            assert!(decode_stripe(coding, 512, &too_few).is_err());
        }
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let coding = Coding { data: 2, parity: 1 };
        assert!(encode_stripe(coding, 4, &[0; 9]).is_err());
        let shards = vec![Some(vec![0u8; 4]), Some(vec![0u8; 6]), None];
        assert!(decode_stripe(coding, 4, &shards).is_err());
        assert!(decode_stripe(coding, 4, &[Some(vec![0u8; 4])]).is_err());
    }
}
