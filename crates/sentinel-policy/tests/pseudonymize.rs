//! Pseudonymize and restore: surrogates that pass their validators, a vault per scope, and
//! restoring through case, bracket and spacing changes, JSON and streamed chunks.

use std::time::Duration;

use sentinel_detect::{Detector, EntityType, Finding, LocalDetector, Validator};
use sentinel_policy::{
    Action, Decision, DecisionContext, Error, PolicyEngine, PolicySet, RestoreStats,
};

const KEY_VAR: &str = "SENTINEL_PSEUDONYM_TEST_KEY";

fn policy(extra: &str) -> PolicySet {
    // Every test sets the same value, so the order tests run in does not matter.
    std::env::set_var(KEY_VAR, "pseudonym test key");
    let toml = format!(
        r#"
        version = "1"
        pseudonym_key_env = "{KEY_VAR}"
        {extra}
        [[rule]]
        name = "tokens-for-network"
        entities = ["IP_ADDRESS", "URL"]
        action = "pseudonymize"
        pseudonym = "token"
        [[rule]]
        name = "surrogates"
        groups = ["pii", "pci"]
        action = "pseudonymize"
        "#
    );
    PolicySet::from_toml("p.toml", &toml).expect("policy loads")
}

const PROMPT: &str = "Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, \
     SSN 536-22-1234, mail jane.doe@corp.com, server 10.20.30.40.";

fn pseudonymized(p: &PolicySet, text: &str, ctx: &DecisionContext<'_>) -> String {
    let findings = LocalDetector::new().scan(text);
    match p.decide(text, &findings, ctx) {
        Decision::Transform { text, applied } => {
            assert!(applied.iter().all(|a| a.action == Action::Pseudonymize));
            text
        }
        other => panic!("expected a transform, got {other:?}"),
    }
}

/// The entity types the detector finds in `text`, sorted.
fn types_found(text: &str) -> Vec<String> {
    let mut types: Vec<String> = LocalDetector::new()
        .scan(text)
        .iter()
        .map(|f| f.entity.to_string())
        .collect();
    types.sort();
    types
}

fn originals() -> [&'static str; 5] {
    [
        "4111 1111 1111 1111",
        "GB82 WEST 1234 5698 7654 32",
        "536-22-1234",
        "jane.doe@corp.com",
        "10.20.30.40",
    ]
}

