//! Government and health identifiers: US SSN and ITIN, UK NHS number, US NPI, DEA
//! registration and Medicare Beneficiary Identifier, Polish PESEL, Indian Aadhaar, French
//! NIR.

use super::{digits_of, iban, luhn, Layout};

/// Separators, where present, are one kind and form the given groups, or split every digit.
pub(crate) fn grouped_as(value: &str, groups: &[usize]) -> bool {
    Layout::of(value).is_some_and(|l| l.is_plain_or_split() || l.groups() == groups)
}

/// Whether `value` has the shape of an SSN or ITIN written with separators.
pub(crate) fn has_separators(value: &str) -> bool {
    value.bytes().any(|b| !b.is_ascii_digit())
}

/// US Social Security Number: 9 digits, area not 000, 666 or 9xx, group not 00, serial not
/// 0000, separators in the 3-2-4 layout; and not one of the numbers published as examples.
pub(crate) fn is_valid_ssn(value: &str) -> bool {
    let (d, n) = digits_of(value);
    if n != 9 || !grouped_as(value, &[3, 2, 4]) {
        return false;
    }
    let area = &d[0..3];
    let all_same = d[..9].iter().all(|&b| b == d[0]);
    area != b"000"
        && area != b"666"
        && area[0] != b'9'
        && &d[3..5] != b"00"
        && &d[5..9] != b"0000"
        && !all_same
        && &d[..9] != b"123456789"
        && &d[..9] != b"078051120"
}

/// US Individual Taxpayer Identification Number: 9xx-[50-65,70-88,90-92,94-99]-xxxx.
pub(crate) fn is_valid_itin(value: &str) -> bool {
    let (d, n) = digits_of(value);
    if n != 9 || d[0] != b'9' || !grouped_as(value, &[3, 2, 4]) {
        return false;
    }
    let group = (d[3] - b'0') * 10 + (d[4] - b'0');
    matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

/// UK NHS number: 10 digits, mod 11 check digit, 3-3-4 layout.
pub(crate) fn is_valid_nhs(value: &str) -> bool {
    let (d, n) = digits_of(value);
    if n != 10 || !grouped_as(value, &[3, 3, 4]) {
        return false;
    }
    nhs_check_digit(&d[..9]) == Some(d[9] - b'0')
}

/// The NHS check digit for nine digits; `None` when the remainder makes the number invalid.
pub(crate) fn nhs_check_digit(nine: &[u8]) -> Option<u8> {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, &b)| u32::from(b - b'0') * (10 - i as u32))
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => u8::try_from(c).ok(),
    }
}

/// US National Provider Identifier: 10 digits starting with 1 or 2, Luhn over the number
/// prefixed with 80840.
pub(crate) fn is_valid_npi(value: &str) -> bool {
    let (d, n) = digits_of(value);
    if n != 10 || !matches!(d[0], b'1' | b'2') {
        return false;
    }
    let mut full = [0u8; 15];
    full[..5].copy_from_slice(b"80840");
    full[5..].copy_from_slice(&d[..10]);
    luhn::is_valid(&full)
}

/// US DEA registration number (Presidio's `MEDICAL_LICENSE`): a registrant-type letter, a
/// letter (the registrant's surname initial, or `9`), six digits and a check digit: the
/// last digit of (d1 + d3 + d5) + 2 (d2 + d4 + d6).
pub(crate) fn is_valid_dea(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 9 || !b[2..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let d = |i: usize| u32::from(b[2 + i] - b'0');
    let sum = d(0) + d(2) + d(4) + 2 * (d(1) + d(3) + d(5));
    sum % 10 == d(6)
}

/// Polish PESEL: eleven digits, a real birth date (the month carries the century: +80 for
/// the 1800s, +20 for the 2000s, +40, +60) and a check digit over the weights 1, 3, 7, 9.
pub(crate) fn is_valid_pesel(value: &str) -> bool {
    let (d, n) = digits_of(value);
    if n != 11 {
        return false;
    }
    let v = |i: usize| u32::from(d[i] - b'0');
    let coded = v(2) * 10 + v(3);
    let century = [1900, 2000, 2100, 2200, 1800][(coded / 20) as usize];
    let (month, day) = (coded % 20, v(4) * 10 + v(5));
    let sum: u32 = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]
        .iter()
        .enumerate()
        .map(|(i, w)| w * v(i))
        .sum();
    day >= 1 && day <= days_in(century + v(0) * 10 + v(1), month) && (10 - sum % 10) % 10 == v(10)
}

