//! Deterministic generators of valid and near-valid values, for tests, the labelled corpus
//! and benchmarks. Every generator takes the caller's `Rng`, so a seed fixes the output
//! on every machine and every release (the generator is SplitMix64, written here because
//! `rand`'s seeded generators do not promise a stable stream across versions).

use crate::validate::{iban, ids, luhn, secrets};

/// SplitMix64: small, fast, and the same stream for the same seed forever.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// `n` characters drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| char::from(*self.pick(alphabet))).collect()
    }

    /// `n` decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        self.string(b"0123456789", n)
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";
/// Letters, digits, `_` and `-`: URL-safe base64, as many tokens are written.
const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Groups `digits` with `sep` after every group of the given sizes.
pub fn group(digits: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (i, &n) in sizes.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&digits[at..(at + n).min(digits.len())]);
        at += n;
    }
    out
}

/// A Luhn-valid card number of a real issuer range, with its usual grouping.
pub fn card(rng: &mut Rng) -> String {
    let (prefix, len): (String, usize) = match rng.below(7) {
        0 => ("4".into(), 16),
        1 => (format!("5{}", rng.range(1, 5)), 16),
        2 => (format!("{}", rng.range(2221, 2720)), 16),
        3 => (format!("3{}", rng.pick(&[4, 7])), 15),
        4 => ("6011".into(), 16),
        5 => ("62".into(), *rng.pick(&[16, 19])),
        _ => (format!("{}", rng.range(3528, 3589)), 16),
    };
    let body = format!("{prefix}{}", rng.digits(len - 1 - prefix.len()));
    let check = char::from(luhn::check_digit(body.as_bytes()));
    let number = format!("{body}{check}");
    let sep = *rng.pick(&["", " ", "-"]);
    if sep.is_empty() {
        number
    } else if len == 15 {
        group(&number, &[4, 6, 5], sep)
    } else if len == 19 {
        group(&number, &[4, 4, 4, 4, 3], sep)
    } else {
        group(&number, &[4, 4, 4, 4], sep)
    }
}

/// A 16-digit number with a Visa prefix that fails the Luhn check.
pub fn card_bad_luhn(rng: &mut Rng) -> String {
    let body = format!("4{}", rng.digits(14));
    let check = luhn::check_digit(body.as_bytes());
    let wrong = b'0' + ((check - b'0' + 1 + rng.below(8) as u8) % 10);
    format!("{body}{}", char::from(wrong))
}

/// A valid SSN, written `AAA-GG-SSSS`.
pub fn ssn(rng: &mut Rng) -> String {
    loop {
        let s = format!(
            "{:03}-{:02}-{:04}",
            rng.range(1, 899),
            rng.range(1, 99),
            rng.range(1, 9999)
        );
        if ids::is_valid_ssn(&s) {
            return s;
        }
    }
}

/// An SSN-shaped number with a never-issued area (000, 666, 9xx) that is no ITIN either.
pub fn ssn_bad_area(rng: &mut Rng) -> String {
    let nines = 900 + rng.below(100);
    let area = *rng.pick(&[0, 666, nines]);
    // A 9xx area with an ITIN group would be a valid ITIN: keep the group outside them.
    let group = if area >= 900 {
        *rng.pick(&[1, 12, 23, 34, 45, 49, 66, 69, 89, 93])
    } else {
        rng.range(1, 99)
    };
    format!("{area:03}-{group:02}-{:04}", rng.range(1, 9999))
}

/// A valid ITIN.
pub fn itin(rng: &mut Rng) -> String {
    let group = *rng.pick(&[50, 57, 65, 70, 78, 88, 90, 92, 94, 99]);
    format!("9{:02}-{group}-{:04}", rng.below(100), rng.range(1, 9999))
}

/// A valid IBAN for a random registered country, compact or in groups of four.
pub fn iban(rng: &mut Rng) -> String {
    let countries: Vec<_> = iban::countries().collect();
    let (cc, len) = *rng.pick(&countries);
    let bban = rng.digits(len - 4);
    let mut compact = format!("{}{}00{bban}", char::from(cc[0]), char::from(cc[1])).into_bytes();
    let check = 98 - iban::mod97(&compact);
    compact[2] = b'0' + (check / 10) as u8;
    compact[3] = b'0' + (check % 10) as u8;
    let s = String::from_utf8(compact).unwrap_or_default();
    if rng.chance(0.5) {
        s.as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        s
    }
}

