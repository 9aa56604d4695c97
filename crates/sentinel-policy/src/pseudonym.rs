//! Pseudonyms: same-format surrogates and tokens, derived from a per-tenant key.
//!
//! Two kinds of replacement exist:
//!
//! - **Derived** surrogates keep a value's format and pass its validator: a card number
//!   keeps its issuer prefix (the first six digits), gets its middle digits enciphered
//!   with FF1 (NIST SP 800-38G, format-preserving encryption over decimal digits) and a
//!   fresh Luhn digit; an IBAN keeps its country and letters, gets its BBAN digits
//!   enciphered and fresh mod-97 check digits; an SSN is enciphered whole, walking the
//!   cipher until the result obeys the SSN rules; a phone number keeps all but its last
//!   seven digits; a Korean registration number keeps its seventh digit and gets its
//!   birth date (a day of the century, walked until it is one) and serial enciphered; a
//!   Japanese individual number gets eleven digits enciphered and a fresh check digit; a
//!   Chinese identity number keeps its province and gets the rest of its region, its
//!   birth date and its sequence enciphered.
//!   The original comes back by deciphering with the same tenant key, so no mapping to
//!   the value needs to be stored.
//! - **Stored** pseudonyms (e-mail surrogates such as `user-k7m2q9x4@example.com`, and
//!   tokens such as `[EMAIL_ADDRESS_k7m2q9x4]` for every other type) carry an id that is an
//!   HMAC of the value under the tenant key, so the same value always gets the same
//!   pseudonym; the way back needs the vault.

use hmac::{Hmac, Mac};
use sentinel_detect::checksum;
use sha2::Sha256;

use crate::ff1::DecimalFf1;
use crate::model::PseudonymStyle as Style;

/// The formats with a derived surrogate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Format {
    /// Payment card: issuer prefix kept, Luhn-valid.
    Card,
    /// IBAN: country and letters kept, mod-97 valid.
    Iban,
    /// US SSN: area, group and serial rules kept.
    Ssn,
    /// Phone: all but the last seven digits kept.
    Phone,
    /// Korean resident registration number: the seventh digit (sex and century) kept, the
    /// birth date and serial enciphered (a real date in that century), the check digit
    /// fresh when the original's held, and not holding when it did not.
    KrRrn,
    /// Japanese individual number: eleven digits enciphered, a fresh check digit.
    MyNumber,
    /// Chinese resident identity number: the province kept; the rest of the region, the
    /// birth date (a real one from 1900 to 2099) and the sequence enciphered; a fresh
    /// check character.
    CnResidentId,
}

/// A pseudonym for one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pseudonym {
    /// A same-format surrogate the tenant key deciphers.
    Derived(Format, String),
    /// A surrogate or token whose way back is stored in the vault.
    Stored(String),
}

impl Pseudonym {
    /// The text that replaces the value.
    pub(crate) fn text(&self) -> &str {
        match self {
            Pseudonym::Derived(_, s) | Pseudonym::Stored(s) => s,
        }
    }
}

/// The alphabet of ids: Crockford's base 32, lowercase (no i, l, o, u to misread).
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters in an id.
pub(crate) const ID_LEN: usize = 8;

/// How many times the cipher is walked to land in the value's class before giving up (the
/// classes used hold most of the domain, so a walk ends after one or two steps).
const MAX_WALK: usize = 64;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    #[allow(clippy::expect_used)] // reason: HMAC takes keys of any length
    let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

/// One tenant's keys: an HMAC key for ids and an FF1 cipher over decimal digits, both
/// derived from the deployment's key and the tenant name.
pub(crate) struct TenantKey {
    id_key: [u8; 32],
    /// FF1 over decimal digits.
    ff1: DecimalFf1,
}

impl std::fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenantKey(..)")
    }
}

