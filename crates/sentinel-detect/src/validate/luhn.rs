//! The Luhn (mod 10) check used by card numbers and NPIs.

/// Whether the ASCII digits in `digits` pass the Luhn check. Non-digits are skipped, so
/// separators may be left in; a value with no digit fails.
pub(crate) fn is_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    let mut seen = false;
    for &b in digits.iter().rev() {
        if !b.is_ascii_digit() {
            continue;
        }
        seen = true;
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    seen && sum % 10 == 0
}

/// The check digit that makes `payload` followed by it pass the Luhn check.
pub(crate) fn check_digit(payload: &[u8]) -> u8 {
    let mut sum = 0u32;
    // The check digit will be appended, so the last payload digit is doubled.
    let mut double = true;
    for &b in payload.iter().rev() {
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    // `sum % 10` is below 10, so the digit fits a u8.
    b'0' + u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        assert!(is_valid(b"4111111111111111"));
        assert!(is_valid(b"4111 1111-1111 1111"));
        assert!(!is_valid(b"4111111111111112"));
        assert!(!is_valid(b""));
        assert_eq!(check_digit(b"411111111111111"), b'1');
        assert_eq!(check_digit(b"7992739871"), b'3');
    }
}
