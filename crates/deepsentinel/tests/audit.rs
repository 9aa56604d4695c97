//! `deepsentinel audit verify`: exit codes for intact, torn and tampered logs.

use crate::util::run;
use sentinel_audit::{AuditEvent, AuditSink, Direction, FileSink, FileSinkConfig};

fn verify(dir: &std::path::Path) -> (Option<i32>, String) {
    run(&["audit", "verify", &dir.display().to_string()])
}

#[test]
fn verify_reports_intact_torn_and_tampered() {
    let dir = tempfile::tempdir().expect("tmp");
    let sink = FileSink::open(FileSinkConfig::new(dir.path())).expect("open");
    for i in 0..20 {
        sink.append(AuditEvent::new(&format!("r{i}"), "t", Direction::Request))
            .expect("append");
    }
    sink.close().expect("close");
    let (code, out) = verify(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("20 records in 1 files") && out.contains("chain intact"),
        "{out}"
    );

    let file = dir.path().join("audit-000001.jsonl");
    let mut bytes = std::fs::read(&file).expect("read");
    bytes.extend_from_slice(b"{\"seq\":20,");
    std::fs::write(&file, &bytes).expect("write");
    let (code, out) = verify(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("warning: audit-000001.jsonl:21"), "{out}");

    let text = String::from_utf8_lossy(&bytes).replacen("\"r3\"", "\"r9\"", 1);
    std::fs::write(&file, text).expect("write");
    let (code, out) = verify(dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("TAMPERED: audit-000001.jsonl:5"), "{out}");

    let (code, out) = verify(&dir.path().join("missing"));
    assert_eq!(code, Some(2), "{out}");
}

/// A log of `n` records in files of at most 1 KiB.
fn rotated_log(n: usize) -> tempfile::TempDir {
    let log = tempfile::tempdir().expect("tmp");
    let sink = FileSink::open(FileSinkConfig::new(log.path()).max_file_bytes(1024)).expect("open");
    for i in 0..n {
        sink.append(AuditEvent::new(&format!("r{i}"), "t", Direction::Request))
            .expect("append");
    }
    sink.close().expect("close");
    log
}

#[test]
fn verify_takes_the_archives_of_rotated_files_before_the_log() {
    let (log, archive) = (rotated_log(30), tempfile::tempdir().expect("tmp"));
    let first = log.path().join("audit-000001.jsonl");
    std::fs::rename(&first, archive.path().join("audit-000001.jsonl")).expect("moved");
    let (code, out) = verify(log.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("TAMPERED: audit-000001.jsonl:0: missing") && out.contains("ARCHIVE"),
        "{out}"
    );
    let (code, out) = run(&[
        "audit",
        "verify",
        &archive.path().display().to_string(),
        &log.path().display().to_string(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("30 records") && out.contains("chain intact"),
        "{out}"
    );
}

#[test]
fn archive_moves_rotated_files_and_checks_the_chain() {
    let (log, archive) = (rotated_log(30), tempfile::tempdir().expect("tmp"));
    let (log_dir, archive_dir) = (
        log.path().display().to_string(),
        archive.path().display().to_string(),
    );
    let (code, out) = run(&["audit", "archive", &log_dir, &archive_dir]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("moved ") && out.contains("30 records") && out.contains("chain intact"),
        "{out}"
    );
    let left = std::fs::read_dir(log.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
        .count();
    assert_eq!(left, 1, "the newest stays");
    let (code, out) = run(&[
        "audit",
        "archive",
        &log_dir,
        &log.path().join("nowhere").display().to_string(),
    ]);
    assert_eq!(code, Some(2), "{out}");
}
