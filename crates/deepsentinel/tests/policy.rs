//! `deepsentinel policy check` and `policy explain`.

use crate::util::{run, run_env};

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

#[test]
fn explain_pseudonymizes_and_restores_an_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("p.toml");
    std::fs::write(
        &file,
        "version = \"1\"\n[[rule]]\ngroups = [\"pci\", \"pii\"]\naction = \"pseudonymize\"\n",
    )
    .expect("write");
    let policy = file.display().to_string();
    let env = [("DEEPSENTINEL_PSEUDONYM_KEY", "cli test key")];
    let prompt = "card 4111 1111 1111 1111";
    let (code, out) = run_env(&["policy", "explain", "--policy", &policy, prompt], &env);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("-> pseudonymize (rule 1)"), "{out}");
    let surrogate = out
        .lines()
        .find_map(|l| l.strip_prefix("card "))
        .expect("the transformed text")
        .to_owned();
    assert!(surrogate.starts_with("4111 11") && surrogate != "4111 1111 1111 1111");
    // Surrogates are stable for a key, so a second run restores an answer that uses it.
    let answer = format!("Your card {surrogate} is on file. [US_SSN_zzzzzzzz]");
    let (code, out) = run_env(
        &[
            "policy",
            "explain",
            "--policy",
            &policy,
            "--restore",
            &answer,
            prompt,
        ],
        &env,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("restore: 1 restored, 0 withheld, 1 unresolved US_SSN=1")
            && out.contains("Your card 4111 1111 1111 1111 is on file. [US_SSN_zzzzzzzz]"),
        "{out}"
    );
    // Without the key the policy does not load, and says which variable to set.
    let (code, out) = run_env(
        &["policy", "check", &policy],
        &[("DEEPSENTINEL_PSEUDONYM_KEY", "")],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("DEEPSENTINEL_PSEUDONYM_KEY"), "{out}");
}
