//! Each built-in recognizer: values it must find, and near misses it must not report.

use crate::util::{assert_finds, assert_not, found, score_of};
use sentinel_detect::testgen::{self, Rng};

#[test]
fn email() {
    for v in [
        "jane.doe@example.com",
        "a+tag@mail.example.co.uk",
        "x_y%z@sub-domain.example.io",
    ] {
        assert_finds("EMAIL_ADDRESS", "write to {} today", v);
    }
    assert_finds("EMAIL_ADDRESS", "<{}>", "ops@example.org");
    assert_not("EMAIL_ADDRESS", "user@localhost and @mention and a@b");
    // The malformed local part is not reported whole; what follows the dots may be.
    assert!(!crate::util::found("jane..doe@example.com")
        .iter()
        .any(|(_, v)| v.starts_with("jane")));
}

#[test]
fn phone() {
    for v in [
        "(212) 555-0143",
        "212-555-0143",
        "+1 212 555 0143",
        "212.555.0143",
        "212 555-0143",
        "1-800-555-0199",
        "(212)5550143",
        "+44 20 7946 0958",
        "+4915123456789",
    ] {
        assert_finds("PHONE_NUMBER", "call me at {} please", v);
    }
    // A group past a country's national length is a count or a time after the number;
    // a trunk `(0)` is not counted; a country not listed keeps every group.
    for (text, value) in [
        ("Mobile: +61 93 099 5894 1579 ms", "+61 93 099 5894"),
        ("Mobile: +81 06 938 5809 92%", "+81 06 938 5809"),
        ("Mobile: +91 61 442 5704 09:54", "+91 61 442 5704"),
        ("call +44 (0)20 7946 0958 today", "+44 (0)20 7946 0958"),
        ("call +44 20 7946 0958 today", "+44 20 7946 0958"),
        ("call +1 (212) 555-0143 today", "+1 (212) 555-0143"),
        ("call +86 138 0013 8000 today", "+86 138 0013 8000"),
        ("call +49 30 1234 5678 90 today", "+49 30 1234 5678 90"),
    ] {
        assert_finds("PHONE_NUMBER", &text.replace(value, "{}"), value);
    }
    // Groups split one way and not the other are not a US number's.
    assert_not("PHONE_NUMBER", "order #241967 1780 ms");
    assert_not("PHONE_NUMBER", "ids 241 9671780 and 241-9671780");
    assert_finds("PHONE_NUMBER", "phone: {}", "020 7946 0958");
    assert_not("PHONE_NUMBER", "order 2125550143 shipped");
    assert_not(
        "PHONE_NUMBER",
        "version 1.2.3, build 2024-01-05, total 1234.56",
    );
    assert_not("PHONE_NUMBER", "+12");
}

#[test]
fn credit_card() {
    for v in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5555-5555-5555-4444",
        "2223003122003222",
        "3782 822463 10005",
        "6011111111111117",
        "3530111333300000",
        "30569309025904",
        // UnionPay (16 digits; 19 in four groups of four and one of three), RuPay, Mir,
        // Maestro.
        "6250 9460 0000 0016",
        "6210 9480 0000 0000 020",
        "8171999927660000",
        "2200000000000004",
        "6759649826438453",
    ] {
        assert_finds("CREDIT_CARD", "card {} exp 12/29", v);
    }
    // A count after a card of four groups is not its fifth.
    assert_finds("CREDIT_CARD", "card {} 12 items", "4111 1111 1111 1111");
    assert_not("CREDIT_CARD", "card 4111111111111112 exp 12/29");
    assert_not("CREDIT_CARD", "id 1234567812345670 and 9111111111111111");
    assert_not("CREDIT_CARD", "41111111111111111111 is too long");
    let mut rng = Rng::new(7);
    for _ in 0..200 {
        let v = testgen::card(&mut rng);
        assert_finds("CREDIT_CARD", "pay with {}.", &v);
        assert_not(
            "CREDIT_CARD",
            &format!("ref {}", testgen::card_bad_luhn(&mut rng)),
        );
    }
}

#[test]
fn ssn_and_itin() {
    assert_finds("US_SSN", "SSN {} on file", "536-22-1234");
    assert_finds("US_SSN", "my social security number is {}", "536221234");
    assert_not(
        "US_SSN",
        "SSN 000-22-1234, 666-22-1234, 936-22-1234, 536-00-1234, 536-22-0000",
    );
    assert_not("US_SSN", "order 536221234 shipped");
    assert_finds("US_ITIN", "ITIN {}", "912-70-1234");
    assert_not("US_ITIN", "ITIN 912-40-1234");
}

