//! Sliding-window miss tracking, the way x/slashing keeps its missed-blocks bitmap.
//!
//! A window remembers, for the last `len` units (heights or epochs) of one validator and one
//! duty, whether the duty was performed or missed. A unit that was never recorded is *unknown*:
//! it counts neither as signed nor as missed, so a restart, an outage of the watcher or a unit
//! in which the validator had no duty never turns into a false miss.
//!
//! Storage is one bit per unit (the missed bitmap, a ring indexed by `unit % len`) plus a small
//! header. The known units are the range `[oldest, newest]` clipped to the window, minus a short
//! list of gaps (ranges skipped when units arrived out of order); that list is empty in the usual
//! in-order case, so a window costs about `len / 8` bytes plus a 32-byte header.
//!
//! [`MissWindow`] owns one window; [`WindowTable`] stores many windows of the same length in two
//! flat arrays, which is what a chain with hundreds of thousands of validators needs.

use std::ops::Range;

/// What recording a unit did to a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The unit was unknown before and is now known.
    New,
    /// The unit was already known with the same outcome: nothing changed (idempotent).
    Unchanged,
    /// The unit was known with the other outcome and was overwritten (for example after a reorg).
    Changed,
    /// The unit is older than the window: ignored.
    TooOld,
}

impl RecordOutcome {
    /// Whether the record changed what the window knows.
    pub fn is_new(self) -> bool {
        self == RecordOutcome::New
    }
}

/// A summary of one window, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStats {
    /// Units in the window whose outcome is known.
    pub known: u32,
    /// Known units in the window that were missed.
    pub missed: u32,
    /// Consecutive missed units ending at the newest known unit (unknown units are skipped, the
    /// count never reaches past the start of the window).
    pub streak: u32,
}

impl WindowStats {
    /// Share of known units that were performed, or `None` when nothing is known.
    pub fn uptime(&self) -> Option<f64> {
        (self.known > 0).then(|| f64::from(self.known - self.missed) / f64::from(self.known))
    }
}

/// Per-window bookkeeping; the missed bits live beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowHeader {
    /// Highest unit recorded. Meaningless while `oldest == EMPTY`.
    newest: u64,
    /// Lowest unit recorded (may lie before the window), or `EMPTY`.
    oldest: u64,
    /// Missed units among the known units of the window.
    missed: u32,
    /// Consecutive misses ending at `newest`, see [`WindowStats::streak`].
    streak: u32,
    /// Unknown ranges inside `[oldest, newest]`, sorted, disjoint, never empty ranges.
    // Boxed: 8 bytes in every header instead of 24, and gaps are rare.
    #[allow(clippy::box_collection)]
    gaps: Option<Box<Vec<Range<u64>>>>,
}

const EMPTY: u64 = u64::MAX;

impl WindowHeader {
    fn empty() -> Self {
        WindowHeader {
            oldest: EMPTY,
            ..Default::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.oldest == EMPTY
    }
}

fn words_for(len: u32) -> usize {
    (len as usize).div_ceil(64)
}

/// Read-only view of one window.
#[derive(Clone, Copy)]
struct View<'a> {
    len: u32,
    header: &'a WindowHeader,
    words: &'a [u64],
}

/// Mutable view of one window: all the logic lives here, once, for both storages.
struct ViewMut<'a> {
    len: u32,
    header: &'a mut WindowHeader,
    words: &'a mut [u64],
}

