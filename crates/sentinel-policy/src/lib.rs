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
//! `pseudonymize` replaces values with same-format surrogates (a Luhn-valid card, a mod-97
//! IBAN, an e-mail) or tokens derived from a per-tenant key; a [`Vault`] remembers what was
//! issued per scope (request or conversation) with a TTL, and a [`Restorer`] puts the
//! originals back into the model's answer: in text, JSON and tool-call arguments, streamed
//! chunks, and through the case, bracket and spacing changes models make.
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
//!
//! # Example: pseudonymize a prompt, restore the answer
//!
//! ```
//! use sentinel_detect::{Detector, LocalDetector};
//! use sentinel_policy::{Decision, DecisionContext, PolicyEngine, PolicySet};
//! std::env::set_var("DEEPSENTINEL_PSEUDONYM_KEY", "a key from your secret store");
//! let policy = PolicySet::from_toml("p.toml", r#"
//!     version = "1"
//!     [[rule]]
//!     groups = ["pci", "pii"]
//!     action = "pseudonymize"
//! "#)?;
//! let prompt = "Refund card 4111 1111 1111 1111 for jane@corp.com";
//! let ctx = DecisionContext::request("acme").with_scope("conversation-7");
//! let Decision::Transform { text: sent, .. } =
//!     policy.decide(prompt, &LocalDetector::new().scan(prompt), &ctx)
//! else { panic!("expected a transform") };
//! assert!(sent.starts_with("Refund card 4111 11") && !sent.contains("jane@corp.com"));
//! // The model answers with the pseudonyms; the caller gets the originals back.
//! let answer = sent.replace("Refund", "Refunded");
//! let restorer = policy.restorer(&DecisionContext::response("acme").with_scope("conversation-7"));
//! let restored = restorer.expect("the policy pseudonymizes").restore(&answer);
//! assert_eq!(restored.text, "Refunded card 4111 1111 1111 1111 for jane@corp.com");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod decision;
mod engine;
mod error;
mod ff1;
mod model;
mod pseudonym;
mod restore;
mod transform;
mod vault;

pub use decision::{Applied, Decision, DecisionContext, Direction, Reason};
pub use engine::{Numbering, PolicyEngine, PolicySet};
pub use error::Error;
pub use model::{
    is_unread, Action, DirectionFilter, EntityGroup, PolicyFile, PseudonymStyle, RuleConfig,
    TenantConfig, VaultSection, PRESETS, UNREAD_AUDIO, UNREAD_FILE, UNREAD_IMAGE,
};
pub use restore::{json_escape_around, RestoreStats, Restored, Restorer, StreamRestorer};
pub use vault::{ScopeExport, Vault, VaultConfig, VaultStats};
