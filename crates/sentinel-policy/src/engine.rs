//! `PolicyEngine` and its production implementation, `PolicySet`.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use hmac::Hmac;
use sentinel_detect::Finding;
use sha2::{Digest, Sha256};

use crate::decision::{Applied, Decision, DecisionContext, Direction, Reason};
use crate::error::Error;
use crate::model::{Action, DirectionFilter, PolicyFile, PseudonymStyle, RuleConfig, PRESETS};
use crate::pseudonym::TenantKey;
use crate::restore::{Restorer, TokenShapes};
use crate::transform;
use crate::vault::{Vault, VaultConfig};

/// Turns a text and its findings into one decision.
///
/// # Contract
///
/// The decision never contains a matched value except inside the `Transform` text where a
/// rule allowed it to stay; `Block` reasons hold entity types and rule names only.
pub trait PolicyEngine: Send + Sync {
    /// Decides for `text`, given `findings` (byte spans into `text`, as a detector returns
    /// them: sorted, possibly overlapping when they come from several detectors).
    fn decide(&self, text: &str, findings: &[Finding], ctx: &DecisionContext<'_>) -> Decision;

    /// As [`PolicyEngine::decide`], numbering redactions on from `numbering`: a value
    /// numbered before keeps its number and a new one takes the next, so a text decided in
    /// pieces (a streamed answer) is numbered as one. Engines without numbering decide as
    /// `decide` does.
    fn decide_numbered(
        &self,
        text: &str,
        findings: &[Finding],
        ctx: &DecisionContext<'_>,
        numbering: &mut Numbering,
    ) -> Decision {
        let _ = numbering;
        self.decide(text, findings, ctx)
    }

    /// A digest of the policy that decides for `tenant`, for audit records.
    fn version_hash(&self, tenant: &str) -> Arc<str>;

    /// The decision of `tenant`'s shadow policy, if it has one: evaluated and audited next
    /// to the enforced decision, never applied.
    fn decide_shadow(
        &self,
        text: &str,
        findings: &[Finding],
        ctx: &DecisionContext<'_>,
    ) -> Option<Decision> {
        let _ = (text, findings, ctx);
        None
    }

    /// A restorer for answers in `ctx`'s tenant and scope, when the tenant's policy
    /// pseudonymizes: it puts the originals of the scope's pseudonyms back and counts
    /// token-shaped text it cannot resolve. `None` when the policy never pseudonymizes.
    fn restorer(&self, ctx: &DecisionContext<'_>) -> Option<Restorer> {
        let _ = ctx;
        None
    }

    /// The vault that records `tenant`'s pseudonyms, when its policy pseudonymizes: a
    /// pipeline shares conversation scopes with other processes through it
    /// ([`Vault::export`], [`Vault::import`]). `None` for engines without one.
    fn pseudonym_vault(&self, tenant: &str) -> Option<&Vault> {
        let _ = tenant;
        None
    }
}

/// Redaction numbers carried from one decision to the next (see
/// [`PolicyEngine::decide_numbered`]): per entity type, the last number given and the
/// number of each value. It holds values, in memory, for one stream's life; its `Debug`
/// shows counts only.
#[derive(Default)]
pub struct Numbering {
    by_entity: HashMap<String, (usize, HashMap<String, usize>)>,
}

impl std::fmt::Debug for Numbering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (entity, (last, _)) in &self.by_entity {
            m.entry(entity, last);
        }
        m.finish()
    }
}

impl Numbering {
    /// The number of `value` among `entity`'s values, giving it the next one when new.
    fn number(&mut self, entity: &str, value: &str) -> usize {
        if let Some(&n) = self.by_entity.get(entity).and_then(|(_, v)| v.get(value)) {
            return n;
        }
        let (last, values) = self.by_entity.entry(entity.to_owned()).or_default();
        *last += 1;
        values.insert(value.to_owned(), *last);
        *last
    }
}

/// A compiled rule.
#[derive(Clone, Debug)]
struct Rule {
    name: Arc<str>,
    entities: BTreeSet<String>,
    action: Action,
    min_score: f32,
    direction: DirectionFilter,
    mask_char: char,
    keep_last: usize,
    numbered: bool,
    style: PseudonymStyle,
    restore: bool,
}