#[test]
fn passport_and_bank_need_context() {
    assert_finds("US_PASSPORT", "passport number {}", "912345678");
    assert_finds("US_PASSPORT", "Passport: {}", "A12345678");
    // The context word inside a literal of another recognizer (`--pass`, a password
    // flag's) that matched first.
    assert_finds("US_PASSPORT", "renew --passport {} today", "660532434");
    assert_not("US_PASSPORT", "tracking 912345678 arrived");
    assert_finds("US_BANK_NUMBER", "bank account {}", "00123456789");
    assert_not("US_BANK_NUMBER", "invoice 00123456789");
}

#[test]
fn iban() {
    for v in [
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "NL91ABNA0417164300",
        "FR1420041010050500013M02606",
    ] {
        assert_finds("IBAN_CODE", "transfer to {} today", v);
    }
    assert_not(
        "IBAN_CODE",
        "DE89370400440532013001 and XX89370400440532013000",
    );
    let mut rng = Rng::new(3);
    for _ in 0..100 {
        assert_finds("IBAN_CODE", "IBAN: {}.", &testgen::iban(&mut rng));
    }
}

#[test]
fn network() {
    assert_finds("IP_ADDRESS", "host {} is down", "192.168.10.24");
    assert_finds("IP_ADDRESS", "ip {} ok", "2001:db8::8a2e:370:7334");
    assert_finds("IP_ADDRESS", "loopback {} ok", "::1");
    assert_finds("IP_ADDRESS", "mapped {} ok", "::ffff:192.0.2.128");
    assert_finds(
        "IP_ADDRESS",
        "full {} ok",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    );
    assert_not(
        "IP_ADDRESS",
        "version 1.2.3.4.5 and 999.1.1.1 at 10:30:00 in std::vec::Vec",
    );
    assert_finds("MAC_ADDRESS", "nic {} up", "00:1A:2B:3C:4D:5E");
    assert_finds("MAC_ADDRESS", "nic {} up", "00-1a-2b-3c-4d-5e");
    assert_finds("MAC_ADDRESS", "nic {} up", "001a.2b3c.4d5e");
    assert_not("MAC_ADDRESS", "nic 00:1A-2B:3C:4D:5E up");
    assert_finds("URL", "see {}.", "https://example.com/a?b=c");
    assert_finds("URL", "see ({})", "www.example.org/path");
    assert_not("URL", "a file called main.rs and example.com");
}

#[test]
fn crypto() {
    for v in [
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    ] {
        assert_finds("CRYPTO", "send BTC to {} now", v);
    }
    assert_not("CRYPTO", "send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 now");
}

#[test]
fn health_ids() {
    assert_finds("UK_NHS", "NHS number {}", "943 476 5919");
    assert_not("UK_NHS", "NHS number 943 476 5918");
    assert_finds("US_NPI", "provider NPI {}", "1234567893");
    assert_not("US_NPI", "NPI 1234567890");
    // DEA registration numbers (Presidio's MEDICAL_LICENSE): check digit, near "DEA".
    assert_finds(
        "MEDICAL_LICENSE",
        "the prescriber's DEA number is {}.",
        "AB1245679",
    );
    assert_finds("MEDICAL_LICENSE", "dea: {}", "F91245679");
    assert_not("MEDICAL_LICENSE", "DEA number AB1245678");
    assert_not("MEDICAL_LICENSE", "part AB1245679 shipped");
    assert_not("MEDICAL_LICENSE", "my idea AB1245679");
    // Medicare Beneficiary Identifiers, with dashes or without, near their context.
    assert_finds("US_MBI", "Medicare MBI {} on file", "1EG4-TE5-MK73");
    assert_finds("US_MBI", "medicare number {}", "1EG4TE5MK73");
    assert_not("US_MBI", "order 1EG4-TE5-MK73 pending");
    // S, L, O, I, B and Z are never MBI letters; the dashes go both or neither.
    assert_not("US_MBI", "Medicare MBI 1SG4-TE5-MK73");
    assert_not("US_MBI", "Medicare MBI 1EG4-TE5MK73");
    let mut rng = sentinel_detect::testgen::Rng::new(3);
    for _ in 0..200 {
        let (dea, mbi) = (
            sentinel_detect::testgen::dea(&mut rng),
            sentinel_detect::testgen::mbi(&mut rng),
        );
        assert_finds("MEDICAL_LICENSE", "DEA {}", &dea);
        assert_finds("US_MBI", "Medicare: {}", &mbi);
    }
}

