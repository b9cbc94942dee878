//! Fetching one epoch for the live watcher: like [`BeaconClient::fetch_epoch`], but tolerant
//! of the optional parts real nodes lack, bounded in concurrency, checked for consistency, and
//! remembering the block the verdict rests on (to notice a later reorg).
//!
//! - Proposer duties: nodes such as Lodestar serve them only for the current and next epoch,
//!   so the watcher caches them while they are current and passes them in; if neither the
//!   cache nor the node has them, proposals are judged from the blocks alone (see
//!   [`crate::duties::proposals_from_blocks`]) and missed proposals of that epoch are not
//!   judged.
//! - Sync committee: a node that lacks the endpoint (404) gives an epoch without sync verdicts.
//! - Committees and blocks are required: without them nothing is judged and the epoch is
//!   retried.
//!
//! Blocks are fetched one request per slot, a few at a time, so a fetch spans some time: a
//! reorg in between could mix two chains. The parent links of the fetched blocks are checked
//! against the fetched headers, and a mismatch fails the fetch (it is retried).

use futures::{StreamExt, TryStreamExt};

use crate::analysis::EpochData;
use crate::beacon::{
    ChainSpec, EpochCommittees, Fork, Header, ProposerDuty, Root, decode_sync_committee,
};
use crate::client::{BeaconClient, ClientError};
use crate::compat::decode_committees_compat;

/// Requests in flight at once while fetching an epoch's blocks and headers: enough to hide
/// latency, few enough not to swamp a shared node.
pub const FETCH_CONCURRENCY: usize = 8;

/// Why an epoch could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A required request failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The blocks fetched do not form one chain (a reorg during the fetch).
    #[error(
        "the chain changed while epoch {epoch} was fetched (block {slot} does not follow the block before it); retrying"
    )]
    Inconsistent {
        /// The epoch fetched.
        epoch: u64,
        /// The block whose parent does not match.
        slot: u64,
    },
}

/// The newest canonical block an epoch's verdict rests on, and the last slot it covers: the
/// verdict stays valid while that block is canonical and the slots after it stay empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    /// Analysed epoch.
    pub epoch: u64,
    /// Slot of the newest block at or before `range_end` (`None`-like `u64::MAX` when none).
    pub slot: u64,
    /// Its root.
    pub root: Root,
    /// Last slot the verdict covers (the last slot of `epoch + 1`).
    pub range_end: u64,
}

impl Anchor {
    /// Whether the finalized checkpoint `finalized_epoch` covers the whole range the verdict
    /// rests on (up to `range_end`): then no reorg can change it.
    pub fn is_final(&self, finalized_epoch: u64, slots_per_epoch: u64) -> bool {
        self.range_end < finalized_epoch.saturating_mul(slots_per_epoch)
    }
}

/// One fetched epoch.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Inputs of the analysis.
    pub data: EpochData,
    /// Whether `data.proposer_duties` are real duties (else proposals come from blocks).
    pub duties_known: bool,
    /// Whether the sync committee is known.
    pub sync_known: bool,
    /// What the verdict rests on.
    pub anchor: Option<Anchor>,
}