impl Rule {
    /// Whether the rule takes a finding of one of its entity types.
    fn admits(&self, f: &Finding, dir: Direction) -> bool {
        let dir_ok = match self.direction {
            DirectionFilter::Both => true,
            DirectionFilter::Request => dir == Direction::Request,
            DirectionFilter::Response => dir == Direction::Response,
        };
        dir_ok && f.score >= self.min_score
    }
}

/// One resolved policy: rules in the order they are checked, and the default action.
#[derive(Clone, Debug)]
struct Policy {
    rules: Vec<Rule>,
    /// Entity type -> the rules naming it, in order: a finding's rule is found with one
    /// lookup, not a search of every rule's set.
    /// Keyed with foldhash: the keys are the configuration's names, and the lookup is
    /// paid once per finding.
    by_entity: foldhash::HashMap<String, Vec<usize>>,
    default_action: Action,
    /// The hash action's HMAC, keyed once.
    hash_mac: Hmac<Sha256>,
    pseudonym_key: Option<Vec<u8>>,
    version_hash: Arc<str>,
    /// `default`, the rule name of findings no rule matched.
    default_rule: Arc<str>,
}

impl Policy {
    /// The first rule that takes `f`.
    fn rule_for(&self, f: &Finding, dir: Direction) -> Option<&Rule> {
        self.by_entity
            .get(f.entity.as_str())?
            .iter()
            .map(|&i| &self.rules[i])
            .find(|r| r.admits(f, dir))
    }

    fn pseudonymizes(&self) -> bool {
        self.default_action == Action::Pseudonymize
            || self.rules.iter().any(|r| r.action == Action::Pseudonymize)
    }
}

/// Policies for a base and for tenants, loaded from TOML or presets.
///
/// # Example: a tenant that allows e-mail over the strict preset
///
/// ```
/// use sentinel_detect::{Detector, LocalDetector};
/// use sentinel_policy::{Decision, DecisionContext, PolicyEngine, PolicySet};
/// let set = PolicySet::from_toml("policy.toml", r#"
///     version = "1"
///     extends = "strict"
///     [tenants.acme]
///     [[tenants.acme.rule]]
///     entities = ["EMAIL_ADDRESS"]
///     action = "allow"
/// "#)?;
/// let text = "mail jane@example.com";
/// let found = LocalDetector::new().scan(text);
/// assert!(matches!(set.decide(text, &found, &DecisionContext::request("acme")), Decision::Allow { .. }));
/// assert!(matches!(set.decide(text, &found, &DecisionContext::request("other")), Decision::Transform { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PolicySet {
    base: Policy,
    tenants: HashMap<String, Policy>,
    shadows: HashMap<String, Policy>,
    base_shadow: Option<Policy>,
    vault: Arc<Vault>,
    shapes: Arc<TokenShapes>,
}

fn parse(origin: &str, text: &str) -> Result<PolicyFile, Error> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |span| {
            sentinel_detect::line_column(text, span.start)
        });
        Error::Parse {
            origin: origin.to_owned(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })
}

fn preset_file(origin: &str, name: &str) -> Result<PolicyFile, Error> {
    let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == name) else {
        return Err(Error::UnknownBase {
            origin: origin.to_owned(),
            name: name.to_owned(),
            known: PRESETS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    parse(&format!("<preset {name}>"), text)
}

fn compile_rules(origin: &str, rules: &[RuleConfig], offset: usize) -> Result<Vec<Rule>, Error> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let name = r
                .name
                .clone()
                .unwrap_or_else(|| format!("rule {}", offset + i + 1));
            let invalid = |message: &str| Error::InvalidRule {
                origin: origin.to_owned(),
                rule: name.clone(),
                message: message.to_owned(),
            };
            if r.entities.is_empty() && r.groups.is_empty() {
                return Err(invalid("names no entity type and no group"));
            }
            if !(0.0..=1.0).contains(&r.min_score) {
                return Err(invalid("min_score must be within 0.0..=1.0"));
            }
            if r.action != Action::Pseudonymize && (r.pseudonym.is_some() || r.restore.is_some()) {
                return Err(invalid(
                    "pseudonym and restore apply to pseudonymize rules only",
                ));
            }
            let mut entities: BTreeSet<String> = r.entities.iter().cloned().collect();
            for g in &r.groups {
                entities.extend(g.entities().iter().map(|e| (*e).to_owned()));
            }
            if r.action.transforms() && entities.iter().any(|e| crate::is_unread(e)) {
                return Err(invalid(
                    "UNREAD_IMAGE, UNREAD_AUDIO and UNREAD_FILE (the group unread) can be \
                     allowed, alerted on or blocked, not transformed: what is not read cannot \
                     be changed",
                ));
            }
            Ok(Rule {
                name: Arc::from(name),
                entities,
                action: r.action,
                min_score: r.min_score,
                direction: r.direction,
                mask_char: r.mask_char.unwrap_or('*'),
                keep_last: r.keep_last.unwrap_or(0),
                numbered: r.numbered.unwrap_or(true),
                style: r.pseudonym.unwrap_or_default(),
                restore: r.restore.unwrap_or(true),
            })
        })
        .collect()
}