/// Indian Aadhaar number: twelve digits, the first not 0 or 1, with a Verhoeff check digit
/// (written by hand: the tables are the algorithm, and no maintained crate carries them).
pub(crate) fn is_valid_aadhaar(value: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 8, 7, 0, 6],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let (d, n) = digits_of(value);
    if n != 12 || d[0] < b'2' {
        return false;
    }
    let c = d[..12].iter().rev().enumerate().fold(0u8, |c, (i, &x)| {
        D[usize::from(c)][usize::from(P[i % 8][usize::from(x - b'0')])]
    });
    c == 0
}

/// French social security number (NIR): sex (1 or 2), year, month (01-12), department,
/// commune and order, then a key of 97 less the first thirteen digits mod 97. Corsica's
/// departments (`2A`, `2B`) are not read.
pub(crate) fn is_valid_nir(value: &str) -> bool {
    let (d, n) = digits_of(value);
    if n != 15 {
        return false;
    }
    let key = u32::from(d[13] - b'0') * 10 + u32::from(d[14] - b'0');
    97 - iban::remainder97(&d[..13]) == key
}

/// The letter that checks a Spanish DNI or NIE number: the number mod 23, in this table.
const ES_CHECK: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// The characters of `value` other than spaces, dashes and dots, at most `N` of them
/// (`None` past that).
fn compact<const N: usize>(value: &str) -> Option<([u8; N], usize)> {
    let mut out = [0u8; N];
    let mut n = 0;
    for &b in value
        .as_bytes()
        .iter()
        .filter(|&&b| !matches!(b, b' ' | b'-' | b'.'))
    {
        *out.get_mut(n)? = b;
        n += 1;
    }
    Some((out, n))
}

/// Spanish DNI (and the NIF built on it): eight digits and the letter of the number mod 23
/// (`12345678Z`, `12345678-Z`, `12.345.678-Z`; spaces, dashes and dots are read away).
pub(crate) fn is_valid_es_nif(value: &str) -> bool {
    let Some((c, 9)) = compact::<9>(value) else {
        return false;
    };
    es_letter_holds(0, &c[..8], c[8])
}

/// Whether `letter` checks the number `lead` followed by `digits` (all ASCII digits).
fn es_letter_holds(lead: u32, digits: &[u8], letter: u8) -> bool {
    let number = digits.iter().try_fold(lead, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    });
    number.is_some_and(|n| ES_CHECK[(n % 23) as usize] == letter)
}

/// Spanish NIE (a foreigner's identity number): `X`, `Y` or `Z` (read as 0, 1 or 2), seven
/// digits and the letter of that eight-digit number mod 23 (`X1234567L`, `X-1234567-L`).
pub(crate) fn is_valid_es_nie(value: &str) -> bool {
    let Some((c, 9)) = compact::<9>(value) else {
        return false;
    };
    b"XYZ"
        .iter()
        .position(|&x| x == c[0])
        .is_some_and(|lead| es_letter_holds(lead as u32, &c[1..8], c[8]))
}

/// UK National Insurance number: two prefix letters, six digits and a suffix `A`-`D`
/// (`QQ123456C`, or spaced `QQ 12 34 56 C` or `QQ 123456 C`). No check digit: HMRC's
/// rules on the prefix are the check (neither letter `D`, `F`, `I`, `Q`, `U` or `V`, the
/// second not `O`, and not `BG`, `GB`, `KN`, `NK`, `NT`, `TN` or `ZZ`); its example
/// prefix `QQ` is refused so.
pub(crate) fn is_valid_uk_nino(value: &str) -> bool {
    let Some((c, 9)) = compact::<9>(value) else {
        return false;
    };
    let spaces = value.len() - 9;
    // Written plainly, in pairs, or with the digits together: not spaced at random.
    let spaced_as_written = match spaces {
        0 => true,
        2 => value.as_bytes()[2] == b' ' && value.as_bytes()[9] == b' ',
        4 => value.as_bytes()[2] == b' ' && value.as_bytes()[5] == b' ',
        _ => false,
    };
    let (a, b) = (c[0], c[1]);
    spaced_as_written
        && a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !b"DFIQUV".contains(&a)
        && !b"DFIOQUV".contains(&b)
        && !matches!(
            &c[..2],
            b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
        )
        && c[2..8].iter().all(u8::is_ascii_digit)
        && (b'A'..=b'D').contains(&c[8])
}