#[test]
fn national_ids() {
    assert_finds("PL_PESEL", "PESEL: {}", "44051401359");
    assert_not("PL_PESEL", "PESEL: 44051401358");
    assert_not("PL_PESEL", "order 44051401359 shipped");
    // The birth date must exist: 29 February 2000 (month 22: the 2000s) does, 29 February
    // 2001 and 31 April 1990 do not (their check digits hold).
    assert_finds("PL_PESEL", "PESEL: {}", "00222900009");
    assert_not("PL_PESEL", "PESEL: 01222900006");
    assert_not("PL_PESEL", "PESEL: 90043100009");
    assert_finds("IN_AADHAAR", "Aadhaar {} on file", "2341 2341 2346");
    assert_finds("IN_AADHAAR", "UIDAI number {}", "234123412346");
    assert_not("IN_AADHAAR", "Aadhaar 2341 2341 2345");
    assert_not("IN_AADHAAR", "invoice 2341 2341 2346");
    let key = 97 - 1_841_276_451_089u64 % 97;
    let nir = format!("1 84 12 76 451 089 {key:02}");
    assert_finds("FR_NIR", "numéro de sécurité sociale {}", &nir);
    assert_finds("FR_NIR", "ref {}", &nir.replace(' ', ""));
    assert_not("FR_NIR", &format!("NIR 1 84 13 76 451 089 {key:02}"));
    let mut rng = sentinel_detect::testgen::Rng::new(5);
    for _ in 0..200 {
        assert_finds(
            "PL_PESEL",
            "PESEL {}",
            &sentinel_detect::testgen::pesel(&mut rng),
        );
        assert_finds(
            "IN_AADHAAR",
            "Aadhaar: {}",
            &sentinel_detect::testgen::aadhaar(&mut rng),
        );
        assert_finds(
            "FR_NIR",
            "INSEE {}",
            &sentinel_detect::testgen::nir(&mut rng),
        );
    }
}

#[test]
fn a_number_written_whole_does_not_take_the_next_one() {
    assert_finds("PHONE_NUMBER", "Mobile: {} 806 ms Visa", "+34812375046");
    assert_finds("PHONE_NUMBER", "call {} 12 times", "+4915123456789");
    assert_finds("PHONE_NUMBER", "call {} today", "+44 20 7946 0958");
}

/// National numbers in Chinese, Japanese and Korean text: lifted by their own words for a
/// phone, written against the text around them or apart.
#[test]
fn phones_in_chinese_japanese_and_korean_text() {
    assert_finds("PHONE_NUMBER", "電話番号は{}です。", "090-1234-5678");
    assert_finds("PHONE_NUMBER", "電話番号は {} です", "090-1234-5678");
    assert_finds("PHONE_NUMBER", "電話：{}", "03-1234-5678");
    assert_finds("PHONE_NUMBER", "携帯：{}", "080-1234-5678");
    assert_finds("PHONE_NUMBER", "联系电话：{}。", "010-12345678");
    assert_finds("PHONE_NUMBER", "전화번호는 {}입니다", "010-1234-5678");
    assert_finds("PHONE_NUMBER", "휴대폰 {}", "010-9876-5432");
    // Without the word, a national number stays below the threshold, as in English.
    assert_not("PHONE_NUMBER", "注文番号は090-1234-5678です");
    // Chinese mobile numbers (no trunk 0): grouped 3-4-4, found; whole, beside a word for
    // a phone or for contact; an order number of that shape without one is not.
    assert_finds("PHONE_NUMBER", "请拨打{}。", "138 0013 8000");
    assert_finds("PHONE_NUMBER", "Reach me on {} today", "139-1234-5678");
    assert_finds("PHONE_NUMBER", "手机号{}", "13800138000");
    assert_finds("PHONE_NUMBER", "联系方式：{}", "18612345678");
    assert_finds("PHONE_NUMBER", "手機 {}", "0912345678");
    assert_not("PHONE_NUMBER", "订单号13800138000已发货");
    // Spanish mobile numbers (no trunk 0, no country code): beside a word for a phone.
    assert_finds("PHONE_NUMBER", "mi móvil es el {}", "612 345 678");
    assert_finds("PHONE_NUMBER", "Teléfono: {}", "712 34 56 78");
    assert_finds("PHONE_NUMBER", "llámame al móvil {}", "612345678");
    assert_not("PHONE_NUMBER", "total 612 345 678 euros");
    assert_not("PHONE_NUMBER", "pedido 612345678 enviado");
    // An Italian mobile whose exchange starts 2-9 reads as a US-shaped number.
    assert_finds("PHONE_NUMBER", "cellulare {}", "333 234 5678");
    assert_not("PHONE_NUMBER", "order 12800138000 shipped");
    // Open-ended values end where those scripts' letters begin: the sentence after an
    // address or a password is not part of it.
    assert_finds(
        "URL",
        "詳細は{}をご覧ください。",
        "https://example.com/docs",
    );
    assert_finds("URL", "请访问{}，谢谢", "https://example.cn/a?b=1");
    assert_finds(
        "CONNECTION_STRING",
        "接続先は{}です",
        "postgres://app:s3cretPW9@db:5432/app",
    );
    assert_finds(
        "GENERIC_SECRET",
        "password={}をお使いください",
        "Hunter2345x",
    );
}

