//! Cosmos SDK module queries over CometBFT's `abci_query`, with protobuf requests and answers
//! from cosmos-sdk-proto: x/staking validators (every page), x/slashing params and signing infos
//! (every page), x/upgrade's current plan, and x/gov proposals in voting period with the votes of
//! watched validators (gov v1, falling back to v1beta1).
//!
//! Decoding is split from transport: each `decode_*` function takes the protobuf answer bytes,
//! so tests run on recorded answers. A validator whose consensus key is of a type valwatch
//! cannot derive an address from keeps `consensus_address: Err(..)`: reported, never a panic.

use cosmos_sdk_proto::cosmos::base::query::v1beta1::{PageRequest, PageResponse};
use cosmos_sdk_proto::cosmos::{gov, slashing, staking, upgrade};
use cosmos_sdk_proto::prost::Message;

use crate::address::{self, Address, AddressError, KeyKind};
use crate::rpc::{RpcClient, RpcError};

/// Query paths.
pub mod paths {
    /// x/staking validators.
    pub const VALIDATORS: &str = "/cosmos.staking.v1beta1.Query/Validators";
    /// x/slashing params.
    pub const SLASHING_PARAMS: &str = "/cosmos.slashing.v1beta1.Query/Params";
    /// x/slashing signing infos.
    pub const SIGNING_INFOS: &str = "/cosmos.slashing.v1beta1.Query/SigningInfos";
    /// x/upgrade current plan.
    pub const CURRENT_PLAN: &str = "/cosmos.upgrade.v1beta1.Query/CurrentPlan";
    /// x/gov v1 proposals.
    pub const PROPOSALS_V1: &str = "/cosmos.gov.v1.Query/Proposals";
    /// x/gov v1beta1 proposals.
    pub const PROPOSALS_V1BETA1: &str = "/cosmos.gov.v1beta1.Query/Proposals";
    /// x/gov v1 vote.
    pub const VOTE_V1: &str = "/cosmos.gov.v1.Query/Vote";
    /// x/gov v1beta1 vote.
    pub const VOTE_V1BETA1: &str = "/cosmos.gov.v1beta1.Query/Vote";
}

/// Items per page asked of paginated queries.
const PAGE_LIMIT: u64 = 200;
/// Pages read at most per query: 200 × 500 = 100 000 items, above any chain's validators.
const MAX_PAGES: usize = 500;
/// Scale of the SDK's `LegacyDec` (18 decimals).
const DEC_SCALE: f64 = 1e18;

/// Why an SDK query failed.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The RPC request failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The protobuf answer does not decode.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// What was decoded.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
    /// Pagination did not end within the page cap.
    #[error("{0}: pagination did not end after {MAX_PAGES} pages")]
    EndlessPaging(&'static str),
}

fn decode<M: Message + Default>(what: &'static str, bytes: &[u8]) -> Result<M, SdkError> {
    M::decode(bytes).map_err(|e| SdkError::Decode {
        what,
        message: e.to_string(),
    })
}

fn page(key: Vec<u8>) -> Option<PageRequest> {
    Some(PageRequest {
        key,
        offset: 0,
        limit: PAGE_LIMIT,
        count_total: false,
        reverse: false,
    })
}

fn next_key(pagination: Option<PageResponse>) -> Vec<u8> {
    pagination.map(|p| p.next_key).unwrap_or_default()
}

/// Reads every page of a paginated query: `request` builds the request bytes for a page key,
/// `decode` returns the page's items and the next key (empty at the end).
async fn all_pages<T>(
    client: &RpcClient,
    path: &'static str,
    request: impl Fn(Option<PageRequest>) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<(Vec<T>, Vec<u8>), SdkError>,
) -> Result<Vec<T>, SdkError> {
    let mut items = Vec::new();
    let mut key = Vec::new();
    for _ in 0..MAX_PAGES {
        let answer = client.abci_query(path, &request(page(key))).await?;
        let (page_items, next) = decode(&answer)?;
        items.extend(page_items);
        if next.is_empty() {
            return Ok(items);
        }
        key = next;
    }
    Err(SdkError::EndlessPaging(path))
}

// ---------------------------------------------------------------------------------------------
// x/staking

/// A validator of x/staking.
#[derive(Debug, Clone, PartialEq)]
pub struct StakingValidator {
    /// Operator address (`<prefix>valoper...`).
    pub operator_address: String,
    /// Moniker.
    pub moniker: String,
    /// Bonded tokens (integer string parsed; saturates at u128).
    pub tokens: u128,
    /// Jailed.
    pub jailed: bool,
    /// Bonded (status BOND_STATUS_BONDED).
    pub bonded: bool,
    /// Consensus address, or why it could not be derived.
    pub consensus_address: Result<Address, AddressError>,
}