/// A valid UK NHS number, `NNN NNN NNNN`.
pub fn nhs(rng: &mut Rng) -> String {
    loop {
        let nine = rng.digits(9);
        if let Some(c) = ids::nhs_check_digit(nine.as_bytes()) {
            return group(&format!("{nine}{c}"), &[3, 3, 4], " ");
        }
    }
}

/// A valid US NPI.
pub fn npi(rng: &mut Rng) -> String {
    let nine = format!("{}{}", rng.range(1, 2), rng.digits(8));
    let check = luhn::check_digit(format!("80840{nine}").as_bytes());
    format!("{nine}{}", char::from(check))
}

/// `payload` followed by the check digit(s) that make `valid` accept it (tried in turn).
fn with_check(payload: String, digits: usize, valid: fn(&str) -> bool) -> String {
    (0..10usize.pow(digits as u32))
        .map(|c| format!("{payload}{c:0digits$}"))
        .find(|v| valid(v))
        .unwrap_or(payload)
}

/// A valid Polish PESEL (born 1900-2099).
pub fn pesel(rng: &mut Rng) -> String {
    let month = rng.range(1, 12) + if rng.chance(0.3) { 20 } else { 0 };
    let payload = format!(
        "{:02}{month:02}{:02}{}",
        rng.below(100),
        rng.range(1, 28),
        rng.digits(4)
    );
    with_check(payload, 1, ids::is_valid_pesel)
}

/// A valid Indian Aadhaar number, grouped in fours as the card prints it, or not.
pub fn aadhaar(rng: &mut Rng) -> String {
    let number = with_check(
        format!("{}{}", rng.range(2, 9), rng.digits(10)),
        1,
        ids::is_valid_aadhaar,
    );
    match rng.chance(0.7) {
        true => group(&number, &[4, 4, 4], " "),
        false => number,
    }
}

/// A valid French NIR, spaced as it is usually written (`1 84 12 76 451 089 46`) or not.
pub fn nir(rng: &mut Rng) -> String {
    let payload = format!(
        "{}{:02}{:02}{:02}{}",
        rng.range(1, 2),
        rng.below(100),
        rng.range(1, 12),
        rng.range(1, 95),
        rng.digits(6)
    );
    let number = with_check(payload, 2, ids::is_valid_nir);
    match rng.chance(0.6) {
        true => group(&number, &[1, 2, 2, 2, 3, 3, 2], " "),
        false => number,
    }
}

/// `payload` followed by the capital letter that makes `valid` accept it.
fn with_check_letter(payload: String, valid: fn(&str) -> bool) -> String {
    (b'A'..=b'Z')
        .map(|c| format!("{payload}{}", char::from(c)))
        .find(|v| valid(v))
        .unwrap_or(payload)
}

/// `n` capital letters.
fn capitals(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'A' + rng.below(26) as u8))
        .collect()
}

/// A valid Spanish DNI number with its check letter (`12345678Z`; a quarter of them
/// `12345678-Z`, and a third of those dotted as the card prints it, `12.345.678-Z`).
pub fn es_nif(rng: &mut Rng) -> String {
    let id = with_check_letter(rng.digits(8), ids::is_valid_es_nif);
    match (rng.chance(0.25), rng.chance(1.0 / 3.0)) {
        (true, true) => format!("{}.{}.{}-{}", &id[..2], &id[2..5], &id[5..8], &id[8..]),
        (true, false) => format!("{}-{}", &id[..8], &id[8..]),
        (false, _) => id,
    }
}

/// A valid Spanish NIE (`X1234567L`).
pub fn es_nie(rng: &mut Rng) -> String {
    let lead = char::from(*rng.pick(b"XYZ"));
    let id = with_check_letter(format!("{lead}{}", rng.digits(7)), ids::is_valid_es_nie);
    match rng.below(8) {
        0 => format!("{}-{}", &id[..8], &id[8..]),
        1 => format!("{lead}-{}-{}", &id[1..8], &id[8..]),
        _ => id,
    }
}

/// A valid Chinese resident identity card number (born 1940-2009; one in eleven ends in
/// `X`).
pub fn cn_resident_id(rng: &mut Rng) -> String {
    let payload = format!(
        "{}{}{:04}{:02}{:02}{}",
        rng.pick(ids::CN_PROVINCES),
        rng.digits(4),
        rng.range(1940, 2009),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.digits(3)
    );
    let check = char::from(ids::cn_resident_id_check(payload.as_bytes()));
    format!("{payload}{check}")
}

