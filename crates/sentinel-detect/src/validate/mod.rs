//! Validators: checks that run on a candidate after the pattern matched, one file per
//! family. A validator turns a pattern's guess into a confident answer (a Luhn-valid card,
//! an IBAN whose mod-97 holds) or rejects it; it runs only on candidates, never on all text.

mod card;
pub(crate) mod iban;
pub(crate) mod ids;
pub(crate) mod luhn;
mod net;
pub(crate) mod secrets;

/// A named check applied to a candidate value. Custom recognizers refer to these by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Validator {
    /// Luhn (mod 10) over the digits.
    Luhn,
    /// Payment card: issuer prefix and length, separator layout, Luhn.
    CreditCard,
    /// IBAN: country length and ISO 7064 mod 97.
    Iban,
    /// US SSN area, group and serial rules.
    UsSsn,
    /// US ITIN ranges.
    UsItin,
    /// UK NHS number mod 11.
    UkNhs,
    /// US NPI Luhn with the 80840 prefix.
    UsNpi,
    /// Bitcoin base58check or bech32.
    Crypto,
    /// JWT header decodes to JSON with `alg`.
    Jwt,
    /// GitHub token CRC32 checksum (a failing checksum lowers the score).
    GithubChecksum,
    /// OpenAI key marker (its presence raises the score; Anthropic keys are refused).
    OpenAiKey,
    /// Entropy and placeholder check for `password=`-style values.
    Entropy,
    /// AWS secret access key shape and entropy.
    AwsSecret,
    /// IPv6 grammar.
    Ipv6,
    /// MAC address separator consistency.
    Mac,
    /// E-mail address structure.
    Email,
    /// Phone number digit count.
    Phone,
    /// A URI's password is not a placeholder (`user:password@`, `:${DB_PASS}@`, `:****@`).
    UrlCredentials,
    /// US DEA registration number check digit.
    UsDea,
    /// US Medicare Beneficiary Identifier: a bare one (no dashes) scores 0.15 lower.
    UsMbi,
    /// Polish PESEL: birth date and check digit.
    PlPesel,
    /// Indian Aadhaar: Verhoeff check digit.
    InAadhaar,
    /// French NIR: key mod 97.
    FrNir,
    /// Spanish DNI/NIF: check letter mod 23.
    EsNif,
    /// Spanish NIE: `X`/`Y`/`Z` and a check letter mod 23.
    EsNie,
    /// UK National Insurance number: HMRC's prefix rules and layout.
    UkNino,
    /// Italian codice fiscale: check letter.
    ItFiscalCode,
    /// Chinese resident identity card number: birth date and ISO 7064 MOD 11-2 check.
    CnResidentId,
    /// South Korean resident registration number: a real birth date; a check digit that
    /// fails (numbers issued since October 2020 have none) lowers the score by 0.25, a
    /// number written without its dash by 0.2 more.
    KrRrn,
    /// Japanese individual number (My Number): check digit.
    JpMyNumber,
}