impl TenantKey {
    /// Derives `tenant`'s keys from the deployment key `master`.
    pub(crate) fn derive(master: &[u8], tenant: &str) -> TenantKey {
        let root = hmac(master, &[b"deepsentinel pseudonym v1", tenant.as_bytes()]);
        let id_key = hmac(&root, &[b"id"]);
        let enc_key = hmac(&root, &[b"ff1 radix 10"]);
        TenantKey {
            id_key,
            ff1: DecimalFf1::new(&enc_key),
        }
    }

    /// The id of `value` as `entity`: 40 bits of HMAC in base 32. `attempt` picks another
    /// id when one collides inside a vault scope.
    pub(crate) fn id(&self, entity: &str, value: &str, attempt: u8) -> String {
        let mac = hmac(
            &self.id_key,
            &[entity.as_bytes(), value.as_bytes(), &[attempt]],
        );
        let bits = mac[..5]
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        (0..ID_LEN)
            .rev()
            .map(|i| char::from(ID_ALPHABET[usize::try_from(bits >> (5 * i) & 31).unwrap_or(0)]))
            .collect()
    }

    /// The pseudonym of `value`, found as `entity`, in the asked style.
    pub(crate) fn pseudonymize(&self, entity: &str, value: &str, style: Style) -> Pseudonym {
        if style == Style::Surrogate {
            let derived = match entity {
                "CREDIT_CARD" => self.card(value, true).map(|s| (Format::Card, s)),
                "IBAN_CODE" => self.iban(value, true).map(|s| (Format::Iban, s)),
                "US_SSN" => self.ssn(value, true).map(|s| (Format::Ssn, s)),
                "PHONE_NUMBER" => self.phone(value, true).map(|s| (Format::Phone, s)),
                "KR_RRN" => self.kr_rrn(value, true).map(|s| (Format::KrRrn, s)),
                "JP_MY_NUMBER" => self.my_number(value, true).map(|s| (Format::MyNumber, s)),
                "CN_RESIDENT_ID" => self
                    .cn_resident_id(value, true)
                    .map(|s| (Format::CnResidentId, s)),
                _ => None,
            };
            if let Some((format, s)) = derived {
                return Pseudonym::Derived(format, s);
            }
            if entity == "EMAIL_ADDRESS" && value.contains('@') {
                return Pseudonym::Stored(email_surrogate(&self.id(entity, value, 0)));
            }
        }
        Pseudonym::Stored(token(entity, &self.id(entity, value, 0)))
    }

    /// The pseudonym for `value` after `attempt` collisions in a scope.
    pub(crate) fn retry(&self, entity: &str, value: &str, style: Style, attempt: u8) -> String {
        let id = self.id(entity, value, attempt);
        if style == Style::Surrogate && entity == "EMAIL_ADDRESS" && value.contains('@') {
            email_surrogate(&id)
        } else {
            token(entity, &id)
        }
    }

    /// Deciphers a derived surrogate as it appears in a text (the model may have changed
    /// its separators): the original digits in the surrogate's layout.
    pub(crate) fn reveal(&self, format: Format, surrogate: &str) -> Option<String> {
        match format {
            Format::Card => self.card(surrogate, false),
            Format::Iban => self.iban(surrogate, false),
            Format::Ssn => self.ssn(surrogate, false),
            Format::Phone => self.phone(surrogate, false),
            Format::KrRrn => self.kr_rrn(surrogate, false),
            Format::MyNumber => self.my_number(surrogate, false),
            Format::CnResidentId => self.cn_resident_id(surrogate, false),
        }
    }

    /// Enciphers (or deciphers) `digits` (values 0..=9) under `tweak`, walking the cipher
    /// until the result is in the same class as the input, which keeps the map a bijection
    /// on each class.
    /// `None` for fewer than 6 or more than 38 digits (no format here has either: the
    /// value then gets a token instead).
    fn walk(
        &self,
        tweak: &[u8],
        digits: &[u8],
        forward: bool,
        class: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        let want = class(digits);
        let mut x: Vec<u8> = digits.to_vec();
        for _ in 0..MAX_WALK {
            x = if forward {
                self.ff1.encrypt(tweak, &x)
            } else {
                self.ff1.decrypt(tweak, &x)
            }?;
            if class(&x) == want {
                return Some(x);
            }
        }
        None
    }

