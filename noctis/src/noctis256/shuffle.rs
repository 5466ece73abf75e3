//! What the SIMD backends share: byte-shuffle controls and slicing.

/// Shuffle controls for ShiftRows followed by a rotation of each column by
/// `rot` rows: `out[4c + r] = in[shiftrows(4c + (r + rot) % 4)]`. With
/// rotations 0..4 they give MixColumns its four inputs straight from the
/// S-box output.
const fn shift_rot(rot: usize) -> [u8; 16] {
    let mut ctrl = [0u8; 16];
    let mut c = 0;
    while c < 4 {
        let mut r = 0;
        while r < 4 {
            let rr = (r + rot) % 4;
            ctrl[4 * c + r] = (4 * ((c + rr) % 4) + rr) as u8;
            r += 1;
        }
        c += 1;
    }
    ctrl
}

pub(super) const SHIFT_ROT: [[u8; 16]; 4] =
    [shift_rot(0), shift_rot(1), shift_rot(2), shift_rot(3)];

/// The 16 bytes of `bytes` at `offset` (callers pass in-range offsets of
/// fixed-size arrays; out of range would give zeros, never a panic).
pub(super) fn half(bytes: &[u8], offset: usize) -> &[u8; 16] {
    bytes
        .get(offset..offset + 16)
        .and_then(|s| s.try_into().ok())
        .unwrap_or(&[0; 16])
}