/// Rules of `file` followed by those of the preset it extends, recursively (presets do not
/// extend, so the depth is at most two).
fn resolve(origin: &str, file: &PolicyFile) -> Result<(Vec<Rule>, Action), Error> {
    let mut rules = compile_rules(origin, &file.rules, 0)?;
    let mut default = file.default_action;
    if let Some(base) = &file.extends {
        let preset = preset_file(origin, base)?;
        let (inherited, preset_default) = resolve(&format!("<preset {base}>"), &preset)?;
        rules.extend(inherited);
        default = default.or(Some(preset_default));
    }
    Ok((rules, default.unwrap_or(Action::Allow)))
}

/// The variable named in the file (or `default`) and its value, unless unset or empty.
fn key_from_env(named: Option<&str>, default: &str) -> (String, Option<Vec<u8>>) {
    let var = named.unwrap_or(default).to_owned();
    let key = std::env::var(&var)
        .ok()
        .filter(|k| !k.is_empty())
        .map(String::into_bytes);
    (var, key)
}

fn digest(rules: &[Rule], default: Action, version: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{version}\0{default:?}\0{rules:?}"));
    hex::encode(&h.finalize()[..8])
}

impl PolicySet {
    /// One of the built-in presets: `strict`, `pci-dss`, `hipaa`, `gdpr`, `secrets`,
    /// `monitor`.
    ///
    /// # Errors
    ///
    /// An unknown name.
    pub fn preset(name: &str) -> Result<PolicySet, Error> {
        let text = format!("version = \"preset\"\nextends = \"{name}\"\n");
        PolicySet::from_toml(&format!("<preset {name}>"), &text)
    }