    fn card(&self, value: &str, forward: bool) -> Option<String> {
        let mut v = Layout::new(value);
        let d = v.digit_values();
        let n = d.len();
        if !(13..=19).contains(&n) || !checksum::luhn_is_valid(value.as_bytes()) {
            return None;
        }
        let mut tweak = b"CREDIT_CARD".to_vec();
        tweak.extend_from_slice(&d[..6]);
        let middle = self.walk(&tweak, &d[6..n - 1], forward, |_| true)?;
        let mut out: Vec<u8> = d[..6].iter().chain(&middle).map(|x| b'0' + x).collect();
        out.push(checksum::luhn_check_digit(&out));
        v.set_digits(&out);
        Some(v.into_string())
    }

    fn iban(&self, value: &str, forward: bool) -> Option<String> {
        let mut v = Layout::new(value);
        let compact: Vec<u8> = v.alnum().iter().map(u8::to_ascii_uppercase).collect();
        if compact.len() < 15 || !compact[..2].iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let (country, bban) = (&compact[..2], &compact[4..]);
        if checksum::iban_check_digits(country, bban)? != [compact[2], compact[3]] {
            return None;
        }
        let digits: Vec<u8> = bban
            .iter()
            .filter(|b| b.is_ascii_digit())
            .map(|b| b - b'0')
            .collect();
        if digits.len() < 6 {
            return None;
        }
        let mut tweak = b"IBAN_CODE".to_vec();
        tweak.extend_from_slice(country);
        let enciphered = self.walk(&tweak, &digits, forward, |_| true)?;
        let mut next = enciphered.iter();
        let new_bban: Vec<u8> = bban
            .iter()
            .map(|&b| {
                if b.is_ascii_digit() {
                    next.next().map_or(b, |d| b'0' + d)
                } else {
                    b
                }
            })
            .collect();
        let check = checksum::iban_check_digits(country, &new_bban)?;
        let mut all = country.to_vec();
        all.extend_from_slice(&check);
        all.extend_from_slice(&new_bban);
        v.set_alnum(&all);
        Some(v.into_string())
    }

    fn ssn(&self, value: &str, forward: bool) -> Option<String> {
        let mut v = Layout::new(value);
        let d = v.digit_values();
        if d.len() != 9 || !ssn_rules(&d) {
            return None;
        }
        let x = self.walk(b"US_SSN", &d, forward, ssn_rules)?;
        v.set_digits(&ascii(&x));
        Some(v.into_string())
    }

    fn phone(&self, value: &str, forward: bool) -> Option<String> {
        let mut v = Layout::new(value);
        let d = v.digit_values();
        let n = d.len();
        if !(8..=15).contains(&n) {
            return None;
        }
        let keep = n - 7;
        let mut tweak = b"PHONE_NUMBER".to_vec();
        tweak.extend_from_slice(&d[..keep]);
        // Exchange codes start with 2-9 in most numbering plans: keep that property.
        let tail = self.walk(&tweak, &d[keep..], forward, |t| t[0] >= 2)?;
        let out: Vec<u8> = d[..keep].iter().chain(&tail).map(|x| b'0' + x).collect();
        v.set_digits(&out);
        Some(v.into_string())
    }

