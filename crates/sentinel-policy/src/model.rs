//! The policy model as written in TOML.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What happens to a value a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Pass, unrecorded beyond the audit event.
    Allow,
    /// Pass, but count and audit it.
    Alert,
    /// Replace characters with a mask character, keeping the last few.
    Mask,
    /// Replace with a placeholder such as `<EMAIL_ADDRESS_1>`.
    Redact,
    /// Replace with a keyed HMAC-SHA256 fingerprint, stable per tenant.
    Hash,
    /// Replace with a same-format surrogate or a token that the caller can have restored
    /// in the answer.
    Pseudonymize,
    /// Refuse the whole text.
    Block,
}

impl Action {
    /// Whether it changes the value (mask, redact, hash, pseudonymize).
    pub fn transforms(self) -> bool {
        matches!(
            self,
            Action::Mask | Action::Redact | Action::Hash | Action::Pseudonymize
        )
    }

    /// The action's name as written in TOML.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Alert => "alert",
            Action::Mask => "mask",
            Action::Redact => "redact",
            Action::Hash => "hash",
            Action::Pseudonymize => "pseudonymize",
            Action::Block => "block",
        }
    }
}

/// The form of a pseudonym.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PseudonymStyle {
    /// A same-format surrogate that passes the type's validator where the type has one
    /// (card, IBAN, US SSN, phone, e-mail), a token for every other type.
    #[default]
    Surrogate,
    /// Always a token such as `[EMAIL_ADDRESS_k7m2q9x4]`.
    Token,
}

/// Groups of entity types a rule can name at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityGroup {
    /// Personal data: contact details, government ids, bank and network identifiers.
    Pii,
    /// Payment card data.
    Pci,
    /// Health identifiers.
    Phi,
    /// Credentials: keys, tokens, private keys, passwords.
    Secrets,
    /// What a request carries that the detectors cannot read: images
    /// ([`UNREAD_IMAGE`]), audio ([`UNREAD_AUDIO`]), files that are not text
    /// ([`UNREAD_FILE`]). Rules can allow, alert on or block it, never transform it.
    Unread,
}

/// An image in a request (an image part, an uploaded image): its pixels are not read, so
/// text drawn in it is not scanned.
pub const UNREAD_IMAGE: &str = "UNREAD_IMAGE";
/// Audio in a request (an audio part, an uploaded recording): what is said is not read.
pub const UNREAD_AUDIO: &str = "UNREAD_AUDIO";
/// A file in a request that is not UTF-8 text (a PDF, a document, an archive), or that is
/// named by id or URL rather than carried: its content is not read.
pub const UNREAD_FILE: &str = "UNREAD_FILE";

/// Whether `entity` names content the detectors cannot read ([`EntityGroup::Unread`]).
///
/// # Example
///
/// ```
/// assert!(sentinel_policy::is_unread("UNREAD_IMAGE"));
/// assert!(!sentinel_policy::is_unread("EMAIL_ADDRESS"));
/// ```
pub fn is_unread(entity: &str) -> bool {
    EntityGroup::Unread.entities().contains(&entity)
}

impl EntityGroup {
    /// The built-in entity types in this group. Custom entity types belong to no group;
    /// rules name them directly.
    pub fn entities(self) -> &'static [&'static str] {
        match self {
            EntityGroup::Pii => &[
                "EMAIL_ADDRESS",
                "PHONE_NUMBER",
                "US_SSN",
                "US_ITIN",
                "US_PASSPORT",
                "US_BANK_NUMBER",
                "IBAN_CODE",
                "IP_ADDRESS",
                "MAC_ADDRESS",
                "CRYPTO",
                "URL",
                "PL_PESEL",
                "IN_AADHAAR",
                "FR_NIR",
                "ES_NIF",
                "ES_NIE",
                "IT_FISCAL_CODE",
                "UK_NINO",
                "CN_RESIDENT_ID",
                "KR_RRN",
                "JP_MY_NUMBER",
            ],
            EntityGroup::Pci => &["CREDIT_CARD"],
            EntityGroup::Phi => &["UK_NHS", "US_NPI", "MEDICAL_LICENSE", "US_MBI"],
            EntityGroup::Unread => &[UNREAD_IMAGE, UNREAD_AUDIO, UNREAD_FILE],
            EntityGroup::Secrets => &[
                "AWS_ACCESS_KEY",
                "AWS_SECRET_KEY",
                "GITHUB_TOKEN",
                "OPENAI_API_KEY",
                "ANTHROPIC_API_KEY",
                "SLACK_TOKEN",
                "STRIPE_KEY",
                "GOOGLE_API_KEY",
                "GITLAB_TOKEN",
                "NPM_TOKEN",
                "PYPI_TOKEN",
                "HUGGINGFACE_TOKEN",
                "SENDGRID_KEY",
                "DIGITALOCEAN_TOKEN",
                "GOOGLE_OAUTH_SECRET",
                "ATLASSIAN_TOKEN",
                "AZURE_KEY",
                "CONNECTION_STRING",
                "JWT",
                "PRIVATE_KEY",
                "GENERIC_SECRET",
            ],
        }
    }
}

