//! `deepsentinel scan`: exit codes, formats, records, redaction, and bad input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SECRETS: &[&str] = &[
    "4111 1111 1111 1111",
    "jane.doe@example.com",
    "536-22-1234",
    "AKIAIOSFODNN7EXAMPLE",
    "Xk9#mP2vL7qZ",
    "DE89 3704 0044 0532 0130 00",
];

fn sample() -> String {
    format!(
        "card {}\nmail {}\nssn {}\nkey {}\npassword={}\niban {}\n",
        SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[3], SECRETS[4], SECRETS[5]
    )
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(args)
        .env("DEEPSENTINEL_HASH_KEY", "test-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(input) = stdin {
        // A run that fails on its arguments exits without reading stdin: a closed pipe is
        // then expected, not an error of the test.
        match child.stdin.take().expect("stdin").write_all(input) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => panic!("write stdin: {e}"),
        }
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("binary finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, data).expect("write");
    p.display().to_string()
}

#[test]
fn exit_codes_say_what_was_found() {
    assert_eq!(
        run(&["scan"], Some(b"nothing here at all")).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["scan"], Some(sample().as_bytes())).status.code(),
        Some(1)
    );
    assert_eq!(run(&["scan", "/no/such/file"], None).status.code(), Some(2));
}

#[test]
fn machine_formats_never_hold_values() {
    let text = sample();
    for args in [
        vec!["scan", "--format", "json"],
        vec!["scan", "--format", "jsonl"],
        vec!["scan", "--format", "text"],
    ] {
        let o = run(&args, Some(text.as_bytes()));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        for s in SECRETS {
            assert!(!all.contains(s), "{args:?} leaked {s:?}:\n{all}");
        }
    }
    let records: String = SECRETS
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{{\"id\": {i}, \"text\": \"value {s}\"}}\n"))
        .collect();
    let o = run(&["scan", "--records"], Some(records.as_bytes()));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    for s in SECRETS {
        assert!(!all.contains(s), "records leaked {s:?}");
    }
}

