//! sentinel-metrics: Prometheus output, bounded labels, the Monitor's window.

use std::time::Duration;

use sentinel_metrics::{
    names, prometheus_recorder, BoundedLabels, CacheName, ErrorKind, Monitor, MonitorSnapshot,
    RequestRecord, Stage, Telemetry,
};

const CHAT: &str = "/v1/chat/completions";

#[test]
fn a_request_renders_every_stage_and_counter_in_prometheus_form() {
    let recorder = prometheus_recorder().expect("recorder");
    let handle = recorder.handle();
    let telemetry = metrics::with_local_recorder(&recorder, || {
        sentinel_metrics::describe();
        Telemetry::new(&[CHAT])
    });
    let mut r = RequestRecord::new(CHAT, "gpt-4o", 200, Duration::from_micros(1500));
    for s in Stage::ALL {
        r.stages[s.index()] = Some(Duration::from_micros(10));
    }
    r.cache = &[(CacheName::Detection, true), (CacheName::Response, false)];
    r.findings = &[
        ("EMAIL_ADDRESS", "redact", 1),
        ("US_SSN", "block", 1),
        ("EMAIL_ADDRESS", "redact", 1),
        ("EMAIL_ADDRESS", "mask", 1),
    ];
    r.tokens = Some((12, 30));
    r.blocked = Some("request");
    r.error = Some(ErrorKind::UpstreamTimeout);
    metrics::with_local_recorder(&recorder, || telemetry.record(&r));
    let findings = &telemetry.monitor().snapshot().findings;
    assert_eq!(findings["EMAIL_ADDRESS"]["redact"], 2);
    assert_eq!(findings["EMAIL_ADDRESS"]["mask"], 1);
    assert_eq!(findings["US_SSN"]["block"], 1);
    let text = handle.render();
    for stage in ["parse", "detect", "policy", "audit", "cache", "upstream"] {
        let line = format!(
            "{}_count{{route=\"{CHAT}\",stage=\"{stage}\"}} 1",
            names::STAGE_DURATION_SECONDS
        );
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    for needle in [
        "deepsentinel_requests_total{route=\"/v1/chat/completions\",model=\"gpt-4o\",status=\"200\"} 1",
        "deepsentinel_cache_lookups_total{cache=\"detection\",result=\"hit\"} 1",
        "deepsentinel_cache_lookups_total{cache=\"response\",result=\"miss\"} 1",
        "deepsentinel_findings_total{entity=\"US_SSN\",action=\"block\"} 1",
        "deepsentinel_findings_total{entity=\"EMAIL_ADDRESS\",action=\"redact\"} 2",
        "deepsentinel_findings_total{entity=\"EMAIL_ADDRESS\",action=\"mask\"} 1",
        "deepsentinel_tokens_total{model=\"gpt-4o\",kind=\"completion\"} 30",
        "deepsentinel_blocked_total{route=\"/v1/chat/completions\",direction=\"request\"} 1",
        "deepsentinel_errors_total{kind=\"upstream_timeout\"} 1",
        "deepsentinel_request_duration_seconds_bucket{route=\"/v1/chat/completions\",le=\"0.0025\"} 1",
        "# HELP deepsentinel_requests_total",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // An unknown route is labelled `other`, never echoed.
    let odd = RequestRecord::new("/v1/<script>", "m", 404, Duration::from_micros(5));
    metrics::with_local_recorder(&recorder, || telemetry.record(&odd));
    let text = handle.render();
    assert!(!text.contains("<script>"));
    assert!(text.contains("route=\"other\""));
}

#[test]
fn label_values_are_bounded_and_sanitized() {
    let labels = BoundedLabels::new(3);
    assert_eq!(labels.label("gpt-4o"), "gpt-4o");
    assert_eq!(labels.label("bad\nname\"{}"), "badname");
    assert_eq!(labels.label("m3"), "m3");
    assert_eq!(labels.label("m4"), "other");
    assert_eq!(labels.label("gpt-4o"), "gpt-4o", "admitted values stay");
    assert_eq!(labels.label(""), "other");
    let long = "x".repeat(500);
    assert_eq!(BoundedLabels::new(1).label(&long).len(), 64);
}

#[test]
fn the_monitor_gives_percentiles_rates_and_breakdowns_over_a_sliding_window() {
    let monitor = Monitor::new();
    for i in 1..=100u64 {
        let mut r = RequestRecord::new(
            CHAT,
            if i % 2 == 0 { "a" } else { "b" },
            200,
            Duration::from_micros(1000 + i),
        );
        r.stages[Stage::Detect.index()] = Some(Duration::from_micros(i));
        r.cache = if i <= 75 {
            &[(CacheName::Detection, true)]
        } else {
            &[(CacheName::Detection, false)]
        };
        r.tokens = Some((10, 5));
        if i % 10 == 0 {
            r.status = 502;
            r.error = Some(ErrorKind::UpstreamStatus);
        }
        monitor.record(&r);
    }
    let s = monitor.snapshot();
    assert_eq!(s.requests, 100);
    let d = &s.stages["detect"];
    assert_eq!(d.count, 100);
    assert!((d.p50_ms - 0.050).abs() < 0.002, "{d:?}");
    assert!((d.p95_ms - 0.095).abs() < 0.002, "{d:?}");
    assert!((d.p99_ms - 0.099).abs() < 0.002, "{d:?}");
    assert!((d.max_ms - 0.100).abs() < 0.002, "{d:?}");
    assert_eq!(s.stages["upstream"].count, 0);
    assert!((s.caches["detection"].hit_rate - 0.75).abs() < 1e-9);
    assert_eq!(s.models["a"].requests, 50);
    assert_eq!(s.models["a"].prompt_tokens, 500);
    assert!((s.models["b"].avg_tokens - 15.0).abs() < 1e-9);
    assert_eq!(s.errors["upstream_status"], 10);
    assert_eq!(s.statuses["502"], 10);
    assert!(s.requests_per_second > 0.0);

    // It serializes as the stats endpoint returns it, and back.
    let json = serde_json::to_string(&s).expect("json");
    let back: MonitorSnapshot = serde_json::from_str(&json).expect("parse");
    // (Floats may differ in the last bit through JSON; counts and keys must not.)
    assert_eq!(back.requests, s.requests);
    assert_eq!(back.caches, s.caches);
    assert_eq!(back.statuses, s.statuses);
    assert_eq!(
        back.stages.keys().collect::<Vec<_>>(),
        s.stages.keys().collect::<Vec<_>>()
    );
    assert!(json.contains("\"p99_ms\"") && json.contains("\"requests_per_second\""));

    // After the window has passed, old requests are gone.
    monitor.advance_clock(Duration::from_secs(61));
    let later = monitor.snapshot();
    assert_eq!(later.requests, 0);
    assert_eq!(later.stages["detect"].count, 0);
    assert!((later.window_seconds - 60.0).abs() < 1e-9);
}

#[test]
fn docs_name_only_known_metrics() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/");
    let known = |name: &str| {
        names::ALL.contains(&name)
            || ["_bucket", "_count", "_sum"].iter().any(|s| {
                name.strip_suffix(s)
                    .is_some_and(|n| names::ALL.contains(&n))
            })
    };
    for file in [
        "grafana/deepsentinel.json",
        "prometheus/alerts.yml",
        "metrics.md",
    ] {
        let text = std::fs::read_to_string(format!("{root}{file}")).expect("doc file");
        for (i, _) in text.match_indices("deepsentinel_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            assert!(known(&name), "{file} mentions unknown metric {name}");
        }
    }
    let table = std::fs::read_to_string(format!("{root}metrics.md")).expect("metrics.md");
    for name in names::ALL {
        assert!(
            table.contains(&format!("| `{name}` |")),
            "metrics.md lacks {name}"
        );
    }
}

#[test]
fn requests_and_findings_are_counted_per_tenant_with_a_bounded_label() {
    let recorder = prometheus_recorder().expect("recorder");
    let handle = recorder.handle();
    let telemetry =
        metrics::with_local_recorder(&recorder, || Telemetry::new(&[CHAT]).with_tenants(true));
    let record = |tenant: &str, findings: &[(&str, &str, u64)], blocked: bool, error: bool| {
        let mut r = RequestRecord::new(CHAT, "m", 200, Duration::from_micros(100));
        r.tenant = tenant;
        r.findings = findings;
        r.blocked = blocked.then_some("request");
        r.error = error.then_some(ErrorKind::UpstreamTimeout);
        metrics::with_local_recorder(&recorder, || telemetry.record(&r));
    };
    record("acme", &[("EMAIL_ADDRESS", "redact", 1)], false, false);
    record(
        "acme",
        &[("EMAIL_ADDRESS", "redact", 1), ("US_SSN", "block", 1)],
        true,
        false,
    );
    record("globex", &[], false, true);
    record("", &[("EMAIL_ADDRESS", "redact", 1)], false, false);
    // Past 64 tenants, the rest share `other`.
    for i in 0..70 {
        record(&format!("t{i}"), &[], false, false);
    }
    let text = handle.render();
    for needle in [
        "deepsentinel_tenant_requests_total{tenant=\"acme\",outcome=\"allowed\"} 1",
        "deepsentinel_tenant_requests_total{tenant=\"acme\",outcome=\"blocked\"} 1",
        "deepsentinel_tenant_requests_total{tenant=\"globex\",outcome=\"error\"} 1",
        "deepsentinel_tenant_findings_total{tenant=\"acme\",entity=\"EMAIL_ADDRESS\"} 2",
        "deepsentinel_tenant_findings_total{tenant=\"acme\",entity=\"US_SSN\"} 1",
        "deepsentinel_tenant_requests_total{tenant=\"other\",outcome=\"allowed\"} 8",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // A record without a tenant is counted only in the tenant-free series.
    assert!(!text.contains("tenant=\"\""), "{text}");
    let named = text
        .lines()
        .filter(|l| l.starts_with("deepsentinel_tenant_requests_total{") && l.contains("allowed"))
        .filter(|l| !l.contains("tenant=\"other\""))
        .count();
    assert_eq!(named, 64, "{text}");
}