/// Italian codice fiscale: sixteen letters and digits (the pattern checks the layout,
/// with the letters that stand for digits in a code made unique, `omocodia`) and a check
/// letter: the odd positions' values from the Ministry's table, the even ones' as they
/// are (`0`-`9`, `A`-`Z` as 0-25), summed mod 26.
pub(crate) fn is_valid_it_fiscal_code(value: &str) -> bool {
    // Values of `0`-`9`, then of `A`-`Z`, in an odd position (first, third, ...).
    const ODD: [u8; 36] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23, // A-Z
    ];
    let b = value.as_bytes();
    if b.len() != 16 || !b[15].is_ascii_uppercase() {
        return false;
    }
    let index = |c: u8| match c {
        b'0'..=b'9' => Some(usize::from(c - b'0')),
        b'A'..=b'Z' => Some(usize::from(c - b'A') + 10),
        _ => None,
    };
    let mut sum = 0u32;
    for (i, &c) in b[..15].iter().enumerate() {
        let Some(k) = index(c) else {
            return false;
        };
        sum += match i % 2 {
            0 => u32::from(ODD[k]),
            _ if k < 10 => k as u32,
            _ => (k - 10) as u32,
        };
    }
    b'A' + (sum % 26) as u8 == b[15]
}

/// US Medicare Beneficiary Identifier: eleven characters in CMS's layout (the pattern
/// checks it), written plainly or as `1EG4-TE5-MK73`. No check digit: the dashes are the
/// only evidence beyond the layout, so a bare one scores lower.
pub(crate) fn mbi_score(value: &str, base: f32) -> f32 {
    match value.contains('-') {
        true => base,
        false => (base - 0.15).max(0.0),
    }
}

/// Japanese individual number (マイナンバー, 12 digits): the check digit is 11 less the sum
/// of the eleven digits before it, weighted from the right 2 to 7 and then 2 to 6 (so
/// 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2 from the left), mod 11 (0 where that remainder is 0
/// or 1).
pub(crate) fn is_valid_jp_my_number(value: &str) -> bool {
    let (d, n) = digits_of(value);
    n == 12 && my_number_check(&d[..11]) == d[11]
}