/// A South Korean resident registration number issued before October 2020 (born
/// 1940-2019, a foreigner's one time in eight, its check digit holding), written with its
/// dash three times in four.
pub fn kr_rrn(rng: &mut Rng) -> String {
    let year = rng.range(1940, 2019);
    let sex = rng.below(2) + if year < 2000 { 1 } else { 3 };
    let code = if rng.below(8) == 0 { sex + 4 } else { sex };
    let head = format!(
        "{:02}{:02}{:02}",
        year % 100,
        rng.range(1, 12),
        rng.range(1, 28)
    );
    let tail = format!("{code}{}", rng.digits(5));
    let check = char::from(ids::kr_rrn_check(format!("{head}{tail}").as_bytes()));
    let dash = if rng.below(4) == 0 { "" } else { "-" };
    format!("{head}{dash}{tail}{check}")
}

/// A valid Japanese individual number (My Number), whole or in fours.
pub fn jp_my_number(rng: &mut Rng) -> String {
    let payload = rng.digits(11);
    let n = format!(
        "{payload}{}",
        char::from(ids::my_number_check(payload.as_bytes()))
    );
    match rng.below(3) {
        0 => n,
        1 => group(&n, &[4, 4, 4], " "),
        _ => group(&n, &[4, 4, 4], "-"),
    }
}

/// A valid Italian codice fiscale (born 1940-2009, some made unique with letters for
/// digits).
pub fn it_fiscal_code(rng: &mut Rng) -> String {
    let month = char::from(*rng.pick(b"ABCDEHLMPRST"));
    let day = rng.range(1, 28) + if rng.chance(0.5) { 40 } else { 0 };
    let mut code = format!(
        "{}{:02}{month}{day:02}{}{}",
        capitals(rng, 6),
        rng.range(40, 109) % 100,
        capitals(rng, 1),
        rng.digits(3)
    );
    if rng.chance(0.2) {
        // Omocodia: the last digit stands as its letter.
        let last = code.pop().map_or(0, |d| usize::from(d as u8 - b'0'));
        code.push(char::from(b"LMNPQRSTUV"[last]));
    }
    with_check_letter(code, ids::is_valid_it_fiscal_code)
}

/// A valid UK National Insurance number, written plainly or in pairs (`AB 12 34 56 C`).
pub fn uk_nino(rng: &mut Rng) -> String {
    let number = loop {
        let n = format!(
            "{}{}{}",
            capitals(rng, 2),
            rng.digits(6),
            char::from(*rng.pick(b"ABCD"))
        );
        if ids::is_valid_uk_nino(&n) {
            break n;
        }
    };
    match rng.chance(0.5) {
        true => group(&number, &[2, 2, 2, 2, 1], " "),
        false => number,
    }
}

/// A US DEA registration number with a valid check digit.
pub fn dea(rng: &mut Rng) -> String {
    let kind = char::from(*rng.pick(b"ABCDEFGHJKLMPRSTUX"));
    let initial = char::from(*rng.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ9"));
    with_check(
        format!("{kind}{initial}{}", rng.digits(6)),
        1,
        ids::is_valid_dea,
    )
}

/// A US Medicare Beneficiary Identifier, plain or with its two dashes.
pub fn mbi(rng: &mut Rng) -> String {
    const L: &[u8] = b"ACDEFGHJKMNPQRTUVWXY";
    let letter = |rng: &mut Rng| char::from(*rng.pick(L));
    let (c1, c2) = (letter(rng), letter(rng));
    let a = |rng: &mut Rng| match rng.chance(0.5) {
        true => char::from(*rng.pick(L)),
        false => char::from(b'0' + rng.below(10) as u8),
    };
    let (a1, a2) = (a(rng), a(rng));
    let (c3, c4) = (letter(rng), letter(rng));
    let n1 = rng.range(1, 9);
    let parts = [
        format!("{n1}{c1}{a1}{}", rng.below(10)),
        format!("{c2}{a2}{}", rng.below(10)),
        format!("{c3}{c4}{}", rng.digits(2)),
    ];
    parts.join(if rng.chance(0.5) { "-" } else { "" })
}

/// A US phone number in one of its common layouts.
pub fn phone_us(rng: &mut Rng) -> String {
    let (a, b, c) = (rng.range(201, 989), rng.range(200, 999), rng.digits(4));
    match rng.below(4) {
        0 => format!("({a}) {b}-{c}"),
        1 => format!("{a}-{b}-{c}"),
        2 => format!("+1 {a} {b} {c}"),
        _ => format!("{a}.{b}.{c}"),
    }
}

/// A Chinese mobile number (13-19, eleven digits), whole, spaced 3-4-4 or dashed so.
pub fn phone_cn_mobile(rng: &mut Rng) -> String {
    let n = format!("1{}{}", rng.range(3, 9), rng.digits(9));
    match rng.below(3) {
        0 => n,
        1 => group(&n, &[3, 4, 4], " "),
        _ => group(&n, &[3, 4, 4], "-"),
    }
}

/// A Spanish mobile number (9 digits from 6 or 7), whole or grouped 3-3-3 or 3-2-2-2.
pub fn phone_es_mobile(rng: &mut Rng) -> String {
    let n = format!("{}{}", rng.range(6, 7), rng.digits(8));
    match rng.below(3) {
        0 => n,
        1 => group(&n, &[3, 3, 3], " "),
        _ => group(&n, &[3, 2, 2, 2], " "),
    }
}

/// An international number in E.164 or spaced form.
pub fn phone_intl(rng: &mut Rng) -> String {
    let cc = *rng.pick(&["44", "49", "33", "34", "39", "31", "61", "81", "91", "55"]);
    let rest = rng.digits(9);
    if rng.chance(0.5) {
        format!("+{cc}{rest}")
    } else {
        format!("+{cc} {} {} {}", &rest[..2], &rest[2..5], &rest[5..])
    }
}

/// An e-mail address.
pub fn email(rng: &mut Rng) -> String {
    let first = rng.pick(&[
        "jane", "john", "a.smith", "m.garcia", "li.wei", "ops", "billing", "k_ito",
    ]);
    let domain = rng.pick(&[
        "example.com",
        "mail.example.org",
        "corp.example.co.uk",
        "example.io",
    ]);
    format!("{first}{}@{domain}", rng.below(1000))
}

/// `value` percent-encoded as a URL's query writes it (`encodeURIComponent`): every byte
/// but ASCII letters, digits and `-._~` as `%XX`.
pub fn percent_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An IPv4 address.
pub fn ipv4(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.range(1, 223),
        rng.below(256),
        rng.below(256),
        rng.range(1, 254)
    )
}