/// Chinese resident identity card numbers: a birth date and a check character that may be
/// `X`; found beside Chinese text as in English.
#[test]
fn chinese_resident_ids() {
    assert_finds("CN_RESIDENT_ID", "身份证号码：{}", "11010519491231002X");
    assert_finds("CN_RESIDENT_ID", "客户{}的资料", "440308199901010012");
    assert_finds(
        "CN_RESIDENT_ID",
        "Resident ID {} on file.",
        "110105200002290013",
    );
    // Raised by its context word, the score reads as written: 1.0; and a number that is
    // a card's shape too (Gansu's 622..., Luhn-valid) is the identity number with or
    // without that word.
    assert_eq!(
        score_of("CN_RESIDENT_ID", "身份证号码：11010519491231002X").as_deref(),
        Some("1")
    );
    assert_finds("CN_RESIDENT_ID", "身份证 {}", "622197197704240330");
    assert_finds("CN_RESIDENT_ID", "客户{}的资料", "622197197704240330");
    assert_not("CREDIT_CARD", "card 622197197704240330");
    // A wrong check character, a day that does not exist, nineteen digits.
    assert_not("CN_RESIDENT_ID", "身份证号码：110105194912310021");
    assert_not("CN_RESIDENT_ID", "身份证号码：110105190002290017");
    assert_not("CN_RESIDENT_ID", "order 4403081999010100121");
    // 38 names no province (and this one is a Diners card's shape).
    assert_not("CN_RESIDENT_ID", "身份证号码：380107199508233689");
    let mut rng = sentinel_detect::testgen::Rng::new(11);
    for _ in 0..200 {
        let id = sentinel_detect::testgen::cn_resident_id(&mut rng);
        assert_finds("CN_RESIDENT_ID", "身份证 {}", &id);
    }
}

/// South Korean resident registration numbers: a real birth date in the century the
/// seventh digit names; the check digit and the dash raise the score, a context word
/// takes in the numbers issued since October 2020 (no check digit) and bare ones.
#[test]
fn korean_resident_registration_numbers() {
    let score = |text: &str| score_of("KR_RRN", text);
    assert_finds("KR_RRN", "주민등록번호: {}", "900101-1234568");
    assert_finds("KR_RRN", "고객 {} 확인", "900101-1234568");
    assert_finds("KR_RRN", "RRN {} on file", "200315-3123456");
    assert_finds("KR_RRN", "주민번호{}입니다", "9001011234568");
    // A foreigner's registration number, born on 29 February 2004.
    assert_finds("KR_RRN", "외국인등록번호 {}", "040229-7000000");
    // Checked and dashed: 0.85; unchecked (issued since October 2020) 0.6; bare and
    // checked 0.65; bare and unchecked only with a context word.
    assert_eq!(score("고객 900101-1234568 확인").as_deref(), Some("0.85"));
    assert_eq!(score("고객 200315-3123456 확인").as_deref(), Some("0.6"));
    assert_eq!(
        score("order 9001011234568 shipped").as_deref(),
        Some("0.65")
    );
    assert_eq!(score("order 9001011234567 shipped"), None);
    assert_eq!(score("RRN 9001011234567").as_deref(), Some("0.75"));
    // Bare, a Visa card's shape too (Luhn holds): the registration number, with or
    // without its context word.
    assert_finds("KR_RRN", "order {}", "4207021899239");
    assert_finds("KR_RRN", "주민등록번호 {}", "4207021899239");
    assert_not("CREDIT_CARD", "card 4207021899239");
    assert_eq!(score("주민등록번호: 900101-1234568").as_deref(), Some("1"));
    // Days that do not exist (29 February 1900; 2000 was a leap year), a seventh digit
    // that names no century, fourteen digits, a barcode.
    assert_not("KR_RRN", "주민등록번호: 000229-1234567");
    assert_finds("KR_RRN", "주민등록번호: {}", "000229-3234567");
    assert_not("KR_RRN", "주민등록번호: 901301-1234568");
    assert_not("KR_RRN", "주민등록번호: 900101-9234568");
    assert_not("KR_RRN", "주민등록번호: 90010112345681");
    assert_not("KR_RRN", "EAN 4006381333931");
    let mut rng = sentinel_detect::testgen::Rng::new(13);
    for _ in 0..200 {
        let id = sentinel_detect::testgen::kr_rrn(&mut rng);
        assert_finds("KR_RRN", "주민등록번호 {}", &id);
        assert_finds("KR_RRN", "id {}", &id);
    }
}

