//! Windows read back from a state file, waiting for their validators to be watched again.
//!
//! A restart of a chain with a million watched validators restores a million windows before
//! the watcher knows its validator set. [`SavedWindows`] holds them in the tracker's own
//! compact form (one key arena and one [`WindowTable`]) rather than a map of owned keys and
//! boxed windows, which would cost several times the state file in memory.

use std::cmp::Ordering;

use crate::window::{MissWindow, WindowPartsRef, WindowTable};

/// The saved windows of one duty, keyed by validator key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedWindows {
    key_text: String,
    key_ends: Vec<u32>,
    table: WindowTable,
    /// Positions sorted by key, for lookups; empty while the keys arrive in order.
    sorted: Vec<u32>,
    /// Whether the keys arrived in ascending order so far (no `sorted` table needed).
    in_order: bool,
}

impl SavedWindows {
    /// No windows yet; windows of `len` units (others are replayed into that length).
    pub fn new(len: u32) -> Self {
        SavedWindows {
            table: WindowTable::new(len, 0),
            in_order: true,
            ..Default::default()
        }
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// Whether there is no window.
    pub fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    fn key(&self, position: usize) -> &str {
        let start = if position == 0 {
            0
        } else {
            self.key_ends[position - 1] as usize
        };
        &self.key_text[start..self.key_ends[position] as usize]
    }

    /// Adds the window of `key`. Call [`SavedWindows::finish`] after the last one (or use
    /// [`SavedWindows::extend`]) so lookups of keys that came out of order stay fast.
    pub fn push(&mut self, key: &str, window: &MissWindow) {
        if self.in_order && !self.is_empty() && self.key(self.len() - 1) >= key {
            self.in_order = false;
        }
        self.key_text.push_str(key);
        self.key_ends.push(self.key_text.len() as u32);
        self.table.push_window(window);
    }

    /// Builds the lookup table when keys came out of order.
    pub fn finish(&mut self) {
        if self.in_order || self.sorted.len() == self.len() {
            return;
        }
        let mut sorted: Vec<u32> = (0..self.len() as u32).collect();
        sorted.sort_by(|a, b| self.key(*a as usize).cmp(self.key(*b as usize)));
        self.sorted = sorted;
    }

    /// Adds many windows, then [`SavedWindows::finish`]es.
    pub fn extend<'a>(&mut self, windows: impl IntoIterator<Item = (&'a str, MissWindow)>) {
        for (key, window) in windows {
            self.push(key, &window);
        }
        self.finish();
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.in_order {
            let mut low = 0;
            let mut high = self.len();
            while low < high {
                let middle = low + (high - low) / 2;
                match self.key(middle).cmp(key) {
                    Ordering::Less => low = middle + 1,
                    Ordering::Greater => high = middle,
                    Ordering::Equal => return Some(middle),
                }
            }
            return None;
        }
        if self.sorted.len() != self.len() {
            // Not finished: correct, only slower.
            return (0..self.len()).find(|p| self.key(*p) == key);
        }
        let at = self.sorted.partition_point(|p| self.key(*p as usize) < key);
        let position = *self.sorted.get(at)? as usize;
        (self.key(position) == key).then_some(position)
    }

    /// The window of `key`, if one was saved (the first, should a key come twice).
    pub fn get(&self, key: &str) -> Option<MissWindow> {
        let position = self.position(key)?;
        Some(self.table.to_window(position))
    }

    /// Every saved key with its window, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, MissWindow)> + '_ {
        (0..self.len()).map(|position| (self.key(position), self.table.to_window(position)))
    }

    /// The parts of every saved window with its key, in the order they were added, borrowed.
    pub fn iter_parts(&self) -> impl Iterator<Item = (&str, WindowPartsRef<'_>)> + '_ {
        (0..self.len()).map(|position| (self.key(position), self.table.parts_ref(position)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(missed_at: u64) -> MissWindow {
        let mut window = MissWindow::new(16);
        window.record(missed_at, true);
        window.record(missed_at + 1, false);
        window
    }

    #[test]
    fn keys_find_their_windows_in_or_out_of_order() {
        for keys in [["1", "2", "3", "4"], ["3", "1", "4", "2"]] {
            let mut pushed = SavedWindows::new(16);
            let mut extended = SavedWindows::new(16);
            for key in keys {
                pushed.push(key, &window(key.parse().expect("digit")));
            }
            pushed.finish();
            extended.extend(keys.map(|k| (k, window(k.parse().expect("digit")))));
            for saved in [&pushed, &extended] {
                assert_eq!(saved.len(), 4);
                for key in ["1", "2", "3", "4"] {
                    let expected = window(key.parse().expect("digit"));
                    assert_eq!(saved.get(key), Some(expected), "{key} of {keys:?}");
                }
                assert_eq!(saved.get("5"), None);
                assert_eq!(saved.get(""), None);
                let order: Vec<&str> = saved.iter().map(|(k, _)| k).collect();
                assert_eq!(order, keys);
            }
        }
    }

    #[test]
    fn a_window_of_another_length_is_replayed() {
        let mut saved = SavedWindows::new(4);
        let mut long = MissWindow::new(64);
        for unit in 0..10 {
            long.record(unit, unit % 3 == 0);
        }
        saved.push("a", &long);
        let back = saved.get("a").expect("saved");
        assert_eq!(back.len(), 4);
        assert_eq!(
            back.iter_known().collect::<Vec<_>>(),
            [(6, true), (7, false), (8, false), (9, true)]
        );
    }
}