/// An IPv6 address, full or compressed.
pub fn ipv6(rng: &mut Rng) -> String {
    let g: Vec<String> = (0..8)
        .map(|_| format!("{:x}", rng.below(0x10000)))
        .collect();
    if rng.chance(0.5) {
        g.join(":")
    } else {
        format!("2001:db8:{}::{}", g[2], g[7])
    }
}

/// A MAC address.
pub fn mac(rng: &mut Rng) -> String {
    let sep = *rng.pick(&[":", "-"]);
    (0..6)
        .map(|_| format!("{:02X}", rng.below(256)))
        .collect::<Vec<_>>()
        .join(sep)
}

/// An AWS access key id.
pub fn aws_access_key(rng: &mut Rng) -> String {
    format!(
        "{}{}",
        rng.pick(&["AKIA", "ASIA"]),
        rng.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    )
}

/// An AWS secret access key.
pub fn aws_secret_key(rng: &mut Rng) -> String {
    loop {
        let s = rng.string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+",
            40,
        );
        if secrets::aws_secret_ok(&s) {
            return s;
        }
    }
}

/// A GitHub token whose CRC32 checksum holds.
pub fn github_token(rng: &mut Rng) -> String {
    let random = rng.string(ALNUM, 30);
    let check = secrets::base62_crc32(random.as_bytes());
    format!(
        "{}{random}{}",
        rng.pick(&["ghp_", "gho_", "ghs_"]),
        String::from_utf8_lossy(&check)
    )
}

/// An OpenAI-style project key.
pub fn openai_key(rng: &mut Rng) -> String {
    format!(
        "sk-proj-{}T3BlbkFJ{}",
        rng.string(ALNUM, 24),
        rng.string(ALNUM, 24)
    )
}

/// An Anthropic-style key.
pub fn anthropic_key(rng: &mut Rng) -> String {
    format!("sk-ant-api03-{}AA", rng.string(ALNUM, 93))
}

/// A Slack bot token.
pub fn slack_token(rng: &mut Rng) -> String {
    format!(
        "xoxb-{}-{}-{}",
        rng.digits(11),
        rng.digits(12),
        rng.string(ALNUM, 24)
    )
}

/// A Stripe secret key.
pub fn stripe_key(rng: &mut Rng) -> String {
    format!("sk_live_{}", rng.string(ALNUM, 24))
}

/// A Google API key.
pub fn google_key(rng: &mut Rng) -> String {
    format!(
        "AIza{}",
        rng.string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
            35
        )
    )
}

/// A GitLab personal access token.
pub fn gitlab_token(rng: &mut Rng) -> String {
    format!("glpat-{}", rng.string(KEY_CHARS, 20))
}

