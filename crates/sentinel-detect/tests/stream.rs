//! Streaming: chunked scans equal one-shot scans.

use crate::engine::text_for_stream;
use crate::util::detector;
use proptest::prelude::*;
use sentinel_detect::{Detector, StreamScanner};

fn chunked(text: &str, cuts: &[usize]) -> Vec<sentinel_detect::Finding> {
    let mut s = StreamScanner::new(detector());
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        let mut c = c.min(text.len());
        while !text.is_char_boundary(c) {
            c += 1;
        }
        if c > at {
            s.feed(&text[at..c], &mut out);
            at = c;
        }
    }
    s.feed(&text[at..], &mut out);
    s.finish(&mut out).expect("complete utf-8");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunks_equal_one_shot(seed in any::<u64>(), parts in 50usize..400, mut cuts in proptest::collection::vec(0usize..60_000, 0..200)) {
        let text = text_for_stream(seed, parts);
        cuts.sort_unstable();
        prop_assert_eq!(chunked(&text, &cuts), detector().scan(&text));
    }
}

const SEPARATORS: [&str; 9] = [" ", " ", " ", " ", ", ", ". ", "\n", ": ", ""];

/// Prose with values in it, words the detector reads as context among the prose: where
/// the scanner settles text early, on prose, the way a streamed answer reads.
fn prose_with_values(seed: u64, parts: usize) -> String {
    use sentinel_detect::testgen as g;
    let mut rng = g::Rng::new(seed);
    let words = [
        "the",
        "and",
        "please",
        "thanks",
        "card",
        "phone",
        "call",
        "ssn",
        "iban",
        "account",
        "nhs",
        "patient",
        "dni",
        "national",
        "insurance",
        "number",
        "mail",
        "été",
        "Größe",
        "passport",
        "password",
        "token",
        "is",
        "a",
        "at",
        "I",
        "A",
        "x",
        "Mr",
        "e",
        "y",
        "à",
        "o",
        "Dr",
        "電話",
        "番号は",
        "です。",
        "携帯",
        "电话",
        "，",
        "전화",
        "번호는",
        "\u{3000}",
        "〇",
        "お願いします",
        "联系",
        "手机",
        "주민등록번호",
        "マイナンバー",
        "móvil",
    ];
    let mut s = String::new();
    for _ in 0..parts {
        let part = match rng.below(35) {
            0 => g::card(&mut rng),
            1 => g::ssn(&mut rng),
            2 => g::iban(&mut rng),
            3 => g::phone_us(&mut rng),
            4 => g::phone_intl(&mut rng),
            5 => g::email(&mut rng),
            6 => g::nhs(&mut rng),
            7 => g::nir(&mut rng),
            8 => g::aadhaar(&mut rng),
            9 => g::es_nif(&mut rng),
            10 => g::uk_nino(&mut rng),
            11 => format!("password={}", g::password(&mut rng)),
            12 => {
                let n = rng.range(1, 12);
                rng.digits(n)
            }
            13 => g::phone_cn_mobile(&mut rng),
            14 => g::kr_rrn(&mut rng),
            15 => g::cn_resident_id(&mut rng),
            16 => g::jp_my_number(&mut rng),
            17 => g::phone_es_mobile(&mut rng),
            // A passphrase in quotes, closed or not, and stray quotes.
            18 => format!("password: \"{}\"", g::passphrase(&mut rng)),
            19 => format!("db_password = '{}", g::passphrase(&mut rng)),
            20 => (*rng.pick(&["\"", "'", "\"the", "word'", ":'"])).to_owned(),
            _ => (*rng.pick(&words)).to_owned(),
        };
        s.push_str(&part);
        let separator: &&str = rng.pick(&SEPARATORS);
        s.push_str(separator);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Settling on prose gives the one-shot findings at any hold-back and chunking.
    #[test]
    fn prose_settled_early_equals_one_shot(
        seed in any::<u64>(),
        parts in 20usize..200,
        by in 1usize..40,
        hold_back in prop::sample::select(vec![64usize, 256, 16 * 1024]),
    ) {
        let text = prose_with_values(seed, parts);
        let (found, _) = settled_before_end(&text, &text, hold_back, by);
        prop_assert_eq!(found, detector().scan(&text));
    }
}

#[test]
fn tiny_chunks_and_long_texts() {
    let text = text_for_stream(42, 3000);
    assert!(text.len() > 40_000);
    let cuts: Vec<usize> = (1..text.len()).step_by(3).collect();
    assert_eq!(chunked(&text, &cuts), detector().scan(&text));
}

/// A password on a pasted command line, triggered by the tool's name well before it: a
/// stream cut anywhere finds what one scan finds.
#[test]
fn command_line_passwords_cut_anywhere() {
    for (line, findings) in [
        (
            "Run this:\nmysqldump -h db.internal -u admin -pZq8#wP3xLm2Kd prod > dump.sql\nthen",
            1,
        ),
        (
            "then docker login -u ci --password Zq8#wP3xLm2Kd registry.example.com and push",
            1,
        ),
        (
            "try redis-cli -h cache.internal -p 6379 -a Zq8#wP3xLm2Kd ping",
            1,
        ),
        // The address, the password after it and the URL.
        (
            "curl -s -u jane.doe@example.com:Zq8#wP3xLm2Kd https://api.example.com/",
            3,
        ),
    ] {
        let whole = detector().scan(line);
        assert_eq!(whole.len(), findings, "{line}");
        for cut in 1..line.len() {
            assert_eq!(chunked(line, &[cut]), whole, "cut at {cut}");
        }
    }
}

/// A password in quotes may hold words of prose, and the catalogue is still word-bounded:
/// the scanner holds text from a quote until it closes (`QUOTE_LIMIT`), so a passphrase
/// is found whole wherever the stream is cut, and prose after it settles early.
#[test]
fn quoted_passphrases_cut_anywhere() {
    let d = detector();
    assert!(d.word_bounded());
    for line in [
        "the config says password: \"correct horse battery staple\" and the rest goes on",
        "in the json {\"password\": \"it's a long way to the top\"} was pasted, sadly",
        "then wget --password 'correct horse battery staple' https://example.com/f now",
    ] {
        let whole = d.scan(line);
        assert_eq!(
            whole.len(),
            1 + usize::from(line.contains("https")),
            "{line}"
        );
        for cut in 1..line.len() {
            assert_eq!(chunked(line, &[cut]), whole, "cut at {cut}");
        }
        for by in 1..=24 {
            assert_eq!(
                fed_by(detector(), 256, line, by, |_, _| {}),
                whole,
                "{by} bytes a chunk"
            );
        }
    }
    // Prose after a closed quote settles before the hold-back; an open quote holds what
    // follows it (its closing quote may still make it a value), one after a letter does
    // not open.
    let prose = "and the rest of the story goes on for a while in plain words, as stories do";
    for (text, holds) in [
        (
            format!("password: \"correct horse battery\" {prose}"),
            false,
        ),
        (format!("password: \"correct horse battery {prose}"), true),
        (format!("password\"correct horse battery {prose}"), false),
    ] {
        let (found, settled) = settled_before_end(&text, "do", 4096, 5);
        let quote = text.find('"').expect("a quote");
        assert_eq!(found, d.scan(&text), "{text}");
        if holds {
            assert!(
                settled <= quote,
                "settled {settled} past the open quote in {text:?}"
            );
        } else {
            assert!(settled > quote + 40, "settled {settled} in {text:?}");
        }
    }
}

#[test]
fn byte_feeding_carries_split_chars_and_reports_bad_bytes() {
    let text = "é 4111 1111 1111 1111 ü";
    let mut s = StreamScanner::new(detector());
    let mut out = Vec::new();
    for b in text.as_bytes().chunks(1) {
        s.feed_bytes(b, &mut out).expect("valid");
    }
    s.finish(&mut out).expect("complete");
    assert_eq!(out, detector().scan(text));

    let mut s = StreamScanner::new(detector());
    let err = s.feed_bytes(b"abc\xffdef", &mut out).expect_err("invalid");
    assert_eq!(err.offset, 3);
    let mut s = StreamScanner::new(detector());
    s.feed_bytes(b"abc\xc3", &mut out)
        .expect("incomplete is fine");
    assert!(s.finish(&mut out).is_err());
}

#[test]
fn memory_stays_bounded() {
    let mut s = StreamScanner::new(detector());
    let mut out = Vec::new();
    let chunk = "lorem ipsum 4111 1111 1111 1111 dolor ".repeat(100);
    for _ in 0..500 {
        s.feed(&chunk, &mut out);
        assert!(s.position() - s.settled() <= 2 * s.hold_back() + chunk.len());
    }
    s.finish(&mut out).expect("ok");
    assert_eq!(out.len(), 500 * 100);
}

/// Feeds `text` `by` bytes at a time through a scanner with `hold_back`, and notes the
/// most text the scanner had settled while part of `value` was still to come.
fn settled_before_end(
    text: &str,
    value: &str,
    hold_back: usize,
    by: usize,
) -> (Vec<sentinel_detect::Finding>, usize) {
    let at = text.find(value).expect("the value is in the text");
    let mut settled = 0;
    let out = fed_by(detector(), hold_back, text, by, |s, fed| {
        if fed < at + value.len() {
            settled = settled.max(s.settled());
        }
    });
    (out, settled)
}

/// The findings of `text` fed to a scanner of `d` about `by` bytes at a time (whole
/// characters), `each` called after every piece with the bytes fed so far.
fn fed_by<D: Detector>(
    d: D,
    hold_back: usize,
    text: &str,
    by: usize,
    mut each: impl FnMut(&StreamScanner<D>, usize),
) -> Vec<sentinel_detect::Finding> {
    let mut s = StreamScanner::with_hold_back(d, hold_back);
    let mut out = Vec::new();
    let mut fed = 0;
    while fed < text.len() {
        let mut end = (fed + by).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        s.feed(&text[fed..end], &mut out);
        fed = end;
        each(&s, fed);
    }
    s.finish(&mut out).expect("complete");
    out
}

/// `text` without values is settled to within 64 bytes of its end before its `last` words
/// arrive (the margin, the last word and at most one rescan's step; with a 256-byte
/// hold-back alone none of it would be), and each of `texts`, fed 1 to 24 bytes at a time,
/// gives the one-shot findings.
fn settles_early_and_as_one_shot(text: &str, last: &str, texts: &[&str]) {
    let d = detector();
    let (found, settled) = settled_before_end(text, last, 256, 5);
    assert!(found.is_empty());
    assert!(
        settled >= text.len() - 64,
        "settled {settled} of {}",
        text.len()
    );
    for text in texts {
        for by in 1..=24 {
            let (found, _) = settled_before_end(text, text, 256, by);
            assert_eq!(found, d.scan(text), "{text:?} {by} bytes a chunk");
        }
    }
}

/// Prose settles as soon as enough of it follows, not a hold-back behind: a streamed answer
/// without values goes out a few words behind the model, and one with values goes out
/// as a one-shot scan decides it, a value with a context word or a number after it too.
#[test]
fn prose_settles_before_the_hold_back_and_values_as_one_shot() {
    assert!(detector().word_bounded());
    let text = "Hello there, how are you doing today? I am fine, thanks for asking. \
                The weather is nice and the sun is shining over the hills again.";
    let values = [
        "patient record 943 476 5919 nhs and then more words follow here today, fine",
        "call me at 415 555 0132 tomorrow morning please, thanks a lot for that",
        "ref 4600 Call me at 465.780.6466 and more words here today, thank you all",
        "card 4111 1111 1111 1111 expires soon, so please do renew it now, thanks",
        "iban GB82 WEST 1234 5698 7654 32 is the account for the transfer today",
        "Cliente 12345678Z registrado en el sistema ayer por la tarde, gracias",
        "National Insurance number AB 12 34 56 C was checked by the team today",
        "mail jane.doe@example.com and then nothing else that matters here at all",
        "key: AKIAIOSFODNN7EXAMPLE was rotated last week, so do not worry now",
        "Numéro de sécurité sociale : 1 84 12 76 451 089 46, merci beaucoup à vous",
        // `phone` labels the number after it, not the NIR before it (the property's find).
        "insurance 2 56 05 53 855 724 83 phone please nhs 32261805G and the rest of it",
        "Écrivez à jane@example.com dès que possible, et appelez le 06 12 34 56 78 demain",
    ];
    settles_early_and_as_one_shot(text, "again.", &values);
}

/// Chinese, Japanese and Korean, written without spaces between words, settle as prose
/// does (no finding of the catalogue holds their letters), and values among them are found
/// as a one-shot scan finds them.
#[test]
fn text_without_spaces_settles_as_prose() {
    let d = detector();
    assert!(d.word_bounded() && d.cjk_bounded());
    let text = "本日はお忙しいところ、お時間をいただきありがとうございます。\
                来週の会議の件でご連絡いたしました。よろしくお願いいたします。";
    let values = [
        "電話番号は090-1234-5678です。折り返しご連絡いただけますと幸いです。",
        "メールはjane.doe@example.comまでお送りください。よろしくお願いいたします。",
        "カード番号4111 1111 1111 1111の有効期限が近づいていますのでご確認ください。",
        "我的电话是+86 138 0013 8000，邮箱是jane@example.com，请尽快联系我，谢谢。",
        "전화번호는 010-1234-5678입니다. 내일 오전에 다시 연락 주시면 감사하겠습니다.",
        "DNI 12345678-Zを確認しました。IBAN GB82 WEST 1234 5698 7654 32も同じです。",
        "電話０９０－１２３４－５６７８まで、お気軽にお問い合わせくださいませ。",
        // `call` would label the address glued to the letters after it, further on than a
        // stream had waited for (the property's find).
        "電話: and. +34303517566, call 電話お願いしますbilling532@example.com a.smith@example.com です。",
    ];
    settles_early_and_as_one_shot(text, "お願いいたします。", &values);
    // Settled before the end, a value and what decides it included.
    let text = "電話番号は090-1234-5678です。折り返しご連絡いただけますと幸いです。\
                来週の会議の件でもご相談させていただきたく存じます。";
    let (_, settled) = settled_before_end(text, "存じます。", 256, 3);
    assert!(
        settled > text.find("です。").expect("in the text"),
        "{settled}"
    );
}

/// A detector whose findings may span words (a deny-list phrase) settles by the hold-back
/// only: a phrase is never cut between its words.
#[test]
fn phrases_keep_the_hold_back() {
    let d = sentinel_detect::LocalDetector::builder()
        .deny("PERSON", ["Jane Smith"], true)
        .build()
        .expect("detector");
    assert!(!d.word_bounded());
    let text = "we met with our colleague jane smith yesterday at the office and talked";
    for by in 1..=24 {
        let mut s = StreamScanner::with_hold_back(&d, 64);
        let mut out = Vec::new();
        for piece in text.as_bytes().chunks(by) {
            s.feed(std::str::from_utf8(piece).expect("ascii"), &mut out);
        }
        s.finish(&mut out).expect("complete");
        assert_eq!(out, d.scan(text), "{by} bytes a chunk");
    }
    // Words of any case or script, whatever the entity is called; a PEM block's pattern
    // (from `-----BEGIN `) is held whole by the scanner and spans words freely.
    for (entity, pattern, bounded) in [
        ("PROJECT", r"(?i)project [a-z]+", false),
        ("PLACE", r"[À-ÿ]+ [À-ÿ]+", false),
        ("PRIVATE_KEY", r"my secret [a-z]+ phrase", false),
        // A value in quotes, held whole by the scanner, may span words; not one after a
        // letter (no quote the scanner follows), across a line end or past its limit.
        ("PHRASE", r#"phrase: "([a-z ]{1,50})""#, true),
        (
            "PHRASE",
            r#"phrase="([a-z ]{1,50})"|phrase '([a-z ]{1,50})'"#,
            true,
        ),
        ("PHRASE", r#"phrase"([a-z ]{1,50})""#, false),
        ("PHRASE", r#"phrase: "([a-z \n]{1,50})""#, false),
        ("PHRASE", r#"phrase: "([a-z ]{1,2000})""#, false),
        ("PHRASE", r#"phrase: "([a-z ]{1,50})"#, false),
        (
            "PRIVATE_KEY",
            r"-----BEGIN KEY-----[a-z \n]+-----END KEY-----",
            true,
        ),
    ] {
        let mut r = sentinel_detect::Recognizer::new("custom", entity, pattern);
        if entity == "PHRASE" {
            r = r.with_value_group(1);
        }
        let d = sentinel_detect::LocalDetector::builder()
            .recognizer(r)
            .build()
            .expect("detector");
        assert_eq!(d.word_bounded(), bounded, "{pattern}");
    }
    // A finding that may hold a letter past ASCII keeps the hold-back in Chinese,
    // Japanese and Korean text (prose with spaces still settles): a name in ideographs.
    let names = sentinel_detect::LocalDetector::builder()
        .recognizer(sentinel_detect::Recognizer::new(
            "name",
            "PERSON",
            "山田[一-龥]{1,2}",
        ))
        .build()
        .expect("detector");
    assert!(names.word_bounded() && !names.cjk_bounded());
    let listed = sentinel_detect::LocalDetector::builder()
        .deny("PERSON", ["山田太郎"], false)
        .build()
        .expect("detector");
    assert!(!listed.cjk_bounded());
    let text = "本日は山田太郎様にお越しいただきました。来週の会議の件でもご相談させていただきたく存じます。";
    for by in 1..=24 {
        let out = fed_by(&names, 64, text, by, |s, fed| {
            // Nothing settles nearer the end than the hold-back.
            assert!(
                s.settled() == 0 || s.settled() + 64 <= fed,
                "{by}: {} of {fed}",
                s.settled()
            );
        });
        assert_eq!(out, names.scan(text), "{by} bytes a chunk");
    }
}

/// A value longer than a short hold-back is waited for whole: a token, a JWT or a PEM
/// block (whose body spans lines) is found as a one-shot scan finds it, and none of it is
/// settled before its end has arrived, so a stream releases none of it early.
#[test]
fn values_longer_than_the_hold_back_are_waited_for_whole() {
    let mut rng = sentinel_detect::testgen::Rng::new(7);
    let jwt = sentinel_detect::testgen::jwt(&mut rng);
    let pem = sentinel_detect::testgen::private_key(&mut rng);
    assert!(
        jwt.len() > 64 && pem.len() > 64 * 4,
        "{} {}",
        jwt.len(),
        pem.len()
    );
    // Glued to each other, the one-shot scan decides between the two where they overlap;
    // the stream waits for the block's end to decide alike.
    let glued = format!("{jwt}{pem}");
    for value in [jwt.as_str(), pem.as_str(), glued.as_str()] {
        let text = format!(
            "Here it is: {value} and that is all. 東京 {}",
            "more prose ".repeat(20)
        );
        let at = text.find(value).expect("value");
        for by in [1, 3, 17, 200] {
            let (found, settled) = settled_before_end(&text, value, 64, by);
            assert_eq!(found, detector().scan(&text), "{by} bytes a chunk");
            assert!(
                settled <= at,
                "settled {settled} of a value at {at} ({by} bytes a chunk)"
            );
        }
    }
    // Prose beyond ASCII does not wait for a space: it settles as the hold-back passes.
    let prose = "東京の天気は晴れです。".repeat(40);
    let mut s = StreamScanner::with_hold_back(detector(), 64);
    let mut out = Vec::new();
    for c in prose.chars() {
        s.feed(c.encode_utf8(&mut [0; 4]), &mut out);
    }
    assert!(
        s.settled() + 2 * 64 >= prose.len(),
        "{} of {}",
        s.settled(),
        prose.len()
    );
}

/// A printable run or an unended PEM block longer than the limit is not waited for.
#[test]
fn an_open_value_is_waited_for_up_to_the_limit() {
    let run = "x".repeat(sentinel_detect::OPEN_VALUE_LIMIT + 1000);
    let mut s = StreamScanner::with_hold_back(detector(), 64);
    let mut out = Vec::new();
    for piece in run.as_bytes().chunks(100) {
        s.feed(std::str::from_utf8(piece).expect("ascii"), &mut out);
    }
    assert!(s.settled() > 0);
    assert!(s.position() - s.settled() <= sentinel_detect::OPEN_VALUE_LIMIT + 3 * 64);
}

/// Pieces of JSON string text, valid escapes and malformed ones among letters, quotes and
/// text beyond ASCII.
const JSON_BITS: &[&str] = &[
    "a",
    "Z",
    "7",
    " ",
    "@",
    ".",
    "é",
    "😀",
    "\"",
    r"\n",
    r"\t",
    r"\/",
    r#"\""#,
    r"\\",
    r"\u0040",
    r"\u00e9",
    r"\u0022",
    r"\u005c",
    r"\ud83d\ude00",
    r"\ud83d",
    r"\ude00",
    r"\u12",
    r"\x",
    r"\",
    r"\u",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Read in pieces cut anywhere, JSON text reads as it does whole, with the same way
    /// back; every boundary of what was read maps to a boundary of the text, in order, and
    /// a character an escape read as is what that escape, unescaped, stands for.
    #[test]
    fn json_text_reads_alike_in_pieces_and_maps_back(
        bits in proptest::collection::vec(0..JSON_BITS.len(), 0..40),
        mut cuts in proptest::collection::vec(0usize..200, 0..8),
    ) {
        use sentinel_detect::{unescape_json, Unescaper};
        let text: String = bits.iter().map(|&i| JSON_BITS[i]).collect();
        let (whole, back) = Unescaper::whole(&text);
        cuts.sort_unstable();
        let mut u = Unescaper::new();
        let mut read = String::new();
        let mut carried = String::new();
        let mut at = 0;
        for c in cuts.iter().map(|&c| c.min(text.len())) {
            let mut c = c.max(at);
            while !text.is_char_boundary(c) {
                c += 1;
            }
            carried.push_str(&text[at..c]);
            at = c;
            let used = u.read(&carried, true, &mut read);
            carried.drain(..used);
        }
        carried.push_str(&text[at..]);
        u.read(&carried, false, &mut read);
        prop_assert_eq!(&read, &whole);
        let mut last = 0;
        for (i, c) in whole.char_indices() {
            let (start, end) = (back.raw_offset(i), back.raw_offset(i + c.len_utf8()));
            prop_assert_eq!(u.raw_offset(i), start);
            prop_assert_eq!(back.read_offset(start), i);
            prop_assert!(text.is_char_boundary(start) && start >= last && end > start);
            last = start;
            let raw = &text[start..end];
            if raw.starts_with('\\') && c != ' ' {
                prop_assert_eq!(unescape_json(raw), c.to_string(), "{:?}", raw);
            } else if c != ' ' {
                prop_assert_eq!(raw, c.to_string());
            }
        }
        prop_assert_eq!(back.raw_offset(whole.len()), text.len());
    }
}
