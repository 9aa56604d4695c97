//! `deepsentinel policy check` and `policy explain`.

use crate::util::run;

#[test]
fn check_reports_valid_files_and_errors_with_positions() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "version = \"1\"\nextends = \"gdpr\"\n[[rule]]\nentities = [\"EMPLOYE_ID\"]\naction = \"redact\"\n[tenants.acme]\n").expect("write");
    let (code, out) = run(&["policy", "check", &good.display().to_string()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("valid")
            && out.contains("tenants: acme")
            && out.contains("'EMPLOYE_ID' is not built in"),
        "{out}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = \"1\"\n[[rule]]\nentities = [\"US_SSN\"]\naction = \"shred\"\n",
    )
    .expect("write");
    let (code, out) = run(&["policy", "check", &bad.display().to_string()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("bad.toml:4:10:"), "{out}");
}

#[test]
fn explain_shows_rules_and_the_result_without_leaking_blocked_values() {
    let (code, out) = run(&[
        "policy",
        "explain",
        "--policy",
        "strict",
        "mail jane@example.com, ssn 536-22-1234",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("EMAIL_ADDRESS chars 5..21") && out.contains("-> redact (default)"),
        "{out}"
    );
    assert!(
        out.contains("mail <EMAIL_ADDRESS_1>, ssn <US_SSN_1>"),
        "{out}"
    );
    let (_, out) = run(&[
        "policy",
        "explain",
        "--policy",
        "strict",
        "key AKIAIOSFODNN7EXAMPLE",
    ]);
    assert!(
        out.contains("decision: block") && out.contains("AWS_ACCESS_KEY (rule block-secrets)"),
        "{out}"
    );
    assert!(
        !out.lines()
            .skip(1)
            .any(|l| l.contains("AKIAIOSFODNN7EXAMPLE")),
        "{out}"
    );
}