impl View<'_> {
    fn bit(&self, unit: u64) -> bool {
        let pos = unit % u64::from(self.len);
        self.words[(pos / 64) as usize] >> (pos % 64) & 1 == 1
    }

    /// First unit inside the window.
    fn window_start(&self) -> u64 {
        (self.header.newest + 1).saturating_sub(u64::from(self.len))
    }

    fn gaps(&self) -> &[Range<u64>] {
        self.header.gaps.as_deref().map_or(&[], |g| g.as_slice())
    }

    fn is_known(&self, unit: u64) -> bool {
        !self.header.is_empty()
            && unit >= self.window_start().max(self.header.oldest)
            && unit <= self.header.newest
            && !self.gaps().iter().any(|g| g.contains(&unit))
    }

    fn known(&self) -> u32 {
        if self.header.is_empty() {
            return 0;
        }
        let start = self.window_start().max(self.header.oldest);
        let span = self.header.newest + 1 - start;
        let unknown: u64 = self
            .gaps()
            .iter()
            .map(|g| g.end.saturating_sub(g.start.max(start)))
            .sum();
        (span - unknown) as u32
    }

    fn stats(&self) -> WindowStats {
        WindowStats {
            known: self.known(),
            missed: self.header.missed,
            streak: self.header.streak,
        }
    }

    /// Known units of the window in ascending order, with their outcome (`true` = missed).
    fn iter_known(self) -> impl Iterator<Item = (u64, bool)> + 'static {
        let (start, end) = if self.header.is_empty() {
            (1, 0)
        } else {
            (
                self.window_start().max(self.header.oldest),
                self.header.newest,
            )
        };
        let gaps: Vec<Range<u64>> = self.gaps().to_vec();
        let bits: Vec<(u64, bool)> = (start..=end)
            .filter(|u| !gaps.iter().any(|g| g.contains(u)))
            .map(|u| (u, self.bit(u)))
            .collect();
        bits.into_iter()
    }

    fn compute_streak(&self) -> u32 {
        if self.header.is_empty() {
            return 0;
        }
        let start = self.window_start().max(self.header.oldest);
        let mut streak = 0;
        let mut unit = self.header.newest;
        loop {
            if !self.gaps().iter().any(|g| g.contains(&unit)) {
                if !self.bit(unit) {
                    break;
                }
                streak += 1;
            }
            if unit == start {
                break;
            }
            unit -= 1;
        }
        streak
    }
}

