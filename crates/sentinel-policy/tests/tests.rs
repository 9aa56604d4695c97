//! Policy decisions over real detector findings.

mod pseudonymize;

use sentinel_detect::{Detector, EntityType, Finding, LocalDetector};
use sentinel_policy::{Action, Decision, DecisionContext, Error, PolicyEngine, PolicySet, PRESETS};

fn decide(policy: &PolicySet, text: &str, ctx: &DecisionContext<'_>) -> Decision {
    let findings = LocalDetector::new().scan(text);
    policy.decide(text, &findings, ctx)
}

fn transformed(d: Decision) -> String {
    match d {
        Decision::Transform { text, .. } => text,
        other => panic!("expected a transform, got {other:?}"),
    }
}

/// Every entity type the built-in catalogue reports belongs to a group, so `groups = ["pii"]`
/// and the presets built on groups cover a recognizer as soon as it is added.
#[test]
fn every_builtin_entity_has_a_group() {
    use sentinel_policy::EntityGroup;
    let groups = [
        EntityGroup::Pii,
        EntityGroup::Pci,
        EntityGroup::Phi,
        EntityGroup::Secrets,
    ];
    for r in sentinel_detect::builtin() {
        assert!(
            groups
                .iter()
                .any(|g| g.entities().contains(&r.entity.as_str())),
            "{} ({}) is in no group",
            r.entity,
            r.name
        );
    }
}