#[test]
fn surrogates_keep_their_format_and_restore_exactly() {
    let p = policy("");
    let ctx = DecisionContext::request("acme").with_scope("conv-1");
    let out = pseudonymized(&p, PROMPT, &ctx);
    for v in originals() {
        assert!(!out.contains(v), "{v} leaked into {out}");
    }
    assert!(out.contains("[IP_ADDRESS_"), "{out}");
    assert!(out.contains("@example.com"), "{out}");
    // The surrogates are still what they pretend to be: the detector finds the same types.
    assert_eq!(
        types_found(&out),
        ["CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "US_SSN"],
        "{out}"
    );
    let card = LocalDetector::new()
        .scan(&out)
        .into_iter()
        .find(|f| f.entity.as_str() == "CREDIT_CARD")
        .expect("a card");
    assert!(Validator::CreditCard
        .check(&out[card.start..card.end], 1.0)
        .is_some());

    // The same value gets the same pseudonym in another request of the tenant.
    assert_eq!(
        out,
        pseudonymized(
            &p,
            PROMPT,
            &DecisionContext::request("acme").with_scope("conv-2")
        )
    );

    // The model's answer repeats the pseudonyms; the caller gets the originals back.
    let restorer = p
        .restorer(&DecisionContext::response("acme").with_scope("conv-1"))
        .expect("the policy pseudonymizes");
    let back = restorer.restore(&out);
    assert_eq!(back.text, PROMPT);
    assert_eq!(back.stats.restored, 5);
    assert_eq!(back.stats.unresolved_total(), 0);
}

#[test]
fn restore_tolerates_case_bracket_and_spacing_changes() {
    let p = policy("");
    let ctx = DecisionContext::request("acme").with_scope("tolerant");
    let out = pseudonymized(&p, "host 10.20.30.40 card 4111 1111 1111 1111", &ctx);
    let token = &out[out.find("[IP_").expect("token")..][..21];
    let id = &token[12..20];
    let card_start = out.find("card ").expect("card") + 5;
    let surrogate_digits: String = out[card_start..]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let dashed = format!(
        "{}-{}-{}-{}",
        &surrogate_digits[..4],
        &surrogate_digits[4..8],
        &surrogate_digits[8..12],
        &surrogate_digits[12..]
    );
    let answer = format!(
        "a {token} b <ip address {id}> c IP_ADDRESS_{upper} d ( Ip-Address:{id} ) e {dashed}.",
        upper = id.to_uppercase()
    );
    let r = p
        .restorer(&DecisionContext::response("acme").with_scope("tolerant"))
        .expect("restorer")
        .restore(&answer);
    assert_eq!(
        r.text,
        "a 10.20.30.40 b 10.20.30.40 c 10.20.30.40 d 10.20.30.40 e 4111-1111-1111-1111."
    );
    assert_eq!(r.stats.restored, 5);
}

#[test]
fn unknown_expired_and_foreign_tokens_are_counted_not_dropped() {
    let p = policy("[vault]\nttl_seconds = 60\n");
    let ctx = DecisionContext::request("acme").with_scope("c");
    let out = pseudonymized(&p, "host 10.20.30.40", &ctx);
    let token = out.trim_start_matches("host ").to_owned();
    let made_up = "[EMAIL_ADDRESS_zzzzzzzz]";

    // Another tenant cannot resolve acme's token, even with the same scope id.
    let foreign = p
        .restorer(&DecisionContext::response("globex").with_scope("c"))
        .expect("restorer")
        .restore(&format!("{token} {made_up}"));
    assert_eq!(foreign.text, format!("{token} {made_up}"));
    assert_eq!(foreign.stats.unresolved.get("IP_ADDRESS"), Some(&1));
    assert_eq!(foreign.stats.unresolved.get("EMAIL_ADDRESS"), Some(&1));

    // Within the TTL it resolves; after it, it is counted as unresolved.
    let resp = DecisionContext::response("acme").with_scope("c");
    assert_eq!(
        p.restorer(&resp)
            .expect("restorer")
            .restore(&token)
            .stats
            .restored,
        1
    );
    p.vault().advance_clock(Duration::from_secs(61));
    let late = p.restorer(&resp).expect("restorer").restore(&token);
    assert_eq!(late.text, token);
    assert_eq!(late.stats.unresolved.get("IP_ADDRESS"), Some(&1));
    assert_eq!(p.vault().stats().expired_scopes, 1);
}

#[test]
fn tool_call_arguments_are_restored_as_valid_json() {
    let p = policy("");
    let ctx = DecisionContext::request("acme").with_scope("json");
    // A value with quotes and a backslash, found by another detector.
    let text = r#"name: O"Brien\Jr here"#;
    let finding = Finding {
        entity: EntityType::new("PERSON"),
        start: 6,
        end: 16,
        score: 0.9,
        recognizer: LocalDetector::new().scan("a@b.example.com")[0].recognizer,
        escaped: false,
        folded: false,
    };
    let p2 = {
        std::env::set_var(KEY_VAR, "pseudonym test key");
        PolicySet::from_toml(
            "p.toml",
            &format!(
                "version = \"1\"\npseudonym_key_env = \"{KEY_VAR}\"\n[[rule]]\nentities = [\"PERSON\"]\naction = \"pseudonymize\"\n"
            ),
        )
        .expect("policy")
    };
    let Decision::Transform { text: out, .. } = p2.decide(text, &[finding], &ctx) else {
        panic!("expected a transform")
    };
    let token = &out[6..out.len() - 5];
    assert!(token.starts_with("[PERSON_"), "{out}");
    let mut body = serde_json::json!({
        "choices": [{"message": {
            "content": format!("Hello {token}"),
            "tool_calls": [{"function": {
                "name": "lookup",
                "arguments": serde_json::json!({"name": token, "n": 1}).to_string()
            }}]
        }}]
    });
    let mut stats = RestoreStats::default();
    p2.restorer(&DecisionContext::response("acme").with_scope("json"))
        .expect("restorer")
        .restore_json(&mut body, &mut stats);
    assert_eq!(stats.restored, 2);
    let msg = &body["choices"][0]["message"];
    assert_eq!(msg["content"], r#"Hello O"Brien\Jr"#);
    let args: serde_json::Value = serde_json::from_str(
        msg["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .expect("str"),
    )
    .expect("arguments stay valid JSON");
    assert_eq!(args["name"], r#"O"Brien\Jr"#);
    assert_eq!(args["n"], 1);
    drop(p);
}

/// Two addresses written without a space between them go up as two surrogates run
/// together, and come back as the caller wrote them, whole and streamed.
#[test]
fn e_mail_surrogates_run_together_restore() {
    let p = policy("");
    let text = "write to jane.doe@example.comops-team@example.org today";
    let ctx = DecisionContext::request("acme").with_scope("glued");
    let out = pseudonymized(&p, text, &ctx);
    assert!(
        !out.contains("jane.doe") && !out.contains("ops-team"),
        "{out}"
    );
    let restorer = p
        .restorer(&DecisionContext::response("acme").with_scope("glued"))
        .expect("restorer");
    let whole = restorer.restore(&out);
    assert_eq!(whole.text, text);
    assert_eq!(whole.stats.restored, 2);
    let mut s = restorer.stream();
    let mut got: String = out
        .as_bytes()
        .chunks(2)
        .map(|c| s.push(std::str::from_utf8(c).expect("ascii")))
        .collect();
    got.push_str(&s.finish().0);
    assert_eq!(got, text);
    // A surrogate of another scope run into text stays as it is.
    let other = p
        .restorer(&DecisionContext::response("acme").with_scope("elsewhere"))
        .expect("restorer");
    assert_eq!(other.restore(&out).text, out);
}

/// Streamed JSON text (a tool call's arguments): pseudonyms after an escape are found,
/// and originals go in escaped, so the arguments stay JSON with the same keys.
#[test]
fn streamed_json_text_restores_into_valid_json() {
    let p = policy("");
    let text = "4111 1111 1111 1111 on line one,\n\"jane.doe@corp.com\" on two";
    let ctx = DecisionContext::request("acme").with_scope("json");
    let sent = pseudonymized(&p, text, &ctx);
    // The model answers with the pseudonyms in JSON arguments, one after a line break.
    let args = serde_json::json!({ "q": format!("\n{sent}") }).to_string();
    assert!(args.contains("\\n"), "{args}");
    let restorer = p
        .restorer(&DecisionContext::response("acme").with_scope("json"))
        .expect("restorer");
    for size in [1, 2, 5, 64] {
        let mut s = restorer.stream_json();
        let mut got: String = args
            .as_bytes()
            .chunks(size)
            .map(|c| s.push(std::str::from_utf8(c).expect("ascii")))
            .collect();
        let (tail, stats) = s.finish();
        got.push_str(&tail);
        let v: serde_json::Value = serde_json::from_str(&got).expect("still JSON");
        assert_eq!(v["q"], format!("\n{text}"), "chunks of {size}");
        assert_eq!(stats.restored, 2);
    }
}

#[test]
fn streamed_answers_restore_wherever_the_chunks_split() {
    let p = policy("");
    let ctx = DecisionContext::request("acme").with_scope("stream");
    let out = pseudonymized(&p, PROMPT, &ctx);
    let answer = format!("Sure: {out} Anything else? ✓");
    let restorer = p
        .restorer(&DecisionContext::response("acme").with_scope("stream"))
        .expect("restorer");
    let whole = restorer.restore(&answer);
    assert_eq!(whole.text, format!("Sure: {PROMPT} Anything else? ✓"));
    let boundaries: Vec<usize> = (0..=answer.len())
        .filter(|&i| answer.is_char_boundary(i))
        .collect();
    // Every two-chunk split, then chunks of every size from 1 to 9 bytes.
    for &cut in &boundaries {
        let mut s = restorer.stream();
        let mut got = s.push(&answer[..cut]);
        got.push_str(&s.push(&answer[cut..]));
        let (tail, stats) = s.finish();
        got.push_str(&tail);
        assert_eq!(got, whole.text, "split at {cut}");
        assert_eq!(stats, whole.stats);
    }
    for size in 1..10 {
        let mut s = restorer.stream();
        let mut got = String::new();
        let mut at = 0;
        while at < answer.len() {
            let mut end = (at + size).min(answer.len());
            while !answer.is_char_boundary(end) {
                end += 1;
            }
            got.push_str(&s.push(&answer[at..end]));
            at = end;
        }
        got.push_str(&s.finish().0);
        assert_eq!(got, whole.text, "chunks of {size}");
    }
    // The hold-back is bounded: a long answer comes out as it streams.
    let mut s = restorer.stream();
    let emitted = s.push(&"plain text ".repeat(100));
    assert!(emitted.len() >= 1100 - restorer.hold_back());
}

#[test]
fn rules_that_do_not_restore_withhold_and_shadows_record_nothing() {
    std::env::set_var(KEY_VAR, "pseudonym test key");
    let p = PolicySet::from_toml(
        "p.toml",
        &format!(
            r#"
            version = "1"
            pseudonym_key_env = "{KEY_VAR}"
            [[rule]]
            groups = ["pii"]
            action = "pseudonymize"
            restore = false
            [tenants.t]
            [tenants.t.shadow]
            [[tenants.t.shadow.rule]]
            groups = ["pci"]
            action = "pseudonymize"
            "#
        ),
    )
    .expect("policy");
    let ctx = DecisionContext::request("acme").with_scope("w");
    let out = pseudonymized(&p, "mail jane.doe@corp.com", &ctx);
    let r = p
        .restorer(&DecisionContext::response("acme").with_scope("w"))
        .expect("restorer")
        .restore(&out);
    assert_eq!(r.text, out);
    assert_eq!(r.stats.withheld, 1);

    let before = p.vault().stats().entries;
    let text = "card 4111 1111 1111 1111";
    let found = LocalDetector::new().scan(text);
    let shadow = p
        .decide_shadow(text, &found, &DecisionContext::request("t"))
        .expect("a shadow decision");
    assert!(matches!(shadow, Decision::Transform { .. }));
    assert_eq!(p.vault().stats().entries, before, "shadows never record");
}

/// A rule that pseudonymizes both ways gives the caller back what the caller sent: in the
/// answer, a value whose pseudonym restores in the scope (restored, or quoted by the
/// model) is allowed, not pseudonymized again; a value the caller never sent, the same
/// value in another scope, and a rule that does not restore still pseudonymize.
#[test]
fn answers_give_back_the_callers_own_values_and_pseudonymize_new_ones() {
    let p = policy("");
    let ctx = DecisionContext::request("acme").with_scope("turn");
    let sent = pseudonymized(&p, PROMPT, &ctx);
    let answer_ctx = DecisionContext::response("acme").with_scope("turn");
    let restored = p
        .restorer(&answer_ctx)
        .expect("restorer")
        .restore(&sent)
        .text;
    assert_eq!(restored, PROMPT);
    let findings = LocalDetector::new().scan(&restored);
    let d = p.decide(&restored, &findings, &answer_ctx);
    match &d {
        Decision::Allow { applied } => {
            assert_eq!(applied.len(), originals().len());
            assert!(applied.iter().all(|a| a.action == Action::Allow), "{d:?}");
        }
        other => panic!("expected the caller's own values allowed, got {other:?}"),
    }

    // A value the model brought, beside one the caller sent.
    let answer = "Write to jane.doe@corp.com or to bob.smith@corp.com.";
    let findings = LocalDetector::new().scan(answer);
    let Decision::Transform { text, applied } = p.decide(answer, &findings, &answer_ctx) else {
        panic!("expected a transform");
    };
    assert!(
        text.contains("jane.doe@corp.com") && !text.contains("bob.smith"),
        "{text}"
    );
    let actions: Vec<Action> = applied.iter().map(|a| a.action).collect();
    assert_eq!(actions, [Action::Allow, Action::Pseudonymize]);

    // Another scope (another caller's request) has not sent it.
    let elsewhere = DecisionContext::response("acme").with_scope("other");
    let out = pseudonymized(&p, "Write to jane.doe@corp.com.", &elsewhere);
    assert!(!out.contains("jane.doe"), "{out}");

    // Nor does a rule that withholds originals give them back.
    std::env::set_var(KEY_VAR, "pseudonym test key");
    let withholding = PolicySet::from_toml(
        "p.toml",
        &format!(
            "version = \"1\"\npseudonym_key_env = \"{KEY_VAR}\"\n\
             [[rule]]\ngroups = [\"pii\"]\naction = \"pseudonymize\"\nrestore = false\n"
        ),
    )
    .expect("policy");
    pseudonymized(&withholding, "mail jane.doe@corp.com", &ctx);
    let out = pseudonymized(&withholding, "mail jane.doe@corp.com", &answer_ctx);
    assert!(!out.contains("jane.doe"), "{out}");
}

/// A policy loaded again keeps the vault and gives it its own `[vault]` limits: fewer
/// scopes evicts the least recently used at once, and the tokens of the scopes kept still
/// restore under the new policy.
#[test]
fn a_reloaded_policy_keeps_the_vault_with_its_new_limits() {
    let old = policy("[vault]\nmax_scopes = 10\n");
    let mut sent = Vec::new();
    for scope in ["a", "b", "c"] {
        let ctx = DecisionContext::request("acme").with_scope(scope);
        sent.push(pseudonymized(&old, "host 10.0.0.1", &ctx));
        // Apart in time, so that "a" is the least recently used.
        old.vault().advance_clock(Duration::from_secs(1));
    }
    assert_eq!(old.vault().stats().scopes, 3);

    let mut new = policy("[vault]\nmax_scopes = 2\nttl_seconds = 60\n");
    new.keep_vault(&old);
    let config = new.vault().config();
    assert_eq!(
        (config.max_scopes, config.ttl),
        (2, Duration::from_secs(60))
    );
    let stats = new.vault().stats();
    assert_eq!((stats.scopes, stats.evicted_scopes), (2, 1));
    // "a" was used least recently: gone. "c" restores under the new policy.
    let restore = |scope: &str, text: &str| {
        new.restorer(&DecisionContext::response("acme").with_scope(scope))
            .expect("restorer")
            .restore(text)
    };
    assert_eq!(restore("c", &sent[2]).text, "host 10.0.0.1");
    assert_eq!(
        restore("a", &sent[0]).stats.unresolved.get("IP_ADDRESS"),
        Some(&1)
    );
    // The shorter TTL applies to the scopes already there.
    new.vault().advance_clock(Duration::from_secs(61));
    assert_eq!(
        restore("c", &sent[2]).stats.unresolved.get("IP_ADDRESS"),
        Some(&1)
    );
}

#[test]
fn the_vault_is_bounded_and_the_key_is_required() {
    let p = policy("[vault]\nmax_scopes = 2\nmax_entries_per_scope = 2\n");
    for scope in ["a", "b", "c"] {
        let ctx = DecisionContext::request("acme").with_scope(scope);
        pseudonymized(&p, "hosts 10.0.0.1, 10.0.0.2 and 10.0.0.3", &ctx);
    }
    let stats = p.vault().stats();
    assert_eq!(stats.scopes, 2);
    assert_eq!(stats.entries, 4);
    assert_eq!(stats.evicted_scopes, 1);
    assert_eq!(stats.refused_entries, 3);
    // The evicted scope's tokens no longer resolve, and say so.
    let out = pseudonymized(
        &p,
        "hosts 10.0.0.1",
        &DecisionContext::request("acme").with_scope("x"),
    );
    let r = p
        .restorer(&DecisionContext::response("acme").with_scope("a"))
        .expect("restorer")
        .restore(&out);
    assert_eq!(r.stats.unresolved.get("IP_ADDRESS"), Some(&1));

    let err = PolicySet::from_toml(
        "p.toml",
        "version = \"1\"\npseudonym_key_env = \"SENTINEL_UNSET_VAR\"\n[[rule]]\ngroups = [\"pii\"]\naction = \"pseudonymize\"\n",
    )
    .expect_err("no key");
    assert!(
        matches!(
            err,
            Error::MissingKey {
                action: "pseudonymize",
                ..
            }
        ),
        "{err}"
    );
    let err = PolicySet::from_toml(
        "p.toml",
        "version = \"1\"\n[[rule]]\ngroups = [\"pii\"]\naction = \"redact\"\nrestore = true\n",
    )
    .expect_err("restore on redact");
    assert!(err.to_string().contains("pseudonymize rules only"), "{err}");
    // A policy that never pseudonymizes has nothing to restore.
    assert!(PolicySet::preset("strict")
        .expect("preset")
        .restorer(&DecisionContext::response("acme"))
        .is_none());
}

/// Korean registration numbers, Japanese individual numbers and Chinese identity numbers
/// get surrogates of their own kind (the detector still finds them beside their words)
/// and restore exactly.
#[test]
fn east_asian_ids_get_surrogates_that_restore() {
    let p = policy("");
    let prompt = "주민등록번호: 900101-1234568, 신규 200315-3123456, マイナンバー 1234 5678 9018, \
                  身份证 11010519491231002X.";
    let ctx = DecisionContext::request("acme").with_scope("conv-kr");
    let out = pseudonymized(&p, prompt, &ctx);
    for v in [
        "900101-1234568",
        "200315-3123456",
        "1234 5678 9018",
        "11010519491231002X",
    ] {
        assert!(!out.contains(v), "{v} leaked into {out}");
    }
    assert!(!out.contains('['), "surrogates, not tokens: {out}");
    assert_eq!(
        types_found(&out),
        ["CN_RESIDENT_ID", "JP_MY_NUMBER", "KR_RRN", "KR_RRN"],
        "{out}"
    );
    let back = p
        .restorer(&DecisionContext::response("acme").with_scope("conv-kr"))
        .expect("the policy pseudonymizes")
        .restore(&out);
    assert_eq!(back.text, prompt);
    assert_eq!(back.stats.restored, 4);
}

/// A value written otherwise than it reads (a percent escape, an HTML reference,
/// full-width digits) is pseudonymized as it reads, so it gets the plain value's
/// pseudonym, and comes back as the caller wrote it, also from another vault.
#[test]
fn values_written_otherwise_come_back_as_written() {
    let secrets = "[[rule]]\nentities = [\"GENERIC_SECRET\"]\naction = \"pseudonymize\"\n";
    let p = policy(secrets);
    let written = "Card \u{ff14}\u{ff11}\u{ff11}\u{ff11} 1111 1111 1111, \
         see /users?email=jane.doe%40corp.com, server 10.20.30&#46;40, token=qVEpL4%38VSY.";
    let plain = "Card 4111 1111 1111 1111, see /users?email=jane.doe@corp.com, \
         server 10.20.30.40, token=qVEpL48VSY.";
    let ctx = DecisionContext::request("acme").with_scope("conv-1");
    let out = pseudonymized(&p, written, &ctx);
    for v in ["1111 1111 1111", "jane.doe", "30&#46;40", "qVEpL4"] {
        assert!(!out.contains(v), "{v} leaked into {out}");
    }
    // One value, one pseudonym, however it is written.
    assert_eq!(
        out,
        pseudonymized(
            &p,
            plain,
            &DecisionContext::request("acme").with_scope("conv-2")
        )
    );
    let back = |p: &PolicySet, scope: &str| {
        p.restorer(&DecisionContext::response("acme").with_scope(scope))
            .expect("pseudonymizes")
            .restore(&out)
    };
    let restored = back(&p, "conv-1");
    assert_eq!(restored.text, written);
    assert_eq!(restored.stats.restored, 4);
    // Given back as written, they are the caller's own in the answer: allowed, not
    // pseudonymized again.
    let answer_ctx = DecisionContext::response("acme").with_scope("conv-1");
    let findings = LocalDetector::new().scan(&restored.text);
    match p.decide(&restored.text, &findings, &answer_ctx) {
        Decision::Allow { applied } => {
            assert_eq!(applied.len(), 4);
            assert!(applied.iter().all(|a| a.action == Action::Allow));
        }
        other => panic!("expected the caller's own values allowed, got {other:?}"),
    }
    assert_eq!(back(&p, "conv-2").text, plain);
    // The way back as written travels with an exported scope.
    let other = policy(secrets);
    let export = p.vault().export("acme", "conv-1").expect("held");
    assert_eq!(other.vault().import("acme", "conv-1", &export), 4);
    assert_eq!(back(&other, "conv-1").text, written);
}

#[test]
fn a_scope_exported_from_one_vault_restores_in_another() {
    let first = policy("");
    let ctx = DecisionContext::request("acme").with_scope("conv-1");
    let out = pseudonymized(&first, PROMPT, &ctx);
    let vault = first.vault();
    assert!(vault.holds("acme", "conv-1"));
    assert!(!vault.holds("acme", "conv-2"));
    assert_eq!(vault.scope_len("acme", "conv-1"), 5);
    assert!(vault.export("acme", "conv-2").is_none());
    let export = vault.export("acme", "conv-1").expect("held");
    assert_eq!(export.len(), 5);
    // Stored originals travel (the e-mail and the token), so the values are to be sealed;
    // the fields are named by the pseudonyms; the `Debug` shows a count.
    let fields = export.to_fields();
    assert_eq!(fields.len(), 5);
    let values: Vec<u8> = fields.iter().flat_map(|(_, v)| v.clone()).collect();
    assert!(String::from_utf8_lossy(&values).contains("10.20.30.40"));
    assert!(fields
        .iter()
        .all(|(name, _)| out.contains(std::str::from_utf8(name).expect("text"))));
    assert!(!format!("{export:?}").contains("10.20.30.40"));
    // A field that is not an entry, or not under its own pseudonym, is skipped.
    let mut odd = fields.clone();
    odd.push((b"x".to_vec(), b"not an entry".to_vec()));
    odd.push((b"other".to_vec(), fields[0].1.clone()));
    assert_eq!(sentinel_policy::ScopeExport::from_fields(&odd).len(), 5);

    // Another process with the same deployment key: nothing in scope until imported.
    let second = policy("");
    let answer = |p: &PolicySet| {
        p.restorer(&DecisionContext::response("acme").with_scope("conv-1"))
            .expect("pseudonymizes")
            .restore(&out)
    };
    assert_eq!(answer(&second).stats.restored, 0);
    // Read back in another order: a map's fields come in any.
    let mut shuffled = fields.clone();
    shuffled.reverse();
    let read = sentinel_policy::ScopeExport::from_fields(&shuffled);
    assert_eq!(second.vault().import("acme", "conv-1", &read), 5);
    let back = answer(&second);
    assert_eq!(back.text, PROMPT);
    assert_eq!(back.stats.restored, 5);
    // Importing again adds nothing; another tenant's scope stays empty.
    assert_eq!(second.vault().import("acme", "conv-1", &read), 0);
    assert!(!second.vault().holds("globex", "conv-1"));
    // A scope past its TTL is dropped before an import, not merged into.
    second.vault().advance_clock(Duration::from_secs(2 * 3600));
    assert!(!second.vault().holds("acme", "conv-1"));
    assert_eq!(second.vault().import("acme", "conv-1", &read), 5);
    assert_eq!(second.vault().stats().expired_scopes, 1);
}

#[test]
fn the_vault_is_offered_only_for_tenants_that_pseudonymize() {
    let p = policy("[tenants.plain]\nextends = \"strict\"\n");
    assert!(p.pseudonym_vault("acme").is_some());
    assert!(p.pseudonym_vault("plain").is_none());
}

/// A scope of hundreds of pseudonyms (the matcher is compiled in pieces) restores every one
/// of them, and again after it grew (the new piece built, the others kept).
#[test]
fn a_large_scope_restores_every_pseudonym_as_it_grows() {
    let p = policy("");
    let ctx = DecisionContext::request("acme").with_scope("large");
    let back = DecisionContext::response("acme").with_scope("large");
    // One detector for all (pseudonymized() builds one a call).
    let detector = LocalDetector::new();
    let mut originals = Vec::new();
    let mut sent = Vec::new();
    for i in 0..300 {
        let text = format!("mail person{i}@corp.com, ip 10.1.{}.{}", i / 200, i % 200);
        let Decision::Transform { text: out, .. } = p.decide(&text, &detector.scan(&text), &ctx)
        else {
            panic!("expected a transform of {text}");
        };
        sent.push(out);
        originals.push(text);
    }
    let restorer = p.restorer(&back).expect("restorer");
    let answer = sent.join(" | ");
    let restored = restorer.restore(&answer);
    assert_eq!(restored.text, originals.join(" | "));
    // Grown by one: the new pseudonym and all the old ones.
    let extra = "mail late@corp.com";
    let late = pseudonymized(&p, extra, &ctx);
    let restorer = p.restorer(&back).expect("restorer");
    let answer = format!("{late} | {}", sent.join(" | "));
    let restored = restorer.restore(&answer);
    assert_eq!(
        restored.text,
        format!("{extra} | {}", originals.join(" | "))
    );
}

/// Every kind of pseudonym a scope can hold, hundreds of each, restores as the model wrote
/// it: derived surrogates with their separators changed, tokens without brackets and in
/// other case, e-mail surrogates, and tokens of a type no rule names (pseudonymized by the
/// default action: found by their compiled patterns, not by a shape); text shaped like
/// them that the scope did not issue stays as it is.
#[test]
fn a_large_scope_of_every_kind_restores_as_the_model_wrote_it() {
    let p = policy("default_action = \"pseudonymize\"");
    let ctx = DecisionContext::request("acme").with_scope("kinds");
    let back = DecisionContext::response("acme").with_scope("kinds");
    let detector = LocalDetector::new();
    let mut rng = sentinel_detect::testgen::Rng::new(11);
    let mut issue = |i: usize| {
        let card = sentinel_detect::testgen::card(&mut rng);
        let text = format!(
            "card {card}, mail p{i}@corp.com, ip 10.2.{}.{}, ref EMP-{i:05}",
            i / 100,
            i % 100
        );
        let mut findings = detector.scan(&text);
        let at = text.find("EMP-").expect("ref");
        findings.push(Finding {
            entity: EntityType::new("EMPLOYEE_REF"),
            start: at,
            end: at + 9,
            score: 0.9,
            recognizer: findings[0].recognizer,
            escaped: false,
            folded: false,
        });
        findings.sort_by_key(|f| f.start);
        let Decision::Transform { text: out, .. } = p.decide(&text, &findings, &ctx) else {
            panic!("expected a transform of {text}");
        };
        // The model rewrites: digit groups joined by dots, a token unbracketed and in
        // lowercase, another in lowercase, an e-mail surrogate in capitals.
        let token = |kind: &str| {
            let at = out.find(kind).expect("a token");
            (at, out[at..].find(']').expect("]") + at + 1)
        };
        let (ip, ip_end) = token("[IP_ADDRESS_");
        let (emp, emp_end) = token("[EMPLOYEE_REF_");
        let mail = out.find("user-").expect("a surrogate");
        let mail_end = out[mail..].find(',').expect(",") + mail;
        let card_start = out.find("card ").expect("card") + 5;
        let card_end = out[card_start..].find(',').expect(",") + card_start;
        let rewritten = format!(
            "card {}{}{}{}ip address {}{}{}",
            out[card_start..card_end].replace(' ', "."),
            &out[card_end..mail],
            out[mail..mail_end].to_uppercase(),
            &out[mail_end..ip],
            &out[ip + 12..ip_end - 1].to_lowercase(),
            &out[ip_end..emp],
            out[emp..emp_end].to_lowercase(),
        );
        (rewritten, text.replace(&card, &card.replace(' ', ".")))
    };
    // More than one automaton's worth of card surrogates.
    let (mut answer, mut originals): (Vec<String>, Vec<String>) = (0..300).map(&mut issue).unzip();
    assert!(answer[0].contains("[employee_ref_"), "{}", answer[0]);
    let not_issued =
        " | card 4000.0000.0000.0002, [IP_ADDRESS_zzzzzzzz], user-zzzzzzzz@example.com";
    let check = |answer: &[String], originals: &[String]| {
        let restorer = p.restorer(&back).expect("restorer");
        let restored = restorer.restore(&(answer.join(" | ") + not_issued));
        let expected = originals.join(" | ") + not_issued;
        for (got, want) in restored.text.split(" | ").zip(expected.split(" | ")) {
            assert_eq!(got, want);
        }
        assert_eq!(restored.stats.restored as usize, answer.len() * 4);
        assert_eq!(restored.stats.unresolved_total(), 1, "{:?}", restored.stats);
    };
    check(&answer, &originals);
    // Grown by one of each: the new pseudonyms and all the old ones.
    let (a, o) = issue(300);
    answer.insert(0, a);
    originals.insert(0, o);
    check(&answer, &originals);
}
