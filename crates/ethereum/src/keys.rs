//! Watched keys: BLS public keys as the operator wrote them, their canonical form, the key
//! file that is re-read when it changes, and the map from validator index to the tracker's
//! [`ValidatorId`].
//!
//! Everything here is pure except [`KeySource::reload_if_changed`], which looks at the key
//! file's modification time. Resolving keys to indices needs the node and lives in the watcher;
//! turning its answer into a [`Resolution`] is [`resolve`], pure.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use valwatch_core::{
    IndexLabels, LabelMap, SeriesPolicy, ValidatorId, ValidatorSet, read_key_file,
};

use crate::beacon::{ValidatorEntry, ValidatorStatus};

/// Hex digits of a BLS12-381 public key (48 bytes).
const PUBKEY_HEX_LEN: usize = 96;

/// The canonical form of a BLS public key: `0x` + 96 lower-case hex digits. The `0x` may be
/// omitted and any case is accepted; anything else is refused with the reason.
pub fn normalize_pubkey(key: &str) -> Result<String, String> {
    let trimmed = key.trim();
    let hex = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    if hex.len() != PUBKEY_HEX_LEN {
        return Err(format!(
            "a BLS public key is 0x + {PUBKEY_HEX_LEN} hex digits, this one has {} digits",
            hex.len()
        ));
    }
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a BLS public key holds only hex digits (0-9, a-f)".into());
    }
    Ok(format!("0x{}", hex.to_ascii_lowercase()))
}

/// Checks a label map: label names and every key.
pub fn check_labels(labels: &LabelMap) -> Result<(), String> {
    ValidatorSet::build(labels, &[], &SeriesPolicy::default(), normalize_pubkey)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Reads and checks a key file.
pub fn read_keys_file(path: &Path) -> Result<LabelMap, String> {
    let labels = read_key_file(path).map_err(|e| e.to_string())?;
    check_labels(&labels).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(labels)
}

/// Inline labels plus an optional key file, merged; the file is re-read when its modification
/// time changes.
#[derive(Debug, Clone)]
pub struct KeySource {
    inline: LabelMap,
    file: Option<PathBuf>,
    file_mtime: Option<SystemTime>,
    from_file: LabelMap,
}

impl KeySource {
    /// A source of `inline` labels and `file`; call [`KeySource::reload_if_changed`] to read it.
    pub fn new(inline: LabelMap, file: Option<PathBuf>) -> Self {
        KeySource {
            inline,
            file,
            file_mtime: None,
            from_file: LabelMap::new(),
        }
    }

    /// Re-reads the key file if it changed since the last read. `Ok(true)` when the merged
    /// labels may have changed. On an error the previous labels stay in force.
    pub fn reload_if_changed(&mut self) -> Result<bool, String> {
        let Some(path) = &self.file else {
            return Ok(false);
        };
        let mtime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("key file {}: {e}", path.display()))?;
        if self.file_mtime == Some(mtime) {
            return Ok(false);
        }
        let labels = read_keys_file(path)?;
        self.file_mtime = Some(mtime);
        let changed = labels != self.from_file;
        self.from_file = labels;
        Ok(changed)
    }

    /// Inline and file labels together (keys of one label from both places are joined).
    pub fn labels(&self) -> LabelMap {
        let mut merged = self.inline.clone();
        for (label, keys) in &self.from_file {
            merged
                .entry(label.clone())
                .or_default()
                .extend(keys.iter().cloned());
        }
        merged
    }
}

/// Watched validators by validator index: a dense table (4 bytes per index up to the highest
/// watched one, a few MB on mainnet) because it is read once per committee member per epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watched {
    ids: Vec<ValidatorId>,
    count: usize,
}

const NONE: ValidatorId = ValidatorId::MAX;

impl Watched {
    /// The table of `(validator index, tracker id)` pairs; indices beyond 2^32 are ignored
    /// (committees cannot name them).
    pub fn new(pairs: impl IntoIterator<Item = (u64, ValidatorId)>) -> Self {
        let mut watched = Watched::default();
        for (index, id) in pairs {
            watched.insert(index, id);
        }
        watched
    }

    /// Watches validator `index` as tracker id `id`.
    pub fn insert(&mut self, index: u64, id: ValidatorId) {
        let Ok(slot) = usize::try_from(index) else {
            return;
        };
        if slot >= u32::MAX as usize {
            return;
        }
        if slot >= self.ids.len() {
            self.ids.resize(slot + 1, NONE);
        }
        if self.ids[slot] == NONE {
            self.count += 1;
        }
        self.ids[slot] = id;
    }