/// Decodes one page of `QueryValidatorsResponse`.
pub fn decode_validators(bytes: &[u8]) -> Result<(Vec<StakingValidator>, Vec<u8>), SdkError> {
    let response: staking::v1beta1::QueryValidatorsResponse =
        decode("staking QueryValidatorsResponse", bytes)?;
    let validators = response
        .validators
        .into_iter()
        .map(|v| StakingValidator {
            consensus_address: match &v.consensus_pubkey {
                Some(any) => any_consensus_address(&any.type_url, &any.value),
                None => Err(AddressError::UnsupportedKey("none".into())),
            },
            operator_address: v.operator_address,
            moniker: v.description.map(|d| d.moniker).unwrap_or_default(),
            tokens: v.tokens.parse().unwrap_or(0),
            jailed: v.jailed,
            bonded: v.status == staking::v1beta1::BondStatus::Bonded as i32,
        })
        .collect();
    Ok((validators, next_key(response.pagination)))
}

/// The consensus address of a protobuf `Any` public key.
pub fn any_consensus_address(type_url: &str, value: &[u8]) -> Result<Address, AddressError> {
    use cosmos_sdk_proto::cosmos::crypto::{ed25519, secp256k1};
    let kind = KeyKind::from_type_name(type_url)?;
    let bad = |_| AddressError::UnsupportedKey(format!("{type_url} (undecodable)"));
    let key = match kind {
        KeyKind::Ed25519 => ed25519::PubKey::decode(value).map_err(bad)?.key,
        KeyKind::Secp256k1 => secp256k1::PubKey::decode(value).map_err(bad)?.key,
    };
    address::consensus_address(kind, &key)
}

/// Every validator of x/staking, all statuses, every page.
pub async fn validators(client: &RpcClient) -> Result<Vec<StakingValidator>, SdkError> {
    all_pages(
        client,
        paths::VALIDATORS,
        |pagination| {
            staking::v1beta1::QueryValidatorsRequest {
                status: String::new(),
                pagination,
            }
            .encode_to_vec()
        },
        decode_validators,
    )
    .await
}

/// Rank by tokens among bonded validators (1 = most), by index into `validators`; `None` for
/// validators not bonded. Ties keep the order of the input (stable sort).
pub fn ranks(validators: &[StakingValidator]) -> Vec<Option<u32>> {
    let mut bonded: Vec<usize> = (0..validators.len())
        .filter(|&i| validators[i].bonded)
        .collect();
    bonded.sort_by(|&a, &b| validators[b].tokens.cmp(&validators[a].tokens));
    let mut ranks = vec![None; validators.len()];
    for (rank, i) in bonded.into_iter().enumerate() {
        ranks[i] = Some(rank as u32 + 1);
    }
    ranks
}

/// Seat price: the lowest token count among bonded validators.
pub fn seat_price(validators: &[StakingValidator]) -> Option<u128> {
    validators
        .iter()
        .filter(|v| v.bonded)
        .map(|v| v.tokens)
        .min()
}

// ---------------------------------------------------------------------------------------------
// x/slashing

/// The slashing parameters that decide jailing for downtime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlashingParams {
    /// `signed_blocks_window`.
    pub signed_blocks_window: u64,
    /// `min_signed_per_window` as a fraction (0.05 = 5 %).
    pub min_signed_per_window: f64,
    /// `downtime_jail_duration` in seconds.
    pub downtime_jail_seconds: i64,
}

impl SlashingParams {
    /// Misses allowed in a window before jailing: window × (1 − min_signed), rounded down.
    pub fn max_missed(&self) -> u64 {
        (self.signed_blocks_window as f64 * (1.0 - self.min_signed_per_window)).floor() as u64
    }

    /// Blocks left before jail with `missed` misses in the window (0 when at or past it).
    pub fn blocks_left(&self, missed: u64) -> u64 {
        self.max_missed().saturating_sub(missed)
    }
}

/// Parses an SDK `LegacyDec` as carried in protobuf bytes: the integer scaled by 10^18 as ASCII
/// digits (`"50000000000000000"` = 0.05), or a plain decimal string (`"0.05"`).
pub fn parse_dec(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    if text.contains('.') {
        text.parse().ok()
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u128>().ok().map(|n| n as f64 / DEC_SCALE)
    } else {
        None
    }
}

