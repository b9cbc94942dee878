//! The windows of one duty for every watched validator, stored densely or sparsely.
//!
//! A duty every validator has each unit (attesting, signing blocks) uses a dense
//! [`WindowTable`]: one header and `len / 8` bytes per validator, in two flat arrays. A duty
//! that falls to a few validators now and then (proposing, sync-committee membership) would
//! spend that on validators that never have it: it uses a map holding windows only for the
//! validators that ever had the duty.

use std::collections::HashMap;

use crate::window::{MissWindow, RecordOutcome, WindowPartsRef, WindowStats, WindowTable};

/// Windows of one duty, indexed by validator id.
#[derive(Debug, Clone)]
pub enum DutyWindows {
    /// Every validator has a window.
    Dense(WindowTable),
    /// Only validators that had the duty have a window.
    Sparse {
        /// Window length.
        len: u32,
        /// Number of validators (ids are below it).
        count: usize,
        /// The windows that exist.
        windows: HashMap<u32, MissWindow>,
    },
}

impl DutyWindows {
    /// Empty windows of `len` units for `count` validators.
    pub fn new(len: u32, count: usize, sparse: bool) -> Self {
        if sparse {
            DutyWindows::Sparse {
                len: len.max(1),
                count,
                windows: HashMap::new(),
            }
        } else {
            DutyWindows::Dense(WindowTable::new(len, count))
        }
    }

    /// The same kind of storage, empty, for another length or count.
    pub fn empty_like(&self, len: u32, count: usize) -> Self {
        Self::new(len, count, self.is_sparse())
    }

    /// Grows to `count` validators, the new ones without a window; existing ids keep theirs.
    pub fn grow(&mut self, count: usize) {
        match self {
            DutyWindows::Dense(table) => table.grow(count),
            DutyWindows::Sparse { count: current, .. } => *current = (*current).max(count),
        }
    }

    /// The windows of another validator set: validator `new` takes over the window of
    /// `old_of_new[new]` (`u32::MAX`: none, it starts empty).
    pub fn remap(&self, old_of_new: &[u32]) -> Self {
        match self {
            DutyWindows::Dense(table) => DutyWindows::Dense(table.remap(old_of_new)),
            DutyWindows::Sparse {
                len,
                count,
                windows,
            } => {
                let mut new_of_old = vec![u32::MAX; *count];
                for (new, old) in old_of_new.iter().enumerate() {
                    if let Some(slot) = new_of_old.get_mut(*old as usize) {
                        *slot = new as u32;
                    }
                }
                let new_of = |old: u32| new_of_old.get(old as usize).copied();
                DutyWindows::Sparse {
                    len: *len,
                    count: old_of_new.len(),
                    windows: windows
                        .iter()
                        .filter_map(|(old, window)| {
                            let new = new_of(*old).filter(|n| *n != u32::MAX)?;
                            Some((new, window.clone()))
                        })
                        .collect(),
                }
            }
        }
    }

    /// Whether windows exist only for validators that had the duty.
    pub fn is_sparse(&self) -> bool {
        matches!(self, DutyWindows::Sparse { .. })
    }

    /// Window length in units.
    pub fn window_len(&self) -> u32 {
        match self {
            DutyWindows::Dense(table) => table.window_len(),
            DutyWindows::Sparse { len, .. } => *len,
        }
    }

    /// Number of validators.
    pub fn count(&self) -> usize {
        match self {
            DutyWindows::Dense(table) => table.len(),
            DutyWindows::Sparse { count, .. } => *count,
        }
    }

    /// Records `unit` for validator `index`.
    pub fn record(&mut self, index: u32, unit: u64, missed: bool) -> RecordOutcome {
        match self {
            DutyWindows::Dense(table) => table.record(index as usize, unit, missed),
            DutyWindows::Sparse { len, windows, .. } => windows
                .entry(index)
                .or_insert_with(|| MissWindow::new(*len))
                .record(unit, missed),
        }
    }

    /// Makes `unit` of validator `index` unknown again; `false` when it was not known.
    pub fn forget(&mut self, index: u32, unit: u64) -> bool {
        match self {
            DutyWindows::Dense(table) => table.forget(index as usize, unit),
            DutyWindows::Sparse { windows, .. } => {
                let Some(window) = windows.get_mut(&index) else {
                    return false;
                };
                let forgotten = window.forget(unit);
                if window.is_empty() {
                    windows.remove(&index);
                }
                forgotten
            }
        }
    }