    /// Loads a policy file; `origin` names it in errors.
    ///
    /// # Errors
    ///
    /// TOML errors with line and column, unknown keys or presets, inconsistent rules, a
    /// `hash` rule whose key variable is unset.
    pub fn from_toml(origin: &str, text: &str) -> Result<PolicySet, Error> {
        let file = parse(origin, text)?;
        let (key_var, key) = key_from_env(file.hash_key_env.as_deref(), "DEEPSENTINEL_HASH_KEY");
        let (pseudonym_var, pseudonym_key) = key_from_env(
            file.pseudonym_key_env.as_deref(),
            "DEEPSENTINEL_PSEUDONYM_KEY",
        );
        let build = |rules: Vec<Rule>, default: Action| -> Result<Policy, Error> {
            let uses = |a: Action| default == a || rules.iter().any(|r| r.action == a);
            for (action, k, var) in [
                (Action::Hash, &key, &key_var),
                (Action::Pseudonymize, &pseudonym_key, &pseudonym_var),
            ] {
                if uses(action) && k.is_none() {
                    return Err(Error::MissingKey {
                        origin: origin.to_owned(),
                        action: action.as_str(),
                        var: var.clone(),
                    });
                }
            }
            let version_hash = digest(&rules, default, &file.version);
            let mut by_entity = foldhash::HashMap::<String, Vec<usize>>::default();
            for (i, r) in rules.iter().enumerate() {
                for e in &r.entities {
                    by_entity.entry(e.clone()).or_default().push(i);
                }
            }
            Ok(Policy {
                rules,
                by_entity,
                default_action: default,
                hash_mac: transform::hash_key(key.as_deref().unwrap_or_default()),
                pseudonym_key: pseudonym_key.clone(),
                version_hash: Arc::from(version_hash),
                default_rule: Arc::from("default"),
            })
        };
        let (base_rules, base_default) = resolve(origin, &file)?;
        let base = build(base_rules.clone(), base_default)?;
        // A tenant (or shadow) policy: its rules, then those of the preset it extends, or
        // of the file's own policy.
        let derive = |origin_t: &str, t: &crate::model::TenantConfig| -> Result<Policy, Error> {
            let mut rules = compile_rules(origin_t, &t.rules, 0)?;
            let inherited_default = match &t.extends {
                Some(p) => {
                    let (r, d) = resolve(origin_t, &preset_file(origin_t, p)?)?;
                    rules.extend(r);
                    d
                }
                None => {
                    rules.extend(base_rules.iter().cloned());
                    base_default
                }
            };
            build(rules, t.default_action.unwrap_or(inherited_default))
        };
        let mut tenants = HashMap::new();
        let mut shadows = HashMap::new();
        for (name, t) in &file.tenants {
            let origin_t = format!("{origin} [tenants.{name}]");
            tenants.insert(name.clone(), derive(&origin_t, t)?);
            if let Some(s) = &t.shadow {
                shadows.insert(name.clone(), derive(&format!("{origin_t} shadow"), s)?);
            }
        }
        let base_shadow = match &file.shadow {
            Some(s) => Some(derive(&format!("{origin} [shadow]"), s)?),
            None => None,
        };
        let defaults = VaultConfig::default();
        let vault = file.vault.as_ref().map_or(defaults, |v| VaultConfig {
            ttl: v.ttl_seconds.map_or(defaults.ttl, Duration::from_secs),
            max_scopes: v.max_scopes.unwrap_or(defaults.max_scopes).max(1),
            max_entries_per_scope: v
                .max_entries_per_scope
                .unwrap_or(defaults.max_entries_per_scope)
                .max(1),
        });
        // Token shapes know every built-in entity type and every type a rule names.
        let mut names = sentinel_detect::builtin_entities();
        for p in std::iter::once(&base)
            .chain(tenants.values())
            .chain(shadows.values())
            .chain(base_shadow.as_ref())
        {
            for r in &p.rules {
                names.extend(r.entities.iter().cloned());
            }
        }
        let shapes = Arc::new(TokenShapes::new(names.iter().map(String::as_str)));
        Ok(PolicySet {
            base,
            tenants,
            shadows,
            base_shadow,
            vault: Arc::new(Vault::new(vault)),
            shapes,
        })
    }

    /// The pseudonym vault shared by all tenants (each scope belongs to one tenant).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Takes `previous`'s pseudonym vault in place of this set's fresh one, so that a
    /// policy loaded again while serving still restores the tokens handed out under the
    /// one before it, and gives it this set's `[vault]` limits
    /// ([`Vault::reconfigure`]). It changes `previous`'s vault too (they are one now):
    /// call it once the new set is sure to replace the old.
    pub fn keep_vault(&mut self, previous: &PolicySet) {
        previous.vault.reconfigure(self.vault.config());
        self.vault = Arc::clone(&previous.vault);
    }

    /// The tenants with a policy of their own.
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.tenants.keys().map(String::as_str)
    }

    /// How many rules the base policy checks.
    pub fn rule_count(&self) -> usize {
        self.base.rules.len()
    }

    fn policy(&self, tenant: &str) -> &Policy {
        self.tenants.get(tenant).unwrap_or(&self.base)
    }
}

impl PolicyEngine for PolicySet {
    fn decide(&self, text: &str, findings: &[Finding], ctx: &DecisionContext<'_>) -> Decision {
        decide_with(
            self.policy(&ctx.tenant),
            Some(&self.vault),
            text,
            findings,
            ctx,
            None,
        )
    }

    fn decide_numbered(
        &self,
        text: &str,
        findings: &[Finding],
        ctx: &DecisionContext<'_>,
        numbering: &mut Numbering,
    ) -> Decision {
        decide_with(
            self.policy(&ctx.tenant),
            Some(&self.vault),
            text,
            findings,
            ctx,
            Some(numbering),
        )
    }

    fn version_hash(&self, tenant: &str) -> Arc<str> {
        Arc::clone(&self.policy(tenant).version_hash)
    }

    fn decide_shadow(
        &self,
        text: &str,
        findings: &[Finding],
        ctx: &DecisionContext<'_>,
    ) -> Option<Decision> {
        let shadow = match self.shadows.get(&*ctx.tenant) {
            Some(s) => Some(s),
            None if self.tenants.contains_key(&*ctx.tenant) => None,
            None => self.base_shadow.as_ref(),
        };
        // A shadow decision is never applied, so its pseudonyms are not recorded.
        shadow.map(|p| decide_with(p, None, text, findings, ctx, None))
    }

