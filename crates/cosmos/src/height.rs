//! The verdict of one height, as a pure function: the validator set at H plus block H+1's
//! `last_commit` give, per validator of the set, whether it signed H.
//!
//! CometBFT orders `last_commit.signatures` like the validator set at H, so the two are aligned
//! by index. x/slashing counts only ABSENT as missed: COMMIT and NIL are both signed. The commit
//! must be for H and have one signature per member of the set, and a present signature must
//! name the member at its index; any inconsistency is a [`HeightError`], never a miss. No I/O,
//! no clock: the watcher and the one-shot analysis both call [`judge`].

use crate::address::Address;

/// One member of the validator set at a height, in CometBFT's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetMember {
    /// Consensus address.
    pub address: Address,
    /// Voting power.
    pub power: u64,
}

/// `block_id_flag` of a commit signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// 1: no vote received: a miss.
    Absent,
    /// 2: voted for the block.
    Commit,
    /// 3: voted nil: signed, for x/slashing.
    Nil,
}

impl Flag {
    /// From the numeric `block_id_flag`; `None` for anything else.
    pub fn from_code(code: u8) -> Option<Flag> {
        match code {
            1 => Some(Flag::Absent),
            2 => Some(Flag::Commit),
            3 => Some(Flag::Nil),
            _ => None,
        }
    }

    /// Whether x/slashing counts this vote as missed.
    pub fn is_missed(self) -> bool {
        self == Flag::Absent
    }
}

/// One signature of a commit: its flag and, for COMMIT and NIL, the signer's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitVote {
    /// The flag.
    pub flag: Flag,
    /// The validator address; `None` when absent (CometBFT sends an empty string).
    pub address: Option<Address>,
}

/// The parts of block H+1 and block H that judge height H.
#[derive(Debug, Clone, Copy)]
pub struct HeightInput<'a> {
    /// The height being judged.
    pub height: u64,
    /// Validator set at `height`, all pages, in CometBFT order.
    pub set: &'a [SetMember],
    /// `last_commit.height` of block `height + 1`.
    pub commit_height: u64,
    /// `last_commit.signatures` of block `height + 1`.
    pub votes: &'a [CommitVote],
    /// `header.proposer_address` of block `height`.
    pub proposer: Address,
    /// Number of transactions in block `height`.
    pub tx_count: usize,
}

/// What went wrong: the inputs do not describe the same height.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeightError {
    /// The commit is for another height.
    #[error("commit is for height {found}, expected {expected}")]
    CommitHeight {
        /// Height judged.
        expected: u64,
        /// Height the commit names.
        found: u64,
    },
    /// The commit and the set differ in size (wrong set, or wrong page assembly).
    #[error("height {height}: {votes} commit signatures for a set of {set} validators")]
    SizeMismatch {
        /// Height judged.
        height: u64,
        /// Signatures in the commit.
        votes: usize,
        /// Members of the set.
        set: usize,
    },
    /// A signature at `index` names another validator than the set's member at `index`.
    #[error("height {height}: signature {index} is by {found}, the set has {expected} there")]
    AddressMismatch {
        /// Height judged.
        height: u64,
        /// Index in the set.
        index: usize,
        /// Hex of the set member.
        expected: String,
        /// Hex of the signer.
        found: String,
    },
    /// The validator set is empty.
    #[error("height {0}: empty validator set")]
    EmptySet(u64),
}

/// The verdict of one height, indexed like the validator set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeightVerdict {
    /// The judged height.
    pub height: u64,
    /// Flag of each set member, by set index.
    pub flags: Vec<Flag>,
    /// Index in the set of the proposer of `height`, if the proposer is a member.
    pub proposer_index: Option<usize>,
    /// Whether block `height` had no transactions.
    pub empty_block: bool,
    /// Voting power that signed (COMMIT or NIL).
    pub signed_power: u64,
    /// Total voting power of the set.
    pub total_power: u64,
}

impl HeightVerdict {
    /// Whether the member at `index` missed (ABSENT).
    pub fn missed(&self, index: usize) -> bool {
        self.flags.get(index).is_some_and(|f| f.is_missed())
    }