impl ViewMut<'_> {
    fn view(&self) -> View<'_> {
        View {
            len: self.len,
            header: self.header,
            words: self.words,
        }
    }

    fn set_bit(&mut self, unit: u64, missed: bool) {
        let pos = unit % u64::from(self.len);
        let word = &mut self.words[(pos / 64) as usize];
        let mask = 1u64 << (pos % 64);
        if missed {
            *word |= mask;
        } else {
            *word &= !mask;
        }
    }

    fn gaps_mut(&mut self) -> &mut Vec<Range<u64>> {
        self.header.gaps.get_or_insert_with(Default::default)
    }

    fn tidy_gaps(&mut self) {
        let start = self.view().window_start();
        if let Some(gaps) = self.header.gaps.as_mut() {
            gaps.retain(|g| g.end > start);
            if gaps.is_empty() {
                self.header.gaps = None;
            }
        }
    }

    /// Counts the outcome of a new newest unit (its bit already set) in `missed` and `streak`.
    fn count_newest(&mut self, missed: bool) {
        if missed {
            self.header.missed += 1;
            self.header.streak += 1;
            // The streak can never be longer than what the window knows.
            self.header.streak = self.header.streak.min(self.view().known());
        } else {
            self.header.streak = 0;
        }
    }

    fn record(&mut self, unit: u64, missed: bool) -> RecordOutcome {
        let len = u64::from(self.len);
        if self.header.is_empty() {
            *self.header = WindowHeader {
                newest: unit,
                oldest: unit,
                missed: u32::from(missed),
                streak: u32::from(missed),
                gaps: None,
            };
            self.words.fill(0);
            self.set_bit(unit, missed);
            return RecordOutcome::New;
        }
        let newest = self.header.newest;
        if unit == newest + 1 && self.header.gaps.is_none() {
            // The common case, one unit after the other: the position of `unit` held the unit
            // that leaves the window. One division instead of three.
            let pos = unit % len;
            let word = &mut self.words[(pos / 64) as usize];
            let mask = 1u64 << (pos % 64);
            if *word & mask != 0 {
                self.header.missed -= 1;
            }
            if missed {
                *word |= mask;
            } else {
                *word &= !mask;
            }
            self.header.newest = unit;
            self.count_newest(missed);
            return RecordOutcome::New;
        }
        if unit > newest {
            let advance = unit - newest;
            if advance >= len {
                self.words.fill(0);
                self.header.missed = 0;
                self.header.gaps = None;
                self.header.oldest = unit;
                self.header.streak = 0;
            } else {
                // Positions newest+1..=unit are reused: they held units that leave the window.
                for reused in newest + 1..=unit {
                    if self.view().bit(reused) {
                        self.header.missed -= 1;
                        self.set_bit(reused, false);
                    }
                }
                if advance > 1 {
                    self.gaps_mut().push(newest + 1..unit);
                }
            }
            self.header.newest = unit;
            self.tidy_gaps();
            self.set_bit(unit, missed);
            self.count_newest(missed);
            return RecordOutcome::New;
        }
        if unit < self.view().window_start() {
            return RecordOutcome::TooOld;
        }
        let outcome = if unit < self.header.oldest {
            if unit + 1 < self.header.oldest {
                let gap = unit + 1..self.header.oldest;
                self.gaps_mut().insert(0, gap);
            }
            self.header.oldest = unit;
            RecordOutcome::New
        } else if let Some(pos) = self
            .header
            .gaps
            .as_ref()
            .and_then(|g| g.iter().position(|r| r.contains(&unit)))
        {
            let gaps = self.gaps_mut();
            let gap = gaps.remove(pos);
            if unit + 1 < gap.end {
                gaps.insert(pos, unit + 1..gap.end);
            }
            if gap.start < unit {
                gaps.insert(pos, gap.start..unit);
            }
            RecordOutcome::New
        } else if self.view().bit(unit) == missed {
            return RecordOutcome::Unchanged;
        } else {
            RecordOutcome::Changed
        };
        self.tidy_gaps();
        let was_missed = outcome == RecordOutcome::Changed && !missed;
        if missed {
            self.header.missed += 1;
        } else if was_missed {
            self.header.missed -= 1;
        }
        self.set_bit(unit, missed);
        self.header.streak = self.view().compute_streak();
        outcome
    }
}

impl ViewMut<'_> {
    /// Makes `unit` unknown again (a reorg removed the duty); `false` when it was not known.
    fn forget(&mut self, unit: u64) -> bool {
        if !self.view().is_known(unit) {
            return false;
        }
        let was_missed = self.view().bit(unit);
        self.set_bit(unit, false);
        if was_missed {
            self.header.missed -= 1;
        }
        let start = self.view().window_start().max(self.header.oldest);
        if unit == self.header.newest {
            if unit == start {
                *self.header = WindowHeader::empty();
                return true;
            }
            // The previous known unit becomes the newest; units that had left the window stay
            // gone, so the window may not reach back past its old start.
            let mut newest = unit - 1;
            if let Some(gap) = self
                .header
                .gaps
                .as_ref()
                .and_then(|gaps| gaps.iter().find(|g| g.end == unit))
            {
                if gap.start <= start {
                    // Nothing known is left in the window.
                    *self.header = WindowHeader::empty();
                    return true;
                }
                newest = gap.start - 1;
            }
            self.header.newest = newest;
            self.header.oldest = start;
            if let Some(gaps) = self.header.gaps.as_mut() {
                gaps.retain(|g| g.end <= newest && g.end > start);
                // The old start may lie in a gap: the oldest known unit follows it.
                if gaps.first().is_some_and(|g| g.start <= start) {
                    self.header.oldest = gaps.remove(0).end;
                }
            }
        } else if unit == start {
            let mut oldest = unit + 1;
            if let Some(gaps) = self.header.gaps.as_mut()
                && let Some(pos) = gaps.iter().position(|g| g.start == oldest)
            {
                oldest = gaps.remove(pos).end;
            }
            self.header.oldest = oldest;
        } else {
            let gaps = self.gaps_mut();
            let before = gaps.iter().position(|g| g.end == unit);
            let after = gaps.iter().position(|g| g.start == unit + 1);
            match (before, after) {
                (Some(b), Some(a)) => {
                    gaps[b].end = gaps[a].end;
                    gaps.remove(a);
                }
                (Some(b), None) => gaps[b].end = unit + 1,
                (None, Some(a)) => gaps[a].start = unit,
                (None, None) => {
                    let at = gaps.partition_point(|g| g.start < unit);
                    gaps.insert(at, unit..unit + 1);
                }
            }
        }
        self.tidy_gaps();
        self.header.streak = self.view().compute_streak();
        true
    }
}

