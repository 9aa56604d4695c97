//! Custom recognizers and lists from TOML, and their errors.

use sentinel_detect::{DetectionConfig, Detector, ErrorKind, LocalDetector};

fn build(toml: &str) -> Result<LocalDetector, sentinel_detect::Error> {
    let cfg = DetectionConfig::from_toml("test.toml", toml)?;
    cfg.apply(LocalDetector::builder())?.build()
}

#[test]
fn custom_recognizer_with_validator_and_required_context() {
    let d = build(
        r#"
        [[recognizer]]
        name = "member"
        entity = "MEMBER_ID"
        pattern = '\bM[0-9]{7}\b'
        validator = "luhn"
        context = ["member"]
        context_required = true
        score = 0.7
        "#,
    )
    .expect("valid config");
    let found = d.scan("member M1234566 and M1234567, also M7992739871");
    let ids: Vec<&str> = found
        .iter()
        .filter(|f| f.entity.as_str() == "MEMBER_ID")
        .map(|f| f.entity.as_str())
        .collect();
    assert_eq!(ids.len(), 1);
    assert!(d
        .scan("guest M1234566")
        .iter()
        .all(|f| f.entity.as_str() != "MEMBER_ID"));
}

#[test]
fn lists_and_options() {
    let d = build(
        r#"
        [detection]
        min_score = 0.5
        disable = ["URL"]
        [allow]
        values = ["support@example.com"]
        [[deny]]
        entity = "CODENAME"
        values = ["Nightjar"]
        case_insensitive = true
        "#,
    )
    .expect("valid");
    let text = "support@example.com, jane@example.com, NIGHTJAR, nightjars, https://example.com";
    let got: Vec<String> = d
        .scan(text)
        .iter()
        .map(|f| text[f.span()].to_owned())
        .collect();
    assert_eq!(got, ["jane@example.com", "NIGHTJAR"]);
}

#[test]
fn errors_name_the_culprit() {
    let err = build("[[recognizer]]\nname = \"broken\"\nentity = \"X\"\npattern = '(unclosed'\n")
        .expect_err("bad pattern");
    assert_eq!(err.recognizer(), Some("broken"));
    assert!(err.to_string().contains("broken"), "{err}");

    let err = build(
        "[[recognizer]]\nname = \"v\"\nentity = \"X\"\npattern = 'x'\nvalidator = \"nope\"\n",
    )
    .expect_err("bad validator");
    assert!(matches!(err.kind(), ErrorKind::UnknownValidator { .. }));
    assert!(
        err.to_string().contains("luhn"),
        "lists the known ones: {err}"
    );

    let err = build("[[recognizer]]\nname = \"s\"\nentity = \"X\"\npattern = 'x'\nscore = 3.0\n")
        .expect_err("bad score");
    assert!(err.to_string().contains("score"));

    let err = build("[detection]\nmin_scor = 1\n").expect_err("unknown key");
    let msg = err.to_string();
    assert!(msg.starts_with("test.toml: line 2, column 1"), "{msg}");

    let err = build("[[recognizer]]\nname = \"email\"\nentity = \"X\"\npattern = 'x'\n")
        .expect_err("duplicate");
    assert!(matches!(err.kind(), ErrorKind::DuplicateRecognizer { .. }));

    let err =
        build("[[recognizer]]\nname = \"huge\"\nentity = \"X\"\npattern = '(?:a{1000}){1000}'\n")
            .expect_err("too big");
    assert_eq!(err.recognizer(), Some("huge"));
    // Not only the compiler's first line ("error building NFA"): why.
    assert!(err.to_string().contains("limit"), "{err}");
}
