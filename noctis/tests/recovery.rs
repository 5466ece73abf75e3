//! The recovery key's spellings: round trips, forgiving input, and errors
//! that point at the mistake without repeating the key.

use noctis::{Error, recovery};

const KEY: [u8; 32] = [
    0x1f, 0x8b, 0x3c, 0x00, 0xff, 0x42, 0x17, 0x99, 0xa0, 0x05, 0x6e, 0xd3, 0x21, 0x88, 0x7a, 0x4b,
    0xc2, 0x19, 0x00, 0x63, 0xfe, 0x5d, 0x90, 0x34, 0x71, 0xbb, 0x0c, 0xe8, 0x26, 0x9a, 0x4f, 0x10,
];

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn hex_round_trips_with_any_spacing_and_case() {
    let hex = recovery::to_hex(&KEY);
    assert_eq!(
        hex.chars().filter(|c| c.is_ascii_hexdigit()).count(),
        recovery::HEX_DIGITS
    );
    assert_eq!(*recovery::from_hex(&hex).expect("parse"), KEY);
    let squashed: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(
        *recovery::from_hex(&squashed.to_uppercase()).expect("upper"),
        KEY
    );
    let spaced = format!("  {}\n", hex.replace(' ', "  -  "));
    assert_eq!(*recovery::from_hex(&spaced).expect("spaced"), KEY);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn hex_typos_are_caught_and_located() {
    let hex = recovery::to_hex(&KEY).to_string();
    // One changed digit anywhere: the checksum catches it.
    for i in (0..hex.len()).filter(|&i| hex.as_bytes()[i] != b' ') {
        let mut typo = hex.clone().into_bytes();
        typo[i] = if typo[i] == b'0' { b'1' } else { b'0' };
        let typo = String::from_utf8(typo).expect("ascii");
        assert_eq!(
            recovery::from_hex(&typo).map(|_| ()),
            Err(Error::RecoveryChecksum),
            "digit {i}"
        );
    }
    let mut bad = hex.clone();
    bad.replace_range(5..6, "g");
    assert_eq!(
        recovery::from_hex(&bad).map(|_| ()),
        Err(Error::RecoveryCharacter { position: 6 })
    );
    let short = &hex[..hex.len() - 2];
    assert!(matches!(
        recovery::from_hex(short),
        Err(Error::RecoveryLength {
            expected: 68,
            found: 66
        })
    ));
    let err = recovery::from_hex(&bad).expect_err("error").to_string();
    assert!(!err.contains(&hex[..4]), "the error repeats the key: {err}");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn words_round_trip_and_name_the_bad_word() {
    let words = recovery::to_words(&KEY);
    assert_eq!(words.split(' ').count(), 24);
    assert_eq!(*recovery::from_words(&words).expect("parse"), KEY);
    let messy = format!("  {}  ", words.to_uppercase().replace(' ', " \n\t "));
    assert_eq!(*recovery::from_words(&messy).expect("messy"), KEY);

    let mut list: Vec<String> = words.split(' ').map(String::from).collect();
    list[6] = "notaword".into();
    assert_eq!(
        recovery::from_words(&list.join(" ")).map(|_| ()),
        Err(Error::RecoveryWord { position: 7 })
    );

    // Two valid words swapped: the checksum catches it.
    let mut swapped: Vec<String> = words.split(' ').map(String::from).collect();
    let (a, b) = (0, 1);
    if swapped[a] != swapped[b] {
        swapped.swap(a, b);
        assert_eq!(
            recovery::from_words(&swapped.join(" ")).map(|_| ()),
            Err(Error::RecoveryChecksum)
        );
    }
    assert!(matches!(
        recovery::from_words("abandon abandon"),
        Err(Error::RecoveryLength {
            expected: 24,
            found: 2
        })
    ));
}