#[test]
fn show_values_is_text_only() {
    let o = run(&["scan", "--show-values"], Some(sample().as_bytes()));
    assert!(stdout(&o).contains(SECRETS[0]));
    let o = run(&["scan", "--show-values", "--format", "json"], Some(b"x"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--show-values"));
}

#[test]
fn json_reports_character_offsets_and_summary() {
    let o = run(
        &["scan", "--format", "json"],
        Some("é jane@example.com".as_bytes()),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let f = &v["files"][0]["findings"][0];
    assert_eq!(f["entity_type"], "EMAIL_ADDRESS");
    assert_eq!(f["start"], 2);
    assert_eq!(f["byte_start"], 3);
    assert_eq!(f["line"], 1);
    assert_eq!(f["column"], 3);
    assert_eq!(f["text_hash"].as_str().map(str::len), Some(32));
    assert_eq!(v["summary"]["by_entity"]["EMAIL_ADDRESS"], 1);
}

#[test]
fn records_mode_keeps_going_past_bad_lines() {
    let input = "{\"id\": 1, \"text\": \"ssn 536-22-1234\"}\nnot json\n{\"id\": 3}\n\n{\"id\": \"x\", \"text\": \"clean\"}\n";
    let o = run(&["scan", "--records", "--redact"], Some(input.as_bytes()));
    assert_eq!(o.status.code(), Some(2));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is json"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["entities"][0]["type"], "US_SSN");
    assert_eq!(lines[0]["entities"][0]["start"], 4);
    assert_eq!(lines[0]["redacted"], "ssn <US_SSN>");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[2]["id"], 3);
    assert!(lines[2]["error"].as_str().unwrap_or("").contains("text"));
    assert_eq!(lines[3]["id"], "x");
    assert!(stderr(&o).contains("line 2"));
}

#[test]
fn redact_writes_the_text() {
    let o = run(&["scan", "--redact"], Some(b"mail jane@example.com now"));
    assert_eq!(stdout(&o), "mail <EMAIL_ADDRESS> now");
    let dir = tempfile::tempdir().expect("tmp");
    let a = write(dir.path(), "a.txt", b"x");
    let b = write(dir.path(), "b.txt", b"y");
    assert_eq!(
        run(&["scan", "--redact", &a, &b], None).status.code(),
        Some(2)
    );
}

/// A JSON file is read unescaped: a value written with escapes is found at the file's
/// offsets and hashed as the same value written plainly; redacting it leaves JSON.
#[test]
fn json_files_are_read_unescaped() {
    let json =
        r#"{"to": "jane\u0040example.com", "db": "postgres:\/\/app:Xk9mP2vL7q@db:5432\/app"}"#;
    let o = run(&["scan", "--format", "json"], Some(json.as_bytes()));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let found = doc["files"][0]["findings"]
        .as_array()
        .expect("findings")
        .clone();
    let types: Vec<&str> = found
        .iter()
        .map(|f| f["entity_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(types, ["EMAIL_ADDRESS", "CONNECTION_STRING"], "{doc}");
    assert_eq!(found[0]["byte_start"], 8);
    assert_eq!(found[0]["byte_end"], 29);
    // The escaped address hashes as the plain one does.
    let plain = run(
        &["scan", "--format", "json"],
        Some(b"mail jane@example.com"),
    );
    let plain: serde_json::Value = serde_json::from_str(&stdout(&plain)).expect("json");
    assert_eq!(
        found[0]["text_hash"],
        plain["files"][0]["findings"][0]["text_hash"]
    );
    let o = run(&["scan", "--redact"], Some(json.as_bytes()));
    let redacted: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("still JSON");
    assert_eq!(redacted["to"], "<EMAIL_ADDRESS>");
    assert_eq!(redacted["db"], "<CONNECTION_STRING>");
}

#[test]
fn directories_invalid_utf8_and_binaries() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "a/one.txt", b"card 4111111111111111");
    write(dir.path(), "a/b/two.txt", b"mail jane@example.com");
    write(dir.path(), "bad.txt", b"ok so far \xff\xfe broken");
    write(dir.path(), "blob.bin", b"\x00\x01\x02 4111111111111111");
    let o = run(
        &[
            "scan",
            "--format",
            "jsonl",
            &dir.path().display().to_string(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("one.txt") && out.contains("two.txt"), "{out}");
    assert!(!out.contains("blob.bin"));
    let err = stderr(&o);
    assert!(
        err.contains("bad.txt: invalid UTF-8 at byte offset 10"),
        "{err}"
    );
    assert!(err.contains("blob.bin: binary file skipped"), "{err}");
}

#[test]
fn entity_filter_threshold_and_config() {
    let o = run(
        &["scan", "--format", "jsonl", "--entities", "US_SSN"],
        Some(sample().as_bytes()),
    );
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("US_SSN"));
    let o = run(&["scan", "--entities", "NOPE"], Some(b"x"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown entity type 'NOPE'"));

    let dir = tempfile::tempdir().expect("tmp");
    let good = write(dir.path(), "good.toml", b"[[recognizer]]\nname = \"emp\"\nentity = \"EMPLOYEE_ID\"\npattern = 'EMP-[0-9]{6}'\nscore = 0.9\n");
    let o = run(
        &["scan", "--config", &good, "--format", "jsonl"],
        Some(b"staff EMP-123456"),
    );
    assert!(stdout(&o).contains("EMPLOYEE_ID"));
    let bad = write(
        dir.path(),
        "bad.toml",
        b"[[recognizer]]\nname = \"broken\"\nentity = \"X\"\npattern = '(oops'\n",
    );
    let o = run(&["scan", "--config", &bad], Some(b"x"));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("recognizer 'broken'"), "{}", stderr(&o));
}

#[test]
fn threads_do_not_change_results() {
    let dir = tempfile::tempdir().expect("tmp");
    for i in 0..20 {
        write(dir.path(), &format!("f{i:02}.txt"), sample().as_bytes());
    }
    let d = dir.path().display().to_string();
    let one = run(&["scan", "--format", "jsonl", "--threads", "1", &d], None);
    let many = run(&["scan", "--format", "jsonl", "--threads", "4", &d], None);
    assert_eq!(stdout(&one), stdout(&many));
    assert_eq!(stdout(&one).lines().count(), 20 * 6);
}