/// Japanese individual numbers (My Number): twelve digits and a check digit, found beside
/// their context word only, which also tells them from an Aadhaar number of the same
/// digits.
#[test]
fn japanese_individual_numbers() {
    assert_finds("JP_MY_NUMBER", "マイナンバー：{}", "123456789018");
    assert_finds("JP_MY_NUMBER", "マイナンバーは{}です", "1234 5678 9018");
    assert_finds("JP_MY_NUMBER", "個人番号 {} を確認", "1234-5678-9018");
    assert_finds("JP_MY_NUMBER", "My Number {} on file.", "123456789018");
    // A wrong check digit; no context word; eleven or thirteen digits.
    assert_not("JP_MY_NUMBER", "マイナンバー：123456789019");
    assert_not("JP_MY_NUMBER", "order 123456789018 shipped");
    assert_not("JP_MY_NUMBER", "マイナンバー：12345678901");
    assert_not("JP_MY_NUMBER", "マイナンバー：1234567890180");
    let mut rng = sentinel_detect::testgen::Rng::new(17);
    let mut both = 0;
    for _ in 0..400 {
        let n = sentinel_detect::testgen::jp_my_number(&mut rng);
        assert_finds("JP_MY_NUMBER", "マイナンバー {}", &n);
        // Digits that pass both checks are what their context word says.
        if sentinel_detect::Validator::InAadhaar
            .check(&n, 1.0)
            .is_some()
        {
            both += 1;
            assert_finds("IN_AADHAAR", "aadhaar {}", &n);
            assert_not("JP_MY_NUMBER", &format!("aadhaar {n}"));
        }
    }
    assert!(both > 10, "{both} numbers pass both checks");
}

#[test]
fn spanish_italian_and_uk_ids() {
    assert_finds("ES_NIF", "DNI: {}", "12345678Z");
    assert_finds("ES_NIF", "Cliente {} registrado", "12345678Z");
    assert_not("ES_NIF", "DNI: 12345678A");
    assert_not("ES_NIF", "batch 123456789Z");
    assert_finds("ES_NIE", "NIE {}", "X1234567L");
    assert_not("ES_NIE", "NIE X1234567A");
    // With dashes, as they are often written.
    assert_finds("ES_NIF", "DNI: {}", "12345678-Z");
    assert_finds("ES_NIF", "DNI {}.", "12345678-Z");
    assert_not("ES_NIF", "DNI: 12345678-A");
    assert_not("ES_NIF", "ref 112345678-Z");
    assert_not("ES_NIF", "ref 12345678-ZA");
    // A DNI with its thousands dotted, as the card prints it.
    assert_finds("ES_NIF", "DNI: {}", "12.345.678-Z");
    assert_finds("ES_NIF", "con DNI {}, firmado", "12.345.678-Z");
    assert_not("ES_NIF", "DNI: 12.345.678-A");
    assert_not("ES_NIF", "version 1.12.345.678-Z");
    assert_not("ES_NIF", "DNI: 12.345.6789-Z");
    assert_finds("ES_NIE", "NIE {}", "X-1234567-L");
    assert_finds("ES_NIE", "NIE {}", "X1234567-L");
    assert_finds("ES_NIE", "NIE {}", "X-1234567L");
    assert_not("ES_NIE", "NIE X-1234567-A");
    // A date, a range or a hyphenated word beside them is none of them.
    for text in [
        "2024-01-15",
        "pages 12345678-12345690",
        "well-known X-ray",
        "A-B-C",
    ] {
        assert!(found(text).is_empty(), "{text}: {:?}", found(text));
    }
    assert_finds("IT_FISCAL_CODE", "Codice fiscale: {}", "RSSMRA80A01H501U");
    assert_finds(
        "IT_FISCAL_CODE",
        "cliente {} registrato",
        "MRTMTT91D08F205J",
    );
    assert_not("IT_FISCAL_CODE", "codice fiscale RSSMRA80A01H501V");
    assert_finds("UK_NINO", "National Insurance number {}", "AB 12 34 56 C");
    assert_finds("UK_NINO", "NI number: {}", "AB123456C");
    assert_not("UK_NINO", "part AB123456C shipped");
    assert_not("UK_NINO", "National Insurance number GB 12 34 56 C");
    // Beside an IBAN in one run of capitals and digits, each is its own.
    assert_finds(
        "ES_NIF",
        "DNI {} IBAN ES91 2100 0418 4502 0005 1332",
        "12345678Z",
    );
    let mut rng = sentinel_detect::testgen::Rng::new(7);
    for _ in 0..200 {
        use sentinel_detect::testgen as g;
        assert_finds("ES_NIF", "DNI {}", &g::es_nif(&mut rng));
        assert_finds("ES_NIE", "NIE: {}", &g::es_nie(&mut rng));
        assert_finds("IT_FISCAL_CODE", "C.F. {}", &g::it_fiscal_code(&mut rng));
        assert_finds("UK_NINO", "NINO {}", &g::uk_nino(&mut rng));
    }
}