/// One validator's window for one duty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissWindow {
    len: u32,
    header: WindowHeader,
    words: Box<[u64]>,
}

impl MissWindow {
    /// An empty window of `len` units (at least 1).
    pub fn new(len: u32) -> Self {
        let len = len.max(1);
        MissWindow {
            len,
            header: WindowHeader::empty(),
            words: vec![0; words_for(len)].into_boxed_slice(),
        }
    }

    /// The window length in units.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether nothing was ever recorded.
    pub fn is_empty(&self) -> bool {
        self.header.is_empty()
    }

    /// Records the outcome of `unit` (`missed = true` for a miss).
    pub fn record(&mut self, unit: u64, missed: bool) -> RecordOutcome {
        ViewMut {
            len: self.len,
            header: &mut self.header,
            words: &mut self.words,
        }
        .record(unit, missed)
    }

    fn view(&self) -> View<'_> {
        View {
            len: self.len,
            header: &self.header,
            words: &self.words,
        }
    }

    /// Counts for metrics.
    pub fn stats(&self) -> WindowStats {
        self.view().stats()
    }

    /// Makes `unit` unknown again, as if never recorded (a reorg removed the duty: a slot
    /// became empty). `false` when it was not known.
    pub fn forget(&mut self, unit: u64) -> bool {
        ViewMut {
            len: self.len,
            header: &mut self.header,
            words: &mut self.words,
        }
        .forget(unit)
    }

    /// The outcome of `unit`: `Some(true)` missed, `Some(false)` performed, `None` unknown.
    pub fn get(&self, unit: u64) -> Option<bool> {
        let view = self.view();
        view.is_known(unit).then(|| view.bit(unit))
    }

    /// The newest unit recorded.
    pub fn newest(&self) -> Option<u64> {
        (!self.header.is_empty()).then_some(self.header.newest)
    }

    /// Known units in ascending order with their outcome (`true` = missed).
    pub fn iter_known(&self) -> impl Iterator<Item = (u64, bool)> + 'static {
        self.view().iter_known()
    }
}

/// Many windows of one length, stored flat: `len / 64` words plus one header per validator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowTable {
    len: u32,
    words_per_window: usize,
    headers: Vec<WindowHeader>,
    words: Vec<u64>,
}

impl WindowTable {
    /// A table of `count` empty windows of `len` units.
    pub fn new(len: u32, count: usize) -> Self {
        let len = len.max(1);
        let words_per_window = words_for(len);
        WindowTable {
            len,
            words_per_window,
            headers: vec![WindowHeader::empty(); count],
            words: vec![0; words_per_window * count],
        }
    }

    /// The window length in units.
    pub fn window_len(&self) -> u32 {
        self.len
    }

