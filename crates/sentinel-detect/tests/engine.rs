//! Engine behaviour: overlaps, normalization, Unicode, adversarial input, and the property
//! that prefilter windows never lose a match.

use crate::util::{detector, found};
use proptest::prelude::*;
use sentinel_detect::testgen::{self, Rng};
use sentinel_detect::{Detector, LocalDetector, Recognizer};

#[test]
fn findings_are_sorted_and_disjoint() {
    let text = "jane@example.com 4111 1111 1111 1111 536-22-1234 https://x.example.com/a?mail=jane@example.com";
    let f = detector().scan(text);
    assert!(f.windows(2).all(|w| w[0].end <= w[1].start));
    assert!(f
        .iter()
        .all(|x| text.is_char_boundary(x.start) && text.is_char_boundary(x.end)));
}

#[test]
fn overlap_prefers_score_then_length() {
    // A Slack webhook is also a URL; the more specific, higher-scored secret wins.
    let got =
        found("hook https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "SLACK_TOKEN");
}

#[test]
fn obfuscated_values_map_to_original_offsets() {
    let text = "card ４１１１ １１１１ １１１１ １１１１ ok";
    let f = detector().scan(text);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(&text[f[0].span()], "４１１１ １１１１ １１１１ １１１１");

    // Percent-encoded, as in a URL's query or a form body.
    let url = "GET /users?email=jane.doe%40example.com&tel=%2B44%2020%207946%200958 HTTP/1.1";
    assert_eq!(
        found(url),
        [
            (
                "EMAIL_ADDRESS".to_owned(),
                "jane.doe%40example.com".to_owned()
            ),
            (
                "PHONE_NUMBER".to_owned(),
                "%2B44%2020%207946%200958".to_owned()
            ),
        ]
    );
    let form = "card=4111%201111%201111%201111&key=-----BEGIN%20RSA%20PRIVATE%20KEY-----%0AMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi%0A-----END%20RSA%20PRIVATE%20KEY-----&x=1";
    let types: Vec<String> = found(form).into_iter().map(|(e, _)| e).collect();
    assert_eq!(types, ["CREDIT_CARD", "PRIVATE_KEY"]);
    // Each is marked as read through a fold, and its value is what it reads as; a value
    // written plainly in the same text is not.
    let mixed = format!("{url} or call +44 20 7946 0958");
    let f = detector().scan(&mixed);
    assert_eq!(
        f.iter()
            .map(|f| (f.folded, f.value(&mixed).into_owned()))
            .collect::<Vec<_>>(),
        [
            (true, "jane.doe@example.com".to_owned()),
            (true, "+44 20 7946 0958".to_owned()),
            (false, "+44 20 7946 0958".to_owned()),
        ]
    );
    assert!(found("grew 20%2020 to 100% and %zz").is_empty());
    // HTML character references, as pages hide addresses from scrapers.
    let html = r#"<a href="mailto:jane&#64;example&#x2E;com">jane&commat;example&period;com</a>"#;
    assert_eq!(
        found(html),
        [
            (
                "EMAIL_ADDRESS".to_owned(),
                "jane&#64;example&#x2E;com".to_owned()
            ),
            (
                "EMAIL_ADDRESS".to_owned(),
                "jane&commat;example&period;com".to_owned()
            ),
        ]
    );
    assert!(found("R&D; Q&A &amp; T&amp;Cs 4111&nbsp;1111").is_empty());

    let zw = "ssn 536\u{200B}-22-\u{200D}1234 end";
    let f = detector().scan(zw);
    assert_eq!(f[0].entity.as_str(), "US_SSN");
    assert_eq!(&zw[f[0].span()], "536\u{200B}-22-\u{200D}1234");

    let arabic = "رقم ٥٣٦-٢٢-١٢٣٤ هنا";
    let f = detector().scan(arabic);
    assert_eq!(&arabic[f[0].span()], "٥٣٦-٢٢-١٢٣٤");

    let spaced = "card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 end";
    assert_eq!(found(spaced)[0].1, "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1");
    assert_eq!(found("card 4111.1111.1111.1111 end")[0].0, "CREDIT_CARD");
}

#[test]
fn any_script_is_scanned() {
    let text = "用户邮箱是 jane@example.com，电话 +44 20 7946 0958。Ключ: AKIAIOSFODNN7EXAMPLE 😀";
    let types: Vec<String> = found(text).into_iter().map(|(e, _)| e).collect();
    assert_eq!(types, ["EMAIL_ADDRESS", "PHONE_NUMBER", "AWS_ACCESS_KEY"]);
}

#[test]
fn catastrophic_pattern_stays_linear() {
    let evil = Recognizer::new("evil", "EVIL", r"(a+)+$");
    let d = LocalDetector::builder()
        .recognizer(evil)
        .build()
        .expect("compiles");
    let mut text = "a".repeat(100 * 1024);
    text.push('!');
    // A backtracking engine would not return within the age of the universe; this one
    // scans once. The test asserts the result; speed lives in the benchmarks.
    assert!(d.scan(&text).iter().all(|f| f.entity.as_str() != "EVIL"));
    let nested = Recognizer::new("nested", "NESTED", r"(x+x+)+y");
    let d = LocalDetector::builder()
        .recognizer(nested)
        .build()
        .expect("compiles");
    assert!(d.scan(&"x".repeat(100 * 1024)).is_empty());
}

/// A value group reports the first of itself and the groups after it that took part: a
/// value written in one of several ways (quoted with its spaces, or bare).
#[test]
fn value_groups_report_whichever_took_part() {
    let d = LocalDetector::builder()
        .entities(["ORDER_ID"])
        .recognizer(
            Recognizer::new(
                "order_id",
                "ORDER_ID",
                r#"order (?:"([A-Z0-9 ]{6,20})"|([A-Z0-9]{6,20}))"#,
            )
            .with_value_group(1),
        )
        .build()
        .expect("compiles");
    let text = r#"order "AB12 CD34 EF" then order GH56IJ78"#;
    let values: Vec<&str> = d.scan(text).iter().map(|f| &text[f.start..f.end]).collect();
    assert_eq!(values, ["AB12 CD34 EF", "GH56IJ78"]);
}

/// The built-in catalogue's literal triggers fill the one automaton its SIMD prefilter is
/// built for (64); custom recognizers' prefixes open a second, and both are read.
#[test]
fn custom_prefixes_past_the_literal_limit_are_found() {
    let mut builder = LocalDetector::builder();
    for i in 0..5 {
        builder = builder.recognizer(Recognizer::new(
            &format!("acme{i}"),
            "ACME_KEY",
            &format!("acme{i}_[a-z0-9]{{24}}"),
        ));
    }
    let d = builder.build().expect("compiles");
    let text = "keys acme3_abcdefghijklmnopqrstuvwx and AKIAIOSFODNN7EXAMPLE, \
        mail jane@example.com, sshpass -p 'Zq8#wP3xLm2Kd' ssh web1, acme0_zyxwvutsrqponmlkjihgfedc";
    let found = d.scan(text);
    let types: Vec<&str> = found.iter().map(|f| f.entity.as_str()).collect();
    assert_eq!(
        types,
        [
            "ACME_KEY",
            "AWS_ACCESS_KEY",
            "EMAIL_ADDRESS",
            "GENERIC_SECRET",
            "ACME_KEY"
        ]
    );
}

#[test]
fn dense_and_degenerate_inputs() {
    let d = detector();
    assert!(d.scan("").is_empty());
    // One long run of digits: no value stands alone in it.
    assert!(d.scan(&"7".repeat(200_000)).is_empty());
    assert!(d.scan(&"@".repeat(10_000)).is_empty());
    assert!(d.scan(&":".repeat(10_000)).is_empty());
    let many = "4111 1111 1111 1111 ".repeat(2000);
    assert_eq!(d.scan(&many).len(), 2000);
}

#[test]
fn fingerprint_tracks_configuration() {
    let a = LocalDetector::new().fingerprint();
    let b = LocalDetector::new().fingerprint();
    let c = LocalDetector::builder()
        .disable(["URL"])
        .build()
        .expect("builds")
        .fingerprint();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn default_catalogue_is_small_and_compiles() {
    let set = LocalDetector::new().pattern_set().clone();
    assert!(set.len() >= 28);
    assert!(
        set.memory_usage() < 32 << 20,
        "{} bytes",
        set.memory_usage()
    );
}

/// Fragments that exercise every recognizer, its triggers and its neighbours.
fn fragment(rng: &mut Rng) -> String {
    match rng.below(24) {
        0 => testgen::card(rng),
        1 => testgen::card_bad_luhn(rng),
        2 => testgen::ssn(rng),
        3 => testgen::ssn_bad_area(rng),
        4 => testgen::iban(rng),
        5 => testgen::phone_us(rng),
        6 => testgen::phone_intl(rng),
        7 => testgen::email(rng),
        8 => testgen::ipv4(rng),
        9 => testgen::ipv6(rng),
        10 => testgen::mac(rng),
        11 => testgen::aws_access_key(rng),
        12 => format!("aws secret {}", testgen::aws_secret_key(rng)),
        13 => testgen::github_token(rng),
        14 => testgen::jwt(rng),
        15 => match rng.below(3) {
            0 => format!("password: \"{}\"", testgen::passphrase(rng)),
            _ => format!("password={}", testgen::password(rng)),
        },
        16 => format!("passport {}", rng.digits(9)),
        17 => {
            let n = rng.range(1, 24);
            rng.digits(n)
        }
        18 => testgen::nhs(rng),
        19 => match rng.below(13) {
            0 => testgen::npi(rng),
            10 => testgen::cn_resident_id(rng),
            11 => testgen::kr_rrn(rng),
            12 => format!("マイナンバー {}", testgen::jp_my_number(rng)),
            6 => testgen::es_nif(rng),
            7 => testgen::es_nie(rng),
            8 => testgen::it_fiscal_code(rng),
            9 => format!("NI number {}", testgen::uk_nino(rng)),
            3 => format!("PESEL {}", testgen::pesel(rng)),
            4 => format!("aadhaar {}", testgen::aadhaar(rng)),
            5 => testgen::nir(rng),
            1 => format!("DEA {}", testgen::dea(rng)),
            _ => format!("medicare {}", testgen::mbi(rng)),
        },
        20 => match rng.below(3) {
            0 => "https://example.com/x?y=1".to_owned(),
            1 => format!("?to={}", testgen::percent_encoded(&testgen::email(rng))),
            _ => format!(
                "tel={}",
                testgen::percent_encoded(&testgen::phone_intl(rng))
            ),
        },
        21 => rng
            .pick(&[
                "-", ".", ":", "::", "@", "=", " ", "\n", "é", "１", "%40", "%2B", "%20", "%0A",
                "%", "%4", "%C3%A9", "&#64;", "&commat;", "&nbsp;", "&", "&#", "&amp;", "\u{200B}",
                "\u{a0}", "５",
            ])
            .to_string(),
        22 => {
            let n = rng.range(1, 30);
            rng.string(b"abcdefABCDEF0123456789:-. ", n)
        }
        _ => rng
            .pick(&[
                "the", "call", "card", "account", "bank", "ssn", "ip", "NHS", "Passport",
            ])
            .to_string(),
    }
}

fn mixed_text(seed: u64, parts: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut s = String::new();
    for _ in 0..parts {
        s.push_str(&fragment(&mut rng));
        let sep: &&str = rng.pick(&[" ", " ", "", ", ", "\n", "-", ":"]);
        s.push_str(sep);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The prefilter windows lose nothing: the windowed scan finds exactly what running
    /// every pattern over the whole text finds.
    #[test]
    fn windows_equal_exhaustive(seed in any::<u64>(), parts in 1usize..40) {
        let text = mixed_text(seed, parts);
        let set = detector().pattern_set();
        let mut fast = Vec::new();
        let mut slow = Vec::new();
        set.candidates(&text, &mut fast);
        set.candidates_exhaustive(&text, &mut slow);
        let key = |f: &sentinel_detect::Finding| (f.start, f.end, f.recognizer, (f.score * 1000.0) as i32);
        let mut a: Vec<_> = fast.iter().map(key).collect();
        let mut b: Vec<_> = slow.iter().map(key).collect();
        a.sort_unstable();
        b.sort_unstable();
        prop_assert_eq!(a, b, "text: {:?}", text);
    }

    /// Arbitrary text never panics and always yields char-boundary spans.
    #[test]
    fn arbitrary_text_is_safe(text in "\\PC{0,300}") {
        for f in detector().scan(&text) {
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            prop_assert!(f.start < f.end && (0.0..=1.0).contains(&f.score));
        }
    }
}

pub(crate) fn text_for_stream(seed: u64, parts: usize) -> String {
    mixed_text(seed, parts)
}
