//! Offline verification of a log directory.

use std::path::Path;

use crate::error::Error;
use crate::event::Record;
use crate::file::{file_name, log_files, read_bounded, LineHash, HEAD};

/// Where the chain first breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// The file's name.
    pub file: String,
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// A point of the chain kept outside the log, where its writer cannot change it: after
/// `records` records, the last one's line hash was `hash`. `audit.head` holds one (copy it
/// away at intervals); the gateway logs one at `[audit] anchor_interval_seconds`
/// (`audit anchor records=N hash=H`). [`verify_anchored`] checks the log against them,
/// which catches a chain rewritten whole from some record on, head and all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Records in the chain at that point.
    pub records: u64,
    /// The SHA-256 of the last of them, 64 lowercase hex digits.
    pub hash: String,
}

impl Anchor {
    /// The anchor a line holds, if it holds one: a copy of `audit.head`
    /// (`{"records":N,"hash":"H",...}`), or a log line with `records=N` and `hash=H` in
    /// it (the gateway's `audit anchor` line, as text or as JSON fields; terminal colour
    /// codes in it are ignored).
    ///
    /// ```
    /// use sentinel_audit::Anchor;
    /// let h = "ab".repeat(32);
    /// let from_head = Anchor::parse_line(&format!(r#"{{"records":12,"hash":"{h}","file":1}}"#));
    /// let from_log = Anchor::parse_line(&format!("2026-12-06T20:00:00Z INFO audit anchor records=12 hash={h} file=1"));
    /// assert_eq!(from_head, from_log);
    /// assert_eq!(from_head.as_ref().map(|a| a.records), Some(12));
    /// assert_eq!(Anchor::parse_line("records=12 and nothing else"), None);
    /// let coloured = format!("audit anchor \x1b[3mrecords\x1b[0m\x1b[2m=\x1b[0m12 \x1b[3mhash\x1b[0m\x1b[2m=\x1b[0m\"{h}\"");
    /// assert_eq!(Anchor::parse_line(&coloured), from_head);
    /// ```
    pub fn parse_line(line: &str) -> Option<Anchor> {
        let plain;
        let line = if line.contains('\u{1b}') {
            plain = without_colours(line);
            plain.as_str()
        } else {
            line
        };
        let records = value_after(line, "records")?;
        let digits = records.bytes().take_while(u8::is_ascii_digit).count();
        let records: u64 = records[..digits].parse().ok()?;
        let hash = value_after(line, "hash")?.get(..64)?;
        LineHash::parse(hash)?;
        Some(Anchor {
            records,
            hash: hash.to_owned(),
        })
    }
}

/// `line` without its ANSI colour sequences (`ESC [ ... m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Up to and including the sequence's final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What follows `key` and its separator (`=`, or `":` and an optional quote) in `line`.
fn value_after<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    let mut from = 0;
    while let Some(at) = line[from..].find(key) {
        let start = from + at;
        let rest = &line[start + key.len()..];
        // The whole key: not the end of a longer name.
        let whole = line[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        if whole {
            if let Some(v) = rest.strip_prefix('=') {
                return Some(v.trim_start_matches('"'));
            }
            if let Some(v) = rest.strip_prefix("\":") {
                return Some(v.trim_start().trim_start_matches('"'));
            }
        }
        from = start + key.len();
    }
    None
}

/// Where an anchor [`verify_anchored`] checks was kept, for the break that names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kept {
    /// Given by the caller: kept outside the log.
    Outside,
    /// The log's own `audit.head`.
    Head,
}

impl Kept {
    /// Why record `record` does not match an anchor kept here.
    fn differs(self, record: u64) -> String {
        match self {
            Kept::Outside => format!(
                "differs from the anchor kept outside the log for record {record}: the log \
                 was rewritten at or before this record"
            ),
            Kept::Head => format!(
                "record {record} does not match the committed head ({HEAD}): the log was \
                 rewritten at or before it"
            ),
        }
    }

