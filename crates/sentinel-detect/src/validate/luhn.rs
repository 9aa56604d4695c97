//! The Luhn (mod 10) check used by card numbers and NPIs.

/// The Luhn sum of the ASCII digits of `digits` (others skipped), doubling every second
/// digit from the right, starting with the rightmost when `double_last` is set; and how
/// many digits there were.
fn sum(digits: &[u8], double_last: bool) -> (u32, usize) {
    let mut total = 0u32;
    let mut double = double_last;
    let mut n = 0;
    for &b in digits.iter().rev().filter(|b| b.is_ascii_digit()) {
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        total += d;
        double = !double;
        n += 1;
    }
    (total, n)
}

/// Whether the ASCII digits in `digits` pass the Luhn check. Non-digits are skipped, so
/// separators may be left in; a value with no digit fails.
pub(crate) fn is_valid(digits: &[u8]) -> bool {
    let (total, n) = sum(digits, false);
    n > 0 && total % 10 == 0
}

/// The check digit that makes `payload` followed by it pass the Luhn check.
pub(crate) fn check_digit(payload: &[u8]) -> u8 {
    // The check digit will be appended, so the last payload digit is doubled.
    let (total, _) = sum(payload, true);
    // The value is below 10, so it fits a u8.
    b'0' + u8::try_from((10 - total % 10) % 10).unwrap_or(0)
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