    fn restorer(&self, ctx: &DecisionContext<'_>) -> Option<Restorer> {
        let policy = self.policy(&ctx.tenant);
        if !policy.pseudonymizes() {
            return None;
        }
        let matcher = self.vault.matcher(
            &ctx.tenant,
            ctx.scope.as_deref().unwrap_or_default(),
            &self.shapes,
        );
        let key = match (&matcher, &policy.pseudonym_key) {
            (Some(_), Some(k)) => Some(Arc::new(TenantKey::derive(k, &ctx.tenant))),
            _ => None,
        };
        Some(Restorer::new(matcher, Arc::clone(&self.shapes), key))
    }

    fn pseudonym_vault(&self, tenant: &str) -> Option<&Vault> {
        self.policy(tenant).pseudonymizes().then_some(&*self.vault)
    }
}

/// Whether `f`, which `rule` pseudonymizes in an answer, is a value the caller sent: its
/// pseudonym restores in the decision's scope. Such a value was put back by the restorer
/// (or quoted by the model), and pseudonymizing it again would undo the restore the rule
/// asks for; the caller is given back only what the caller sent.
fn callers_own(
    policy: &Policy,
    vault: Option<&Vault>,
    text: &str,
    f: &Finding,
    rule: Option<&Rule>,
    ctx: &DecisionContext<'_>,
    tenant_key: &mut Option<TenantKey>,
) -> bool {
    let (style, restore) = rule.map_or((PseudonymStyle::default(), true), |r| (r.style, r.restore));
    let Some(vault) = vault.filter(|_| restore && ctx.direction == Direction::Response) else {
        return false;
    };
    let key = tenant_key.get_or_insert_with(|| {
        let master = policy.pseudonym_key.as_deref().unwrap_or_default();
        TenantKey::derive(master, &ctx.tenant)
    });
    vault.restores(
        &ctx.tenant,
        ctx.scope.as_deref().unwrap_or_default(),
        key,
        f.entity.as_str(),
        &f.value(text),
        style,
    )
}