    /// The number of windows.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// Whether the table holds no window.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    fn view(&self, index: usize) -> View<'_> {
        let words = &self.words[index * self.words_per_window..(index + 1) * self.words_per_window];
        View {
            len: self.len,
            header: &self.headers[index],
            words,
        }
    }

    /// Records the outcome of `unit` in window `index`. Panics if `index` is out of range.
    pub fn record(&mut self, index: usize, unit: u64, missed: bool) -> RecordOutcome {
        let words =
            &mut self.words[index * self.words_per_window..(index + 1) * self.words_per_window];
        ViewMut {
            len: self.len,
            header: &mut self.headers[index],
            words,
        }
        .record(unit, missed)
    }

    /// Makes `unit` of window `index` unknown again; `false` when it was not known.
    pub fn forget(&mut self, index: usize, unit: u64) -> bool {
        let words =
            &mut self.words[index * self.words_per_window..(index + 1) * self.words_per_window];
        ViewMut {
            len: self.len,
            header: &mut self.headers[index],
            words,
        }
        .forget(unit)
    }

    /// Counts of window `index`.
    pub fn stats(&self, index: usize) -> WindowStats {
        self.view(index).stats()
    }

    /// The outcome of `unit` in window `index`, `None` when unknown.
    pub fn get(&self, index: usize, unit: u64) -> Option<bool> {
        let view = self.view(index);
        view.is_known(unit).then(|| view.bit(unit))
    }

    /// Known units of window `index`, ascending, with their outcome (`true` = missed).
    pub fn iter_known(&self, index: usize) -> impl Iterator<Item = (u64, bool)> + 'static {
        self.view(index).iter_known()
    }

    /// Copies window `index` out as an owned [`MissWindow`].
    pub fn to_window(&self, index: usize) -> MissWindow {
        let view = self.view(index);
        MissWindow {
            len: self.len,
            header: view.header.clone(),
            words: view.words.to_vec().into_boxed_slice(),
        }
    }

    /// Grows the table to `count` windows, the new ones empty (in place: the existing windows
    /// keep their index).
    pub fn grow(&mut self, count: usize) {
        if count > self.headers.len() {
            self.headers.resize(count, WindowHeader::empty());
            self.words.resize(count * self.words_per_window, 0);
        }
    }

    /// Appends `window` (replayed when its length differs from the table's) and returns its
    /// index.
    pub fn push_window(&mut self, window: &MissWindow) -> usize {
        let index = self.headers.len();
        self.headers.push(WindowHeader::empty());
        self.words
            .resize(self.words.len() + self.words_per_window, 0);
        self.put_window(index, window);
        index
    }

    /// Calls `visit(index, stats)` for every window that knows something, in index order: one
    /// tight pass over the headers (the bitmaps are not touched).
    pub fn for_each_known(&self, mut visit: impl FnMut(u32, WindowStats)) {
        for (index, header) in self.headers.iter().enumerate() {
            if header.is_empty() {
                continue;
            }
            let view = View {
                len: self.len,
                header,
                words: &[],
            };
            visit(index as u32, view.stats());
        }
    }

    /// The windows of another validator set: window `new` is this table's window
    /// `old_of_new[new]`, or empty where that is `u32::MAX`. Copied in place, without a
    /// window object per validator.
    pub fn remap(&self, old_of_new: &[u32]) -> WindowTable {
        let mut table = WindowTable::new(self.len, old_of_new.len());
        let words = self.words_per_window;
        for (new, old) in old_of_new.iter().enumerate() {
            let old = *old as usize;
            if old >= self.headers.len() || self.headers[old].is_empty() {
                continue;
            }
            table.headers[new] = self.headers[old].clone();
            table.words[new * words..(new + 1) * words]
                .copy_from_slice(&self.words[old * words..(old + 1) * words]);
        }
        table
    }

    /// Stores `window` at `index`, replaying it when its length differs from the table's
    /// (the newest units are kept).
    pub fn put_window(&mut self, index: usize, window: &MissWindow) {
        if window.len == self.len {
            self.headers[index] = window.header.clone();
            let start = index * self.words_per_window;
            self.words[start..start + self.words_per_window].copy_from_slice(&window.words);
        } else {
            self.headers[index] = WindowHeader::empty();
            for (unit, missed) in window.iter_known() {
                self.record(index, unit, missed);
            }
        }
    }
}

