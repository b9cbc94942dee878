//! cosmoshub-4 mainnet answers: a 180-signature block aligned with two validator pages, and the
//! staking, signing-info and slashing-params protobuf answers with their real values.

use valwatch_cosmos::address::{self, KeyKind};
use valwatch_cosmos::height::{self, HeightInput, SetMember};
use valwatch_cosmos::rpc::{self, RpcErrorKind};
use valwatch_cosmos::sdk;

use crate::fixture;

fn hub_set() -> Vec<rpc::RpcValidator> {
    let p1 = rpc::decode_validators_page(&fixture("cosmoshub-4/rpc-tendermint-validators-1.json"))
        .expect("page 1");
    let mut p2 =
        rpc::decode_validators_page(&fixture("cosmoshub-4/rpc-tendermint-validators-2.json"))
            .expect("page 2");
    assert_eq!(
        (p1.validators.len(), p2.validators.len(), p1.total),
        (100, 80, 180)
    );
    // The two pages were recorded 4 blocks apart (same set): present them as one height.
    p2.height = p1.height;
    rpc::assemble_pages(p1.height, [p1, p2]).expect("pages add up")
}

#[test]
fn block_with_180_signatures_aligns_with_both_pages_all_signed() {
    let block = rpc::decode_block(&fixture("cosmoshub-4/rpc-block.json")).expect("block");
    assert_eq!(block.height, 21955288);
    assert_eq!(block.tx_count, 3);
    assert_eq!(block.last_commit.len(), 180);
    let set: Vec<SetMember> = hub_set().iter().map(|v| v.member).collect();
    let verdict = height::judge(&HeightInput {
        height: block.last_commit_height,
        set: &set,
        commit_height: block.last_commit_height,
        votes: &block.last_commit,
        proposer: block.proposer,
        tx_count: block.tx_count,
    })
    .expect("aligned: every signer matches its set index");
    assert_eq!(verdict.height, 21955287);
    assert_eq!(verdict.missed_count(), 0);
    assert_eq!(verdict.signed_power, verdict.total_power);
    assert!(verdict.total_power > 0);
    let proposer = verdict.proposer_index.expect("proposer in the set");
    assert_eq!(
        address::to_hex(&set[proposer].address),
        "AC2D56057CD84765E6FBE318979093E8E44AA18F"
    );
}

#[test]
fn set_addresses_are_derived_from_their_keys() {
    for v in hub_set() {
        let kind = rpc::key_kind(&v).expect("ed25519 on the hub");
        assert_eq!(kind, KeyKind::Ed25519);
        assert_eq!(
            address::consensus_address(kind, &v.pub_key).expect("key"),
            v.member.address
        );
    }
}

#[test]
fn commit_of_one_page_only_is_a_size_error() {
    let block = rpc::decode_block(&fixture("cosmoshub-4/rpc-block.json")).expect("block");
    let page =
        rpc::decode_validators_page(&fixture("cosmoshub-4/rpc-tendermint-validators-1.json"))
            .expect("page");
    let set: Vec<SetMember> = page.validators.iter().map(|v| v.member).collect();
    let err = height::judge(&HeightInput {
        height: block.last_commit_height,
        set: &set,
        commit_height: block.last_commit_height,
        votes: &block.last_commit,
        proposer: block.proposer,
        tx_count: 0,
    })
    .expect_err("must fail");
    assert!(
        err.to_string()
            .contains("180 commit signatures for a set of 100"),
        "{err}"
    );
}

#[test]
fn staking_validators_decode_with_real_values() {
    let bytes = rpc::decode_abci_query(&fixture("cosmoshub-4/rpc-validators.json")).expect("abci");
    let (validators, _next) = sdk::decode_validators(&bytes).expect("protobuf");
    assert!(!validators.is_empty());
    let bonded = validators.iter().filter(|v| v.bonded).count();
    assert!(bonded > 0);
    for v in &validators {
        assert!(
            v.operator_address.starts_with("cosmosvaloper1"),
            "{}",
            v.operator_address
        );
        assert!(
            v.consensus_address.is_ok(),
            "{}: {:?}",
            v.moniker,
            v.consensus_address
        );
    }
    // Every bonded validator's consensus address is one the CometBFT set knows.
    let set: Vec<_> = hub_set().iter().map(|v| v.member.address).collect();
    let known = validators
        .iter()
        .filter(|v| v.bonded)
        .filter(|v| v.consensus_address.as_ref().is_ok_and(|a| set.contains(a)))
        .count();
    assert!(
        known * 10 >= bonded * 9,
        "{known} of {bonded} bonded found in the set"
    );
    let ranks = sdk::ranks(&validators);
    assert_eq!(ranks.iter().flatten().count(), bonded);
    let price = sdk::seat_price(&validators).expect("seat price");
    let last = ranks
        .iter()
        .position(|r| *r == Some(bonded as u32))
        .expect("last rank");
    assert_eq!(validators[last].tokens, price);
}

#[test]
fn signing_infos_decode_with_real_values() {
    let bytes =
        rpc::decode_abci_query(&fixture("cosmoshub-4/rpc-signing-infos.json")).expect("abci");
    let (infos, _next) = sdk::decode_signing_infos(&bytes).expect("protobuf");
    assert!(!infos.is_empty());
    for info in &infos {
        assert!(
            info.address.starts_with("cosmosvalcons1"),
            "{}",
            info.address
        );
        assert!(info.consensus_address.is_some());
        assert!(info.missed_blocks_counter <= 10_000);
    }
}

#[test]
fn slashing_params_are_the_hubs() {
    let bytes =
        rpc::decode_abci_query(&fixture("cosmoshub-4/rpc-slashing-params.json")).expect("abci");
    let params = sdk::decode_slashing_params(&bytes).expect("protobuf");
    assert_eq!(params.signed_blocks_window, 10_000);
    assert!((params.min_signed_per_window - 0.05).abs() < 1e-12);
    assert_eq!(params.downtime_jail_seconds, 600);
    assert_eq!(params.max_missed(), 9_500);
}

#[test]
fn error_answers_are_clear_errors() {
    let err =
        rpc::decode_abci_query(&fixture("cosmoshub-4/rpc-error.json")).expect_err("must fail");
    assert!(
        matches!(&err, RpcErrorKind::Abci { code: 18, log, .. } if log.contains("unexpected EOF"))
    );
    let err = rpc::decode_block(&fixture("cosmoshub-4/rpc-tendermint-error.json"))
        .expect_err("must fail");
    assert!(
        err.to_string().contains("height 1 is not available"),
        "{err}"
    );
    let err =
        rpc::decode_block(&fixture("cosmoshub-4/rpc-block-invalid.json")).expect_err("must fail");
    assert!(matches!(err, RpcErrorKind::Decode(_)));
    let err = rpc::decode_validators_page(&fixture(
        "cosmoshub-4/rpc-tendermint-validators-invalid-pagination.json",
    ))
    .expect_err("must fail");
    assert!(err.to_string().contains("xxx"), "{err}");
    assert!(
        rpc::decode_validators_page(&fixture("cosmoshub-4/rpc-tendermint-validators-empty.json"))
            .is_err()
    );
}