#[test]
fn cloud_and_api_keys() {
    let mut rng = Rng::new(11);
    assert_finds("AWS_ACCESS_KEY", "key {} in config", "AKIAIOSFODNN7EXAMPLE");
    assert_not(
        "AWS_ACCESS_KEY",
        "AKIA is a prefix, AKIAIOSFODNN7EXAMPL too short",
    );
    assert_finds(
        "AWS_SECRET_KEY",
        "aws_secret_access_key = {}",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    assert_not(
        "AWS_SECRET_KEY",
        "digest wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY of the file",
    );
    assert_finds(
        "OPENAI_API_KEY",
        "OPENAI_API_KEY={}",
        &testgen::openai_key(&mut rng),
    );
    assert_finds(
        "OPENAI_API_KEY",
        "key: {}",
        "sk-abcdefghijklmnopqrstuvwxyz012345",
    );
    assert_finds(
        "ANTHROPIC_API_KEY",
        "key: {}",
        &testgen::anthropic_key(&mut rng),
    );
    assert_not(
        "OPENAI_API_KEY",
        &format!("key: {}", testgen::anthropic_key(&mut rng)),
    );
    assert_finds(
        "SLACK_TOKEN",
        "token {} here",
        &testgen::slack_token(&mut rng),
    );
    assert_finds(
        "SLACK_TOKEN",
        "hook {} here",
        "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx",
    );
    assert_finds(
        "STRIPE_KEY",
        "stripe {} here",
        &testgen::stripe_key(&mut rng),
    );
    assert_not("STRIPE_KEY", "pk_live_abcdefghijklmnop is publishable");
    assert_finds(
        "GOOGLE_API_KEY",
        "maps key {}",
        &testgen::google_key(&mut rng),
    );
    assert_finds("JWT", "Authorization: Bearer {}", &testgen::jwt(&mut rng));
    assert_not("JWT", "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.abc lacks alg");
    assert_finds("PRIVATE_KEY", "key:\n{}\n", &testgen::private_key(&mut rng));
    // Inside JSON text (a tool call's arguments) its line breaks are `\n`: found whole.
    let key = testgen::private_key(&mut rng);
    let json = serde_json::json!({ "key": key }).to_string();
    let escaped = &json[8..json.len() - 2];
    assert_finds("PRIVATE_KEY", "{\"key\":\"{}\"}", escaped);
    assert_finds(
        "PRIVATE_KEY",
        "pasted {} then cut off",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    );
    assert_finds("GENERIC_SECRET", "db_password={} # prod", "Xk9#mP2vL7qZ");
    assert_finds("GENERIC_SECRET", "api_key: \"{}\"", "a8F3kL0pQ9zX2mN7");
    // A quote written as a percent escape (a form body, a URL) is part of the password.
    assert_finds("GENERIC_SECRET", "db_password={} room 382", "Bvbb0n%2763P");
    assert_finds(
        "GENERIC_SECRET",
        "GET /login?user=jo&password={}",
        "x7%22Kq9%60mW2",
    );
    assert_not(
        "GENERIC_SECRET",
        "password = ${DB_PASSWORD} and password: changeme123",
    );
    // An HTTP header's credentials, as a pasted command or request carries them.
    assert_finds(
        "GENERIC_SECRET",
        r#"curl -H "Authorization: Basic {}" https://api.example.com"#,
        "YWxhZGRpbjpvcGVuc2VzYW1l",
    );
    assert_finds(
        "GENERIC_SECRET",
        r#"{"headers": {"authorization": "Bearer {}"}}"#,
        "q8Vx2LmN4pR7tZ1wK9sD",
    );
    assert_finds(
        "GENERIC_SECRET",
        "Proxy-Authorization: token {}",
        "ghx9Lk2Pq7Vm4Rt8Wz3Y",
    );
    // A command line's user and password: the password is the secret.
    assert_finds(
        "GENERIC_SECRET",
        "curl -u admin:{} https://api.example.com",
        "S3cr3t!Pass",
    );
    assert_finds(
        "GENERIC_SECRET",
        "curl --user deploy:{} -X POST",
        "Zq8#kLm2Vx",
    );
    assert_finds("GENERIC_SECRET", "MINIO_ACCESS_KEY={}", "Zk3pQ9xL2mV8nB4w");
    // A password as a flag's argument, no `:` or `=` before it, to the tools that take
    // it so; and a name ending in `_PASS`.
    for line in [
        "sshpass -p '{}' ssh deploy@10.0.0.5",
        "sshpass -p{} scp backup.tar web1:/srv",
        "mysql -u root -p{} shop",
        "mysqldump -h db.internal -uroot -p'{}' prod > dump.sql",
        "docker login -u jdoe -p {} registry.example.com",
        "helm registry login registry.example.com --username ci --password {}",
        "mongosh mongodb://db:27017/admin -u admin -p {} --quiet",
        "ldapsearch -x -D cn=admin,dc=example,dc=com -w {} -b dc=example,dc=com",
        "wget --user jdoe --password {} https://example.com/f",
        "export DB_PASS={}",
        "smtp-pass: {}",
        "redis-cli -h cache.internal -p 6379 -a {} --no-auth-warning",
        "curl -u jane.doe@example.com:{} https://api.example.com/v2/orders",
        "curl -s -u 'svc-reporting-prod:{}' -X GET https://grafana.example.com/api",
        "openssl pkcs12 -export -in cert.pem -passout pass:{} -out bundle.p12",
        "openssl rsa -in key.pem -passin 'pass:{}' -out plain.pem",
        "openssl enc -aes-256-cbc -pass pass:{} -in a -out b",
    ] {
        assert_finds("GENERIC_SECRET", line, "Zq8#wP3xLm2Kd");
    }
    // A password in quotes is read to its closing quote, spaces and all: a passphrase,
    // whose first word alone had been too short to report, and whose other words leaked.
    for line in [
        "password: \"{}\"",
        "db_password = '{}'",
        "{\"user\": \"jdoe\", \"password\": \"{}\"}",
        "export PGPASSWORD=\"{}\"",
        "mysql -u root --password \"{}\" shop",
        "docker login -u jdoe -p '{}' registry.example.com",
        "sshpass -p \"{}\" ssh deploy@web1",
    ] {
        assert_finds("GENERIC_SECRET", line, "correct horse battery staple");
    }
    assert_finds("GENERIC_SECRET", "passphrase: '{}'", "Tr0ub4dor & 3 more!");
    // With a comma (or `;`, a backquote, `:`, `=`, a letter past ASCII) it is not read
    // in quotes: the first word, up to the comma, as before.
    assert_finds("GENERIC_SECRET", "passphrase: '{}, & 3 more!'", "Tr0ub4dor");
    // Only a password's value spans words: a token, a key or a header's value in quotes
    // ends at a space as before (the words of prose after `token:` are not a value).
    for line in [
        "token: \"the next token in the sequence\"",
        "{\"secret\": \"keep it simple and clear\"}",
        "password: \"short\"",
        "password: \"your password here\"",
        "password: \"correct horse\nbattery staple\"",
        "openssl rsa -in key.pem -passin env:KEY_PASSPHRASE -out plain.pem",
        "openssl rsa -in key.pem -passin file:/run/secrets/key_pass -out plain.pem",
    ] {
        assert_not("GENERIC_SECRET", line);
    }
    assert_finds(
        "AWS_SECRET_KEY",
        "AWS_SECRET_ACCESS_KEY={}",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPL3Yq",
    );
    // Not a password: a user and group, a sort's flag, a push's upstream.
    for line in [
        "docker run -u 1000:1000 alpine",
        "sort -u names.txt > unique.txt",
        "git push -u origin main:release",
        "curl -u root:root http://localhost",
    ] {
        assert_not("GENERIC_SECRET", line);
    }
    // A flag that prompts, a port, a password read from a file or standard input, a
    // variable; `pass` as a word.
    for line in [
        "mysql -u root -p shop_production",
        "mysql -h db.internal -P 3306 -u app -p --database=analytics_prod",
        "sshpass -f /etc/secrets/pwfile ssh -p 22022 deploy@web1",
        "docker login --password-stdin registry.example.com",
        "docker login -u jdoe -p $REGISTRY_PASSWORD registry.example.com",
        "mongosh mongodb://db:27017 -u admin -p --authenticationDatabase admin",
        "ldapsearch -x -W -D cn=admin,dc=example,dc=com -b dc=example,dc=com",
        "Click login to continue; the login page asks for your password again.",
        "Use --password followed by your password when the prompt is disabled.",
        "Your boarding pass: 12AB34CD56EF",
        "bypass=Xk9mPq2vLz",
        "redis-cli -h cache.internal -p 6379 -n 2 --scan",
        "curl -u jane.doe@example.com https://api.example.com/v2/orders",
        "ps -u jane.doe@example.com:staff -o pid",
    ] {
        assert_not("GENERIC_SECRET", line);
    }
    // The header's name without credentials, a placeholder, prose.
    assert_not("GENERIC_SECRET", "Authorization: Bearer <token>");
    assert_not("GENERIC_SECRET", "Authorization: Basic $CREDENTIALS");
    assert_not(
        "GENERIC_SECRET",
        "authorization: the board approved the budget yesterday",
    );
}

#[test]
fn github_checksum_sets_the_score() {
    let d = crate::util::detector();
    let mut rng = Rng::new(5);
    let good = testgen::github_token(&mut rng);
    let mut bad = good.clone();
    let last = bad.pop().unwrap_or('a');
    bad.push(if last == 'a' { 'b' } else { 'a' });
    use sentinel_detect::Detector;
    let score = |t: &str| d.scan(&format!("token {t}")).first().map(|f| f.score);
    assert_eq!(score(&good), Some(1.0));
    let low = score(&bad).unwrap_or(0.0);
    assert!(
        low > 0.5 && low < 0.9,
        "a failing checksum still reports, lower: {low}"
    );
}

/// The prefixed tokens of developer platforms: found in the places they are pasted, each
/// under its own entity; near misses (a prefix alone, a body of the wrong length or
/// alphabet) are not.
#[test]
fn platform_tokens() {
    let mut rng = Rng::new(17);
    for _ in 0..8 {
        assert_finds(
            "GITLAB_TOKEN",
            "GITLAB_TOKEN={}",
            &testgen::gitlab_token(&mut rng),
        );
        assert_finds(
            "NPM_TOKEN",
            "//registry.npmjs.org/:_authToken={}",
            &testgen::npm_token(&mut rng),
        );
        assert_finds(
            "PYPI_TOKEN",
            "password = {}",
            &testgen::pypi_token(&mut rng),
        );
        assert_finds(
            "HUGGINGFACE_TOKEN",
            "HF_TOKEN={} python train.py",
            &testgen::huggingface_token(&mut rng),
        );
        assert_finds(
            "SENDGRID_KEY",
            "SENDGRID_API_KEY='{}'",
            &testgen::sendgrid_key(&mut rng),
        );
        assert_finds(
            "DIGITALOCEAN_TOKEN",
            "doctl auth init -t {}",
            &testgen::digitalocean_token(&mut rng),
        );
        assert_finds(
            "GOOGLE_OAUTH_SECRET",
            "\"client_secret\":\"{}\"",
            &testgen::google_oauth_secret(&mut rng),
        );
        assert_finds(
            "ATLASSIAN_TOKEN",
            "jira token {} expires",
            &testgen::atlassian_token(&mut rng),
        );
    }
    assert_not("GITLAB_TOKEN", "see glpat- tokens and glpat-short");
    assert_not("NPM_TOKEN", "npm_config_cache and npm_abc123");
    assert_not(
        "HUGGINGFACE_TOKEN",
        "hf_hub_download(repo_id) and hf_transfer",
    );
    assert_not("SENDGRID_KEY", "SG.example.com and SG.x.y");
    assert_not("DIGITALOCEAN_TOKEN", "dop_v1_ then dop_v1_abc");
    assert_not("PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc short");
}

/// An Azure connection string's key is reported, not its account name; a URI with a
/// password in it is reported whole (not as an e-mail address or a plain URL), unless the
/// password is a placeholder.
#[test]
fn connection_strings() {
    let mut rng = Rng::new(19);
    for _ in 0..8 {
        let key = testgen::azure_storage_key(&mut rng);
        assert_finds(
            "AZURE_KEY",
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=core.windows.net",
            &key,
        );
        let uri = testgen::connection_string(&mut rng);
        assert_finds("CONNECTION_STRING", "DATABASE_URL={}", &uri);
        assert_finds("CONNECTION_STRING", "connect to {}.", &uri);
        let found = crate::util::found(&format!("DATABASE_URL={uri}"));
        assert_eq!(found.len(), 1, "one finding, the URI: {found:?}");
    }
    assert_finds(
        "AZURE_KEY",
        "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={}",
        "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=",
    );
    assert_finds(
        "CONNECTION_STRING",
        "git remote add origin {}",
        "https://jane:ghs_secretvalue123@git.example.com/org/repo.git",
    );
    // Redis's password with no user name, written plain or escaped.
    assert_finds(
        "CONNECTION_STRING",
        "REDIS_URL={}",
        "redis://:Xk9mP2vL7q@cache.internal:6379/0",
    );
    assert_finds(
        "CONNECTION_STRING",
        "use {}",
        "rediss://:p%40ssw0rd9@cache:6380",
    );
    // A password holding percent escapes (a space, an `@`, a `/` written as the URL's
    // syntax wants them) is the URI's, whole, and no piece of it reads as an e-mail
    // address; escapes after the authority still read as what they stand for. The URI
    // runs to its end, an address in its query included (which was cut in two, its
    // domain left out of both findings).
    for uri in [
        "postgres://app:my%20secret%20pw@db.internal:5432/app",
        "amqp://svc:p%40ss%2Fw0rd-9@mq.internal:5672/vhost",
        "https://bot:tok%20en99x@api.internal/hook?notify=jane.doe%40example.com",
        "https://bot:tok3n99x@api.internal/hook?notify=jane.doe@example.com",
    ] {
        assert_finds("CONNECTION_STRING", "db: {} now", uri);
        let found = crate::util::found(&format!("db: {uri} now"));
        assert_eq!(found.len(), 1, "one finding, the URI: {found:?}");
    }
    assert_finds(
        "EMAIL_ADDRESS",
        "https://api.internal/hook?notify={}",
        "jane.doe%40example.com",
    );
    assert_not("AZURE_KEY", "AccountKey=short== and AccountName=acme");
    for template in [
        "postgres://user:password@localhost:5432/db",
        "mysql://root:${MYSQL_ROOT_PASSWORD}@db/app",
        "redis://:<password>@cache:6379",
        "amqp://guest:****@broker",
        "https://example.com/a:b@c is a path",
        "postgres://user@localhost/db has no password",
        "postgres://postgres:mysecretpassword@localhost:5432/postgres",
        "mongodb://admin:admin@mongo:27017",
    ] {
        assert_not("CONNECTION_STRING", template);
    }
}