    /// Why a log of `held` records falls short of an anchor of `records` kept here.
    fn truncated(self, records: u64, held: u64) -> String {
        match self {
            Kept::Outside => format!(
                "truncated: an anchor kept outside the log records {records} records, the \
                 files hold {held}"
            ),
            Kept::Head => format!(
                "truncated: the head records {records} committed records, the files hold {held}"
            ),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Files read.
    pub files: usize,
    /// Anchors the chain was checked against ([`verify_anchored`]).
    pub anchors: usize,
    /// Complete records whose chain holds, up to the first break.
    pub records: u64,
    /// The first broken link, if any: tampering.
    pub first_break: Option<Break>,
    /// Incomplete last lines (a crash mid-write), with file and line: warnings.
    pub torn: Vec<(String, usize)>,
}

impl VerifyReport {
    /// True when no link is broken (torn lines are warnings, not breaks).
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Checks the chain across every `audit-NNNNNN.jsonl` file in `dir`: the files are
/// numbered from 1 without gaps, each record's `prev` is the SHA-256 of the line before it
/// (the last line of the previous file for a file's first record), sequence numbers run
/// without gaps, and the record the head file names is there with the head's hash (a
/// truncated tail, an edit of that record). A torn last line of a file is reported as a
/// warning when the chain continues from the record before it.
///
/// # Errors
///
/// The directory or a file cannot be read.
pub fn verify(dir: &Path) -> Result<VerifyReport, Error> {
    verify_all(&[dir])
}

/// Checks one chain kept in several directories, oldest first: the archives a log's
/// rotated files were moved to (to free the log's disk), then the log itself, as
/// [`verify`] checks one directory. The files of all of them together must number from 1
/// without gaps; the last directory's head is checked.
///
/// # Example
///
/// ```
/// use sentinel_audit::{verify_all, AuditEvent, AuditSink, Direction, FileSink, FileSinkConfig};
/// let (log, archive) = (tempfile::tempdir()?, tempfile::tempdir()?);
/// let sink = FileSink::open(FileSinkConfig::new(log.path()).max_file_bytes(1024))?;
/// for i in 0..40 {
///     sink.append(AuditEvent::new(&format!("req-{i}"), "acme", Direction::Request))?;
/// }
/// sink.close()?;
/// // Every file but the newest moved to the archive.
/// let mut files: Vec<_> = std::fs::read_dir(log.path())?
///     .flatten()
///     .map(|e| e.path())
///     .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
///     .collect();
/// files.sort();
/// files.pop();
/// for f in &files {
///     std::fs::rename(f, archive.path().join(f.file_name().unwrap()))?;
/// }
/// assert!(!sentinel_audit::verify(log.path())?.is_intact(), "its first files are gone");
/// let both = verify_all(&[archive.path(), log.path()])?;
/// assert!(both.is_intact());
/// assert_eq!(both.records, 40);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A directory or a file cannot be read.
pub fn verify_all(dirs: &[&Path]) -> Result<VerifyReport, Error> {
    verify_anchored(dirs, &[])
}

/// [`verify_all`], and the chain checked against `anchors` kept outside the log: where an
/// anchor says `records` records, the chain's record of that number must have its hash,
/// and the log must hold at least that many. A log rewritten whole from some record on
/// (its head too) verifies on its own; against an anchor taken before the rewrite, it
/// does not.
///
/// ```
/// use sentinel_audit::{verify_anchored, Anchor, AuditEvent, AuditSink, Direction, FileSink, FileSinkConfig};
/// let log = tempfile::tempdir()?;
/// let sink = FileSink::open(FileSinkConfig::new(log.path()))?;
/// for i in 0..3 {
///     sink.append(AuditEvent::new(&format!("req-{i}"), "acme", Direction::Request))?;
/// }
/// sink.close()?;
/// let head = std::fs::read_to_string(log.path().join("audit.head"))?;
/// let anchor = Anchor::parse_line(&head).expect("the head is an anchor");
/// let report = verify_anchored(&[log.path()], &[anchor.clone()])?;
/// assert!(report.is_intact());
/// assert_eq!(report.anchors, 1);
/// // An anchor the log never reached.
/// let ahead = Anchor { records: 4, ..anchor };
/// assert!(!verify_anchored(&[log.path()], &[ahead])?.is_intact());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A directory or a file cannot be read.
pub fn verify_anchored(dirs: &[&Path], anchors: &[Anchor]) -> Result<VerifyReport, Error> {
    // The last directory's head is one more anchor, kept beside the log: it catches a
    // tail cut off at a line boundary, and an edit of the record it names.
    let head = dirs
        .last()
        .and_then(|d| std::fs::read_to_string(d.join(HEAD)).ok())
        .and_then(|text| Anchor::parse_line(&text));
    let mut anchors: Vec<(&Anchor, Kept)> = anchors
        .iter()
        .map(|a| (a, Kept::Outside))
        .chain(head.iter().map(|a| (a, Kept::Head)))
        .filter(|(a, _)| a.records > 0)
        .collect();
    anchors.sort_by_key(|(a, _)| a.records);
    let mut next_anchor = anchors.iter().peekable();
    let mut files = Vec::new();
    for dir in dirs {
        files.extend(log_files(dir)?);
    }
    let mut report = VerifyReport {
        files: files.len(),
        ..VerifyReport::default()
    };
    let mut prev = LineHash::GENESIS;
    let mut seq = 0u64;
    for (expected, (index, path)) in (1u64..).zip(&files) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if *index != expected {
            report.first_break = Some(Break {
                file: file_name(expected),
                line: 0,
                reason: match (*index).cmp(&expected) {
                    std::cmp::Ordering::Less => {
                        format!("{name} is there twice (in two of the directories given)")
                    }
                    _ if expected == 1 => format!(
                        "missing: the log starts at {name}. If the files before it were moved \
                         to an archive, verify the archive and this directory together \
                         (deepsentinel audit verify ARCHIVE DIR)"
                    ),
                    _ => format!("missing, or more files up to {name}"),
                },
            });
            return Ok(report);
        }
        let bytes = read_bounded(path)?;
        let mut line_no = 0;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            line_no += 1;
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                report.torn.push((name.clone(), line_no));
                break;
            };
            let line = &rest[..nl];
            rest = &rest[nl + 1..];
            let broken = |reason: String| {
                Some(Break {
                    file: name.clone(),
                    line: line_no,
                    reason,
                })
            };
            let rec: Record<String, serde_json::Value> = match serde_json::from_slice(line) {
                Ok(r) => r,
                Err(e) => {
                    report.first_break = broken(format!("not a record: {e}"));
                    return Ok(report);
                }
            };
            if rec.prev != prev.as_str() {
                report.first_break = broken(
                    "hash chain broken: the previous record was edited, removed or reordered"
                        .to_owned(),
                );
                return Ok(report);
            }
            if rec.seq != seq {
                report.first_break = broken(format!(
                    "sequence number {} where {seq} was expected",
                    rec.seq
                ));
                return Ok(report);
            }
            prev = LineHash::of(line);
            seq += 1;
            report.records += 1;
            while let Some((a, kept)) = next_anchor.next_if(|(a, _)| a.records == seq) {
                report.anchors += usize::from(*kept == Kept::Outside);
                if a.hash != prev.as_str() {
                    report.first_break = broken(kept.differs(seq - 1));
                    return Ok(report);
                }
            }
        }
    }
    if let Some((a, kept)) = next_anchor.next() {
        report.anchors += usize::from(*kept == Kept::Outside);
        report.first_break = Some(Break {
            file: files
                .last()
                .and_then(|(_, p)| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            line: 0,
            reason: kept.truncated(a.records, seq),
        });
    }
    Ok(report)
}