/// The decision of one resolved policy; pseudonyms are recorded in `vault` when given;
/// redactions are numbered on from `numbering` when given, else from 1 in this text.
fn decide_with(
    policy: &Policy,
    vault: Option<&Vault>,
    text: &str,
    findings: &[Finding],
    ctx: &DecisionContext<'_>,
    mut numbering: Option<&mut Numbering>,
) -> Decision {
    // One finding per region: the detector's contract, enforced again here because a
    // caller may merge findings from several detectors. Longer first at equal starts.
    let mut order: Vec<&Finding> = findings.iter().collect();
    order.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let mut kept: Vec<(&Finding, Option<&Rule>, Action)> = Vec::with_capacity(order.len());
    let mut reach = 0;
    let mut tenant_key: Option<TenantKey> = None;
    for f in order {
        if f.start < reach
            || f.end > text.len()
            || !text.is_char_boundary(f.start)
            || !text.is_char_boundary(f.end)
        {
            continue;
        }
        reach = f.end;
        let rule = policy.rule_for(f, ctx.direction);
        let action = match rule {
            Some(r) => r.action,
            // Content that was not read cannot be transformed: without a rule of its own
            // it is allowed (and recorded) where the default would change it.
            None if policy.default_action.transforms() && crate::is_unread(f.entity.as_str()) => {
                Action::Allow
            }
            None => policy.default_action,
        };
        let action = if action == Action::Pseudonymize
            && callers_own(policy, vault, text, f, rule, ctx, &mut tenant_key)
        {
            // The caller's own value coming back (restored, or quoted by the model): a
            // restoring rule gives it back rather than pseudonymize it again.
            Action::Allow
        } else {
            action
        };
        kept.push((f, rule, action));
    }
    let rule_name = |r: Option<&Rule>| {
        r.map_or_else(|| Arc::clone(&policy.default_rule), |r| Arc::clone(&r.name))
    };
    let reasons: BTreeSet<Reason> = kept
        .iter()
        .filter(|(_, _, a)| *a == Action::Block)
        .map(|(f, r, _)| Reason {
            entity: f.entity.to_string(),
            rule: rule_name(*r).to_string(),
        })
        .collect();
    if !reasons.is_empty() {
        return Decision::Block {
            reasons: reasons.into_iter().collect(),
        };
    }
    let applied: Vec<Applied> = kept
        .iter()
        .map(|(f, r, a)| Applied {
            entity: f.entity.clone(),
            action: *a,
            rule: rule_name(*r),
            start: f.start,
            end: f.end,
        })
        .collect();
    if !kept.iter().any(|(_, _, a)| a.transforms()) {
        return Decision::Allow { applied };
    }
    // Number distinct values per entity type in text order, then write front to back
    // (the same result as replacing back to front, with one allocation).
    // Hashed, not ordered: a PII-dense text has dozens of findings, and a tree compared
    // the values again at every level. foldhash's per-map seed keeps crafted values from
    // colliding on purpose.
    let mut numbers: foldhash::HashMap<(&str, &str), usize> =
        foldhash::HashMapExt::with_capacity(kept.len());
    let mut next: Vec<(&str, usize)> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    // Values written with escapes (JSON's in a tool call's arguments, a URL's percent
    // escapes, HTML's references) or obfuscated are decided on what they read as, so
    // `jane\u0040example.com` and `jane%40example.com` are numbered, hashed and
    // pseudonymized as `jane@example.com` is. Most texts hold none.
    let read: Option<Vec<Cow<'_, str>>> = kept
        .iter()
        .any(|(f, _, _)| f.escaped || f.folded)
        .then(|| kept.iter().map(|(f, _, _)| f.value(text)).collect());
    for (i, (f, rule, action)) in kept.iter().enumerate() {
        if !action.transforms() {
            continue;
        }
        let value: &str = match &read {
            Some(values) => &values[i],
            None => &text[f.start..f.end],
        };
        out.push_str(&text[at..f.start]);
        let written = out.len();
        match action {
            Action::Allow | Action::Alert | Action::Block => {}
            Action::Mask => {
                let (c, k) = rule.map_or(('*', 0), |r| (r.mask_char, r.keep_last));
                transform::mask(value, c, k, &mut out);
            }
            Action::Redact => {
                let entity = f.entity.as_str();
                let n = if !rule.is_none_or(|r| r.numbered) {
                    None
                } else if let Some(carried) = numbering.as_deref_mut() {
                    Some(carried.number(entity, value))
                } else {
                    // Within one text the numbers borrow from it: keeping them in a
                    // Numbering (owned names) cost 4-5% more instructions per PII request
                    // (`cargo xtask bench --instructions`, 513-516 k -> 535-543 k).
                    Some(*numbers.entry((entity, value)).or_insert_with(|| {
                        // Few entity types per text: a list beats a map.
                        let i = next
                            .iter()
                            .position(|(e, _)| *e == entity)
                            .unwrap_or_else(|| {
                                next.push((entity, 0));
                                next.len() - 1
                            });
                        next[i].1 += 1;
                        next[i].1
                    }))
                };
                transform::redact(entity, n, &mut out);
            }
            Action::Hash => {
                transform::hash(
                    &policy.hash_mac,
                    &ctx.tenant,
                    f.entity.as_str(),
                    value,
                    &mut out,
                );
            }
            Action::Pseudonymize => {
                let key = tenant_key.get_or_insert_with(|| {
                    let master = policy.pseudonym_key.as_deref().unwrap_or_default();
                    TenantKey::derive(master, &ctx.tenant)
                });
                let (style, restore) =
                    rule.map_or((PseudonymStyle::default(), true), |r| (r.style, r.restore));
                let entity = f.entity.as_str();
                // A value that reads otherwise than written is given back as written.
                let written = f.folded.then(|| {
                    let raw = &text[f.start..f.end];
                    match f.escaped {
                        true => Cow::Owned(sentinel_detect::unescape_json(raw)),
                        false => Cow::Borrowed(raw),
                    }
                });
                match vault {
                    Some(v) => out.push_str(&v.record(
                        &ctx.tenant,
                        ctx.scope.as_deref().unwrap_or_default(),
                        key,
                        entity,
                        value,
                        written.as_deref(),
                        style,
                        restore,
                    )),
                    None => out.push_str(key.pseudonymize(entity, value, style).text()),
                }
            }
        }
        if f.escaped {
            // What replaces an escaped value goes back into a JSON string: a kept
            // character or a line of a masked key is escaped again.
            let replacement = out.split_off(written);
            sentinel_detect::escape_json_into(&replacement, &mut out);
        }
        at = f.end;
    }
    out.push_str(&text[at..]);
    Decision::Transform { text: out, applied }
}
