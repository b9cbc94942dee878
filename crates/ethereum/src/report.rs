//! The one-shot epoch report: an analysed epoch as rows per validator plus a summary, for
//! `valwatch ethereum analyze` (JSON or a plain text table).
//!
//! [`analyze_epoch`] fetches one past epoch through a [`BeaconClient`], analyses it and, when
//! keys are given, keeps only those validators (resolved to indices through the node) and
//! attaches their pubkeys and labels. The CLI only parses arguments and prints.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;
use valwatch_core::LabelMap;

use crate::analysis::{AnalysisError, EpochAnalysis, analyse_epoch};
use crate::client::{BeaconClient, ClientError};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A request failed on every endpoint.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The epoch could not be analysed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The epoch is not over yet (its verdict needs the blocks of the next epoch).
    #[error(
        "epoch {epoch} cannot be judged yet: the head is at slot {head_slot}, the verdict needs the last slot of epoch {next} ({needed})"
    )]
    TooRecent {
        /// Epoch asked for.
        epoch: u64,
        /// The node's head slot.
        head_slot: u64,
        /// `epoch + 1`.
        next: u64,
        /// Last slot of `epoch + 1`.
        needed: u64,
    },
}

/// One validator's attestation duty in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidatorRow {
    /// Validator index.
    pub index: u64,
    /// BLS public key, when keys were given.
    pub pubkey: Option<String>,
    /// The operator's labels of the key.
    pub labels: Vec<String>,
    /// Assigned slot.
    pub slot: u64,
    /// Committee index.
    pub committee_index: u64,
    /// Included by the end of the next epoch.
    pub attested: bool,
    /// Earliest inclusion slot.
    pub inclusion_slot: Option<u64>,
    /// Raw delay of the earliest inclusion.
    pub inclusion_delay: Option<u64>,
    /// Delay counting only slots with a block.
    pub adjusted_inclusion_delay: Option<u64>,
    /// Spec flag TIMELY_SOURCE.
    pub source_timely: bool,
    /// Spec flag TIMELY_TARGET.
    pub target_timely: bool,
    /// Spec flag TIMELY_HEAD.
    pub head_timely: bool,
    /// Source vote correct.
    pub source_correct: bool,
    /// Target vote correct.
    pub target_correct: bool,
    /// Head vote correct.
    pub head_correct: bool,
}

/// One slot's proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalRow {
    /// Slot.
    pub slot: u64,
    /// Assigned proposer.
    pub proposer_index: u64,
    /// Canonical block from that proposer exists.
    pub proposed: bool,
}

/// One slot's sync participation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRow {
    /// Slot.
    pub slot: u64,
    /// Whether the slot has a block (no block: nobody's fault).
    pub block_present: bool,
    /// Committee positions that signed.
    pub signed: usize,
    /// Validator indices of positions that did not sign (repeated per position).
    pub not_signed: Vec<u64>,
}

/// The report of one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpochReport {
    /// The epoch.
    pub epoch: u64,
    /// One row per (selected) validator with an attestation duty.
    pub validators: Vec<ValidatorRow>,
    /// Summary: proposals and sync participation per slot, and totals.
    pub summary: Summary,
}

/// Totals and per-slot rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Validators reported.
    pub duties: usize,
    /// Of which included.
    pub attested: usize,
    /// With each flag.
    pub source_timely: usize,
    /// With TIMELY_TARGET.
    pub target_timely: usize,
    /// With TIMELY_HEAD.
    pub head_timely: usize,
    /// Proposals per slot.
    pub proposals: Vec<ProposalRow>,
    /// Sync participation per slot.
    pub sync: Vec<SyncRow>,
}

/// What is known about a watched key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// BLS public key.
    pub pubkey: String,
    /// The operator's labels.
    pub labels: Vec<String>,
}

