//! `deepsentinel scan`: files, directories, stdin, or JSONL records.

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use sentinel_detect::{
    builtin_entities, CharOffsets, DetectionConfig, Detector, Finding, FindingRecord,
    LocalDetector, Unescaper,
};
use serde::Serialize;

use crate::hashing::{Fingerprinter, KEY_VAR};

/// Files larger than this are refused with an error rather than read into memory.
const MAX_FILE: u64 = 1 << 30;
/// Input at least this large gets a progress bar when stderr is a terminal.
const PROGRESS_BYTES: u64 = 8 << 20;
/// Records scanned in parallel per batch (order is kept within and across batches).
const BATCH: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people: one line per finding, colour on a terminal.
    Text,
    /// One JSON document with every file and a summary.
    Json,
    /// One JSON object per finding, per line.
    Jsonl,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files or directories (scanned recursively); none, or `-`, reads stdin.
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Read JSONL records `{"id": ..., "text": ...}` and write one
    /// `{"id": ..., "entities": [...]}` line per record.
    #[arg(long)]
    records: bool,
    /// Write the text with every finding replaced by `<ENTITY_TYPE>` (one input, or
    /// with --records as a `redacted` field).
    #[arg(long)]
    redact: bool,
    /// Report only these entity types (comma-separated, e.g. CREDIT_CARD,US_SSN).
    #[arg(long, value_delimiter = ',')]
    entities: Vec<String>,
    /// Report only findings scored at least this (0.0 to 1.0).
    #[arg(long)]
    min_score: Option<f32>,
    /// A TOML file with custom recognizers, allow and deny lists.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print matched values (text format only).
    #[arg(long)]
    show_values: bool,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

/// One input's outcome.
struct Scanned {
    name: String,
    text: String,
    findings: Vec<Finding>,
}

fn build_detector(args: &ScanArgs) -> Result<LocalDetector> {
    let mut builder = LocalDetector::builder();
    let mut known = builtin_entities();
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let cfg = DetectionConfig::from_toml(&path.display().to_string(), &text)?;
        known.extend(cfg.recognizers.iter().map(|r| r.entity.clone()));
        known.extend(cfg.deny.iter().map(|d| d.entity.clone()));
        builder = cfg.apply(builder)?;
    }
    if !args.entities.is_empty() {
        if let Some(bad) = args.entities.iter().find(|e| !known.contains(e)) {
            bail!("unknown entity type '{bad}' (known: {})", known.join(", "));
        }
        builder = builder.entities(args.entities.iter().cloned());
    }
    if let Some(s) = args.min_score {
        if !(0.0..=1.0).contains(&s) {
            bail!("--min-score must be within 0.0..=1.0");
        }
        builder = builder.min_score(s);
    }
    Ok(builder.build()?)
}

pub(crate) fn run(args: &ScanArgs) -> Result<ExitCode> {
    if args.show_values && args.format != Format::Text {
        bail!("--show-values works with --format text only: JSON output never holds values");
    }
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .ok();
    }
    let detector = build_detector(args)?;
    let fp = Fingerprinter::from_env();
    if fp.ephemeral && (args.records || args.format != Format::Text) {
        warn(&format!(
            "{KEY_VAR} is unset: text_hash values are keyed for this run only"
        ));
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let status = if args.records {
        run_records(args, &detector, &fp, &mut out)?
    } else {
        run_files(args, &detector, &fp, &mut out)?
    };
    out.flush()?;
    Ok(status.exit_code())
}

#[derive(Default)]
struct Status {
    findings: usize,
    errors: usize,
}

impl Status {
    fn exit_code(&self) -> ExitCode {
        if self.errors > 0 {
            ExitCode::from(2)
        } else if self.findings > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

#[allow(clippy::print_stderr)] // reason: diagnostics of the binary go to stderr
fn warn(msg: &str) {
    eprintln!("deepsentinel: {msg}");
}

/// Expands directories (sorted, so output order is stable) and keeps files and `-`. A
/// directory that cannot be walked is reported and counted as an error in the status.
fn inputs(paths: &[PathBuf]) -> (Vec<PathBuf>, Status) {
    let mut status = Status::default();
    if paths.is_empty() {
        return (vec![PathBuf::from("-")], status);
    }
    let mut files = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" || !p.is_dir() {
            files.push(p.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            match entry {
                Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
                Ok(_) => {}
                Err(e) => {
                    warn(&format!("{}: {e}", p.display()));
                    status.errors += 1;
                }
            }
        }
    }
    (files, status)
}

/// Reads one input as UTF-8. `Ok(None)` for a binary file, which is skipped.
fn read_input(path: &Path) -> Result<Option<String>> {
    let bytes = if path.as_os_str() == "-" {
        let mut b = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut b)
            .context("cannot read stdin")?;
        b
    } else {
        let meta =
            std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
        if meta.len() > MAX_FILE {
            bail!(
                "{}: larger than {} MiB; split it or stream it through --records",
                path.display(),
                MAX_FILE >> 20
            );
        }
        std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?
    };
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Ok(None);
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Some(s)),
        Err(e) => bail!(
            "{}: invalid UTF-8 at byte offset {}",
            display(path),
            e.utf8_error().valid_up_to()
        ),
    }
}

