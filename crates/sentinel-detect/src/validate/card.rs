//! Payment card numbers: issuer ranges, lengths, separator layout and the Luhn check.

use super::{digits_of, luhn, Layout};

/// Whether `value` (digits with optional single spaces, dashes or dots) is a plausible card
/// number: a known issuer's prefix and length, a consistent separator layout, a valid Luhn
/// check digit.
pub(crate) fn is_valid(value: &str) -> bool {
    let (digits, len) = digits_of(value);
    let digits = &digits[..len];
    luhn::is_valid(digits) && issuer_accepts(digits) && layout_is_plausible(value)
}

fn issuer_accepts(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |k: usize| -> u32 {
        d[..k]
            .iter()
            .fold(0, |acc, &b| acc * 10 + u32::from(b - b'0'))
    };
    match d[0] {
        // Visa.
        b'4' => matches!(n, 13 | 16 | 19),
        // Mastercard 51-55 and the 2-series 2221-2720.
        b'5' => (51..=55).contains(&prefix(2)) && n == 16,
        b'2' => (2221..=2720).contains(&prefix(4)) && n == 16,
        // Amex 34, 37; Diners 300-305, 36, 38, 39; JCB 3528-3589.
        b'3' => {
            let p2 = prefix(2);
            let p3 = prefix(3);
            let p4 = prefix(4);
            ((p2 == 34 || p2 == 37) && n == 15)
                || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39)
                    && (14..=19).contains(&n))
                || ((3528..=3589).contains(&p4) && (16..=19).contains(&n))
        }
        // Discover 6011, 644-649, 65; also 622126-622925 (co-branded UnionPay).
        b'6' => {
            (prefix(4) == 6011
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 65
                || (622_126..=622_925).contains(&prefix(6)))
                && (16..=19).contains(&n)
        }
        _ => false,
    }
}

/// Separators, where present, are one kind of character and either split every digit
/// (obfuscation) or form the groups cards are printed in: 4-4-4-4(-3), 4-6-5, 4-6-4.
fn layout_is_plausible(value: &str) -> bool {
    let Some(layout) = Layout::of(value) else {
        return false;
    };
    if layout.is_plain_or_split() {
        return true;
    }
    let groups = layout.groups();
    matches!(groups, [4, 6, 5] | [4, 6, 4])
        || (groups[..groups.len() - 1].iter().all(|&g| g == 4)
            && (1..=4).contains(&groups[groups.len() - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_and_layouts() {
        for ok in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "3782 822463 10005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
            "4111.1111.1111.1111",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "4111111111111112",
            "1234567812345670",
            "4111 1111-1111 1111",
            "41 111111 11111111",
            "9111111111111111",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