    /// The tracker id of validator `index`, if watched.
    pub fn get(&self, index: u64) -> Option<ValidatorId> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.ids.get(i))
            .copied()
            .filter(|id| *id != NONE)
    }

    /// Number of watched indices.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `(validator index, tracker id)` pairs in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, ValidatorId)> + '_ {
        self.ids
            .iter()
            .enumerate()
            .filter(|(_, id)| **id != NONE)
            .map(|(index, id)| (index as u64, *id))
    }
}

/// What the node said about the watched keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Canonical pubkey → validator index.
    pub index_of: HashMap<String, u64>,
    /// Canonical pubkey → status.
    pub status_of: HashMap<String, ValidatorStatus>,
    /// Keys the node does not know (not deposited yet, or a typo), sorted.
    pub unresolved: Vec<String>,
}

/// Matches the node's answer against the asked keys; entries for keys not asked are ignored
/// (some nodes answer more than asked).
pub fn resolve(asked: &[String], entries: &[ValidatorEntry]) -> Resolution {
    let asked_set: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
    let mut resolution = Resolution::default();
    for entry in entries {
        if asked_set.contains(entry.pubkey.as_str()) {
            resolution
                .index_of
                .insert(entry.pubkey.clone(), entry.index);
            resolution
                .status_of
                .insert(entry.pubkey.clone(), entry.status);
        }
    }
    resolution.unresolved = asked_set
        .into_iter()
        .filter(|k| !resolution.index_of.contains_key(*k))
        .map(str::to_string)
        .collect();
    resolution
}

/// The validator set of keyed mode: every configured key (resolved or not), by pubkey.
pub fn keyed_set(labels: &LabelMap, policy: &SeriesPolicy) -> Result<ValidatorSet, String> {
    ValidatorSet::build(labels, &[], policy, normalize_pubkey).map_err(|e| e.to_string())
}

/// The validator set of `watch_all` mode: every index in `indices` (sorted, without
/// repeats), keyed by its decimal index; configured keys resolved to an index carry their
/// labels. Per-validator keys may be given as pubkeys (translated through `index_of`) or
/// indices.
pub fn all_set(
    labels: &LabelMap,
    index_of: &HashMap<String, u64>,
    indices: &[u64],
    policy: &SeriesPolicy,
) -> Result<ValidatorSet, String> {
    let translate = |key: &str| index_for_key(key, index_of);
    let by_index: IndexLabels = labels
        .iter()
        .map(|(label, keys)| {
            (
                label.clone(),
                keys.iter().filter_map(|k| translate(k)).collect(),
            )
        })
        .collect();
    let always: Vec<u64> = policy.always.iter().filter_map(|k| translate(k)).collect();
    ValidatorSet::from_indices(&by_index, indices, &always, policy.per_validator_max)
        .map_err(|e| e.to_string())
}

/// The validator index a configured key names: a decimal index as is, a pubkey through
/// `index_of` (`None` while it is not resolved).
fn index_for_key(key: &str, index_of: &HashMap<String, u64>) -> Option<u64> {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
        return parse_index(key);
    }
    index_of.get(&normalize_pubkey(key).ok()?).copied()
}