fn display(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

fn progress(total: u64) -> Option<indicatif::ProgressBar> {
    if total < PROGRESS_BYTES || !io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}

fn run_files(
    args: &ScanArgs,
    d: &LocalDetector,
    fp: &Fingerprinter,
    out: &mut impl Write,
) -> Result<Status> {
    let (files, mut status) = inputs(&args.paths);
    if args.redact && files.len() != 1 {
        bail!(
            "--redact takes exactly one input (got {}); use --records for many texts",
            files.len()
        );
    }
    let total: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress(total);
    let results: Vec<Result<Option<Scanned>>> = files
        .par_iter()
        .map(|path| {
            let text = read_input(path)?;
            if let Some(b) = &bar {
                b.inc(text.as_ref().map_or(0, |t| t.len() as u64));
            }
            Ok(text.map(|text| Scanned {
                name: display(path),
                findings: scan_text(d, &text),
                text,
            }))
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => io::stdout().is_terminal(),
    };
    let mut json_files = Vec::new();
    let mut by_entity = std::collections::BTreeMap::<String, usize>::new();
    for (path, r) in files.iter().zip(results) {
        let s = match r {
            Ok(Some(s)) => s,
            Ok(None) => {
                warn(&format!("{}: binary file skipped", display(path)));
                continue;
            }
            Err(e) => {
                warn(&format!("{e:#}"));
                status.errors += 1;
                continue;
            }
        };
        status.findings += s.findings.len();
        for f in &s.findings {
            *by_entity.entry(f.entity.to_string()).or_default() += 1;
        }
        if args.redact {
            out.write_all(redact(&s.text, &s.findings).as_bytes())?;
            continue;
        }
        let reports = reports(d, fp, &s);
        match args.format {
            Format::Text => write_text(out, &s, &reports, args.show_values, color)?,
            Format::Jsonl => {
                for r in &reports {
                    serde_json::to_writer(
                        &mut *out,
                        &JsonlLine {
                            path: &s.name,
                            report: r,
                        },
                    )?;
                    out.write_all(b"\n")?;
                }
            }
            Format::Json => json_files.push(JsonFile {
                path: s.name.clone(),
                findings: reports,
            }),
        }
    }
    if args.format == Format::Json && !args.redact {
        let doc = JsonDoc {
            files: json_files,
            summary: Summary {
                findings: status.findings,
                errors: status.errors,
                by_entity,
            },
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")?;
    }
    Ok(status)
}

/// A finding as reported: JSON record plus line, column and keyed hash.
#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    record: FindingRecord,
    line: usize,
    column: usize,
    text_hash: String,
}

/// The findings of `text`. A JSON document with escapes in its strings (a `.json` file, a
/// record holding a tool call's arguments) is read unescaped, as the gateway reads one, so
/// a value written with escapes (`jane\u0040example.com`, `postgres:\/\/...`) is found;
/// findings are at `text`'s own offsets, and an escaped value's hash is of what it stands
/// for.
fn scan_text(d: &LocalDetector, text: &str) -> Vec<Finding> {
    match Unescaper::document(text) {
        Some((read, back)) => back.back(text, &d.scan(&read)),
        None => d.scan(text),
    }
}

fn reports(d: &LocalDetector, fp: &Fingerprinter, s: &Scanned) -> Vec<Report> {
    let records =
        FindingRecord::from_findings(&s.text, &s.findings, |f| d.recognizer_name(f.recognizer));
    let mut line = 1;
    let mut line_start = 0;
    let mut scanned = 0;
    records
        .into_iter()
        .zip(&s.findings)
        .map(|(record, f)| {
            let nl = s.text.as_bytes()[scanned..f.start]
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n');
            for (i, _) in nl {
                line += 1;
                line_start = scanned + i + 1;
            }
            scanned = f.start;
            let column = s.text[line_start..f.start].chars().count() + 1;
            Report {
                record,
                line,
                column,
                text_hash: fp.hash(&f.value(&s.text)),
            }
        })
        .collect()
}

fn write_text(
    out: &mut impl Write,
    s: &Scanned,
    reports: &[Report],
    show: bool,
    color: bool,
) -> io::Result<()> {
    let (on, off) = if color {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("", "")
    };
    for (r, f) in reports.iter().zip(&s.findings) {
        write!(
            out,
            "{}:{}:{}: {on}{}{off} score={:.2} recognizer={}",
            s.name, r.line, r.column, r.record.entity_type, r.record.score, r.record.recognizer
        )?;
        if show {
            writeln!(out, " value={:?}", &s.text[f.span()])?;
        } else {
            writeln!(out, " chars={}", r.record.end - r.record.start)?;
        }
    }
    Ok(())
}

/// The text with each finding replaced by `<ENTITY_TYPE>`.
pub(crate) fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        out.push_str(&text[at..f.start]);
        out.push('<');
        out.push_str(f.entity.as_str());
        out.push('>');
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

#[derive(Serialize)]
struct JsonlLine<'a> {
    path: &'a str,
    #[serde(flatten)]
    report: &'a Report,
}

#[derive(Serialize)]
struct JsonFile {
    path: String,
    findings: Vec<Report>,
}

#[derive(Serialize)]
struct Summary {
    findings: usize,
    errors: usize,
    by_entity: std::collections::BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct JsonDoc {
    files: Vec<JsonFile>,
    summary: Summary,
}

#[derive(serde::Deserialize)]
struct RecordIn {
    id: serde_json::Value,
    text: String,
}

#[derive(Serialize)]
struct EntityOut {
    #[serde(rename = "type")]
    entity_type: String,
    start: usize,
    end: usize,
    score: f32,
    text_hash: String,
}

#[derive(Serialize)]
struct RecordOut {
    id: serde_json::Value,
    entities: Vec<EntityOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redacted: Option<String>,
}

#[derive(Serialize)]
struct RecordError {
    id: serde_json::Value,
    line: usize,
    error: String,
}

fn run_records(
    args: &ScanArgs,
    d: &LocalDetector,
    fp: &Fingerprinter,
    out: &mut impl Write,
) -> Result<Status> {
    let (files, mut status) = inputs(&args.paths);
    for path in &files {
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(io::BufReader::new(io::stdin()))
        } else {
            match std::fs::File::open(path) {
                Ok(f) => Box::new(io::BufReader::new(f)),
                Err(e) => {
                    warn(&format!("{}: cannot read: {e}", path.display()));
                    status.errors += 1;
                    continue;
                }
            }
        };
        let name = display(path);
        let mut lines = reader.split(b'\n').enumerate();
        loop {
            let batch: Vec<(usize, io::Result<Vec<u8>>)> = lines.by_ref().take(BATCH).collect();
            if batch.is_empty() {
                break;
            }
            let results: Vec<Option<Result<RecordOut, RecordError>>> = batch
                .into_par_iter()
                .map(|(i, line)| scan_record(d, fp, args.redact, i + 1, line))
                .collect();
            for r in results.into_iter().flatten() {
                match r {
                    Ok(rec) => {
                        status.findings += rec.entities.len();
                        serde_json::to_writer(&mut *out, &rec)?;
                    }
                    Err(e) => {
                        warn(&format!("{name}: line {}: {}", e.line, e.error));
                        status.errors += 1;
                        serde_json::to_writer(&mut *out, &e)?;
                    }
                }
                out.write_all(b"\n")?;
            }
        }
    }
    Ok(status)
}

fn scan_record(
    d: &LocalDetector,
    fp: &Fingerprinter,
    redact_text: bool,
    line_no: usize,
    line: io::Result<Vec<u8>>,
) -> Option<Result<RecordOut, RecordError>> {
    let err = |id: serde_json::Value, error: String| {
        Some(Err(RecordError {
            id,
            line: line_no,
            error,
        }))
    };
    let bytes = match line {
        Ok(b) => b,
        Err(e) => return err(serde_json::Value::Null, format!("cannot read: {e}")),
    };
    let trimmed = bytes.strip_suffix(b"\r").unwrap_or(&bytes);
    if trimmed.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let text = match std::str::from_utf8(trimmed) {
        Ok(t) => t,
        Err(e) => {
            return err(
                serde_json::Value::Null,
                format!("invalid UTF-8 at byte offset {}", e.valid_up_to()),
            )
        }
    };
    let rec: RecordIn = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            // Keep the id when the line is JSON but the shape is wrong.
            let id = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(serde_json::Value::Null);
            return err(
                id,
                format!("expected {{\"id\": ..., \"text\": \"...\"}}: {e}"),
            );
        }
    };
    let findings = scan_text(d, &rec.text);
    let mut offsets = CharOffsets::new(&rec.text);
    let entities = findings
        .iter()
        .map(|f| EntityOut {
            entity_type: f.entity.to_string(),
            start: offsets.char_offset(f.start),
            end: offsets.char_offset(f.end),
            score: f.score,
            text_hash: fp.hash(&f.value(&rec.text)),
        })
        .collect();
    let redacted = redact_text.then(|| redact(&rec.text, &findings));
    Some(Ok(RecordOut {
        id: rec.id,
        entities,
        redacted,
    }))
}
