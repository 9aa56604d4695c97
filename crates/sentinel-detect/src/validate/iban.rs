//! IBANs: the country's length and the ISO 7064 mod-97 check.

/// IBAN length by country code (ISO 13616 registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// The registered IBAN length for a country code.
pub(crate) fn country_length(cc: &[u8]) -> Option<usize> {
    LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == cc)
        .map(|&(_, n)| n)
}

/// All registered country codes, for generators.
pub(crate) fn countries() -> impl Iterator<Item = (&'static [u8; 2], usize)> {
    LENGTHS.iter().copied()
}

/// ISO 7064 mod 97 over an IBAN rearranged (first four characters moved to the end,
/// letters as 10..35). `compact` holds uppercase letters and digits only.
pub(crate) fn mod97(compact: &[u8]) -> u32 {
    let (head, tail) = compact.split_at(4.min(compact.len()));
    remainder97(tail.iter().chain(head))
}

/// The number written by `chars` (digits, and letters as 10..35) mod 97; `u32::MAX` when
/// one is neither. The French NIR's key uses it too.
pub(crate) fn remainder97<'a>(chars: impl IntoIterator<Item = &'a u8>) -> u32 {
    let mut rem = 0u32;
    for &b in chars {
        rem = match b {
            b'0'..=b'9' => (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(b - b'A' + 10)) % 97,
            _ => return u32::MAX,
        };
    }
    rem
}

/// Whether `value` (with optional single spaces) is a valid IBAN.
pub(crate) fn is_valid(value: &str) -> bool {
    let mut buf = [0u8; 34];
    let mut n = 0;
    for b in value.bytes().filter(|&b| b != b' ') {
        if n == buf.len() {
            return false;
        }
        buf[n] = b;
        n += 1;
    }
    let compact = &buf[..n];
    n >= 15
        && country_length(&compact[..2]) == Some(n)
        && compact[2..4].iter().all(u8::is_ascii_digit)
        && mod97(compact) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ibans() {
        assert!(is_valid("DE89370400440532013000"));
        assert!(is_valid("DE89 3704 0044 0532 0130 00"));
        assert!(is_valid("GB82WEST12345698765432"));
        assert!(is_valid("NL91ABNA0417164300"));
        assert!(!is_valid("DE89370400440532013001"));
        assert!(!is_valid("DE8937040044053201300"));
        assert!(!is_valid("XX89370400440532013000"));
    }
}
