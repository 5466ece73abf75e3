//! Password keys, subkeys and key wrapping.

use noctis::{
    Error,
    format::Argon2Params,
    keys::{account_keys, subkey, unwrap_key, wrap_key},
};
use rand::{SeedableRng, rngs::StdRng};

/// Small parameters keep the test fast; the defaults are benchmarked.
const QUICK: Argon2Params = Argon2Params {
    m_kib: 256,
    t: 1,
    p: 1,
};

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_password_gives_two_independent_stable_keys() {
    let a = account_keys(b"pw", &[1; 16], QUICK).expect("argon2");
    let b = account_keys(b"pw", &[1; 16], QUICK).expect("argon2");
    assert_eq!((a.kek, a.auth), (b.kek, b.auth));
    assert_ne!(a.kek, a.auth);
    let other_salt = account_keys(b"pw", &[2; 16], QUICK).expect("argon2");
    assert_ne!(a.kek, other_salt.kek);
    assert_eq!(format!("{a:?}"), "AccountKeys(..)");
    let hostile = Argon2Params {
        m_kib: u32::MAX,
        t: 1,
        p: 1,
    };
    assert_eq!(
        account_keys(b"pw", &[1; 16], hostile).map(|_| ()),
        Err(Error::MalformedHeader)
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn subkeys_differ_by_purpose() {
    let master = [9u8; 32];
    assert_ne!(*subkey(&master, b"files"), *subkey(&master, b"metadata"));
    assert_eq!(*subkey(&master, b"files"), *subkey(&master, b"files"));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn wrapped_keys_open_only_with_the_right_key_and_purpose() {
    let mut rng = StdRng::seed_from_u64(1);
    let kek = [3u8; 32];
    let key = [4u8; 32];
    let wrapped = wrap_key(&mut rng, &kek, &key, b"master key");
    assert!(
        !wrapped.windows(32).any(|w| w == key),
        "the key is visible in its wrapping"
    );
    assert_eq!(
        *unwrap_key(&kek, &wrapped, b"master key").expect("unwrap"),
        key
    );
    assert_eq!(
        unwrap_key(&[5u8; 32], &wrapped, b"master key").map(|_| ()),
        Err(Error::Decrypt)
    );
    assert_eq!(
        unwrap_key(&kek, &wrapped, b"file key").map(|_| ()),
        Err(Error::Decrypt)
    );
    for i in 0..wrapped.len() {
        let mut bad = wrapped;
        bad[i] ^= 1;
        assert_eq!(
            unwrap_key(&kek, &bad, b"master key").map(|_| ()),
            Err(Error::Decrypt),
            "byte {i}"
        );
    }
    assert_eq!(
        unwrap_key(&kek, &wrapped[..59], b"master key").map(|_| ()),
        Err(Error::Decrypt)
    );
    // Fresh nonces: the same key wrapped twice looks different.
    assert_ne!(wrap_key(&mut rng, &kek, &key, b"master key"), wrapped);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn metadata_round_trips_and_any_change_is_refused() {
    use noctis::account::{open_metadata, recovery_keys, seal_metadata};
    let mut rng = StdRng::seed_from_u64(5);
    let key = [7u8; 32];
    let sealed = seal_metadata(&mut rng, &key, b"{\"name\":\"taxes.pdf\"}");
    assert_eq!(
        &open_metadata(&key, &sealed).expect("opens")[..],
        b"{\"name\":\"taxes.pdf\"}"
    );
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 1;
        assert!(open_metadata(&key, &bad).is_err(), "byte {i}");
    }
    assert!(open_metadata(&[8u8; 32], &sealed).is_err());
    assert!(open_metadata(&key, &sealed[..20]).is_err());
    let r = recovery_keys(&[1u8; 32]);
    assert_ne!(r.kek, r.auth, "the two recovery keys are independent");
}