    /// The outcome of `unit` for validator `index`, `None` when unknown.
    pub fn get(&self, index: u32, unit: u64) -> Option<bool> {
        match self {
            DutyWindows::Dense(table) => table.get(index as usize, unit),
            DutyWindows::Sparse { windows, .. } => windows.get(&index)?.get(unit),
        }
    }

    /// Counts of validator `index` (all zero when it never had the duty).
    pub fn stats(&self, index: u32) -> WindowStats {
        match self {
            DutyWindows::Dense(table) => table.stats(index as usize),
            DutyWindows::Sparse { windows, .. } => windows
                .get(&index)
                .map(MissWindow::stats)
                .unwrap_or_default(),
        }
    }

    /// The window of validator `index`, `None` when nothing is known.
    pub fn window(&self, index: u32) -> Option<MissWindow> {
        let window = match self {
            DutyWindows::Dense(table) => table.to_window(index as usize),
            DutyWindows::Sparse { windows, .. } => windows.get(&index)?.clone(),
        };
        (!window.is_empty()).then_some(window)
    }

    /// Stores `window` for validator `index` (replayed when its length differs).
    pub fn put(&mut self, index: u32, window: &MissWindow) {
        match self {
            DutyWindows::Dense(table) => table.put_window(index as usize, window),
            DutyWindows::Sparse { len, windows, .. } => {
                let mut own = MissWindow::new(*len);
                if window.len() == *len {
                    own = window.clone();
                } else {
                    for (unit, missed) in window.iter_known() {
                        own.record(unit, missed);
                    }
                }
                if !own.is_empty() {
                    windows.insert(index, own);
                }
            }
        }
    }

    /// The parts of validator `index`'s window, borrowed; `None` when nothing is known.
    pub fn parts(&self, index: u32) -> Option<WindowPartsRef<'_>> {
        let parts = match self {
            DutyWindows::Dense(table) => table.parts_ref(index as usize),
            DutyWindows::Sparse { windows, .. } => windows.get(&index)?.parts_ref(),
        };
        parts.newest.map(|_| parts)
    }

    /// Calls `visit(id, stats)` for every validator whose window knows something: ascending
    /// for dense storage, in no particular order for sparse storage. The fast form of
    /// [`DutyWindows::known`].
    pub fn for_each_known(&self, mut visit: impl FnMut(u32, WindowStats)) {
        match self {
            DutyWindows::Dense(table) => table.for_each_known(visit),
            DutyWindows::Sparse { windows, .. } => {
                for (index, window) in windows {
                    let stats = window.stats();
                    if stats.known > 0 {
                        visit(*index, stats);
                    }
                }
            }
        }
    }

    /// Ids of the validators whose window knows something, with their counts, ascending for
    /// dense storage and in no particular order for sparse storage.
    pub fn known(&self) -> Box<dyn Iterator<Item = (u32, WindowStats)> + '_> {
        match self {
            DutyWindows::Dense(table) => Box::new(
                (0..table.len() as u32)
                    .map(|index| (index, table.stats(index as usize)))
                    .filter(|(_, stats)| stats.known > 0),
            ),
            DutyWindows::Sparse { windows, .. } => Box::new(
                windows
                    .iter()
                    .map(|(index, window)| (*index, window.stats()))
                    .filter(|(_, stats)| stats.known > 0),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_dense_agree() {
        let mut dense = DutyWindows::new(16, 10, false);
        let mut sparse = DutyWindows::new(16, 10, true);
        for (index, unit, missed) in [(3, 5, true), (3, 6, false), (7, 9, true), (3, 5, true)] {
            assert_eq!(
                dense.record(index, unit, missed),
                sparse.record(index, unit, missed)
            );
        }
        for index in 0..10 {
            assert_eq!(dense.stats(index), sparse.stats(index));
            assert_eq!(dense.window(index), sparse.window(index));
        }
        let mut known: Vec<u32> = sparse.known().map(|(i, _)| i).collect();
        known.sort();
        assert_eq!(known, dense.known().map(|(i, _)| i).collect::<Vec<_>>());
        assert_eq!(known, [3, 7]);
        if let DutyWindows::Sparse { windows, .. } = &sparse {
            assert_eq!(
                windows.len(),
                2,
                "only validators that had the duty hold a window"
            );
        }
        let mut resized = sparse.empty_like(4, 10);
        resized.put(3, &sparse.window(3).expect("window"));
        assert_eq!(resized.stats(3).known, 2);
        assert!(resized.is_sparse());
    }
}