/// Which direction a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectionFilter {
    /// Prompts only.
    Request,
    /// Model answers only.
    Response,
    /// Both (the default).
    #[default]
    Both,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// A name, reported with decisions (default: `rule N`).
    #[serde(default)]
    pub name: Option<String>,
    /// Entity types matched.
    #[serde(default)]
    pub entities: Vec<String>,
    /// Groups matched.
    #[serde(default)]
    pub groups: Vec<EntityGroup>,
    /// The action.
    pub action: Action,
    /// Findings scored below this are not matched by this rule.
    #[serde(default)]
    pub min_score: f32,
    /// The direction.
    #[serde(default)]
    pub direction: DirectionFilter,
    /// For `mask`: the mask character (default `*`).
    #[serde(default)]
    pub mask_char: Option<char>,
    /// For `mask`: how many trailing letters or digits stay (default 0).
    #[serde(default)]
    pub keep_last: Option<usize>,
    /// For `redact`: number placeholders per distinct value (default true).
    #[serde(default)]
    pub numbered: Option<bool>,
    /// For `pseudonymize`: `surrogate` (default) or `token`.
    #[serde(default)]
    pub pseudonym: Option<PseudonymStyle>,
    /// For `pseudonymize`: whether the original goes back into the answer for the caller
    /// (default true).
    #[serde(default)]
    pub restore: Option<bool>,
}

/// The pseudonym vault's limits.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSection {
    /// Seconds a scope (request or conversation) lives after its last use (default 3600).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Scopes held at once (default 100 000); the least recently used goes first.
    #[serde(default)]
    pub max_scopes: Option<usize>,
    /// Pseudonyms per scope (default 10 000).
    #[serde(default)]
    pub max_entries_per_scope: Option<usize>,
}

/// A tenant's policy: its own rules first, then those of what it extends.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// A preset name; by default the file's own policy.
    #[serde(default)]
    pub extends: Option<String>,
    /// Overrides the default action.
    #[serde(default)]
    pub default_action: Option<Action>,
    /// Rules checked before the inherited ones.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
    /// A policy decided beside this one and never applied (shadow mode), to try a change
    /// on live traffic before switching it on. It extends like a tenant does.
    #[serde(default)]
    pub shadow: Option<Box<TenantConfig>>,
}

/// A policy file.
///
/// ```toml
/// version = "2026-11-29"
/// extends = "gdpr"                  # optional preset whose rules follow these
/// default_action = "redact"         # for findings no rule matches (default allow)
/// hash_key_env = "DEEPSENTINEL_HASH_KEY"
///
/// [[rule]]
/// name = "cards-keep-last-4"
/// groups = ["pci"]                  # pii, pci, phi, secrets, unread
/// entities = ["EMPLOYEE_ID"]        # and/or entity types
/// action = "mask"                   # allow, alert, mask, redact, hash, pseudonymize, block
/// keep_last = 4
/// min_score = 0.6
/// direction = "both"                # request, response, both
///
/// [tenants.acme]
/// extends = "strict"                # a preset; by default this file's policy
/// [[tenants.acme.rule]]
/// entities = ["EMAIL_ADDRESS"]
/// action = "allow"
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// The author's version label; decisions carry a hash of the whole resolved policy.
    pub version: String,
    /// A preset this policy builds on.
    #[serde(default)]
    pub extends: Option<String>,
    /// The action for findings no rule matches.
    #[serde(default)]
    pub default_action: Option<Action>,
    /// The environment variable holding the `hash` action's key.
    #[serde(default)]
    pub hash_key_env: Option<String>,
    /// The environment variable holding the `pseudonymize` action's key (default
    /// `DEEPSENTINEL_PSEUDONYM_KEY`).
    #[serde(default)]
    pub pseudonym_key_env: Option<String>,
    /// The pseudonym vault's limits.
    #[serde(default)]
    pub vault: Option<VaultSection>,
    /// Rules, first match wins.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
    /// Per-tenant policies.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    /// A shadow policy for tenants without a policy of their own (see
    /// [`TenantConfig::shadow`]).
    #[serde(default)]
    pub shadow: Option<TenantConfig>,
}

/// The built-in presets: name and TOML text.
pub const PRESETS: &[(&str, &str)] = &[
    ("strict", include_str!("../presets/strict.toml")),
    ("pci-dss", include_str!("../presets/pci-dss.toml")),
    ("hipaa", include_str!("../presets/hipaa.toml")),
    ("gdpr", include_str!("../presets/gdpr.toml")),
    ("secrets", include_str!("../presets/secrets.toml")),
    ("monitor", include_str!("../presets/monitor.toml")),
];
