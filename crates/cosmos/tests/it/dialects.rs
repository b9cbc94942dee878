//! The recorded CometBFT 0.34 / 0.37 / 0.38 answers: dialect detection and the block fields
//! valwatch reads, which have one shape in all three.

use valwatch_cosmos::rpc::{self, CompatMode};

use crate::fixture;

#[test]
fn status_names_each_dialect() {
    for (dir, mode) in [
        ("v0_34", CompatMode::V0_34),
        ("v0_37", CompatMode::V0_37),
        ("v0_38", CompatMode::V0_38),
    ] {
        let status = rpc::decode_status(&fixture(&format!("cometbft-kvstore/{dir}/status.json")))
            .expect("status");
        assert_eq!(status.dialect(), mode, "{dir}");
        assert_eq!(status.network, "dockerchain");
        assert!(!status.catching_up);
    }
    let status =
        rpc::decode_status(&fixture("cometbft-kvstore/v0_38/status.json")).expect("status");
    assert_eq!(status.latest_height, 232);
    assert_eq!(status.earliest_height, Some(1));
}

#[test]
fn block_at_height_10_in_every_dialect() {
    for dir in ["v0_34", "v0_37", "v0_38"] {
        let block = rpc::decode_block(&fixture(&format!(
            "cometbft-kvstore/{dir}/block_at_height_10.json"
        )))
        .expect("block");
        assert_eq!(block.height, 10, "{dir}");
        assert_eq!(block.last_commit_height, 9, "{dir}");
        assert_eq!(
            block.last_commit.len(),
            1,
            "{dir}: one-validator kvstore chain"
        );
        assert!(!block.last_commit[0].flag.is_missed());
    }
}