/// A decimal validator index; `None` for anything else or on overflow. (`str::parse` costs
/// several times more, which shows with a million keys.)
fn parse_index(key: &str) -> Option<u64> {
    if key.is_empty() || key.len() > 20 {
        return None;
    }
    key.bytes().try_fold(0u64, |value, byte| {
        let digit = byte.checked_sub(b'0').filter(|d| *d < 10)?;
        value.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// The `watch_all` set `current` with the newly seen validators `fresh` (sorted) added at the
/// end, when they all come after its last index (activations do): every existing id stays, so
/// the tracker grows its tables in place. `None` when the set must be built anew.
pub fn grown_all_set(
    current: &ValidatorSet,
    index_of: &HashMap<String, u64>,
    fresh: &[u64],
    policy: &SeriesPolicy,
) -> Option<ValidatorSet> {
    let always: Vec<u64> = policy
        .always
        .iter()
        .filter_map(|key| index_for_key(key, index_of))
        .collect();
    current.appended(fresh, &always, policy.per_validator_max)
}

/// The index table of a set: in keyed mode through `index_of`, in `watch_all` mode from the
/// decimal keys.
pub fn watched_of(set: &ValidatorSet, index_of: &HashMap<String, u64>, all: bool) -> Watched {
    Watched::new(set.ids().filter_map(|id| {
        let key = set.key(id);
        let index = if all {
            parse_index(key)
        } else {
            index_of.get(key).copied()
        };
        index.map(|index| (index, id))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> String {
        format!("0x{}", format!("{n:02x}").repeat(48))
    }

    #[test]
    fn pubkeys_are_normalised_or_refused_with_a_reason() {
        let upper = key(0xab).to_uppercase();
        assert_eq!(normalize_pubkey(&upper), Ok(key(0xab)));
        assert_eq!(normalize_pubkey(&key(0xab)[2..]), Ok(key(0xab)));
        assert!(normalize_pubkey("0x1234").unwrap_err().contains("96"));
        let bad = format!("0x{}", "zz".repeat(48));
        assert!(normalize_pubkey(&bad).unwrap_err().contains("hex"));
    }

    fn entry(index: u64, key: String, status: ValidatorStatus) -> ValidatorEntry {
        ValidatorEntry {
            index,
            pubkey: key,
            status,
            activation_epoch: 0,
            exit_epoch: u64::MAX,
        }
    }

    #[test]
    fn resolution_keeps_only_asked_keys_and_lists_the_unknown() {
        let asked = vec![key(1), key(2)];
        let entries = vec![
            entry(7, key(1), ValidatorStatus::ActiveOngoing),
            entry(9, key(3), ValidatorStatus::ActiveOngoing),
        ];
        let resolution = resolve(&asked, &entries);
        assert_eq!(resolution.index_of.len(), 1);
        assert_eq!(resolution.index_of[&key(1)], 7);
        assert_eq!(resolution.unresolved, vec![key(2)]);
    }

    #[test]
    fn indices_parse_strictly() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("1048575"), Some(1_048_575));
        assert_eq!(parse_index("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "18446744073709551616", "-1", "1a", " 1", "0x10"] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn keyed_and_all_sets_map_indices_to_ids() {
        let labels: LabelMap = [("s1".to_string(), vec![key(1), key(2)])].into();
        let index_of: HashMap<String, u64> = [(key(1), 7)].into();
        let set = keyed_set(&labels, &SeriesPolicy::default()).expect("set");
        let watched = watched_of(&set, &index_of, false);
        assert_eq!(watched.len(), 1);
        assert_eq!(watched.get(7), set.id_of(&key(1)));
        assert_eq!(watched.get(8), None);

        let set = all_set(&labels, &index_of, &[3, 7, 100], &SeriesPolicy::default()).expect("set");
        assert_eq!(set.len(), 3);
        let seven = set.id_of("7").expect("7");
        assert_eq!(set.labels_of(seven).collect::<Vec<_>>(), ["s1"]);
        let watched = watched_of(&set, &index_of, true);
        assert_eq!(
            watched.iter().map(|(i, _)| i).collect::<Vec<_>>(),
            [3, 7, 100]
        );
    }

    #[test]
    fn a_watch_all_set_grows_with_activated_validators() {
        let labels: LabelMap = [("s1".to_string(), vec![key(1)])].into();
        let index_of: HashMap<String, u64> = [(key(1), 3), (key(2), 12)].into();
        let policy = SeriesPolicy {
            per_validator_max: 0,
            always: vec![key(2)],
        };
        let set = all_set(&labels, &index_of, &[3, 5, 7], &policy).expect("set");
        let grown = grown_all_set(&set, &index_of, &[9, 12], &policy).expect("grows");
        let rebuilt = all_set(&labels, &index_of, &[3, 5, 7, 9, 12], &policy).expect("set");
        for id in rebuilt.ids() {
            assert_eq!(grown.key(id), rebuilt.key(id));
            assert_eq!(grown.groups_of(id), rebuilt.groups_of(id));
            assert_eq!(grown.has_own_series(id), rebuilt.has_own_series(id));
        }
        assert!(grown.has_own_series(grown.id_of("12").expect("12")));
        // An index below the last one needs a new set.
        assert!(grown_all_set(&set, &index_of, &[4], &policy).is_none());
        let mut watched = watched_of(&set, &index_of, true);
        watched.insert(9, 3);
        assert_eq!((watched.get(9), watched.len()), (Some(3), 4));
    }

    #[test]
    fn key_file_is_reread_only_when_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.yaml");
        std::fs::write(&path, format!("s2: [{}]\n", key(5))).expect("write");
        let inline: LabelMap = [("s1".to_string(), vec![key(1)])].into();
        let mut source = KeySource::new(inline, Some(path.clone()));
        assert_eq!(source.reload_if_changed(), Ok(true));
        assert_eq!(source.reload_if_changed(), Ok(false));
        assert_eq!(source.labels().len(), 2);
        // A new modification time (set explicitly: file systems may have coarse clocks).
        std::fs::write(&path, format!("s2: [{}, {}]\n", key(5), key(6))).expect("write");
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("mtime");
        assert_eq!(source.reload_if_changed(), Ok(true));
        assert_eq!(source.labels()["s2"].len(), 2);
        // A broken file keeps the previous labels.
        std::fs::write(&path, "s2: [0x12]\n").expect("write");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later + std::time::Duration::from_secs(5)))
            .expect("mtime");
        assert!(source.reload_if_changed().is_err());
        assert_eq!(source.labels()["s2"].len(), 2);
    }
}