/// Builds the report; with `keys` (validator index → key), only those validators are listed.
pub fn build_report(
    analysis: &EpochAnalysis<'_>,
    keys: Option<&HashMap<u64, KeyInfo>>,
) -> EpochReport {
    let validators: Vec<ValidatorRow> = analysis
        .attesters()
        .filter_map(|duty| {
            let key = match keys {
                Some(keys) => Some(keys.get(&duty.validator_index)?),
                None => None,
            };
            let o = duty.outcome;
            Some(ValidatorRow {
                index: duty.validator_index,
                pubkey: key.map(|k| k.pubkey.clone()),
                labels: key.map(|k| k.labels.clone()).unwrap_or_default(),
                slot: duty.slot,
                committee_index: duty.committee_index,
                attested: o.included(),
                inclusion_slot: o.inclusion_slot(),
                inclusion_delay: o.inclusion_delay(),
                adjusted_inclusion_delay: o.adjusted_delay(),
                source_timely: o.source_timely(),
                target_timely: o.target_timely(),
                head_timely: o.head_timely(),
                source_correct: o.source_correct(),
                target_correct: o.target_correct(),
                head_correct: o.head_correct(),
            })
        })
        .collect();
    let mut validators = validators;
    validators.sort_unstable_by_key(|row| row.index);
    let count = |f: fn(&ValidatorRow) -> bool| validators.iter().filter(|r| f(r)).count();
    let summary = Summary {
        duties: validators.len(),
        attested: count(|r| r.attested),
        source_timely: count(|r| r.source_timely),
        target_timely: count(|r| r.target_timely),
        head_timely: count(|r| r.head_timely),
        proposals: analysis
            .proposals
            .iter()
            .map(|p| ProposalRow {
                slot: p.slot,
                proposer_index: p.proposer_index,
                proposed: p.proposed,
            })
            .collect(),
        sync: analysis
            .sync
            .iter()
            .map(|s| SyncRow {
                slot: s.slot,
                block_present: s.block_present,
                signed: s.signed.iter().filter(|b| **b).count(),
                not_signed: s
                    .signed
                    .iter()
                    .zip(analysis.sync_committee)
                    .filter(|(signed, _)| !**signed)
                    .map(|(_, v)| *v)
                    .collect(),
            })
            .collect(),
    };
    EpochReport {
        epoch: analysis.epoch,
        validators,
        summary,
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A plain text table of the report.
pub fn render_table(report: &EpochReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "epoch {}", report.epoch);
    let _ = writeln!(
        out,
        "{:>8} {:>6} {:>8} {:>9} {:>6} {:>6} {:>6} {:>6}  labels",
        "index", "slot", "attested", "incl_slot", "delay", "source", "target", "head"
    );
    for r in &report.validators {
        let _ = writeln!(
            out,
            "{:>8} {:>6} {:>8} {:>9} {:>6} {:>6} {:>6} {:>6}  {}",
            r.index,
            r.slot,
            yes(r.attested),
            opt(r.inclusion_slot),
            opt(r.inclusion_delay),
            yes(r.source_timely),
            yes(r.target_timely),
            yes(r.head_timely),
            r.labels.join(",")
        );
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{} duties, {} attested, timely source {} / target {} / head {}",
        s.duties, s.attested, s.source_timely, s.target_timely, s.head_timely
    );
    let _ = writeln!(
        out,
        "\n{:>8} {:>9} {:>8} {:>11}",
        "slot", "proposer", "proposed", "sync_signed"
    );
    for (p, y) in s.proposals.iter().zip(&s.sync) {
        let sync = if y.block_present {
            format!("{}/{}", y.signed, y.signed + y.not_signed.len())
        } else {
            "no block".to_string()
        };
        let _ = writeln!(
            out,
            "{:>8} {:>9} {:>8} {:>11}",
            p.slot,
            p.proposer_index,
            yes(p.proposed),
            sync
        );
    }
    out
}

/// Fetches, analyses and reports one past `epoch`. With `keys` (label → pubkeys), only those
/// validators are reported, with their pubkeys and labels; unknown keys are skipped.
pub async fn analyze_epoch(
    client: &BeaconClient,
    epoch: u64,
    keys: Option<&LabelMap>,
) -> Result<EpochReport, ReportError> {
    let spec = client.spec().await?;
    let head_slot = client.head_header().await?.slot;
    let needed = (epoch + 2) * spec.slots_per_epoch - 1;
    if head_slot < needed {
        return Err(ReportError::TooRecent {
            epoch,
            head_slot,
            next: epoch + 1,
            needed,
        });
    }
    let key_info = match keys {
        Some(labels) => {
            let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
            for (label, keys) in labels {
                for key in keys {
                    by_key
                        .entry(key.to_ascii_lowercase())
                        .or_default()
                        .push(label.clone());
                }
            }
            let ids: Vec<String> = by_key.keys().cloned().collect();
            let entries = client.validators("head", &ids).await?;
            let mut info = HashMap::with_capacity(entries.len());
            // Keep only the keys asked for, whatever else the node sent.
            for entry in entries {
                if let Some(labels) = by_key.get(&entry.pubkey) {
                    let labels = labels.clone();
                    info.insert(
                        entry.index,
                        KeyInfo {
                            pubkey: entry.pubkey,
                            labels,
                        },
                    );
                }
            }
            Some(info)
        }
        None => None,
    };
    let data = client.fetch_epoch(&spec, epoch).await?;
    let analysis = analyse_epoch(&spec, &data.input())?;
    Ok(build_report(&analysis, key_info.as_ref()))
}