    /// Whether more than 2/3 of the voting power signed: a miss then is the validator's own
    /// ("solo miss"), not the network's.
    pub fn supermajority_signed(&self) -> bool {
        // 128-bit products: powers are int64 in CometBFT, their sum fits u64, triples may not.
        u128::from(self.signed_power) * 3 > u128::from(self.total_power) * 2
    }

    /// Whether the member at `index` missed while more than 2/3 of the power signed.
    pub fn solo_miss(&self, index: usize) -> bool {
        self.missed(index) && self.supermajority_signed()
    }

    /// Number of members that missed.
    pub fn missed_count(&self) -> usize {
        self.flags.iter().filter(|f| f.is_missed()).count()
    }
}

/// Judges one height. Pure; linear in the set size.
pub fn judge(input: &HeightInput<'_>) -> Result<HeightVerdict, HeightError> {
    if input.commit_height != input.height {
        return Err(HeightError::CommitHeight {
            expected: input.height,
            found: input.commit_height,
        });
    }
    if input.set.is_empty() {
        return Err(HeightError::EmptySet(input.height));
    }
    if input.votes.len() != input.set.len() {
        return Err(HeightError::SizeMismatch {
            height: input.height,
            votes: input.votes.len(),
            set: input.set.len(),
        });
    }
    let mut flags = Vec::with_capacity(input.set.len());
    let mut signed_power = 0u64;
    let mut total_power = 0u64;
    let mut proposer_index = None;
    for (index, (member, vote)) in input.set.iter().zip(input.votes).enumerate() {
        if let Some(signer) = vote.address
            && signer != member.address
        {
            return Err(HeightError::AddressMismatch {
                height: input.height,
                index,
                expected: hex::encode_upper(member.address),
                found: hex::encode_upper(signer),
            });
        }
        total_power = total_power.saturating_add(member.power);
        if !vote.flag.is_missed() {
            signed_power = signed_power.saturating_add(member.power);
        }
        if member.address == input.proposer {
            proposer_index = Some(index);
        }
        flags.push(vote.flag);
    }
    Ok(HeightVerdict {
        height: input.height,
        flags,
        proposer_index,
        empty_block: input.tx_count == 0,
        signed_power,
        total_power,
    })
}

