//! Sizes as people read them.

/// Bytes in a unit people read.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A size as a person types it: `10GB`, `1.5 GiB`, `500 mb`, `2048`
/// (bytes). Units of 1000 (`KB`, `MB`, `GB`, `TB`) and of 1024 (`KiB`,
/// `MiB`, `GiB`, `TiB`), any case; `None` for anything else.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = number * factor;
    (0.0..1.8e19)
        .contains(&bytes)
        .then_some(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_people_type_them() {
        assert_eq!(parse_size("10GB"), Some(10_000_000_000));
        assert_eq!(parse_size(" 1.5 GiB "), Some(1_610_612_736));
        assert_eq!(parse_size("500 mb"), Some(500_000_000));
        assert_eq!(parse_size("2048"), Some(2048));
        for bad in ["", "GB", "10 GX", "-1", "1e30", "1.2.3 MB"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }
}
