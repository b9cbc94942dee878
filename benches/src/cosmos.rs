//! CometBFT inputs for [`valwatch_cosmos::height::judge`]: the real cosmoshub-4 block and
//! validator pages of the cosmos crate's fixtures (180 validators), decoded with the real
//! decoders, and generated sets of any size with the same mix of votes.

use valwatch_cosmos::address::Address;
use valwatch_cosmos::height::{CommitVote, Flag, HeightInput, SetMember};
use valwatch_cosmos::rpc;

use crate::rng::Rng;

/// One height's decoded inputs, owned.
#[derive(Debug, Clone)]
pub struct Height {
    /// Judged height.
    pub height: u64,
    /// Validator set at the height.
    pub set: Vec<SetMember>,
    /// `last_commit` of the next block.
    pub votes: Vec<CommitVote>,
    /// Proposer of the height.
    pub proposer: Address,
    /// Transactions of the block.
    pub tx_count: usize,
}

impl Height {
    /// The borrowed form `judge` takes.
    pub fn input(&self) -> HeightInput<'_> {
        HeightInput {
            height: self.height,
            set: &self.set,
            commit_height: self.height,
            votes: &self.votes,
            proposer: self.proposer,
            tx_count: self.tx_count,
        }
    }
}

const HUB_BLOCK: &[u8] =
    include_bytes!("../../crates/cosmos/tests/fixtures/cosmoshub-4/rpc-block.json");
const HUB_PAGE_1: &[u8] = include_bytes!(
    "../../crates/cosmos/tests/fixtures/cosmoshub-4/rpc-tendermint-validators-1.json"
);
const HUB_PAGE_2: &[u8] = include_bytes!(
    "../../crates/cosmos/tests/fixtures/cosmoshub-4/rpc-tendermint-validators-2.json"
);

/// The real cosmoshub-4 height 21955287: block 21955288's 180 commit signatures and the two
/// `/validators` pages (recorded 4 blocks apart with the same set, presented as one height, as
/// the cosmos crate's own tests do).
pub fn hub_180() -> Result<Height, rpc::RpcErrorKind> {
    let block = rpc::decode_block(HUB_BLOCK)?;
    let p1 = rpc::decode_validators_page(HUB_PAGE_1)?;
    let mut p2 = rpc::decode_validators_page(HUB_PAGE_2)?;
    p2.height = p1.height;
    let set = rpc::assemble_pages(p1.height, [p1, p2])?
        .into_iter()
        .map(|v| v.member)
        .collect();
    Ok(Height {
        height: block.last_commit_height,
        set,
        votes: block.last_commit,
        proposer: block.proposer,
        tx_count: block.tx_count,
    })
}

/// A generated height of `size` validators: powers spread like a proof-of-stake set (a few
/// large, a long tail), 2% ABSENT, 1% NIL, the rest COMMIT.
pub fn generated(size: usize, seed: u64) -> Height {
    let mut rng = Rng::new(seed, size as u64);
    let set: Vec<SetMember> = (0..size)
        .map(|i| {
            let mut address = [0u8; 20];
            rng.fill(&mut address);
            SetMember {
                address,
                power: 1_000_000_000 / (i as u64 + 1) + rng.below(1_000_000),
            }
        })
        .collect();
    let votes = set
        .iter()
        .map(|m| {
            let r = rng.below(100);
            let flag = match r {
                0..2 => Flag::Absent,
                2 => Flag::Nil,
                _ => Flag::Commit,
            };
            CommitVote {
                flag,
                address: (flag != Flag::Absent).then_some(m.address),
            }
        })
        .collect();
    let proposer = set[rng.below(size as u64) as usize].address;
    Height {
        height: 21_955_287,
        set,
        votes,
        proposer,
        tx_count: 3,
    }
}
