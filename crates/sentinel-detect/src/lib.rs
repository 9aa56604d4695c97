//! DeepSentinel's detection engine: finds PII, card data, health identifiers and secrets
//! in text, fast enough to run on every prompt and every response.
//!
//! # Why a seam, and why one program
//!
//! [`Detector`] is the seam the rest of DeepSentinel sees: policies, caches and the gateway
//! take any detector, so a remote or hybrid one can stand in for [`LocalDetector`]. The
//! local detector compiles every recognizer into one [`PatternSet`]: prefilters find the
//! few places worth looking at (digits, `@`, key prefixes, context words), multi-pattern
//! programs run only there, and validators (Luhn, mod 97, checksums) and context words
//! turn candidates into scored findings. Matching is linear in the input for every pattern,
//! built-in or custom. No async runtime, no I/O.
//!
//! # Example: scan, then redact
//!
//! ```
//! use sentinel_detect::{Detector, LocalDetector};
//! let detector = LocalDetector::new();
//! let prompt = "My SSN is 536-22-1234 and my email is jane@example.com";
//! let findings = detector.scan(prompt);
//! let mut redacted = prompt.to_owned();
//! for f in findings.iter().rev() {
//!     redacted.replace_range(f.span(), &format!("<{}>", f.entity));
//! }
//! assert_eq!(redacted, "My SSN is <US_SSN> and my email is <EMAIL_ADDRESS>");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod catalogue;
#[cfg(feature = "serde")]
mod config;
mod context;
mod detector;
mod error;
mod finding;
mod json_text;
mod local;
mod normalize;
mod overlap;
mod pattern_set;
mod prefilter;
mod recognizer;
mod stream;
mod validate;

pub use catalogue::{builtin, builtin_entities};
#[cfg(feature = "serde")]
pub use config::{AllowConfig, DenyConfig, DetectionConfig, Options, RecognizerConfig};
pub use context::BOOST as CONTEXT_BOOST;
pub use detector::Detector;
pub use error::{Error, ErrorKind};
#[cfg(feature = "serde")]
pub use finding::FindingRecord;
pub use finding::{line_column, CharOffsets, EntityType, Finding, RecognizerId};
pub use json_text::{escape_json_into, mark_escaped, unescape_json, Unescaper};
pub use local::{
    DenyList, LocalDetector, LocalDetectorBuilder, DEFAULT_MIN_SCORE, PIECEWISE_ABOVE,
    PIECEWISE_HOLD_BACK,
};
pub use pattern_set::PatternSet;
pub use recognizer::{Boundary, Recognizer, Trigger};
pub use stream::{
    StreamScanner, StreamUtf8Error, DEFAULT_HOLD_BACK, OPEN_VALUE_LIMIT, QUOTE_LIMIT,
};
pub use validate::Validator;

/// Check digits of the validated formats, for code that must produce valid values (the
/// policy layer's same-format surrogates) rather than judge them.
pub mod checksum {
    /// The Luhn check digit (ASCII) that makes the ASCII digits of `payload`, followed by
    /// it, pass the Luhn check. Non-digits in `payload` are skipped.
    pub fn luhn_check_digit(payload: &[u8]) -> u8 {
        crate::validate::luhn::check_digit(payload)
    }

    /// Whether the ASCII digits of `digits` pass the Luhn check.
    pub fn luhn_is_valid(digits: &[u8]) -> bool {
        crate::validate::luhn::is_valid(digits)
    }

    /// The two IBAN check digits (ASCII) for a country code and a BBAN, both uppercase
    /// letters and digits without spaces; `None` when either holds anything else.
    pub fn iban_check_digits(country: &[u8], bban: &[u8]) -> Option<[u8; 2]> {
        let mut compact = Vec::with_capacity(4 + bban.len());
        compact.extend_from_slice(country);
        compact.extend_from_slice(b"00");
        compact.extend_from_slice(bban);
        let rem = crate::validate::iban::mod97(&compact);
        if country.len() != 2 || rem == u32::MAX {
            return None;
        }
        let check = 98 - rem;
        // Both digits are below 10, so they fit a u8.
        let digit = |d: u32| b'0' + u8::try_from(d).unwrap_or(0);
        Some([digit(check / 10), digit(check % 10)])
    }

    /// The check digit (ASCII) of a Japanese individual number whose first eleven digits
    /// are `payload` (ASCII digits); `None` for another length or a non-digit.
    pub fn jp_my_number_check_digit(payload: &[u8]) -> Option<u8> {
        (payload.len() == 11 && payload.iter().all(u8::is_ascii_digit))
            .then(|| crate::validate::ids::my_number_check(payload))
    }

    /// The check character (ASCII `0`-`9` or `X`) of a Chinese resident identity number
    /// whose first seventeen digits are `payload` (ASCII digits); `None` for another
    /// length or a non-digit.
    pub fn cn_resident_id_check(payload: &[u8]) -> Option<u8> {
        (payload.len() == 17 && payload.iter().all(u8::is_ascii_digit))
            .then(|| crate::validate::ids::cn_resident_id_check(payload))
    }

    /// The check digit (ASCII) of a Korean resident registration number whose first
    /// twelve digits are `payload` (ASCII digits); `None` for another length or a
    /// non-digit. Numbers issued since October 2020 do not carry it.
    pub fn kr_rrn_check_digit(payload: &[u8]) -> Option<u8> {
        (payload.len() == 12 && payload.iter().all(u8::is_ascii_digit))
            .then(|| crate::validate::ids::kr_rrn_check(payload))
    }
}

/// Generators of valid test values (cards, IBANs, tokens...), shared by tests, the corpus
/// and benchmarks. Not part of the stable API.
#[doc(hidden)]
pub mod testgen;
