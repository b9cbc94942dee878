//! The one-shot analysis of a range of heights (`valwatch cosmos analyze`): per validator, its
//! votes for heights H1..H2 (read from blocks H1+1..H2+1), the blocks it proposed, and the
//! heights it missed. Each validator is judged only at heights where it was in the set.
//!
//! [`RangeTally`] is pure and accumulates [`HeightVerdict`]s; [`analyze`] fetches the blocks and
//! sets over one endpoint and feeds them to it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::address::{self, Address};
use crate::height::{self, HeightError, HeightInput, HeightVerdict, SetMember};
use crate::rpc::{RpcClient, RpcError};
use crate::sdk;

/// Most heights one analysis may cover: each height costs two requests or more.
pub const MAX_RANGE: u64 = 100_000;

/// One validator's result over the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidatorReport {
    /// Consensus address, upper-case hex.
    pub address: String,
    /// Moniker from x/staking, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moniker: Option<String>,
    /// Heights signed (COMMIT or NIL).
    pub signed: u64,
    /// Heights missed (ABSENT).
    pub missed: u64,
    /// Blocks proposed in the range.
    pub proposed: u64,
    /// Heights missed, ascending.
    pub missed_heights: Vec<u64>,
}

/// Accumulates verdicts of heights, for all validators or only `only`.
#[derive(Debug, Default)]
pub struct RangeTally {
    only: Option<BTreeSet<Address>>,
    reports: BTreeMap<Address, ValidatorReport>,
}

impl RangeTally {
    /// A tally of every validator (`only` empty) or of the listed ones.
    pub fn new(only: &[Address]) -> Self {
        RangeTally {
            only: (!only.is_empty()).then(|| only.iter().copied().collect()),
            reports: only.iter().map(|a| (*a, report(a))).collect(),
        }
    }

    fn wanted(&self, address: &Address) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(address))
    }

    /// Adds the verdict of one height judged with `set`.
    pub fn add(&mut self, verdict: &HeightVerdict, set: &[SetMember]) {
        for (index, member) in set.iter().enumerate() {
            if !self.wanted(&member.address) {
                continue;
            }
            let entry = self
                .reports
                .entry(member.address)
                .or_insert_with(|| report(&member.address));
            if verdict.missed(index) {
                entry.missed += 1;
                entry.missed_heights.push(verdict.height);
            } else {
                entry.signed += 1;
            }
            if verdict.proposer_index == Some(index) {
                entry.proposed += 1;
            }
        }
    }

    /// Sets monikers from `(address, moniker)` pairs.
    pub fn set_monikers(&mut self, names: impl IntoIterator<Item = (Address, String)>) {
        for (address, moniker) in names {
            if let Some(r) = self.reports.get_mut(&address) {
                r.moniker = Some(moniker);
            }
        }
    }

    /// The reports, by address.
    pub fn finish(self) -> Vec<ValidatorReport> {
        self.reports.into_values().collect()
    }
}

fn report(address: &Address) -> ValidatorReport {
    ValidatorReport {
        address: address::to_hex(address),
        ..ValidatorReport::default()
    }
}

/// Why an analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// An RPC request failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The answers for a height are inconsistent.
    #[error(transparent)]
    Height(#[from] HeightError),
    /// The range is empty or too long.
    #[error(
        "bad range {from}..={to}: must be non-empty, start at 1 or later and span at most {MAX_RANGE} heights"
    )]
    Range {
        /// First height.
        from: u64,
        /// Last height.
        to: u64,
    },
}

/// Analyses heights `from..=to` through `client`, for `only` (or every validator when empty).
pub async fn analyze(
    client: &RpcClient,
    from: u64,
    to: u64,
    only: &[Address],
) -> Result<Vec<ValidatorReport>, AnalyzeError> {
    if from == 0 || to < from || to - from >= MAX_RANGE {
        return Err(AnalyzeError::Range { from, to });
    }
    let mut tally = RangeTally::new(only);
    let mut block = client.block(Some(from)).await?;
    let mut set: Vec<SetMember> = Vec::new();
    let mut set_height = None;
    for h in from..=to {
        let next = client.block(Some(h + 1)).await?;
        // The set is re-read at every height: a set change between heights must not shift the
        // alignment of votes.
        if set_height != Some(h) {
            set = client
                .validators(h)
                .await?
                .iter()
                .map(|v| v.member)
                .collect();
            set_height = Some(h);
        }
        let verdict = height::judge(&HeightInput {
            height: h,
            set: &set,
            commit_height: next.last_commit_height,
            votes: &next.last_commit,
            proposer: block.proposer,
            tx_count: block.tx_count,
        })?;
        tally.add(&verdict, &set);
        block = next;
    }
    // Monikers are a courtesy: a chain without x/staking (ICS consumer) still gets its report.
    match sdk::validators(client).await {
        Ok(validators) => tally.set_monikers(
            validators
                .into_iter()
                .filter_map(|v| v.consensus_address.ok().map(|a| (a, v.moniker))),
        ),
        Err(error) => tracing::info!(%error, "no monikers from x/staking"),
    }
    Ok(tally.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::height::Flag;

    fn member(n: u8) -> SetMember {
        SetMember {
            address: [n; 20],
            power: 10,
        }
    }

    fn verdict(h: u64, set: &[SetMember], flags: &[Flag], proposer: u8) -> HeightVerdict {
        height::verdict_for_tests(h, set, flags, proposer, 1)
    }

    #[test]
    fn validators_are_judged_only_where_they_are_in_the_set() {
        let early = [member(1), member(2)];
        let late = [member(1), member(3)];
        let mut tally = RangeTally::new(&[]);
        tally.add(
            &verdict(5, &early, &[Flag::Commit, Flag::Absent], 1),
            &early,
        );
        tally.add(&verdict(6, &late, &[Flag::Nil, Flag::Absent], 3), &late);
        tally.set_monikers([([1; 20], "one".to_string())]);
        let reports = tally.finish();
        assert_eq!(reports.len(), 3);
        let one = &reports[0];
        assert_eq!((one.signed, one.missed, one.proposed), (2, 0, 1));
        assert_eq!(one.moniker.as_deref(), Some("one"));
        let two = &reports[1];
        assert_eq!(
            (two.signed, two.missed, two.missed_heights.clone()),
            (0, 1, vec![5])
        );
        let three = &reports[2];
        assert_eq!((three.signed, three.missed, three.proposed), (0, 1, 1));
        assert_eq!(three.missed_heights, [6]);
    }

    #[test]
    fn a_validator_list_limits_the_report_and_keeps_absent_ones() {
        let set = [member(1), member(2)];
        let mut tally = RangeTally::new(&[[2; 20], [9; 20]]);
        tally.add(&verdict(5, &set, &[Flag::Commit, Flag::Commit], 1), &set);
        let reports = tally.finish();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].address, address::to_hex(&[2; 20]));
        assert_eq!((reports[0].signed, reports[0].proposed), (1, 0));
        assert_eq!(
            (reports[1].signed, reports[1].missed),
            (0, 0),
            "never in the set"
        );
    }
}
