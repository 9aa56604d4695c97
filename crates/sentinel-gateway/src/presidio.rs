//! Presidio-compatible `POST /analyze` and `POST /anonymize` (the same JSON shapes), so
//! Presidio clients and LiteLLM's Presidio guardrail can point at DeepSentinel unchanged.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use sentinel_client::Detection;
use sentinel_detect::Finding;

/// `POST /analyze` request.
#[derive(Debug, Deserialize)]
pub(crate) struct AnalyzeRequest {
    pub(crate) text: String,
    #[serde(default)]
    #[allow(dead_code)] // reason: accepted for compatibility; detection is language-neutral
    pub(crate) language: Option<String>,
    #[serde(default)]
    pub(crate) entities: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) score_threshold: Option<f32>,
}

/// One `POST /anonymize` analyzer result, character offsets.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub(crate) struct AnalyzeResult {
    pub(crate) entity_type: String,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) score: f32,
}

/// One `POST /analyze` result as written: borrowed, made as the answer is serialized.
#[derive(Serialize)]
pub(crate) struct AnalyzeOut<'a> {
    entity_type: &'a str,
    start: usize,
    end: usize,
    score: f32,
    analysis_explanation: Option<()>,
    recognition_metadata: RecognitionMetadata<'a>,
}

#[derive(Serialize)]
struct RecognitionMetadata<'a> {
    recognizer_name: &'a str,
    recognizer_identifier: &'a str,
}

/// The results of `findings` (the detection stage's, for `req.text`) that `req` asks for,
/// as a list serialized one result at a time (a text dense with values has hundreds of
/// thousands; a JSON tree of them took about 600 bytes each).
pub(crate) fn analyze<'a>(
    detection: &'a Detection,
    req: &'a AnalyzeRequest,
    findings: &'a [Finding],
) -> crate::Streamed<impl Iterator<Item = AnalyzeOut<'a>>> {
    let mut offsets = sentinel_detect::CharOffsets::new(&req.text);
    crate::Streamed::new(
        findings
            .iter()
            .filter(|f| req.score_threshold.is_none_or(|t| f.score >= t))
            .filter(|f| {
                req.entities
                    .as_ref()
                    .is_none_or(|es| es.iter().any(|e| e == f.entity.as_str()))
            })
            .map(move |f| {
                let name = detection.recognizer_name(f.recognizer);
                AnalyzeOut {
                    entity_type: f.entity.as_str(),
                    start: offsets.char_offset(f.start),
                    end: offsets.char_offset(f.end),
                    score: f.score,
                    analysis_explanation: None,
                    recognition_metadata: RecognitionMetadata {
                        recognizer_name: name,
                        recognizer_identifier: name,
                    },
                }
            }),
    )
}

/// An anonymizer operator, as Presidio names them.
#[derive(Debug, Deserialize, Clone)]
pub(crate) struct Operator {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    new_value: Option<String>,
    #[serde(default)]
    masking_char: Option<String>,
    #[serde(default)]
    chars_to_mask: Option<usize>,
    #[serde(default)]
    from_end: Option<bool>,
}

/// `POST /anonymize` request.
#[derive(Debug, Deserialize)]
pub(crate) struct AnonymizeRequest {
    text: String,
    #[serde(default)]
    anonymizers: HashMap<String, Operator>,
    #[serde(default)]
    analyzer_results: Vec<AnalyzeResult>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AnonymizeItem {
    start: usize,
    end: usize,
    entity_type: String,
    text: String,
    operator: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct AnonymizeResponse {
    text: String,
    items: Vec<AnonymizeItem>,
}

/// Applies the operators to the analyzer results (character offsets), earliest first,
/// overlapping results after the first skipped, as Presidio's replace/redact/mask/hash/keep
/// do. Offsets in the answer are characters in the new text.
pub(crate) fn anonymize(req: &AnonymizeRequest) -> Result<AnonymizeResponse, String> {
    let chars: Vec<(usize, char)> = req.text.char_indices().collect();
    let byte_at = |c: usize| -> Option<usize> {
        if c == chars.len() {
            Some(req.text.len())
        } else {
            chars.get(c).map(|(b, _)| *b)
        }
    };
    let mut results = req.analyzer_results.clone();
    results.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut out = String::with_capacity(req.text.len());
    let mut items = Vec::new();
    let mut at_char = 0;
    let mut out_chars = 0;
    for r in results {
        if r.start < at_char || r.end <= r.start {
            continue;
        }
        let (Some(sb), Some(eb)) = (byte_at(r.start), byte_at(r.end)) else {
            return Err(format!(
                "analyzer result {}..{} is outside the text",
                r.start, r.end
            ));
        };
        let before = &req.text[byte_at(at_char).unwrap_or(0)..sb];
        out.push_str(before);
        out_chars += before.chars().count();
        let value = &req.text[sb..eb];
        let op = req
            .anonymizers
            .get(&r.entity_type)
            .or_else(|| req.anonymizers.get("DEFAULT"))
            .cloned()
            .unwrap_or(Operator {
                kind: "replace".to_owned(),
                new_value: None,
                masking_char: None,
                chars_to_mask: None,
                from_end: None,
            });
        let replacement = match op.kind.as_str() {
            "replace" => op
                .new_value
                .clone()
                .unwrap_or_else(|| format!("<{}>", r.entity_type)),
            "redact" => String::new(),
            "keep" => value.to_owned(),
            "hash" => {
                let digest = Sha256::digest(value.as_bytes());
                hex::encode(digest)
            }
            "mask" => {
                let mask = op
                    .masking_char
                    .as_deref()
                    .and_then(|m| m.chars().next())
                    .unwrap_or('*');
                let vc: Vec<char> = value.chars().collect();
                let n = op.chars_to_mask.unwrap_or(vc.len()).min(vc.len());
                let from_end = op.from_end.unwrap_or(false);
                vc.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let masked = if from_end { i >= vc.len() - n } else { i < n };
                        if masked {
                            mask
                        } else {
                            *c
                        }
                    })
                    .collect()
            }
            other => return Err(format!("unknown anonymizer type {other:?}")),
        };
        let len = replacement.chars().count();
        items.push(AnonymizeItem {
            start: out_chars,
            end: out_chars + len,
            entity_type: r.entity_type.clone(),
            text: replacement.clone(),
            operator: op.kind.clone(),
        });
        out.push_str(&replacement);
        out_chars += len;
        at_char = r.end;
    }
    out.push_str(&req.text[byte_at(at_char).unwrap_or(req.text.len())..]);
    Ok(AnonymizeResponse { text: out, items })
}