/// The raw parts of a window, for persistence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowParts {
    /// Window length.
    pub len: u32,
    /// Newest unit, `None` for an empty window.
    pub newest: Option<u64>,
    /// Oldest recorded unit.
    pub oldest: u64,
    /// Unknown ranges inside `[oldest, newest]`.
    pub gaps: Vec<Range<u64>>,
    /// The missed bitmap, `len.div_ceil(64)` words.
    pub words: Vec<u64>,
}

/// The raw parts of a window, borrowed: what persistence writes, without copying the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPartsRef<'a> {
    /// Window length.
    pub len: u32,
    /// Newest unit, `None` for an empty window.
    pub newest: Option<u64>,
    /// Oldest recorded unit.
    pub oldest: u64,
    /// Unknown ranges inside `[oldest, newest]`.
    pub gaps: &'a [Range<u64>],
    /// The missed bitmap.
    pub words: &'a [u64],
}

impl<'a> View<'a> {
    fn parts(self) -> WindowPartsRef<'a> {
        WindowPartsRef {
            len: self.len,
            newest: (!self.header.is_empty()).then_some(self.header.newest),
            oldest: self.header.oldest,
            gaps: self.header.gaps.as_deref().map_or(&[], |g| g.as_slice()),
            words: self.words,
        }
    }
}

impl MissWindow {
    /// The window's parts, borrowed.
    pub fn parts_ref(&self) -> WindowPartsRef<'_> {
        self.view().parts()
    }
}

impl WindowTable {
    /// The parts of window `index`, borrowed.
    pub fn parts_ref(&self, index: usize) -> WindowPartsRef<'_> {
        self.view(index).parts()
    }
}

