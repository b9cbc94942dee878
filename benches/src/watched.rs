//! The post-processing a watcher does after [`valwatch_ethereum::analysis::analyse_epoch`]:
//! each watched validator's outcome copied into the watcher's own per-validator records, and
//! the baseline that only reads the analyser's inputs once.
//!
//! The analyser's cost does not depend on the watched set; this extraction does. A watcher
//! keeps a dense table from validator index to its own record number ([`Watched`]), so the
//! extraction is one pass over the committee members with a table lookup each.

use valwatch_ethereum::analysis::{AttestationOutcome, EpochAnalysis, EpochData};

/// Marks a validator index that is not watched.
const NOT_WATCHED: u32 = u32::MAX;

/// A watched validator's attestation outcome, packed into 32 bits (what a watcher keeps per
/// validator and epoch): 0 = no duty seen; bit 31 = has a duty; bit 30 = included; bits 0..6
/// = flags (source, target, head timely; source, target, head correct); bits 8..16 = inclusion
/// delay and bits 16..24 = skip-adjusted delay, both saturating at 255.
pub type Record = u32;

/// Packs `outcome` into a [`Record`].
pub fn pack(outcome: &AttestationOutcome) -> Record {
    let delay = |d: Option<u64>| d.map_or(0, |d| d.min(255) as u32);
    (1 << 31)
        | u32::from(outcome.included()) << 30
        | u32::from(outcome.source_timely())
        | u32::from(outcome.target_timely()) << 1
        | u32::from(outcome.head_timely()) << 2
        | u32::from(outcome.source_correct()) << 3
        | u32::from(outcome.target_correct()) << 4
        | u32::from(outcome.head_correct()) << 5
        | delay(outcome.inclusion_delay()) << 8
        | delay(outcome.adjusted_delay()) << 16
}

/// The watched validators: validator index → record number.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Record number per validator index; empty when record number = validator index.
    record_of: Vec<u32>,
    /// One bit per validator index: watched or not (128 KB for a million validators, so the
    /// test for an unwatched validator stays in cache).
    bitmap: Vec<u64>,
    count: usize,
}

impl Watched {
    /// Every validator of `0..validators`, record number = validator index.
    pub fn all(validators: u32) -> Self {
        Watched {
            record_of: Vec::new(),
            bitmap: Vec::new(),
            count: validators as usize,
        }
    }

    /// `count` validators spread evenly over `0..validators` (every `validators / count`-th
    /// index), as a large operator's keys are spread over the registry.
    pub fn spread(validators: u32, count: u32) -> Self {
        let mut record_of = vec![NOT_WATCHED; validators as usize];
        let mut bitmap = vec![0u64; (validators as usize).div_ceil(64)];
        let step = (validators / count.max(1)).max(1);
        let mut n = 0u32;
        for index in (0..validators).step_by(step as usize).take(count as usize) {
            record_of[index as usize] = n;
            bitmap[index as usize / 64] |= 1 << (index % 64);
            n += 1;
        }
        Watched {
            record_of,
            bitmap,
            count: n as usize,
        }
    }

    /// Number of watched validators.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nobody is watched.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the packed outcome of every watched validator with a duty into `records`
    /// (indexed by record number, resized to [`Watched::len`], 0 = no duty); returns how many
    /// were written.
    pub fn extract(&self, analysis: &EpochAnalysis<'_>, records: &mut Vec<Record>) -> usize {
        records.clear();
        records.resize(self.count, 0);
        let members = analysis.committees.members();
        let mut copied = 0;
        if self.record_of.is_empty() {
            for (validator, outcome) in members.iter().zip(&analysis.outcomes) {
                if let Some(record) = records.get_mut(*validator as usize) {
                    *record = pack(outcome);
                    copied += 1;
                }
            }
            return copied;
        }
        for (validator, outcome) in members.iter().zip(&analysis.outcomes) {
            let v = *validator as usize;
            let watched = self
                .bitmap
                .get(v / 64)
                .is_some_and(|word| word >> (v % 64) & 1 == 1);
            if watched {
                records[self.record_of[v] as usize] = pack(outcome);
                copied += 1;
            }
        }
        copied
    }
}

/// The memory-bound floor: reads every decoded input of the analysis once (committee members,
/// every aggregate's bits, sync bits) and sums them. Anything the analyser does beyond reading
/// its inputs is measured against this.
pub fn baseline_sum(data: &EpochData) -> u64 {
    let mut sum: u64 = data
        .committees
        .members()
        .iter()
        .map(|&v| u64::from(v))
        .sum();
    for block in &data.blocks {
        for attestation in &block.attestations {
            sum += attestation.aggregation_bits.count_ones() as u64;
            sum += attestation.committee_bits;
        }
        if let Some(bits) = &block.sync_bits {
            sum += bits.iter().map(|b| u64::from(*b)).sum::<u64>();
        }
    }
    sum
}
