//! Payment card numbers: issuer ranges, lengths, separator layout and the Luhn check.

use super::{digits_of, luhn, Layout};

/// Whether `value` (digits with optional single spaces, dashes or dots) is a plausible card
/// number: a known issuer's prefix and length, a consistent separator layout, a valid Luhn
/// check digit, and not an identity number written bare ([`national_id`]).
pub(crate) fn is_valid(value: &str) -> bool {
    let (digits, len) = digits_of(value);
    let digits = &digits[..len];
    luhn::is_valid(digits)
        && issuer_accepts(digits)
        && layout_is_plausible(value)
        && !national_id(value)
}

/// Whether `value`, a card's shape, is rather a Chinese resident identity number (18
/// digits) or a South Korean resident registration number (13) whose check holds. One in
/// ten of those is Luhn-valid, and some fall in a card issuer's range (Jiangxi's `36` and
/// Xinjiang's `65` are Diners' and Discover's, part of Gansu's `622` UnionPay's; Koreans
/// born in the 1940s start as a 13-digit Visa), while a card number passes the identity
/// number's province or birth date and check one time in several hundred, and 13- and
/// 18-digit cards are rare: the identity number is the likelier reading. Checked last, on
/// the few values that pass everything else.
fn national_id(value: &str) -> bool {
    match value.len() {
        13 => super::ids::kr_rrn(value) == super::ids::KrRrn::Checked,
        18 => super::ids::is_valid_cn_resident_id(value),
        _ => false,
    }
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
        // Mastercard 51-55 and the 2-series 2221-2720; Maestro's 5018, 5020, 5038, 5893
        // (13-19 digits); RuPay's 508; Mir 2200-2204 (16-19).
        b'5' => {
            ((51..=55).contains(&prefix(2)) && n == 16)
                || (matches!(prefix(4), 5018 | 5020 | 5038 | 5893) && n <= 19)
                || (prefix(3) == 508 && n == 16)
        }
        b'2' => {
            ((2221..=2720).contains(&prefix(4)) && n == 16)
                || ((2200..=2204).contains(&prefix(4)) && (16..=19).contains(&n))
        }
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
        // Discover 6011, 644-649, 65; UnionPay 62 (the largest network by cards issued,
        // 16-19 digits); RuPay 60; Maestro's 6304, 6759, 6761-6763 (13-19).
        b'6' => {
            ((prefix(4) == 6011
                || (644..=649).contains(&prefix(3))
                || matches!(prefix(2), 60 | 62 | 65))
                && (16..=19).contains(&n))
                || (matches!(prefix(4), 6304 | 6759 | 6761..=6763) && n <= 19)
        }
        // RuPay 81, 82.
        b'8' => matches!(prefix(2), 81 | 82) && n == 16,
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
            // UnionPay, 16 and 19 digits (in four groups of four and one of three);
            // RuPay; Mir; Maestro.
            "6250946000000016",
            "6210 9480 0000 0000 020",
            "8171999927660000",
            "2200000000000004",
            "6759649826438453",
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

    /// Luhn-valid numbers in a card issuer's range that are identity numbers written bare.
    #[test]
    fn identity_numbers_are_not_cards() {
        // A Chinese resident identity number in UnionPay's range; a Korean registration
        // number in Visa's (born 1942).
        for id in ["622197197704240330", "4207021899239"] {
            assert!(luhn::is_valid(digits_of(id).0[..id.len()].as_ref()), "{id}");
            assert!(!is_valid(id), "{id}");
        }
        // Cards of those lengths that are no identity number (a month 22, no province 30).
        for card in ["4222222222222", "300000000000000004"] {
            assert!(is_valid(card), "{card}");
        }
    }
}