/// Decodes `QueryParamsResponse` of x/slashing.
pub fn decode_slashing_params(bytes: &[u8]) -> Result<SlashingParams, SdkError> {
    let response: slashing::v1beta1::QueryParamsResponse =
        decode("slashing QueryParamsResponse", bytes)?;
    let params = response.params.ok_or(SdkError::Decode {
        what: "slashing params",
        message: "no params".into(),
    })?;
    let window = u64::try_from(params.signed_blocks_window)
        .ok()
        .filter(|&w| w > 0)
        .ok_or(SdkError::Decode {
            what: "slashing params",
            message: format!("signed_blocks_window {}", params.signed_blocks_window),
        })?;
    let min_signed = parse_dec(&params.min_signed_per_window)
        .filter(|m| (0.0..=1.0).contains(m))
        .ok_or(SdkError::Decode {
            what: "slashing params",
            message: "min_signed_per_window is not a decimal in [0, 1]".into(),
        })?;
    Ok(SlashingParams {
        signed_blocks_window: window,
        min_signed_per_window: min_signed,
        downtime_jail_seconds: params.downtime_jail_duration.map_or(0, |d| d.seconds),
    })
}

/// x/slashing's parameters.
pub async fn slashing_params(client: &RpcClient) -> Result<SlashingParams, SdkError> {
    let request = slashing::v1beta1::QueryParamsRequest {}.encode_to_vec();
    decode_slashing_params(&client.abci_query(paths::SLASHING_PARAMS, &request).await?)
}

/// A validator's signing info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningInfo {
    /// Consensus address (bech32 `<prefix>valcons`, as the chain stores it).
    pub address: String,
    /// Decoded consensus address, when the bech32 is valid.
    pub consensus_address: Option<Address>,
    /// Misses in the chain's current window.
    pub missed_blocks_counter: u64,
    /// Jailed until (Unix seconds); 0 or negative when never jailed.
    pub jailed_until_seconds: i64,
    /// Tombstoned (permanently out).
    pub tombstoned: bool,
    /// Index offset in the window.
    pub index_offset: i64,
}

/// Decodes one page of `QuerySigningInfosResponse`.
pub fn decode_signing_infos(bytes: &[u8]) -> Result<(Vec<SigningInfo>, Vec<u8>), SdkError> {
    let response: slashing::v1beta1::QuerySigningInfosResponse =
        decode("slashing QuerySigningInfosResponse", bytes)?;
    let infos = response
        .info
        .into_iter()
        .map(|i| SigningInfo {
            consensus_address: address::from_bech32(&i.address).ok().map(|(_, a)| a),
            address: i.address,
            missed_blocks_counter: u64::try_from(i.missed_blocks_counter).unwrap_or(0),
            jailed_until_seconds: i.jailed_until.map_or(0, |t| t.seconds),
            tombstoned: i.tombstoned,
            index_offset: i.index_offset,
        })
        .collect();
    Ok((infos, next_key(response.pagination)))
}

