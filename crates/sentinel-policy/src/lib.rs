//! DeepSentinel's policies: what to do with what the detector found.
//!
//! # Why a seam
//!
//! [`PolicyEngine`] turns a text and its findings into one [`Decision`] (allow, transform,
//! or block, with the rules that fired and why), so the pipeline can apply a tenant's
//! policy without knowing how it is written. [`PolicySet`] is the production
//! implementation: policies in TOML, tenants inheriting from a base, presets (`strict`,
//! `pci-dss`, `hipaa`, `gdpr`, `secrets`, `monitor`) that are data, readable in
//! `presets/`.
//!
//! # Example: the strict preset
//!
//! ```
//! use sentinel_detect::{Detector, LocalDetector};
//! use sentinel_policy::{Decision, DecisionContext, PolicyEngine, PolicySet};
//! let policy = PolicySet::preset("strict")?;
//! let text = "mail jane@example.com or jane@example.com, then bob@example.org";
//! let findings = LocalDetector::new().scan(text);
//! match policy.decide(text, &findings, &DecisionContext::request("acme")) {
//!     Decision::Transform { text, .. } => {
//!         assert_eq!(text, "mail <EMAIL_ADDRESS_1> or <EMAIL_ADDRESS_1>, then <EMAIL_ADDRESS_2>")
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod decision;
mod engine;
mod error;
mod model;
mod transform;

pub use decision::{Applied, Decision, DecisionContext, Direction, Reason};
pub use engine::{PolicyEngine, PolicySet};
pub use error::Error;
pub use model::{
    Action, DirectionFilter, EntityGroup, PolicyFile, RuleConfig, TenantConfig, PRESETS,
};