/// Why stored window parts were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("inconsistent window data: {0}")]
pub struct WindowPartsError(&'static str);

impl MissWindow {
    /// Splits the window into plain parts.
    pub fn to_parts(&self) -> WindowParts {
        let parts = self.parts_ref();
        WindowParts {
            len: parts.len,
            newest: parts.newest,
            oldest: parts.oldest,
            gaps: parts.gaps.to_vec(),
            words: parts.words.to_vec(),
        }
    }

    /// Rebuilds a window from parts, checking every invariant (the parts may come from a damaged
    /// file); derived counts are recomputed rather than trusted.
    pub fn from_parts(parts: WindowParts) -> Result<Self, WindowPartsError> {
        if parts.len == 0 {
            return Err(WindowPartsError("zero length"));
        }
        if parts.words.len() != words_for(parts.len) {
            return Err(WindowPartsError("bitmap size does not match the length"));
        }
        let Some(newest) = parts.newest else {
            return Ok(MissWindow::new(parts.len));
        };
        if parts.oldest > newest || newest == EMPTY {
            return Err(WindowPartsError("oldest unit after newest"));
        }
        let mut previous_end = parts.oldest + 1;
        for gap in &parts.gaps {
            if gap.start < previous_end || gap.end <= gap.start || gap.end > newest {
                return Err(WindowPartsError("gaps out of order or out of range"));
            }
            previous_end = gap.end + 1;
        }
        let mut window = MissWindow {
            len: parts.len,
            header: WindowHeader {
                newest,
                oldest: parts.oldest,
                missed: 0,
                streak: 0,
                gaps: (!parts.gaps.is_empty()).then(|| Box::new(parts.gaps)),
            },
            words: parts.words.into_boxed_slice(),
        };
        // Bits of units that are not known must be clear; recount the rest.
        let start = window.view().window_start();
        let mut missed = 0;
        for unit in start..start + u64::from(window.len) {
            let bit = window.view().bit(unit);
            if window.view().is_known(unit) {
                missed += u32::from(bit);
            } else if bit {
                return Err(WindowPartsError("a bit is set for an unknown unit"));
            }
        }
        window.header.missed = missed;
        window.header.streak = window.view().compute_streak();
        Ok(window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_window_costs_len_over_8_bytes_plus_a_32_byte_header() {
        assert_eq!(std::mem::size_of::<WindowHeader>(), 32);
        let table = WindowTable::new(10_000, 3);
        assert_eq!(table.words.len() * 8, 3 * 10_000usize.div_ceil(64) * 8);
    }

    #[test]
    fn unknown_units_are_never_misses() {
        let mut w = MissWindow::new(10);
        assert_eq!(w.stats(), WindowStats::default());
        assert_eq!(w.record(100, false), RecordOutcome::New);
        assert_eq!(w.record(105, true), RecordOutcome::New);
        let stats = w.stats();
        assert_eq!((stats.known, stats.missed, stats.streak), (2, 1, 1));
        assert_eq!(w.get(102), None);
        assert_eq!(w.get(105), Some(true));
        assert_eq!(stats.uptime(), Some(0.5));
    }

    #[test]
    fn recording_twice_is_idempotent_and_a_reorg_overwrites() {
        let mut w = MissWindow::new(8);
        w.record(1, true);
        assert_eq!(w.record(1, true), RecordOutcome::Unchanged);
        assert_eq!(w.stats().missed, 1);
        assert_eq!(w.record(1, false), RecordOutcome::Changed);
        assert_eq!(w.stats().missed, 0);
    }

    #[test]
    fn old_units_leave_the_window() {
        let mut w = MissWindow::new(4);
        for unit in 0..4 {
            w.record(unit, true);
        }
        assert_eq!(w.stats().missed, 4);
        w.record(4, false);
        assert_eq!(w.stats().missed, 3);
        assert_eq!(w.record(0, true), RecordOutcome::TooOld);
        w.record(100, true);
        assert_eq!(
            w.stats(),
            WindowStats {
                known: 1,
                missed: 1,
                streak: 1
            }
        );
    }

    #[test]
    fn late_unit_fills_a_gap_and_breaks_the_streak() {
        let mut w = MissWindow::new(16);
        w.record(1, true);
        w.record(3, true);
        assert_eq!(w.stats().streak, 2);
        w.record(2, false);
        assert_eq!(w.stats().streak, 1);
        assert_eq!(w.stats().known, 3);
    }

    #[test]
    fn parts_round_trip_and_damage_is_refused() {
        let mut w = MissWindow::new(70);
        for unit in [5, 9, 10, 64, 69, 75] {
            w.record(unit, unit % 2 == 1);
        }
        let parts = w.to_parts();
        assert_eq!(MissWindow::from_parts(parts.clone()).as_ref(), Ok(&w));
        let mut damaged = parts.clone();
        damaged.words.push(0);
        assert!(MissWindow::from_parts(damaged).is_err());
        let mut damaged = parts;
        damaged.gaps = std::iter::once(70..80).collect();
        assert!(MissWindow::from_parts(damaged).is_err());
    }

    #[test]
    fn table_matches_single_windows_and_resizes() {
        let mut table = WindowTable::new(10, 3);
        let mut single = MissWindow::new(10);
        for unit in 0..25 {
            table.record(1, unit, unit % 3 == 0);
            single.record(unit, unit % 3 == 0);
        }
        assert_eq!(table.to_window(1), single);
        assert_eq!(table.stats(0), WindowStats::default());
        let mut smaller = WindowTable::new(5, 1);
        smaller.put_window(0, &single);
        assert_eq!(smaller.stats(0).known, 5);
        assert_eq!(
            smaller.iter_known(0).collect::<Vec<_>>(),
            single.iter_known().skip(5).collect::<Vec<_>>()
        );
    }

    /// The same rules, written the obvious way: a map of every unit ever recorded.
    struct Model {
        len: u64,
        units: BTreeMap<u64, bool>,
    }

    impl Model {
        fn record(&mut self, unit: u64, missed: bool) -> RecordOutcome {
            let newest = self.units.keys().next_back().copied();
            if let Some(newest) = newest {
                if unit + self.len <= newest {
                    return RecordOutcome::TooOld;
                }
            }
            let outcome = match self.units.insert(unit, missed) {
                None => RecordOutcome::New,
                Some(old) if old == missed => RecordOutcome::Unchanged,
                Some(_) => RecordOutcome::Changed,
            };
            let newest = self.units.keys().next_back().copied().unwrap_or(0);
            self.units.retain(|u, _| u + self.len > newest);
            outcome
        }

        fn forget(&mut self, unit: u64) -> bool {
            self.units.remove(&unit).is_some()
        }

        fn stats(&self) -> WindowStats {
            let missed = self.units.values().filter(|m| **m).count() as u32;
            let streak = self.units.values().rev().take_while(|m| **m).count() as u32;
            WindowStats {
                known: self.units.len() as u32,
                missed,
                streak,
            }
        }
    }

    proptest! {
        #[test]
        fn window_agrees_with_the_naive_model(
            len in 1u32..150,
            ops in proptest::collection::vec((0u64..400, any::<bool>()), 1..300),
        ) {
            let mut window = MissWindow::new(len);
            let mut table = WindowTable::new(len, 2);
            let mut model = Model { len: u64::from(len), units: BTreeMap::new() };
            for (unit, missed) in ops {
                let expected = model.record(unit, missed);
                prop_assert_eq!(window.record(unit, missed), expected);
                prop_assert_eq!(table.record(1, unit, missed), expected);
                prop_assert_eq!(window.stats(), model.stats());
                prop_assert_eq!(table.stats(1), model.stats());
            }
            let known: Vec<(u64, bool)> = model.units.iter().map(|(u, m)| (*u, *m)).collect();
            prop_assert_eq!(window.iter_known().collect::<Vec<_>>(), known);
            let parts = window.to_parts();
            prop_assert_eq!(MissWindow::from_parts(parts), Ok(window));
        }

        #[test]
        fn forgetting_units_agrees_with_the_naive_model(
            len in 1u32..100,
            ops in proptest::collection::vec((0u64..4, 0u8..5), 1..400),
        ) {
            let mut window = MissWindow::new(len);
            let mut table = WindowTable::new(len, 2);
            let mut model = Model { len: u64::from(len), units: BTreeMap::new() };
            let mut head = 0u64;
            for (step, action) in ops {
                // Mostly forward, with records and forgets of recent units.
                head += step;
                let unit = head.saturating_sub(u64::from(action % 3));
                if action >= 3 {
                    let expected = model.forget(unit);
                    prop_assert_eq!(window.forget(unit), expected);
                    prop_assert_eq!(table.forget(1, unit), expected);
                } else {
                    let missed = action == 1;
                    let expected = model.record(unit, missed);
                    prop_assert_eq!(window.record(unit, missed), expected);
                    prop_assert_eq!(table.record(1, unit, missed), expected);
                }
                prop_assert_eq!(window.stats(), model.stats());
                prop_assert_eq!(table.stats(1), model.stats());
                let known: Vec<(u64, bool)> = model.units.iter().map(|(u, m)| (*u, *m)).collect();
                prop_assert_eq!(window.iter_known().collect::<Vec<_>>(), known);
                let parts = window.to_parts();
                prop_assert_eq!(MissWindow::from_parts(parts), Ok(window.clone()));
            }
        }

        #[test]
        fn mostly_in_order_streams_agree_too(
            len in 1u32..100,
            steps in proptest::collection::vec((0u64..4, any::<bool>()), 1..400),
        ) {
            let mut window = MissWindow::new(len);
            let mut model = Model { len: u64::from(len), units: BTreeMap::new() };
            let mut unit = 1_000_000u64;
            for (step, missed) in steps {
                // Steps of 0 repeat a unit, 1 is in order, 2 and 3 leave gaps; every 7th unit
                // goes back to fill an earlier gap.
                unit += step;
                let target = if unit % 7 == 0 { unit - 2 } else { unit };
                prop_assert_eq!(window.record(target, missed), model.record(target, missed));
                prop_assert_eq!(window.stats(), model.stats());
            }
        }
    }
}