/// The check digit (ASCII) of the eleven ASCII digits of a Japanese individual number.
pub(crate) fn my_number_check(d: &[u8]) -> u8 {
    const WEIGHTS: [u32; 11] = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let sum: u32 = d
        .iter()
        .zip(WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    let check = match sum % 11 {
        0 | 1 => 0,
        r => 11 - r,
    };
    b'0' + u8::try_from(check).unwrap_or(0)
}

/// The check digit (ASCII) of the first twelve ASCII digits of a Korean resident
/// registration number.
pub(crate) fn kr_rrn_check(d: &[u8]) -> u8 {
    const WEIGHTS: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = d
        .iter()
        .zip(WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    b'0' + u8::try_from((11 - sum % 11) % 10).unwrap_or(0)
}

/// The days of `month` in `year` (0 for a month that is not one).
fn days_in(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

/// How a Korean resident registration number stands ([`kr_rrn`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KrRrn {
    /// Not one: a birth date that does not exist, or a seventh digit that is no sex and
    /// century code.
    Not,
    /// Its check digit holds, as on every number issued before October 2020.
    Checked,
    /// Its check digit does not hold, as on about nine in ten of the numbers issued since
    /// (their last six digits are random), and on nine in ten random numbers that are
    /// only shaped so.
    Unchecked,
}

/// South Korean resident registration number (주민등록번호, 13 digits, `YYMMDD-GNNNNNN`,
/// foreigners' registration numbers alike): a real birth date in the century the seventh
/// digit names (1, 2, 5, 6: the 1900s; 3, 4, 7, 8: the 2000s), and the check digit
/// (11 - the digits weighted 2 to 9, 2 to 5, mod 11) mod 10.
pub(crate) fn kr_rrn(value: &str) -> KrRrn {
    let (d, n) = crate::validate::digits_of(value);
    if n != 13 {
        return KrRrn::Not;
    }
    let num =
        |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
    let century = match d[6] {
        b'1' | b'2' | b'5' | b'6' => 1900,
        b'3' | b'4' | b'7' | b'8' => 2000,
        _ => return KrRrn::Not,
    };
    let (month, day) = (num(2..4), num(4..6));
    if day == 0 || day > days_in(century + num(0..2), month) {
        return KrRrn::Not;
    }
    match d[12] == kr_rrn_check(&d[..12]) {
        true => KrRrn::Checked,
        false => KrRrn::Unchecked,
    }
}

/// The provinces, municipalities and regions a Chinese identity number's first two digits
/// name (GB/T 2260), Taiwan, Hong Kong and Macau (71, 81, 82) included.
pub(crate) const CN_PROVINCES: &[u32] = &[
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// Chinese resident identity card number (18 characters): a six-digit region whose first
/// two digits name a province, a birth date `YYYYMMDD` (1900 on, a real day), a three-digit
/// sequence and a check character, ISO 7064 MOD 11-2 over the seventeen digits (`0`-`9`,
/// or `X` for 10).
pub(crate) fn is_valid_cn_resident_id(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    if !CN_PROVINCES.contains(&num(0..2)) {
        return false;
    }
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    if !(1900..=2099).contains(&year) || day == 0 || day > days_in(year, month) {
        return false;
    }
    b[17] == cn_resident_id_check(&b[..17])
}

/// The check character (`0`-`9` or `X`) of the seventeen ASCII digits of a Chinese
/// resident identity number: ISO 7064 MOD 11-2.
pub(crate) fn cn_resident_id_check(d: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = d
        .iter()
        .zip(WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn european_and_indian_ids() {
        // PESEL 44051401359: 1944-05-14; 2000s months carry +20.
        assert!(is_valid_pesel("44051401359"));
        assert!(!is_valid_pesel("44051401358"));
        assert!(!is_valid_pesel("44151401359"), "month 15");
        // Aadhaar: UIDAI's Verhoeff.
        assert!(is_valid_aadhaar("2341 2341 2346"));
        assert!(!is_valid_aadhaar("2341 2341 2345"));
        assert!(!is_valid_aadhaar("1341 2341 2346"), "starts with 1");
        // NIR: 1 84 12 76 451 089, key 97 - (1841276451089 mod 97).
        let key = 97 - 1_841_276_451_089u64 % 97;
        assert!(is_valid_nir(&format!("1 84 12 76 451 089 {key:02}")));
        assert!(!is_valid_nir(&format!(
            "1 84 12 76 451 089 {:02}",
            (key + 1) % 100
        )));
    }

    #[test]
    fn spanish_and_uk_ids() {
        // 12345678 mod 23 = 14: Z.
        assert!(is_valid_es_nif("12345678Z"));
        assert!(is_valid_es_nif("12345678 Z"));
        assert!(!is_valid_es_nif("12345678A"));
        assert!(!is_valid_es_nif("1234567Z"));
        // X1234567: 01234567 mod 23 = 19: L.
        assert!(is_valid_es_nie("X1234567L"));
        assert!(is_valid_es_nie("X 1234567 L"));
        assert!(!is_valid_es_nie("Y1234567L"));
        assert!(!is_valid_es_nie("A1234567L"));
        assert!(is_valid_uk_nino("AB123456C"));
        assert!(is_valid_uk_nino("AB 12 34 56 C"));
        assert!(is_valid_uk_nino("AB 123456 C"));
        assert!(!is_valid_uk_nino("AB 1234 56C"), "spaced at random");
        assert!(!is_valid_uk_nino("QQ123456C"), "HMRC's example prefix");
        assert!(!is_valid_uk_nino("GB123456A"), "an unused prefix");
        assert!(!is_valid_uk_nino("AO123456A"), "O second");
        assert!(!is_valid_uk_nino("AB123456E"), "suffix past D");
        // Mario Rossi, born in Rome on 1 January 1980; and a code made unique (omocodia).
        assert!(is_valid_it_fiscal_code("RSSMRA80A01H501U"));
        assert!(!is_valid_it_fiscal_code("RSSMRA80A01H501V"));
        assert!(is_valid_it_fiscal_code("MRTMTT91D08F205J"));
    }

    #[test]
    fn dea_check_digit() {
        // 1 + 4 + 6 = 11; 2 * (2 + 5 + 7) = 28; 39: check digit 9.
        assert!(is_valid_dea("AB1245679"));
        assert!(!is_valid_dea("AB1245678"));
        assert!(!is_valid_dea("AB124567"));
        assert!(!is_valid_dea("AB12456X9"));
    }

    #[test]
    fn ssn_rules() {
        assert!(is_valid_ssn("536-22-1234"));
        assert!(is_valid_ssn("536221234"));
        assert!(is_valid_ssn("5 3 6 2 2 1 2 3 4"));
        assert!(!is_valid_ssn("000-22-1234"));
        assert!(!is_valid_ssn("666-22-1234"));
        assert!(!is_valid_ssn("936-22-1234"));
        assert!(!is_valid_ssn("536-00-1234"));
        assert!(!is_valid_ssn("536-22-0000"));
        assert!(!is_valid_ssn("53-622-1234"));
        assert!(!is_valid_ssn("536-22.1234"));
    }

    #[test]
    fn itin_nhs_npi() {
        assert!(is_valid_itin("912-70-1234"));
        assert!(!is_valid_itin("912-40-1234"));
        assert!(is_valid_nhs("943 476 5919"));
        assert!(!is_valid_nhs("943 476 5918"));
        assert!(is_valid_npi("1234567893"));
        assert!(!is_valid_npi("1234567890"));
    }
}