impl Validator {
    /// The names custom recognizers may use, in the order of [`Validator::from_name`].
    pub const NAMES: &'static [&'static str] = &[
        "luhn",
        "credit_card",
        "iban",
        "us_ssn",
        "us_itin",
        "uk_nhs",
        "us_npi",
        "crypto",
        "jwt",
        "github_checksum",
        "openai_key",
        "entropy",
        "aws_secret",
        "ipv6",
        "mac",
        "email",
        "phone",
        "url_credentials",
        "us_dea",
        "us_mbi",
        "pl_pesel",
        "in_aadhaar",
        "fr_nir",
        "es_nif",
        "es_nie",
        "uk_nino",
        "it_fiscal_code",
        "cn_resident_id",
        "kr_rrn",
        "jp_my_number",
    ];

    const ALL: &'static [Validator] = &[
        Validator::Luhn,
        Validator::CreditCard,
        Validator::Iban,
        Validator::UsSsn,
        Validator::UsItin,
        Validator::UkNhs,
        Validator::UsNpi,
        Validator::Crypto,
        Validator::Jwt,
        Validator::GithubChecksum,
        Validator::OpenAiKey,
        Validator::Entropy,
        Validator::AwsSecret,
        Validator::Ipv6,
        Validator::Mac,
        Validator::Email,
        Validator::Phone,
        Validator::UrlCredentials,
        Validator::UsDea,
        Validator::UsMbi,
        Validator::PlPesel,
        Validator::InAadhaar,
        Validator::FrNir,
        Validator::EsNif,
        Validator::EsNie,
        Validator::UkNino,
        Validator::ItFiscalCode,
        Validator::CnResidentId,
        Validator::KrRrn,
        Validator::JpMyNumber,
    ];

    /// Looks a validator up by its name (`"luhn"`, `"iban"`, ...).
    pub fn from_name(name: &str) -> Option<Validator> {
        let i = Validator::NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))?;
        Some(Validator::ALL[i])
    }

    /// This validator's name.
    pub fn name(self) -> &'static str {
        let i = Validator::ALL.iter().position(|&v| v == self).unwrap_or(0);
        Validator::NAMES[i]
    }

    /// Judges a candidate: `None` rejects it, `Some(score)` accepts it with that score,
    /// given the recognizer's base score (kept to four decimals, as a context word's
    /// boost is).
    pub fn check(self, value: &str, base: f32) -> Option<f32> {
        self.judge(value, base).map(crate::finding::four_decimals)
    }

    fn judge(self, value: &str, base: f32) -> Option<f32> {
        let keep = |ok: bool| ok.then_some(base);
        match self {
            Validator::Luhn => keep(luhn::is_valid(value.as_bytes())),
            Validator::CreditCard => keep(card::is_valid(value)),
            Validator::Iban => keep(iban::is_valid(value)),
            // A bare nine-digit number is as likely an order number: weak until context.
            Validator::UsSsn => ids::is_valid_ssn(value).then(|| bare_penalty(value, base, 0.45)),
            Validator::UsItin => ids::is_valid_itin(value).then(|| bare_penalty(value, base, 0.45)),
            // Ten bare digits pass mod 11 one time in eleven (timestamps do): weaker.
            Validator::UkNhs => ids::is_valid_nhs(value).then(|| bare_penalty(value, base, 0.1)),
            Validator::UsNpi => keep(ids::is_valid_npi(value)),
            Validator::Crypto => keep(secrets::crypto_ok(value)),
            Validator::Jwt => keep(secrets::jwt_header_ok(value)),
            Validator::GithubChecksum => match secrets::github_checksum(value) {
                Some(true) => Some(1.0),
                Some(false) => Some(base - 0.25),
                None => Some(base),
            },
            Validator::OpenAiKey => match secrets::openai_marker(value) {
                Some(true) => Some(1.0),
                Some(false) => Some(base),
                None => None,
            },
            Validator::Entropy => secrets::generic_secret_score(value, base),
            Validator::AwsSecret => keep(secrets::aws_secret_ok(value)),
            Validator::Ipv6 => keep(net::ipv6_ok(value)),
            Validator::Mac => keep(net::mac_ok(value)),
            Validator::Email => keep(net::email_ok(value)),
            Validator::Phone => net::phone_ok(value).then(|| bare_penalty(value, base, 0.2)),
            Validator::UrlCredentials => keep(secrets::url_password_ok(value)),
            Validator::UsDea => keep(ids::is_valid_dea(value)),
            Validator::UsMbi => Some(ids::mbi_score(value, base)),
            Validator::PlPesel => keep(ids::is_valid_pesel(value)),
            Validator::InAadhaar => keep(ids::is_valid_aadhaar(value)),
            Validator::FrNir => keep(ids::is_valid_nir(value)),
            Validator::EsNif => keep(ids::is_valid_es_nif(value)),
            Validator::EsNie => keep(ids::is_valid_es_nie(value)),
            Validator::UkNino => keep(ids::is_valid_uk_nino(value)),
            Validator::ItFiscalCode => keep(ids::is_valid_it_fiscal_code(value)),
            Validator::CnResidentId => keep(ids::is_valid_cn_resident_id(value)),
            Validator::KrRrn => {
                let checked = match ids::kr_rrn(value) {
                    ids::KrRrn::Not => return None,
                    ids::KrRrn::Checked => base,
                    ids::KrRrn::Unchecked => base - 0.25,
                };
                Some(bare_penalty(value, checked, 0.2))
            }
            Validator::JpMyNumber => keep(ids::is_valid_jp_my_number(value)),
        }
    }
}

/// The lengths of the digit groups of `value` (digits split by one kind of separator), or
/// `None` when it mixes separator kinds or has more than 24 groups.
pub(crate) struct Layout {
    groups: [usize; 24],
    len: usize,
}

impl Layout {
    pub(crate) fn of(value: &str) -> Option<Layout> {
        let mut l = Layout {
            groups: [0; 24],
            len: 1,
        };
        let mut sep = None;
        for b in value.bytes() {
            if b.is_ascii_digit() {
                l.groups[l.len - 1] += 1;
            } else {
                if *sep.get_or_insert(b) != b || l.len == l.groups.len() {
                    return None;
                }
                l.len += 1;
            }
        }
        Some(l)
    }

    /// The group lengths.
    pub(crate) fn groups(&self) -> &[usize] {
        &self.groups[..self.len]
    }

    /// No separator, or one between every digit (the obfuscated form).
    pub(crate) fn is_plain_or_split(&self) -> bool {
        self.len == 1 || self.groups().iter().all(|&g| g == 1)
    }
}

/// `base` for a value written with separators or a leading `+`, `base - penalty` for a
/// bare run of digits.
fn bare_penalty(value: &str, base: f32, penalty: f32) -> f32 {
    if ids::has_separators(value) {
        base
    } else {
        (base - penalty).max(0.0)
    }
}

/// The ASCII digits of `value` (at most 32), and how many there are.
pub(crate) fn digits_of(value: &str) -> ([u8; 32], usize) {
    let mut out = [b'0'; 32];
    let mut n = 0;
    for b in value.bytes().filter(u8::is_ascii_digit) {
        if n == out.len() {
            break;
        }
        out[n] = b;
        n += 1;
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &v in Validator::ALL {
            assert_eq!(Validator::from_name(v.name()), Some(v));
        }
        assert_eq!(Validator::NAMES.len(), Validator::ALL.len());
        assert_eq!(Validator::from_name("nope"), None);
    }
}