/// Every signing info, every page.
pub async fn signing_infos(client: &RpcClient) -> Result<Vec<SigningInfo>, SdkError> {
    all_pages(
        client,
        paths::SIGNING_INFOS,
        |pagination| slashing::v1beta1::QuerySigningInfosRequest { pagination }.encode_to_vec(),
        decode_signing_infos,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// x/upgrade and x/gov

/// Decodes `QueryCurrentPlanResponse`: the planned upgrade's name and height, if any.
pub fn decode_current_plan(bytes: &[u8]) -> Result<Option<(String, i64)>, SdkError> {
    let response: upgrade::v1beta1::QueryCurrentPlanResponse =
        decode("upgrade QueryCurrentPlanResponse", bytes)?;
    Ok(response.plan.map(|p| (p.name, p.height)))
}

/// The current upgrade plan, if any.
pub async fn current_plan(client: &RpcClient) -> Result<Option<(String, i64)>, SdkError> {
    let request = upgrade::v1beta1::QueryCurrentPlanRequest {}.encode_to_vec();
    decode_current_plan(&client.abci_query(paths::CURRENT_PLAN, &request).await?)
}

/// Which gov API answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GovVersion {
    /// cosmos.gov.v1.
    V1,
    /// cosmos.gov.v1beta1.
    V1Beta1,
}

/// Ids of the proposals in voting period, and the gov version that answered: v1 first, then
/// v1beta1 when v1 fails.
pub async fn proposals_in_voting(client: &RpcClient) -> Result<(GovVersion, Vec<u64>), SdkError> {
    let v1 = all_pages(
        client,
        paths::PROPOSALS_V1,
        |pagination| {
            gov::v1::QueryProposalsRequest {
                proposal_status: gov::v1::ProposalStatus::VotingPeriod as i32,
                voter: String::new(),
                depositor: String::new(),
                pagination,
            }
            .encode_to_vec()
        },
        |bytes| {
            let r: gov::v1::QueryProposalsResponse = decode("gov v1 proposals", bytes)?;
            Ok((
                r.proposals.into_iter().map(|p| p.id).collect(),
                next_key(r.pagination),
            ))
        },
    )
    .await;
    match v1 {
        Ok(ids) => Ok((GovVersion::V1, ids)),
        Err(v1_error) => {
            tracing::debug!(error = %v1_error, "gov v1 proposals failed, trying v1beta1");
            let ids = all_pages(
                client,
                paths::PROPOSALS_V1BETA1,
                |pagination| {
                    gov::v1beta1::QueryProposalsRequest {
                        proposal_status: gov::v1beta1::ProposalStatus::VotingPeriod as i32,
                        voter: String::new(),
                        depositor: String::new(),
                        pagination,
                    }
                    .encode_to_vec()
                },
                |bytes| {
                    let r: gov::v1beta1::QueryProposalsResponse =
                        decode("gov v1beta1 proposals", bytes)?;
                    Ok((
                        r.proposals.into_iter().map(|p| p.proposal_id).collect(),
                        next_key(r.pagination),
                    ))
                },
            )
            .await?;
            Ok((GovVersion::V1Beta1, ids))
        }
    }
}

/// The account address (`<prefix>1...`) of an operator address (`<prefix>valoper1...`): the
/// voter whose vote counts for the validator.
pub fn operator_account(valoper: &str) -> Result<String, AddressError> {
    let (hrp, bytes) = address::from_bech32_with_suffix(valoper, "valoper")?;
    let prefix = hrp.trim_end_matches("valoper");
    Ok(address::to_bech32(prefix, &bytes))
}

/// Whether `voter` voted on `proposal`. A "not found" answer is `false`; other failures are
/// errors.
pub async fn has_voted(
    client: &RpcClient,
    version: GovVersion,
    proposal: u64,
    voter: &str,
) -> Result<bool, SdkError> {
    let (path, request) = match version {
        GovVersion::V1 => (
            paths::VOTE_V1,
            gov::v1::QueryVoteRequest {
                proposal_id: proposal,
                voter: voter.to_string(),
            }
            .encode_to_vec(),
        ),
        GovVersion::V1Beta1 => (
            paths::VOTE_V1BETA1,
            gov::v1beta1::QueryVoteRequest {
                proposal_id: proposal,
                voter: voter.to_string(),
            }
            .encode_to_vec(),
        ),
    };
    match client.abci_query(path, &request).await {
        Ok(bytes) => Ok(!bytes.is_empty()),
        Err(RpcError {
            kind: crate::rpc::RpcErrorKind::Abci { log, .. },
            ..
        }) if log.contains("not found") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_in_both_encodings() {
        assert_eq!(parse_dec(b"50000000000000000"), Some(0.05));
        assert_eq!(parse_dec(b"500000000000000000"), Some(0.5));
        assert_eq!(parse_dec(b"0.05"), Some(0.05));
        assert_eq!(parse_dec(b"abc"), None);
        assert_eq!(parse_dec(b""), None);
    }

    #[test]
    fn blocks_left_before_jail() {
        let p = SlashingParams {
            signed_blocks_window: 20,
            min_signed_per_window: 0.5,
            downtime_jail_seconds: 60,
        };
        assert_eq!(p.max_missed(), 10);
        assert_eq!(p.blocks_left(3), 7);
        assert_eq!(p.blocks_left(12), 0);
    }

    fn v(tokens: u128, bonded: bool) -> StakingValidator {
        StakingValidator {
            operator_address: String::new(),
            moniker: String::new(),
            tokens,
            jailed: !bonded,
            bonded,
            consensus_address: Err(AddressError::UnsupportedKey("x".into())),
        }
    }

    #[test]
    fn rank_and_seat_price_among_bonded_only() {
        let set = [v(5, true), v(100, false), v(50, true), v(7, true)];
        assert_eq!(ranks(&set), [Some(3), None, Some(1), Some(2)]);
        assert_eq!(seat_price(&set), Some(5));
        assert_eq!(seat_price(&[v(1, false)]), None);
    }

    #[test]
    fn unknown_key_types_are_reported() {
        assert!(matches!(
            any_consensus_address("/cosmos.crypto.bn254.PubKey", &[1, 2]),
            Err(AddressError::UnsupportedKey(_))
        ));
        assert!(any_consensus_address("/cosmos.crypto.ed25519.PubKey", &[0xff, 0xff]).is_err());
    }

    #[test]
    fn operator_account_keeps_the_chain_prefix() {
        let valoper = address::to_bech32("cosmosvaloper", &[7; 20]);
        assert_eq!(
            operator_account(&valoper).expect("valoper"),
            address::to_bech32("cosmos", &[7; 20])
        );
        assert!(operator_account(&address::to_bech32("cosmosvalcons", &[7; 20])).is_err());
    }
}
