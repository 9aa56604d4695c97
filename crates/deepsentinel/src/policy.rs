//! `deepsentinel policy check FILE` and `deepsentinel policy explain --policy FILE TEXT`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use sentinel_detect::{builtin_entities, CharOffsets, Detector, LocalDetector};
use sentinel_policy::{Decision, DecisionContext, PolicyEngine, PolicySet, PRESETS};

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a policy file; errors name the file, line and column. Exit 0 valid, 2 not.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Show the findings in TEXT, the rule that decides each, and the resulting text or
    /// block.
    Explain {
        /// The policy file, or a preset name (strict, pci-dss, hipaa, gdpr, secrets, monitor).
        #[arg(long)]
        policy: String,
        /// Decide as this tenant.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Decide for a model's answer instead of a prompt.
        #[arg(long)]
        response: bool,
        /// After deciding, restore this model answer in the same scope and show the result
        /// (pseudonyms are stable per tenant and key, so a first run shows what to put here).
        #[arg(long, value_name = "ANSWER")]
        restore: Option<String>,
        /// The text.
        text: String,
    },
}

fn load(spec: &str) -> Result<PolicySet> {
    if PRESETS.iter().any(|(n, _)| *n == spec) {
        return Ok(PolicySet::preset(spec)?);
    }
    let text = std::fs::read_to_string(spec).with_context(|| format!("cannot read {spec}"))?;
    Ok(PolicySet::from_toml(spec, &text)?)
}

pub(crate) fn run(cmd: &PolicyCommand) -> Result<ExitCode> {
    match cmd {
        PolicyCommand::Check { file } => {
            let set = load(&file.display().to_string())?;
            let text = std::fs::read_to_string(file)?;
            let known = builtin_entities();
            // Entity types outside the catalogue are fine when a custom recognizer reports
            // them; a typo is the likelier cause, so say so.
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("entities"))
            {
                for name in line.split('"').skip(1).step_by(2) {
                    if !known.iter().any(|k| k == name) {
                        outln!("note: entity type '{name}' is not built in (fine if a custom recognizer reports it)");
                    }
                }
            }
            let mut tenants: Vec<&str> = set.tenants().collect();
            tenants.sort_unstable();
            outln!(
                "{}: valid; {} rules; tenants: {}",
                file.display(),
                set.rule_count(),
                if tenants.is_empty() {
                    "none".to_owned()
                } else {
                    tenants.join(", ")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Explain {
            policy,
            tenant,
            response,
            restore,
            text,
        } => {
            let set = load(policy)?;
            let detector = LocalDetector::new();
            let findings = detector.scan(text);
            let ctx = if *response {
                DecisionContext::response(tenant)
            } else {
                DecisionContext::request(tenant)
            };
            let decision = set.decide(text, &findings, &ctx);
            outln!(
                "policy {} for tenant '{tenant}' ({})",
                set.version_hash(tenant),
                if *response { "response" } else { "request" }
            );
            let mut offsets = CharOffsets::new(text);
            let applied = match &decision {
                Decision::Allow { applied } | Decision::Transform { applied, .. } => {
                    applied.clone()
                }
                Decision::Block { .. } => Vec::new(),
            };
            for f in &findings {
                let (s, e) = (offsets.char_offset(f.start), offsets.char_offset(f.end));
                let how = applied
                    .iter()
                    .find(|a| a.start == f.start && a.end == f.end)
                    .map_or_else(String::new, |a| {
                        format!(" -> {} ({})", a.action.as_str(), a.rule)
                    });
                outln!(
                    "  {} chars {s}..{e} score {:.2} [{}]{how}",
                    f.entity,
                    f.score,
                    detector.recognizer_name(f.recognizer)
                );
            }
            match decision {
                Decision::Allow { .. } => outln!("decision: allow (text unchanged)"),
                Decision::Transform { text, .. } => outln!("decision: transform\n{text}"),
                Decision::Block { reasons } => {
                    outln!("decision: block");
                    for r in reasons {
                        outln!("  {r}");
                    }
                }
            }
            if let Some(answer) = restore {
                match set.restorer(&DecisionContext::response(tenant)) {
                    None => outln!("restore: the policy never pseudonymizes; nothing to restore"),
                    Some(r) => {
                        let back = r.restore(answer);
                        outln!(
                            "restore: {} restored, {} withheld, {} unresolved{}\n{}",
                            back.stats.restored,
                            back.stats.withheld,
                            back.stats.unresolved_total(),
                            back.stats
                                .unresolved
                                .iter()
                                .map(|(e, n)| format!(" {e}={n}"))
                                .collect::<String>(),
                            back.text
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