/// An npm access token.
pub fn npm_token(rng: &mut Rng) -> String {
    format!("npm_{}", rng.string(ALNUM, 36))
}

/// A PyPI API token (a macaroon; its fixed head says `pypi.org`).
pub fn pypi_token(rng: &mut Rng) -> String {
    let len = rng.range(60, 180);
    format!("pypi-AgEIcHlwaS5vcmc{}", rng.string(KEY_CHARS, len))
}

/// A Hugging Face user access token.
pub fn huggingface_token(rng: &mut Rng) -> String {
    format!("hf_{}", rng.string(LETTERS, 34))
}

/// A SendGrid API key.
pub fn sendgrid_key(rng: &mut Rng) -> String {
    format!(
        "SG.{}.{}",
        rng.string(KEY_CHARS, 22),
        rng.string(KEY_CHARS, 43)
    )
}

/// A DigitalOcean personal access, OAuth or refresh token.
pub fn digitalocean_token(rng: &mut Rng) -> String {
    let prefix = rng.pick(&["dop_v1_", "doo_v1_", "dor_v1_"]);
    format!("{prefix}{}", rng.string(HEX, 64))
}

/// A Google OAuth client secret.
pub fn google_oauth_secret(rng: &mut Rng) -> String {
    format!("GOCSPX-{}", rng.string(KEY_CHARS, 28))
}

/// An Atlassian API token.
pub fn atlassian_token(rng: &mut Rng) -> String {
    format!(
        "ATATT3xFfGF0{}={}",
        rng.string(KEY_CHARS, 174),
        rng.string(b"0123456789ABCDEF", 8)
    )
}

/// An Azure storage account key (88 characters of base64), as a connection string holds
/// it after `AccountKey=`.
pub fn azure_storage_key(rng: &mut Rng) -> String {
    format!("{}==", rng.string(BASE64, 86))
}

/// A database or broker URI with a password in it, and a user name but for some of
/// Redis's; one password in four holds a space or an `@`, percent-escaped.
pub fn connection_string(rng: &mut Rng) -> String {
    let scheme = rng.pick(&[
        "postgres",
        "postgresql",
        "mysql",
        "mongodb+srv",
        "redis",
        "amqp",
    ]);
    // One password in four holds a space or an `@`, escaped as a URL has them.
    let escape = if rng.chance(0.25) {
        *rng.pick(&["%20", "%40"])
    } else {
        ""
    };
    let password = format!(
        "{}{escape}{}{}",
        rng.string(ALNUM, 6),
        rng.string(ALNUM, 4),
        rng.pick(&["!", "-", "_", "9"])
    );
    // Redis's often has no user name.
    let user = if *scheme == "redis" && rng.chance(0.5) {
        ""
    } else {
        rng.pick(&["app", "admin", "svc_orders"])
    };
    format!(
        "{scheme}://{user}:{password}@db-{}.internal.example.com:5432/app",
        rng.digits(2)
    )
}

/// A JWT with an HS256 header.
pub fn jwt(rng: &mut Rng) -> String {
    format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI{}In0.{}",
        rng.string(ALNUM, 12),
        rng.string(ALNUM, 43)
    )
}

/// A PEM private key block.
pub fn private_key(rng: &mut Rng) -> String {
    let body: Vec<String> = (0..rng.range(3, 12))
        .map(|_| rng.string(ALNUM, 64))
        .collect();
    format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
        body.join("\n")
    )
}

/// A random password-like secret.
pub fn password(rng: &mut Rng) -> String {
    format!(
        "{}{}{}",
        rng.string(ALNUM, 6),
        rng.pick(&["#", "!", "$", "%"]),
        rng.string(ALNUM, 5)
    )
}

/// A passphrase: three to five lower-case words, the first sometimes capitalized and a
/// number sometimes added (`correct horse battery staple`), as one is written in quotes.
pub fn passphrase(rng: &mut Rng) -> String {
    const WORDS: &[&str] = &[
        "correct",
        "horse",
        "battery",
        "staple",
        "purple",
        "monkey",
        "dishwasher",
        "river",
        "lantern",
        "quiet",
        "orbit",
        "maple",
        "thunder",
        "velvet",
        "cactus",
        "harbor",
        "pixel",
        "walnut",
    ];
    let mut words: Vec<String> = (0..rng.range(3, 6))
        .map(|_| (*rng.pick(WORDS)).to_owned())
        .collect();
    if rng.chance(0.3) {
        words[0][..1].make_ascii_uppercase();
    }
    if rng.chance(0.3) {
        words.push(rng.digits(2));
    }
    words.join(" ")
}