async fn headers(
    client: &BeaconClient,
    slots: impl Iterator<Item = u64>,
) -> Result<Vec<Header>, ClientError> {
    let found: Vec<Option<Header>> = futures::stream::iter(slots.map(|s| client.header(s)))
        .buffered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// `GET path` from the state at the first slot of `epoch`, then, if that fails, from the state
/// at the first slot of `epoch + 1` (which holds the same data as its previous epoch; nodes
/// that keep only recent epoch-boundary states still have it when `epoch` is judged).
async fn from_epoch_states<T>(
    client: &BeaconClient,
    epoch: u64,
    slots_per_epoch: u64,
    what: &str,
    next_allowed: bool,
    decode: impl Fn(&[u8]) -> Result<T, crate::beacon::BeaconError> + Copy,
) -> Result<T, ClientError> {
    let path = |slot: u64| format!("/eth/v1/beacon/states/{slot}/{what}?epoch={epoch}");
    let first = path(epoch * slots_per_epoch);
    let error = match client.get_with(&first, decode).await {
        Ok(Some(value)) => return Ok(value),
        Ok(None) => ClientError::NotFound { path: first },
        Err(error) => error,
    };
    if !next_allowed {
        return Err(error);
    }
    match client
        .get_with(&path((epoch + 1) * slots_per_epoch), decode)
        .await
    {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(error),
        Err(ClientError::NotFound { .. }) => Err(error),
        Err(second) => Err(second),
    }
}

/// What the watcher read about an epoch while it was current.
#[derive(Debug, Clone, Default)]
pub struct Cached {
    /// Proposer duties.
    pub proposer_duties: Option<Vec<ProposerDuty>>,
    /// Attestation committees.
    pub committees: Option<EpochCommittees>,
    /// Sync committee.
    pub sync_committee: Option<Vec<u64>>,
}

/// Committees and sync committee of the head's epoch `epoch`, read from the head state (which
/// every node keeps), for [`Cached`].
pub async fn current_from_head(
    client: &BeaconClient,
    spec: &ChainSpec,
    epoch: u64,
    swapped: bool,
) -> (Result<EpochCommittees, ClientError>, Option<Vec<u64>>) {
    let spe = spec.slots_per_epoch;
    let committees = client
        .get_with(
            &format!("/eth/v1/beacon/states/head/committees?epoch={epoch}"),
            |b| decode_committees_compat(b, epoch, spe, swapped),
        )
        .await
        .and_then(|c| {
            c.ok_or_else(|| ClientError::NotFound {
                path: "/eth/v1/beacon/states/head/committees".into(),
            })
        });
    let sync = if spec.fork_at(epoch) >= Fork::Altair {
        client
            .get_with(
                &format!("/eth/v1/beacon/states/head/sync_committees?epoch={epoch}"),
                decode_sync_committee,
            )
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    (committees, sync)
}

/// The committees of `epoch` (see [`crate::compat`] for `swapped`).
pub async fn committees(
    client: &BeaconClient,
    epoch: u64,
    slots_per_epoch: u64,
    swapped: bool,
) -> Result<EpochCommittees, ClientError> {
    from_epoch_states(client, epoch, slots_per_epoch, "committees", true, |b| {
        decode_committees_compat(b, epoch, slots_per_epoch, swapped)
    })
    .await
}

/// Fetches everything needed to judge `epoch`. `cached_duties` are proposer duties saved while
/// the epoch was current; without them the node is asked, and a refusal is tolerated.
/// `swapped`: the node swaps the fields of committees answers (see [`crate::compat`]).
/// `cached` holds what was read from the head state while the epoch was current (nodes that
/// keep few past states cannot answer later).
pub async fn fetch_epoch(
    client: &BeaconClient,
    spec: &ChainSpec,
    epoch: u64,
    cached: Cached,
    swapped: bool,
) -> Result<Fetched, FetchError> {
    let spe = spec.slots_per_epoch;
    let start = epoch * spe;
    let first = start.saturating_sub(1);
    let end = start + 2 * spe;
    let cached_duties = cached.proposer_duties;
    let committees = match cached.committees {
        Some(committees) => committees,
        None => committees(client, epoch, spe, swapped).await?,
    };
    let (proposer_duties, duties_known) = match cached_duties {
        Some(duties) => (duties, true),
        None => match client.proposer_duties(epoch, spe).await {
            Ok(duties) => (duties, true),
            Err(error) => {
                tracing::debug!(epoch, %error, "proposer duties not served for this epoch; judging proposals from blocks");
                (Vec::new(), false)
            }
        },
    };
    let (sync_committee, sync_known) = if let Some(members) = cached.sync_committee {
        (members, true)
    } else if spec.fork_at(epoch) >= Fork::Altair {
        // The next epoch's state holds the same sync committee only within one period.
        let period = spec.epochs_per_sync_committee_period.max(1);
        let same_period = epoch / period == (epoch + 1) / period;
        match from_epoch_states(client, epoch, spe, "sync_committees", same_period, |b| {
            decode_sync_committee(b)
        })
        .await
        {
            Ok(members) => (members, true),
            Err(ClientError::NotFound { path }) => {
                tracing::warn!(
                    epoch,
                    path,
                    "the node does not serve the sync committee: sync signatures of this epoch are not judged"
                );
                (Vec::new(), false)
            }
            Err(error) => return Err(error.into()),
        }
    } else {
        (Vec::new(), false)
    };
    let blocks: Vec<_> = futures::stream::iter((first..end).map(|slot| client.block(slot)))
        .buffered(FETCH_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .flatten()
        .collect();
    let mut known = headers(client, first..start + spe).await?;
    let anchor_slot = blocks.iter().map(|b| b.slot).max();
    if let Some(slot) = anchor_slot.filter(|s| *s >= start + spe) {
        known.extend(headers(client, std::iter::once(slot)).await?);
    }
    // Every block must follow the block before it, as far as the headers tell.
    for pair in blocks.windows(2) {
        if let Some(header) = known.iter().find(|h| h.slot == pair[0].slot) {
            if header.root != pair[1].parent_root {
                return Err(FetchError::Inconsistent {
                    epoch,
                    slot: pair[1].slot,
                });
            }
        }
    }
    let anchor = anchor_slot.and_then(|slot| {
        known.iter().find(|h| h.slot == slot).map(|h| Anchor {
            epoch,
            slot,
            root: h.root,
            range_end: end - 1,
        })
    });
    Ok(Fetched {
        data: EpochData {
            epoch,
            committees,
            blocks,
            known_roots: known.iter().map(|h| (h.slot, h.root)).collect(),
            proposer_duties,
            sync_committee,
        },
        duties_known,
        sync_known,
        anchor,
    })
}

/// Whether the chain an epoch was judged on is still canonical: its anchor block is still at
/// its slot and the slots after it, up to the end of the judged range, are still empty.
pub async fn still_canonical(client: &BeaconClient, anchor: &Anchor) -> Result<bool, ClientError> {
    match client.header(anchor.slot).await? {
        Some(header) if header.root == anchor.root => {}
        _ => return Ok(false),
    }
    for slot in anchor.slot + 1..=anchor.range_end {
        if client.header(slot).await?.is_some() {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_is_final_once_the_checkpoint_is_past_its_inclusion_window() {
        // Epoch 4 of 8 slots: its verdict rests on slots up to 47, the last of epoch 5.
        let anchor = Anchor {
            epoch: 4,
            slot: 47,
            root: [0; 32],
            range_end: 47,
        };
        assert!(!anchor.is_final(5, 8), "epoch 5 is not finalized yet");
        assert!(anchor.is_final(6, 8));
        assert!(!anchor.is_final(u64::MAX, 0));
    }
}