/// Verdicts built from one flag per set member, for tests of the modules that consume them.
#[cfg(test)]
pub(crate) fn verdict_for_tests(
    height: u64,
    set: &[SetMember],
    flags: &[Flag],
    proposer: u8,
    tx_count: usize,
) -> HeightVerdict {
    let votes: Vec<CommitVote> = set
        .iter()
        .zip(flags)
        .map(|(member, &flag)| CommitVote {
            flag,
            address: (flag != Flag::Absent).then_some(member.address),
        })
        .collect();
    judge(&HeightInput {
        height,
        set,
        commit_height: height,
        votes: &votes,
        proposer: [proposer; 20],
        tx_count,
    })
    .expect("consistent test input")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Address {
        [n; 20]
    }

    fn set(powers: &[u64]) -> Vec<SetMember> {
        powers
            .iter()
            .enumerate()
            .map(|(i, &power)| SetMember {
                address: addr(i as u8 + 1),
                power,
            })
            .collect()
    }

    fn votes(flags: &[Flag]) -> Vec<CommitVote> {
        flags
            .iter()
            .enumerate()
            .map(|(i, &flag)| CommitVote {
                flag,
                address: (flag != Flag::Absent).then_some(addr(i as u8 + 1)),
            })
            .collect()
    }

    fn input<'a>(set: &'a [SetMember], votes: &'a [CommitVote]) -> HeightInput<'a> {
        HeightInput {
            height: 10,
            set,
            commit_height: 10,
            votes,
            proposer: addr(2),
            tx_count: 0,
        }
    }

    #[test]
    fn nil_is_signed_absent_is_missed() {
        let set = set(&[10, 10, 10, 10]);
        let votes = votes(&[Flag::Commit, Flag::Nil, Flag::Absent, Flag::Commit]);
        let verdict = judge(&input(&set, &votes)).expect("consistent");
        assert_eq!(
            (0..4).map(|i| verdict.missed(i)).collect::<Vec<_>>(),
            [false, false, true, false]
        );
        assert_eq!(verdict.signed_power, 30);
        assert_eq!(verdict.total_power, 40);
        assert_eq!(verdict.proposer_index, Some(1));
        assert!(verdict.empty_block);
        assert!(verdict.solo_miss(2), "30/40 > 2/3 signed");
        assert!(!verdict.solo_miss(1), "NIL is not a miss");
    }

    #[test]
    fn solo_miss_is_weighted_by_power_not_count() {
        // 3 of 4 validators signed (by count > 2/3), but the absent one holds most power.
        let set = set(&[1, 1, 1, 97]);
        let votes = votes(&[Flag::Commit, Flag::Commit, Flag::Absent, Flag::Absent]);
        let verdict = judge(&input(&set, &votes)).expect("consistent");
        assert!(verdict.missed(2) && !verdict.solo_miss(2));
        // Exactly 2/3 is not more than 2/3.
        let set = self::set(&[1, 1, 1]);
        let votes = self::votes(&[Flag::Commit, Flag::Commit, Flag::Absent]);
        assert!(!judge(&input(&set, &votes)).expect("ok").solo_miss(2));
    }

    #[test]
    fn size_mismatch_and_wrong_height_are_errors_not_misses() {
        let set = set(&[10, 10, 10]);
        let short = votes(&[Flag::Commit, Flag::Commit]);
        assert!(matches!(
            judge(&input(&set, &short)),
            Err(HeightError::SizeMismatch {
                votes: 2,
                set: 3,
                ..
            })
        ));
        let full = votes(&[Flag::Commit; 3]);
        let mut wrong = input(&set, &full);
        wrong.commit_height = 11;
        assert!(matches!(
            judge(&wrong),
            Err(HeightError::CommitHeight { .. })
        ));
        assert!(matches!(
            judge(&input(&[], &[])),
            Err(HeightError::EmptySet(10))
        ));
    }

    #[test]
    fn validator_set_change_between_heights_is_judged_with_each_heights_set() {
        // Height 10: validators 1,2,3. Height 11: validator 4 joined at index 1.
        let at_10 = set(&[10, 10, 10]);
        let at_11 = vec![
            at_10[0],
            SetMember {
                address: addr(4),
                power: 10,
            },
            at_10[1],
            at_10[2],
        ];
        let commit_11 = vec![
            CommitVote {
                flag: Flag::Commit,
                address: Some(addr(1)),
            },
            CommitVote {
                flag: Flag::Absent,
                address: None,
            },
            CommitVote {
                flag: Flag::Commit,
                address: Some(addr(2)),
            },
            CommitVote {
                flag: Flag::Commit,
                address: Some(addr(3)),
            },
        ];
        let mut h11 = input(&at_11, &commit_11);
        h11.height = 11;
        h11.commit_height = 11;
        let verdict = judge(&h11).expect("consistent");
        assert!(verdict.missed(1), "the new validator at index 1 missed");
        assert!(
            !verdict.missed(2),
            "validator 2 moved to index 2 and signed"
        );
        // Judging height 11's commit with height 10's set is caught, not turned into misses.
        let mut stale = h11;
        stale.set = &at_10;
        assert!(matches!(
            judge(&stale),
            Err(HeightError::SizeMismatch { .. })
        ));
        // Same size but shuffled order is caught by the address check.
        let shuffled = vec![at_10[1], at_10[0], at_10[2]];
        let votes = votes(&[Flag::Commit; 3]);
        assert!(matches!(
            judge(&input(&shuffled, &votes)),
            Err(HeightError::AddressMismatch { index: 0, .. })
        ));
    }

    #[test]
    fn proposer_outside_the_set_is_none() {
        let set = set(&[5]);
        let votes = votes(&[Flag::Commit]);
        let mut i = input(&set, &votes);
        i.proposer = addr(99);
        i.tx_count = 3;
        let verdict = judge(&i).expect("ok");
        assert_eq!(verdict.proposer_index, None);
        assert!(!verdict.empty_block);
    }
}
