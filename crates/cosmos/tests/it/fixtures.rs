//! One test walks the whole fixture folder and decodes every file by its kind, so a new fixture
//! that breaks decoding fails here.

use valwatch_cosmos::rpc::{self, RpcErrorKind};
use valwatch_cosmos::sdk;

use crate::fixtures_dir;

/// What decoding a fixture must give.
enum Expect {
    Ok,
    Err,
}

fn decode_by_name(name: &str, body: &[u8]) -> Option<(Expect, Result<(), String>)> {
    let ok = |r: Result<(), String>| Some((Expect::Ok, r));
    let err = |r: Result<(), String>| Some((Expect::Err, r));
    let s = |e: RpcErrorKind| e.to_string();
    match name {
        "status.json" => ok(rpc::decode_status(body).map(drop).map_err(s)),
        "block_at_height_10.json" | "rpc-block.json" => {
            ok(rpc::decode_block(body).map(drop).map_err(s))
        }
        "rpc-tendermint-validators-1.json" | "rpc-tendermint-validators-2.json" => {
            ok(rpc::decode_validators_page(body).map(drop).map_err(s))
        }
        "rpc-validators.json" => ok(rpc::decode_abci_query(body).map_err(s).and_then(|b| {
            sdk::decode_validators(&b)
                .map(drop)
                .map_err(|e| e.to_string())
        })),
        "rpc-signing-infos.json" => ok(rpc::decode_abci_query(body).map_err(s).and_then(|b| {
            sdk::decode_signing_infos(&b)
                .map(drop)
                .map_err(|e| e.to_string())
        })),
        "rpc-slashing-params.json" => ok(rpc::decode_abci_query(body).map_err(s).and_then(|b| {
            sdk::decode_slashing_params(&b)
                .map(drop)
                .map_err(|e| e.to_string())
        })),
        "rpc-assigned-keys.json" => ok(rpc::decode_abci_query(body).map(drop).map_err(s)),
        "rpc-block-invalid.json" | "rpc-tendermint-error.json" => {
            err(rpc::decode_block(body).map(drop).map_err(s))
        }
        "rpc-tendermint-validators-empty.json"
        | "rpc-tendermint-validators-invalid-pagination.json" => {
            err(rpc::decode_validators_page(body).map(drop).map_err(s))
        }
        "rpc-error.json" => err(rpc::decode_abci_query(body).map(drop).map_err(s)),
        // Answers valwatch does not read: they must at least be JSON-RPC results.
        "commit_at_height_10.json"
        | "block_results_at_height_10.json"
        | "abci_info.json"
        | "subscribe_newblock_0.json" => ok(serde_json::from_slice::<serde_json::Value>(body)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                v.get("result")
                    .map(drop)
                    .ok_or_else(|| "no result".to_string())
            })),
        _ => None,
    }
}

#[test]
fn every_fixture_decodes_as_its_kind() {
    let mut stack = vec![fixtures_dir()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if !name.ends_with(".json") {
                continue;
            }
            let body = std::fs::read(&path).expect("read");
            let (expect, outcome) = decode_by_name(&name, &body)
                .unwrap_or_else(|| panic!("{}: fixture of unknown kind", path.display()));
            match (expect, outcome) {
                (Expect::Ok, Err(e)) => panic!("{}: {e}", path.display()),
                (Expect::Err, Ok(())) => {
                    panic!("{}: decoded but is an error answer", path.display())
                }
                _ => seen += 1,
            }
        }
    }
    assert!(seen >= 30, "only {seen} fixtures walked");
}
