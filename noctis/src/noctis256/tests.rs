//! Schedule internals against the vectors, and the backends against each
//! other. The public-API vector tests live in `noctis/tests/vectors.rs`.

use super::schedule::Schedule;

const KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};

fn hex(s: &str) -> alloc::vec::Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn schedule_matches_the_vector() {
    let s = Schedule::new(&KEY);
    assert_eq!(&s.sbox[..16], &hex("1afdc113e6bb0e0431e2f717e49c6447")[..]);
    assert_eq!(
        &s.round_keys[0][..],
        &hex("c5e9a403b983b79812beb27123965319")[..]
    );
    assert_eq!(
        &s.round_keys[19][..],
        &hex("4ff6907c15adfa7416ff31244ab544c2")[..]
    );
    assert_eq!(
        &s.w_in[..],
        &hex("decc5394c3e2bc35d0ed17746e08a212582211a93e31f0c7856ad51513e169c5")[..]
    );
    assert_eq!(
        &s.w_out[..],
        &hex("dcfb59d6dbbda2c04abad9931be5de5d3fb74941d902f088d243cbdfb6d15fb2")[..]
    );
    let mut seen = [false; 256];
    for &v in &s.sbox {
        assert!(!seen[usize::from(v)], "the S-box is not a permutation");
        seen[usize::from(v)] = true;
    }
}

#[cfg(target_arch = "x86_64")]
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn avx2_agrees_with_the_portable_function_at_every_batch_size() {
    let Some(avx2) = super::avx2::Avx2::detect() else {
        return;
    };
    let s = Schedule::new(&KEY);
    for n in 1..=super::avx2::PAR {
        let mut blocks = [[0u8; 32]; super::avx2::PAR];
        for (i, b) in blocks.iter_mut().enumerate() {
            for (j, v) in b.iter_mut().enumerate() {
                *v = (i * 37 + j * 11 + n) as u8;
            }
        }
        let mut expected = blocks;
        for b in &mut expected[..n] {
            super::soft::encrypt(&s, b);
        }
        let mut got = blocks;
        avx2.encrypt(&s, &mut got[..n]);
        assert_eq!(got[..n], expected[..n], "encrypt, batch of {n}");
        avx2.decrypt(&s, &mut got[..n]);
        assert_eq!(got[..n], blocks[..n], "decrypt, batch of {n}");
    }
}