#[test]
fn every_preset_loads() {
    for (name, _) in PRESETS {
        PolicySet::preset(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(matches!(
        PolicySet::preset("nope"),
        Err(Error::UnknownBase { .. })
    ));
}

#[test]
fn strict_blocks_secrets_and_cards_and_redacts_the_rest() {
    let p = PolicySet::preset("strict").expect("preset");
    let ctx = DecisionContext::request("t");
    match decide(
        &p,
        "key AKIAIOSFODNN7EXAMPLE and card 4111 1111 1111 1111, mail a@b.example.com",
        &ctx,
    ) {
        Decision::Block { reasons } => {
            let names: Vec<(&str, &str)> = reasons
                .iter()
                .map(|r| (r.entity.as_str(), r.rule.as_str()))
                .collect();
            assert_eq!(
                names,
                [
                    ("AWS_ACCESS_KEY", "block-secrets"),
                    ("CREDIT_CARD", "block-cards")
                ]
            );
            assert!(
                !format!("{reasons:?}").contains("AKIA"),
                "reasons never hold values"
            );
        }
        other => panic!("{other:?}"),
    }
    let out = transformed(decide(
        &p,
        "SSN 536-22-1234, mail jane@example.com, again jane@example.com, bob@example.org",
        &ctx,
    ));
    assert_eq!(
        out,
        "SSN <US_SSN_1>, mail <EMAIL_ADDRESS_1>, again <EMAIL_ADDRESS_1>, <EMAIL_ADDRESS_2>"
    );
}

#[test]
fn pci_masks_cards_keeping_the_last_four() {
    let p = PolicySet::preset("pci-dss").expect("preset");
    let out = transformed(decide(
        &p,
        "card 4111 1111 1111 1111 ok",
        &DecisionContext::request("t"),
    ));
    assert_eq!(out, "card **** **** **** 1111 ok");
}

#[test]
fn monitor_alerts_only() {
    let p = PolicySet::preset("monitor").expect("preset");
    match decide(&p, "mail jane@example.com", &DecisionContext::request("t")) {
        Decision::Allow { applied } => assert_eq!(applied[0].action, Action::Alert),
        other => panic!("{other:?}"),
    }
}

/// A block names its rule for people: by the name the policy gave it, else by its number
/// (`rule 2`, not `rule rule 2`).
#[test]
fn a_block_reads_by_the_rules_name_or_number() {
    let p = PolicySet::from_toml(
        "p.toml",
        r#"
        version = "1"
        [[rule]]
        entities = ["EMAIL_ADDRESS"]
        action = "allow"
        [[rule]]
        entities = ["US_SSN"]
        action = "block"
        [[rule]]
        name = "no-cards"
        entities = ["CREDIT_CARD"]
        action = "block"
        "#,
    )
    .expect("valid");
    let ctx = DecisionContext::request("t");
    match decide(&p, "ssn 219-09-9999, card 4111 1111 1111 1111", &ctx) {
        Decision::Block { reasons } => {
            let read: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            assert_eq!(read, ["CREDIT_CARD (rule no-cards)", "US_SSN (rule 2)"]);
            assert_eq!(reasons[1].rule, "rule 2", "the record keeps the rule's id");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn first_matching_rule_wins_with_score_and_direction() {
    let p = PolicySet::from_toml(
        "p.toml",
        r#"
        version = "1"
        default_action = "redact"
        [[rule]]
        name = "answers-may-mention-mail"
        entities = ["EMAIL_ADDRESS"]
        direction = "response"
        action = "allow"
        [[rule]]
        name = "confident-phones"
        entities = ["PHONE_NUMBER"]
        min_score = 0.9
        action = "block"
        "#,
    )
    .expect("valid");
    let text = "mail jane@example.com";
    assert!(matches!(
        decide(&p, text, &DecisionContext::response("t")),
        Decision::Allow { .. }
    ));
    assert_eq!(
        transformed(decide(&p, text, &DecisionContext::request("t"))),
        "mail <EMAIL_ADDRESS_1>"
    );
    // A weak phone number falls through to the default; a confident one blocks.
    assert!(matches!(
        decide(&p, "(212) 555-0143", &DecisionContext::request("t")),
        Decision::Transform { .. }
    ));
    assert!(matches!(
        decide(&p, "call (212) 555-0143", &DecisionContext::request("t")),
        Decision::Block { .. }
    ));
}

#[test]
fn tenants_inherit_and_override() {
    let p = PolicySet::from_toml(
        "p.toml",
        r#"
        version = "1"
        extends = "strict"
        [tenants.lenient]
        default_action = "allow"
        [[tenants.lenient.rule]]
        groups = ["pci"]
        action = "mask"
        keep_last = 4
        [tenants.research]
        extends = "monitor"
        "#,
    )
    .expect("valid");
    let text = "card 4111 1111 1111 1111, mail jane@example.com";
    assert!(matches!(
        decide(&p, text, &DecisionContext::request("other")),
        Decision::Block { .. }
    ));
    assert_eq!(
        transformed(decide(&p, text, &DecisionContext::request("lenient"))),
        "card **** **** **** 1111, mail jane@example.com"
    );
    assert!(matches!(
        decide(&p, text, &DecisionContext::request("research")),
        Decision::Allow { .. }
    ));
    assert_ne!(p.version_hash("lenient"), p.version_hash("other"));
}

#[test]
fn hash_needs_its_key_and_is_stable_per_tenant() {
    let toml = "version = \"1\"\nhash_key_env = \"SENTINEL_POLICY_TEST_KEY\"\n[[rule]]\ngroups = [\"pii\"]\naction = \"hash\"\n";
    let err = PolicySet::from_toml("p.toml", toml).expect_err("no key");
    assert!(matches!(err, Error::MissingKey { .. }), "{err}");
    // SAFETY of the environment: only this test uses this variable.
    std::env::set_var("SENTINEL_POLICY_TEST_KEY", "k1");
    let p = PolicySet::from_toml("p.toml", toml).expect("key set");
    let a = transformed(decide(
        &p,
        "ssn 536-22-1234",
        &DecisionContext::request("acme"),
    ));
    let b = transformed(decide(
        &p,
        "ssn 536-22-1234",
        &DecisionContext::request("acme"),
    ));
    let c = transformed(decide(
        &p,
        "ssn 536-22-1234",
        &DecisionContext::request("globex"),
    ));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.starts_with("ssn <US_SSN:") && !a.contains("536"));
}

#[test]
fn overlapping_findings_from_several_detectors_are_handled() {
    let p = PolicySet::preset("gdpr").expect("preset");
    let text = "mail jane@example.com now";
    let f = |s: usize, e: usize, entity: &str| Finding {
        entity: EntityType::new(entity),
        start: s,
        end: e,
        score: 0.9,
        recognizer: LocalDetector::new().scan("a@b.example.com")[0].recognizer,
        escaped: false,
        folded: false,
    };
    let findings = [
        f(5, 21, "EMAIL_ADDRESS"),
        f(10, 21, "URL"),
        f(5, 9, "EMAIL_ADDRESS"),
    ];
    assert_eq!(
        transformed(p.decide(text, &findings, &DecisionContext::request("t"))),
        "mail <EMAIL_ADDRESS_1> now"
    );
}

/// A finding marked escaped (a value written with JSON escapes, in a tool call's
/// arguments) is decided on what it stands for: numbered and hashed as the plain value,
/// and what replaces it is escaped again, so a mask that keeps a key's line breaks writes
/// them as `\n`.
#[test]
fn escaped_values_are_decided_as_what_they_stand_for() {
    let policy = |rules: &str| {
        std::env::set_var("SENTINEL_POLICY_TEST_HASH_KEY", "policy test key");
        PolicySet::from_toml(
            "t.toml",
            &format!("version = \"1\"\nhash_key_env = \"SENTINEL_POLICY_TEST_HASH_KEY\"\n{rules}"),
        )
        .expect("policy")
    };
    let text = r#"mail jane@example.com, {"to":"jane\u0040example.com"}"#;
    let mut found = LocalDetector::new().scan("mail jane@example.com");
    let second = Finding {
        start: 30,
        end: 51,
        escaped: true,
        folded: false,
        ..found[0].clone()
    };
    assert_eq!(&text[second.start..second.end], r"jane\u0040example.com");
    found.push(second);
    let ctx = DecisionContext::request("t");
    // One value, one number; one value, one hash.
    let redact = policy("[[rule]]\nentities = [\"EMAIL_ADDRESS\"]\naction = \"redact\"\n");
    assert_eq!(
        transformed(redact.decide(text, &found, &ctx)),
        r#"mail <EMAIL_ADDRESS_1>, {"to":"<EMAIL_ADDRESS_1>"}"#
    );
    let hash = policy("[[rule]]\nentities = [\"EMAIL_ADDRESS\"]\naction = \"hash\"\n");
    let hashed = transformed(hash.decide(text, &found, &ctx));
    let digest = &hashed[5..hashed.find(',').expect("comma")];
    assert_eq!(hashed.matches(digest).count(), 2, "{hashed}");
    // A masked value keeps its line break, escaped again; a kept quote too.
    let key = "{\"k\":\"ab\\ncd\\\"e\"}";
    let f = Finding {
        start: 6,
        end: 15,
        escaped: true,
        folded: false,
        ..found[0].clone()
    };
    assert_eq!(&key[f.start..f.end], r#"ab\ncd\"e"#);
    let mask = policy("[[rule]]\nentities = [\"EMAIL_ADDRESS\"]\naction = \"mask\"\n");
    let masked = transformed(mask.decide(key, &[f], &ctx));
    assert_eq!(masked, r#"{"k":"**\n**\"*"}"#);
    assert!(serde_json::from_str::<serde_json::Value>(&masked).is_ok());
}

#[test]
fn content_that_was_not_read_is_allowed_alerted_or_blocked_never_transformed() {
    // An image, as the pipeline reports one: an empty span where the text has none.
    let text = "look at this: mail jane@example.com";
    let image = Finding {
        entity: EntityType::new(sentinel_policy::UNREAD_IMAGE),
        start: text.len(),
        end: text.len(),
        score: 1.0,
        recognizer: LocalDetector::new().scan("a@b.example.com")[0].recognizer,
        escaped: false,
        folded: false,
    };
    let mut findings = LocalDetector::new().scan(text);
    findings.push(image);
    let ctx = DecisionContext::request("t");
    // Strict redacts by default; what was not read has no text to redact, so it passes,
    // recorded, and the address is redacted as ever.
    let strict = PolicySet::preset("strict").expect("preset");
    match strict.decide(text, &findings, &ctx) {
        Decision::Transform { text, applied } => {
            assert_eq!(text, "look at this: mail <EMAIL_ADDRESS_1>");
            let image = applied
                .iter()
                .find(|a| a.entity.as_str() == "UNREAD_IMAGE")
                .expect("recorded");
            assert_eq!(image.action, Action::Allow);
        }
        other => panic!("{other:?}"),
    }
    // A default that can apply (monitor's alert) does.
    let monitor = PolicySet::preset("monitor").expect("preset");
    match monitor.decide(text, &findings, &ctx) {
        Decision::Allow { applied } => assert!(applied
            .iter()
            .any(|a| a.entity.as_str() == "UNREAD_IMAGE" && a.action == Action::Alert)),
        other => panic!("{other:?}"),
    }
    // A rule on the group blocks, naming the entity type and the rule.
    let blocking = PolicySet::from_toml(
        "p.toml",
        "version = \"1\"\nextends = \"strict\"\n\
         [[rule]]\nname = \"no-images\"\ngroups = [\"unread\"]\naction = \"block\"\n",
    )
    .expect("policy");
    match blocking.decide(text, &findings, &ctx) {
        Decision::Block { reasons } => {
            assert_eq!(reasons.len(), 1);
            assert_eq!(
                (reasons[0].entity.as_str(), reasons[0].rule.as_str()),
                ("UNREAD_IMAGE", "no-images")
            );
        }
        other => panic!("{other:?}"),
    }
    // A rule that would transform it does not load.
    for rule in [
        "entities = [\"UNREAD_AUDIO\"]\naction = \"redact\"",
        "groups = [\"pii\", \"unread\"]\naction = \"mask\"",
    ] {
        let err = PolicySet::from_toml("p.toml", &format!("version = \"1\"\n[[rule]]\n{rule}\n"))
            .expect_err("a transform of what was not read");
        assert!(err.to_string().contains("not transformed"), "{err}");
    }
}

#[test]
fn errors_name_file_line_and_column() {
    let err = PolicySet::from_toml(
        "p.toml",
        "version = \"1\"\n[[rule]]\nentities = [\"X\"]\naction = \"shred\"\n",
    )
    .expect_err("bad action");
    let msg = err.to_string();
    assert!(msg.starts_with("p.toml:4:10:"), "{msg}");
    let err = PolicySet::from_toml("p.toml", "version = \"1\"\n[[rule]]\naction = \"block\"\n")
        .expect_err("no target");
    assert!(
        err.to_string().contains("rule 1: names no entity type"),
        "{err}"
    );
    let err = PolicySet::from_toml("p.toml", "version = \"1\"\nextends = \"nope\"\n")
        .expect_err("bad preset");
    assert!(
        err.to_string().contains("presets: strict, pci-dss"),
        "{err}"
    );
}

#[test]
fn shadow_policies_are_decided_but_never_enforced() {
    let p = PolicySet::from_toml(
        "p.toml",
        r#"
        version = "1"
        extends = "monitor"
        [shadow]
        extends = "strict"
        [tenants.acme]
        [tenants.acme.shadow]
        default_action = "redact"
        [tenants.plain]
        "#,
    )
    .expect("valid");
    let text = "key AKIAIOSFODNN7EXAMPLE, mail jane@example.com";
    let findings = LocalDetector::new().scan(text);
    let ctx = DecisionContext::request("anyone");
    assert!(
        matches!(p.decide(text, &findings, &ctx), Decision::Allow { .. }),
        "the monitor policy is enforced"
    );
    assert!(
        matches!(
            p.decide_shadow(text, &findings, &ctx),
            Some(Decision::Block { .. })
        ),
        "strict is only tried"
    );
    let acme = DecisionContext::request("acme");
    assert!(matches!(
        p.decide(text, &findings, &acme),
        Decision::Allow { .. }
    ));
    match p.decide_shadow(text, &findings, &acme) {
        Some(Decision::Transform { text, .. }) => {
            assert_eq!(text, "key <AWS_ACCESS_KEY_1>, mail <EMAIL_ADDRESS_1>")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        p.decide_shadow(text, &findings, &DecisionContext::request("plain")),
        None
    );
}

#[test]
fn numbering_carries_across_decisions_and_shows_no_values() {
    let policy = PolicySet::preset("strict").expect("strict");
    let ctx = DecisionContext::response("t");
    let detector = LocalDetector::new();
    let mut numbering = sentinel_policy::Numbering::default();
    let mut piece = |text: &str| {
        let findings = detector.scan(text);
        transformed(policy.decide_numbered(text, &findings, &ctx, &mut numbering))
    };
    assert_eq!(piece("to jane@example.com"), "to <EMAIL_ADDRESS_1>");
    assert_eq!(
        piece("or bob@example.com, jane@example.com"),
        "or <EMAIL_ADDRESS_2>, <EMAIL_ADDRESS_1>"
    );
    // Without carried numbers each text starts again.
    assert_eq!(
        transformed(decide(&policy, "or bob@example.com", &ctx)),
        "or <EMAIL_ADDRESS_1>"
    );
    let shown = format!("{numbering:?}");
    assert!(
        shown.contains("EMAIL_ADDRESS") && !shown.contains("example.com"),
        "{shown}"
    );
}