    fn kr_rrn(&self, value: &str, forward: bool) -> Option<String> {
        let mut v = Layout::new(value);
        let d = v.digit_values();
        if d.len() != 13 {
            return None;
        }
        let century = match d[6] {
            1 | 2 | 5 | 6 => 1900,
            3 | 4 | 7 | 8 => 2000,
            _ => return None,
        };
        let days = Days::of_years(century, century + 100);
        let index = days.index(
            century + number(&d[0..2]),
            number(&d[2..4]),
            number(&d[4..6]),
        )?;
        let checked =
            |all: &[u8]| checksum::kr_rrn_check_digit(&ascii(&all[..12])) == Some(b'0' + all[12]);
        // Enciphered: the birth date as a day of the century (five digits), the serial,
        // and the check digit too when it does not hold (it is then no function of the
        // rest). Whether it holds is kept, so a surrogate tells how to decipher it.
        let holds = checked(&d);
        let compose = |x: &[u8]| -> Option<Vec<u8>> {
            let (y, m, day) = days.date(number(&x[..5]))?;
            let mut out = digit_values(&format!("{:02}{m:02}{day:02}", y % 100));
            out.push(d[6]);
            out.extend_from_slice(&x[5..10]);
            let check = match holds {
                true => checksum::kr_rrn_check_digit(&ascii(&out))? - b'0',
                false => x[10],
            };
            out.push(check);
            Some(out)
        };
        let mut x = digit_values(&format!("{index:05}"));
        x.extend_from_slice(&d[7..12]);
        if !holds {
            x.push(d[12]);
        }
        let tweak = [b"KR_RRN".as_slice(), &[d[6], u8::from(holds)]].concat();
        let y = self.walk(&tweak, &x, forward, |x| {
            compose(x).is_some_and(|o| checked(&o) == holds)
        })?;
        v.set_digits(&ascii(&compose(&y)?));
        Some(v.into_string())
    }

    fn my_number(&self, value: &str, forward: bool) -> Option<String> {
        let mut v = Layout::new(value);
        let d = v.digit_values();
        if d.len() != 12 || checksum::jp_my_number_check_digit(&ascii(&d[..11]))? != b'0' + d[11] {
            return None;
        }
        let x = self.walk(b"JP_MY_NUMBER", &d[..11], forward, |_| true)?;
        let mut out = ascii(&x);
        out.push(checksum::jp_my_number_check_digit(&out)?);
        v.set_digits(&out);
        Some(v.into_string())
    }

    fn cn_resident_id(&self, value: &str, forward: bool) -> Option<String> {
        let mut v = Layout::new(value);
        let c: Vec<u8> = v.alnum().iter().map(u8::to_ascii_uppercase).collect();
        if c.len() != 18
            || !c[..17].iter().all(u8::is_ascii_digit)
            || checksum::cn_resident_id_check(&c[..17])? != c[17]
        {
            return None;
        }
        let d: Vec<u8> = c[..17].iter().map(|b| b - b'0').collect();
        let days = Days::of_years(1900, 2100);
        let index = days.index(number(&d[6..10]), number(&d[10..12]), number(&d[12..14]))?;
        // Enciphered: the region after the province, the birth date as a day from 1900
        // (five digits), the sequence.
        let mut x: Vec<u8> = d[2..6].to_vec();
        x.extend(digit_values(&format!("{index:05}")));
        x.extend_from_slice(&d[14..17]);
        let tweak = [b"CN_RESIDENT_ID".as_slice(), &d[..2]].concat();
        let y = self.walk(&tweak, &x, forward, |x| {
            days.date(number(&x[4..9])).is_some()
        })?;
        let (year, month, day) = days.date(number(&y[4..9]))?;
        let mut out = ascii(&d[..2]);
        out.extend(ascii(&y[..4]));
        out.extend(format!("{year:04}{month:02}{day:02}").bytes());
        out.extend(ascii(&y[9..12]));
        out.push(checksum::cn_resident_id_check(&out)?);
        v.set_alnum(&out);
        Some(v.into_string())
    }
}

/// The ASCII digits of digit values (0-9).
fn ascii(values: &[u8]) -> Vec<u8> {
    values.iter().map(|d| b'0' + d).collect()
}

