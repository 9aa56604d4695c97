//! Network identifiers: IPv6 addresses, MAC addresses, e-mail addresses, phone numbers.

use super::digits_of;

/// Whether `value` parses as an IPv6 address (standard library grammar: full, compressed,
/// and IPv4-embedded forms) and is not a bare `::`.
pub(crate) fn ipv6_ok(value: &str) -> bool {
    value != "::" && value.parse::<std::net::Ipv6Addr>().is_ok()
}

/// A MAC address uses one kind of separator throughout.
pub(crate) fn mac_ok(value: &str) -> bool {
    let mut seps = value.bytes().filter(|b| !b.is_ascii_hexdigit());
    match seps.next() {
        Some(first) => seps.all(|b| b == first),
        None => false,
    }
}

/// An e-mail address has no empty, leading or trailing dot in its local part and domain
/// labels that neither start nor end with a dash.
pub(crate) fn email_ok(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
}

/// The most digits a national number has after these country codes (ITU-T E.164
/// national significant numbers; countries whose plans allow longer ones, such as
/// Germany's, are not listed).
const NATIONAL_MAX: &[(u32, usize)] = &[
    (1, 10),
    (7, 10),
    (27, 9),
    (31, 9),
    (32, 9),
    (33, 9),
    (34, 9),
    (44, 10),
    (48, 9),
    (55, 11),
    (61, 9),
    (65, 8),
    (81, 10),
    (82, 10),
    (86, 11),
    (90, 10),
    (91, 10),
];

/// A phone number written with a leading `+` has 8 to 15 digits (E.164); national forms
/// 9 to 12.
pub(crate) fn phone_ok(value: &str) -> bool {
    let (_, n) = digits_of(value);
    let parens_balanced = value.bytes().filter(|&b| b == b'(').count()
        == value.bytes().filter(|&b| b == b')').count();
    parens_balanced
        && if let Some(rest) = value.strip_prefix('+') {
            // Written whole (`+34812375046`), a number is not followed by more groups: a
            // group after it is the next number (`+34812375046 806 ms`), and a shorter
            // match without it is tried instead.
            let run = rest.bytes().take_while(u8::is_ascii_digit).count();
            (8..=15).contains(&n) && (run < 8 || run == rest.len()) && national_fits(rest, run, n)
        } else {
            (9..=12).contains(&n)
        }
}

/// Whether a number written in groups after its country code (`+61 93 099 5894`) has no
/// more national digits than that country's numbers have: a group past them is a count or
/// a time after the number (`+61 93 099 5894 1579 ms`), and a shorter match is tried. A
/// trunk `(0)` written after the code (`+44 (0)20 7946 0958`) is not counted.
fn national_fits(rest: &str, run: usize, digits: usize) -> bool {
    if run == rest.len() || run > 3 {
        return true;
    }
    let code = rest[..run].parse::<u32>().unwrap_or(0);
    let trunk = usize::from(rest[run..].trim_start().starts_with("(0)"));
    NATIONAL_MAX
        .iter()
        .find(|&&(c, _)| c == code)
        .is_none_or(|&(_, max)| digits - run - trunk <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_ids() {
        assert!(ipv6_ok("2001:db8::8a2e:370:7334"));
        assert!(ipv6_ok("::1"));
        assert!(ipv6_ok("::ffff:192.0.2.128"));
        assert!(!ipv6_ok("10:30:00"));
        assert!(!ipv6_ok("::"));
        assert!(mac_ok("00:1A:2B:3C:4D:5E"));
        assert!(!mac_ok("00:1A-2B:3C:4D:5E"));
        assert!(email_ok("jane.doe@example.co.uk"));
        assert!(!email_ok("jane..doe@example.com"));
        assert!(!email_ok("jane@-example.com"));
        assert!(phone_ok("+44 20 7946 0958"));
        assert!(!phone_ok("+4420"));
        assert!(phone_ok("+4915123456789"));
        assert!(
            !phone_ok("+34812375046 806"),
            "a number written whole, then a count"
        );
    }
}
