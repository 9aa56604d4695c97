//! DeepSentinel keeps sensitive data (PII, card data, health identifiers, secrets) from
//! leaking to or from LLM providers. This umbrella crate re-exports the layers, each behind
//! a feature, and ships the `deepsentinel` binary (`deepsentinel scan`, more to come).
//!
//! # Example: detect through the umbrella
//!
//! ```
//! use deepsentinel::detect::{Detector, LocalDetector};
//! let findings = LocalDetector::new().scan("card 4111 1111 1111 1111");
//! assert_eq!(findings[0].entity.as_str(), "CREDIT_CARD");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The detection engine ([`sentinel_detect`]).
#[cfg(feature = "detect")]
pub use sentinel_detect as detect;

/// Policies, decisions and transforms ([`sentinel_policy`]).
#[cfg(feature = "policy")]
pub use sentinel_policy as policy;

/// The tamper-evident audit log ([`sentinel_audit`]).
#[cfg(feature = "audit")]
pub use sentinel_audit as audit;

/// Detection and response caches ([`sentinel_cache`]).
#[cfg(feature = "cache")]
pub use sentinel_cache as cache;

/// Metric names, the Prometheus exporter and the Monitor ([`sentinel_metrics`]).
#[cfg(feature = "metrics")]
pub use sentinel_metrics as metrics;

/// The upstream transport ([`sentinel_transport`]).
#[cfg(feature = "transport")]
pub use sentinel_transport as transport;

/// The pipeline and the SDK ([`sentinel_client`]).
#[cfg(feature = "client")]
pub use sentinel_client as client;