/// The digit values (0-9) of the ASCII digits of `s`.
fn digit_values(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The number digit values (0-9) spell.
fn number(values: &[u8]) -> i64 {
    values.iter().fold(0, |n, &x| n * 10 + i64::from(x))
}

/// The days of a range of whole years, numbered from 0: a birth date is enciphered as its
/// number (five digits, walked until it is one of the range's) and read back as a date.
struct Days {
    start: i64,
    len: i64,
}

impl Days {
    /// From 1 January of `first` to the end of the year before `end`.
    fn of_years(first: i64, end: i64) -> Days {
        let start = day_number(first, 1, 1);
        Days {
            start,
            len: day_number(end, 1, 1) - start,
        }
    }

    /// The number of a real date within the range (a date that does not exist, 30
    /// February or month 13, does not come back from [`civil`] as it went in).
    fn index(&self, year: i64, month: i64, day: i64) -> Option<i64> {
        let i = day_number(year, month, day) - self.start;
        ((0..self.len).contains(&i) && civil(self.start + i) == (year, month, day)).then_some(i)
    }

    /// The date of a number within the range.
    fn date(&self, index: i64) -> Option<(i64, i64, i64)> {
        (0..self.len)
            .contains(&index)
            .then(|| civil(self.start + index))
    }
}

/// The day number of a date of the proleptic Gregorian calendar (days since 1 January
/// 1970; Howard Hinnant's `days_from_civil`).
fn day_number(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// The date of a day number ([`day_number`]'s inverse).
fn civil(n: i64) -> (i64, i64, i64) {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The SSN rules: area not 000, 666 or 9xx, group not 00, serial not 0000, not all one
/// digit, not one of the numbers published as examples.
fn ssn_rules(d: &[u8]) -> bool {
    let area = u16::from(d[0]) * 100 + u16::from(d[1]) * 10 + u16::from(d[2]);
    area != 0
        && area != 666
        && area < 900
        && d[3..5] != [0, 0]
        && d[5..9] != [0, 0, 0, 0]
        && !d.iter().all(|&x| x == d[0])
        && d != [1, 2, 3, 4, 5, 6, 7, 8, 9]
        && d != [0, 7, 8, 0, 5, 1, 1, 2, 0]
}

/// `[ENTITY_id]`.
pub(crate) fn token(entity: &str, id: &str) -> String {
    format!("[{entity}_{id}]")
}

/// `user-id@example.com`: still an e-mail address, in a domain reserved for examples.
fn email_surrogate(id: &str) -> String {
    format!("user-{id}@example.com")
}

/// Whether `s` has the form [`email_surrogate`] gives.
pub(crate) fn is_email_surrogate(s: &str) -> bool {
    s.strip_prefix("user-")
        .and_then(|rest| rest.strip_suffix("@example.com"))
        .is_some_and(|id| id.len() == ID_LEN)
}

/// A value's bytes with the positions of its digits and letters, so enciphered characters
/// go back where the originals were and separators stay.
struct Layout {
    bytes: Vec<u8>,
}

impl Layout {
    fn new(value: &str) -> Layout {
        Layout {
            bytes: value.as_bytes().to_vec(),
        }
    }

    fn digit_values(&self) -> Vec<u8> {
        self.bytes
            .iter()
            .filter(|b| b.is_ascii_digit())
            .map(|b| b - b'0')
            .collect()
    }

    fn alnum(&self) -> Vec<u8> {
        self.bytes
            .iter()
            .copied()
            .filter(u8::is_ascii_alphanumeric)
            .collect()
    }

    /// Overwrites the digits, in order, with the ASCII digits of `digits`.
    fn set_digits(&mut self, digits: &[u8]) {
        let mut next = digits.iter();
        for b in self.bytes.iter_mut().filter(|b| b.is_ascii_digit()) {
            if let Some(&d) = next.next() {
                *b = d;
            }
        }
    }

    /// Overwrites the letters and digits, in order, keeping each letter's case.
    fn set_alnum(&mut self, chars: &[u8]) {
        let mut next = chars.iter();
        for b in self.bytes.iter_mut().filter(|b| b.is_ascii_alphanumeric()) {
            if let Some(&c) = next.next() {
                *b = if b.is_ascii_lowercase() {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
            }
        }
    }

    fn into_string(self) -> String {
        // Only ASCII letters and digits were replaced by ASCII letters and digits.
        String::from_utf8(self.bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_detect::Validator;

    fn key() -> TenantKey {
        TenantKey::derive(b"test master key", "acme")
    }

    fn derived(p: Pseudonym) -> (Format, String) {
        match p {
            Pseudonym::Derived(f, s) => (f, s),
            Pseudonym::Stored(s) => panic!("not derived: {s}"),
        }
    }

    #[test]
    fn card_surrogates_are_valid_cards_that_decipher() {
        let k = key();
        for card in [
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "378282246310005",
        ] {
            let (f, s) = derived(k.pseudonymize("CREDIT_CARD", card, Style::Surrogate));
            assert_ne!(s, card);
            assert_eq!(s.len(), card.len());
            assert_eq!(&s[..4], &card[..4], "issuer prefix kept");
            assert!(Validator::CreditCard.check(&s, 1.0).is_some(), "{s}");
            assert_eq!(k.reveal(f, &s).as_deref(), Some(card));
            // The model may drop the separators: the digits still come back.
            let plain: String = s.chars().filter(char::is_ascii_digit).collect();
            let back: String = card.chars().filter(char::is_ascii_digit).collect();
            assert_eq!(k.reveal(f, &plain), Some(back));
        }
    }

    #[test]
    fn iban_ssn_phone_surrogates_pass_their_validators() {
        let k = key();
        let iban = "GB82 WEST 1234 5698 7654 32";
        let (f, s) = derived(k.pseudonymize("IBAN_CODE", iban, Style::Surrogate));
        assert!(
            s.starts_with("GB") && s.contains("WEST") && s != iban,
            "{s}"
        );
        assert!(Validator::Iban.check(&s, 1.0).is_some(), "{s}");
        assert_eq!(k.reveal(f, &s).as_deref(), Some(iban));

        for ssn in ["536-22-1234", "123-45-6780", "899-99-9998"] {
            let (f, s) = derived(k.pseudonymize("US_SSN", ssn, Style::Surrogate));
            assert!(Validator::UsSsn.check(&s, 1.0).is_some(), "{s}");
            assert_eq!(k.reveal(f, &s).as_deref(), Some(ssn));
        }
        let phone = "+1 (415) 555-2671";
        let (f, s) = derived(k.pseudonymize("PHONE_NUMBER", phone, Style::Surrogate));
        assert!(s.starts_with("+1 (415) ") && s != phone, "{s}");
        assert_eq!(k.reveal(f, &s).as_deref(), Some(phone));
    }

    #[test]
    fn ids_are_stable_per_tenant_and_differ_across_tenants() {
        let (a, b) = (key(), TenantKey::derive(b"test master key", "globex"));
        let p = |k: &TenantKey| k.pseudonymize("EMAIL_ADDRESS", "jane@corp.com", Style::Surrogate);
        assert_eq!(p(&a), p(&a));
        assert_ne!(p(&a), p(&b));
        let Pseudonym::Stored(email) = p(&a) else {
            panic!("e-mail surrogates are stored")
        };
        assert!(Validator::Email.check(&email, 1.0).is_some(), "{email}");
        let t = a.pseudonymize("CREDIT_CARD", "4111 1111 1111 1111", Style::Token);
        assert!(
            matches!(&t, Pseudonym::Stored(s) if s.starts_with("[CREDIT_CARD_") && s.len() == 14 + ID_LEN)
        );
        // A value that fails its check gets a token, not a surrogate.
        let bad = a.pseudonymize("CREDIT_CARD", "4111 1111 1111 1112", Style::Surrogate);
        assert!(matches!(bad, Pseudonym::Stored(s) if s.starts_with("[CREDIT_CARD_")));
    }

    #[test]
    fn calendar_days_round_trip() {
        assert_eq!(day_number(1970, 1, 1), 0);
        assert_eq!(day_number(2000, 3, 1) - day_number(2000, 2, 28), 2);
        assert_eq!(day_number(1900, 3, 1) - day_number(1900, 2, 28), 1);
        for n in day_number(1800, 1, 1)..day_number(2101, 1, 1) {
            let (y, m, d) = civil(n);
            assert_eq!(day_number(y, m, d), n);
        }
    }

    /// Korean registration numbers, Japanese individual numbers and Chinese identity
    /// numbers keep their format and pass their validators; a Korean number whose check
    /// digit does not hold (issued since October 2020) gets a surrogate whose check does
    /// not hold either; all decipher, separators or not.
    #[test]
    fn east_asian_id_surrogates_pass_their_validators() {
        let k = key();
        let mut rng = sentinel_detect::testgen::Rng::new(3);
        let mut values: Vec<(&str, String)> = vec![
            ("KR_RRN", "900101-1234568".to_owned()),
            ("KR_RRN", "000229-3234567".to_owned()),
            ("KR_RRN", "200315-3123456".to_owned()),
            ("JP_MY_NUMBER", "1234 5678 9018".to_owned()),
        ];
        for _ in 0..300 {
            values.push(("KR_RRN", sentinel_detect::testgen::kr_rrn(&mut rng)));
            values.push((
                "JP_MY_NUMBER",
                sentinel_detect::testgen::jp_my_number(&mut rng),
            ));
        }
        for (entity, value) in &values {
            let (f, s) = derived(k.pseudonymize(entity, value, Style::Surrogate));
            assert_ne!(&s, value);
            assert_eq!(s.len(), value.len(), "{s}");
            let validator = match *entity {
                "KR_RRN" => Validator::KrRrn,
                _ => Validator::JpMyNumber,
            };
            let (score, was) = (validator.check(&s, 0.85), validator.check(value, 0.85));
            assert!(score.is_some(), "{value} -> {s}");
            assert_eq!(score, was, "{value} -> {s}: checked alike");
            if *entity == "KR_RRN" {
                let seventh = |t: &str| t.chars().filter(char::is_ascii_digit).nth(6);
                assert_eq!(seventh(&s), seventh(value), "sex and century kept");
            }
            assert_eq!(k.reveal(f, &s).as_deref(), Some(value.as_str()));
            let plain: String = s.chars().filter(char::is_ascii_digit).collect();
            let back: String = value.chars().filter(char::is_ascii_digit).collect();
            assert_eq!(k.reveal(f, &plain), Some(back));
        }
        for id in [
            "11010519491231002X",
            "440308199901010012",
            "650215195007175137",
        ] {
            let (f, s) = derived(k.pseudonymize("CN_RESIDENT_ID", id, Style::Surrogate));
            assert_ne!(s, id);
            assert_eq!(&s[..2], &id[..2], "province kept");
            assert!(
                Validator::CnResidentId.check(&s, 1.0).is_some(),
                "{id} -> {s}"
            );
            assert_eq!(k.reveal(f, &s).as_deref(), Some(id));
        }
        for _ in 0..300 {
            let id = sentinel_detect::testgen::cn_resident_id(&mut rng);
            let (f, s) = derived(k.pseudonymize("CN_RESIDENT_ID", &id, Style::Surrogate));
            assert!(
                Validator::CnResidentId.check(&s, 1.0).is_some(),
                "{id} -> {s}"
            );
            assert_eq!(k.reveal(f, &s), Some(id));
        }
        // Not a real birth date, or a check digit that fails: a token.
        let bad = k.pseudonymize("KR_RRN", "000229-1234567", Style::Surrogate);
        assert!(matches!(bad, Pseudonym::Stored(_)));
        let bad = k.pseudonymize("JP_MY_NUMBER", "123456789019", Style::Surrogate);
        assert!(matches!(bad, Pseudonym::Stored(_)));
        let bad = k.pseudonymize("CN_RESIDENT_ID", "110105194912310021", Style::Surrogate);
        assert!(matches!(bad, Pseudonym::Stored(_)));
    }
}
