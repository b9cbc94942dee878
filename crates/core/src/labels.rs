//! Validators grouped by the operator's own labels, and the cardinality rule for metrics.
//!
//! Operators describe their keys as `label → [keys]` (`server-1: [0x12.., 0x23..]`); a key may
//! carry several labels. Every metric is aggregated per label, plus the implicit label
//! [`ALL_GROUP`] that holds every watched validator. Per-validator series are exported only
//! while the watched set is at or below a threshold, or for keys the operator lists explicitly,
//! so that 100,000 keys never become 100,000 series by accident.
//!
//! [`ValidatorSet`] is the immutable, compact form: keys live in one string arena and group
//! memberships in one flat array, so a million keys cost a few bytes each beyond the key text.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// The group every watched validator belongs to.
pub const ALL_GROUP: &str = "all";

/// Dense index of a validator inside one [`ValidatorSet`].
pub type ValidatorId = u32;

/// Dense index of a group; group 0 is [`ALL_GROUP`].
pub type GroupId = u16;

/// Labels as the operator writes them: label → keys.
pub type LabelMap = BTreeMap<String, Vec<String>>;

/// Why a label map or key list was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelError {
    /// A label used the reserved group name.
    #[error("label `{0}` is reserved: every validator is in it already")]
    Reserved(String),
    /// A label name that cannot be a Prometheus label value of reasonable form.
    #[error("label `{0}` is empty or longer than 128 characters")]
    BadLabel(String),
    /// A key the chain rejected.
    #[error("label `{label}`: key `{key}` is invalid: {reason}")]
    BadKey {
        /// The label the key is listed under.
        label: String,
        /// The key as written.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More groups than a [`GroupId`] can count.
    #[error("too many labels ({0}); at most 65535 are supported")]
    TooManyGroups(usize),
    /// More validators than a [`ValidatorId`] can count.
    #[error("too many keys ({0})")]
    TooManyKeys(usize),
    /// More distinct combinations of labels than the compact form holds.
    #[error("too many distinct combinations of labels ({0}); at most 65536 are supported")]
    TooManyCombinations(usize),
}

/// The watched validators of one chain with their groups.
#[derive(Debug, Clone, Default)]
pub struct ValidatorSet {
    /// Keys in id order, one after another; ids are sorted by key (see `numeric`).
    key_text: String,
    key_ends: Vec<u32>,
    /// Keys are canonical decimal numbers sorted by value (shorter first, then by digits)
    /// rather than as text.
    numeric: bool,
    group_names: Vec<String>,
    /// Each validator's combination of groups: `combo_groups[combo_starts[c]..combo_starts[c+1]]`
    /// for `c = combo_of[v]`. Operators use few distinct combinations, so a million
    /// validators cost two bytes each here.
    combo_of: Vec<u16>,
    combo_starts: Vec<u32>,
    combo_groups: Vec<GroupId>,
    /// The validators with series of their own, ascending.
    own_ids: Vec<ValidatorId>,
}

/// Options that decide which validators get series of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPolicy {
    /// Per-validator series for everyone while the set has at most this many validators.
    pub per_validator_max: usize,
    /// Keys that always get per-validator series.
    pub always: Vec<String>,
}

impl Default for SeriesPolicy {
    fn default() -> Self {
        SeriesPolicy {
            per_validator_max: DEFAULT_PER_VALIDATOR_MAX,
            always: Vec::new(),
        }
    }
}

/// Default threshold of [`SeriesPolicy::per_validator_max`]: a few thousand series per metric
/// is what a single Prometheus handles without noticing.
pub const DEFAULT_PER_VALIDATOR_MAX: usize = 1000;

/// Validator indices grouped by label: the index-native form of a [`LabelMap`], for chains
/// whose validators are numbered (Ethereum).
pub type IndexLabels = BTreeMap<String, Vec<u64>>;

/// Checks the label names and returns the group names, [`ALL_GROUP`] first.
fn group_names<'a>(labels: impl Iterator<Item = &'a String>) -> Result<Vec<String>, LabelError> {
    let mut names = vec![ALL_GROUP.to_string()];
    for label in labels {
        if label == ALL_GROUP {
            return Err(LabelError::Reserved(label.clone()));
        }
        if label.is_empty() || label.len() > 128 {
            return Err(LabelError::BadLabel(label.clone()));
        }
        names.push(label.clone());
    }
    if names.len() > usize::from(GroupId::MAX) {
        return Err(LabelError::TooManyGroups(names.len()));
    }
    Ok(names)
}

/// Appends `value` in decimal, without the formatting machinery (a million keys per set).
fn push_decimal(text: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for digit in &digits[start..] {
        text.push(char::from(*digit));
    }
}

/// Interns combinations of groups while a set is built.
#[derive(Default)]
struct Combos {
    ids: HashMap<Vec<GroupId>, u16>,
    /// The combination interned last: consecutive validators mostly share one.
    last: Option<(Vec<GroupId>, u16)>,
    starts: Vec<u32>,
    groups: Vec<GroupId>,
}

impl Combos {
    /// The combination id of `groups` (sorted, without [`ALL_GROUP`]).
    fn intern(&mut self, groups: &[GroupId]) -> Result<u16, LabelError> {
        if let Some((last, id)) = &self.last
            && last.as_slice() == groups
        {
            return Ok(*id);
        }
        let id = self.intern_new(groups)?;
        self.last = Some((groups.to_vec(), id));
        Ok(id)
    }

    fn intern_new(&mut self, groups: &[GroupId]) -> Result<u16, LabelError> {
        if let Some(id) = self.ids.get(groups) {
            return Ok(*id);
        }
        let id = u16::try_from(self.ids.len())
            .map_err(|_| LabelError::TooManyCombinations(self.ids.len() + 1))?;
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.groups.push(0);
        self.groups.extend_from_slice(groups);
        self.starts.push(self.groups.len() as u32);
        self.ids.insert(groups.to_vec(), id);
        Ok(id)
    }
}

impl ValidatorSet {
    /// Builds the set from the operator's labels plus keys watched without a label.
    ///
    /// `normalize` turns a key as written into the chain's canonical form (for example
    /// lower-case hex with `0x`); two spellings of one key become one validator.
    pub fn build(
        labels: &LabelMap,
        unlabelled: &[String],
        policy: &SeriesPolicy,
        normalize: impl Fn(&str) -> Result<String, String>,
    ) -> Result<Self, LabelError> {
        let group_names = group_names(labels.keys())?;
        let canonical = |label: &str, key: &str| {
            normalize(key).map_err(|reason| LabelError::BadKey {
                label: label.to_string(),
                key: key.to_string(),
                reason,
            })
        };
        let mut groups_of: BTreeMap<String, Vec<GroupId>> = BTreeMap::new();
        for (group, (label, keys)) in labels.iter().enumerate() {
            let group = (group + 1) as GroupId;
            for key in keys {
                let groups = groups_of.entry(canonical(label, key)?).or_default();
                if groups.last() != Some(&group) {
                    groups.push(group);
                }
            }
        }
        for key in unlabelled {
            groups_of
                .entry(canonical("(unlabelled)", key)?)
                .or_default();
        }
        if groups_of.len() >= ValidatorId::MAX as usize {
            return Err(LabelError::TooManyKeys(groups_of.len()));
        }
        let always: BTreeSet<String> = policy
            .always
            .iter()
            .map(|key| canonical("(per-validator list)", key))
            .collect::<Result<_, _>>()?;
        let everyone = groups_of.len() <= policy.per_validator_max;

        let mut set = ValidatorSet {
            group_names,
            ..Default::default()
        };
        let mut combos = Combos::default();
        // BTreeMap iteration is sorted by key, so ids are in key order.
        for (id, (key, groups)) in groups_of.into_iter().enumerate() {
            set.key_text.push_str(&key);
            set.key_ends.push(set.key_text.len() as u32);
            set.combo_of.push(combos.intern(&groups)?);
            if everyone || always.contains(&key) {
                set.own_ids.push(id as ValidatorId);
            }
        }
        set.finish(combos);
        Ok(set)
    }

    /// Builds the set of validators named by index: every index in `indices` plus every
    /// labelled one, each keyed by its decimal index, ids in index order. Made for a million
    /// validators: no allocation per validator. `always` lists the indices that always get
    /// series of their own.
    pub fn from_indices(
        labels: &IndexLabels,
        indices: &[u64],
        always: &[u64],
        per_validator_max: usize,
    ) -> Result<Self, LabelError> {
        let group_names = group_names(labels.keys())?;
        let mut labelled: Vec<(u64, GroupId)> = labels
            .values()
            .enumerate()
            .flat_map(|(group, members)| members.iter().map(move |i| (*i, (group + 1) as GroupId)))
            .collect();
        labelled.sort_unstable();
        labelled.dedup();
        let mut all: Vec<u64> = Vec::with_capacity(indices.len() + labelled.len());
        all.extend_from_slice(indices);
        all.extend(labelled.iter().map(|(index, _)| *index));
        all.sort_unstable();
        all.dedup();
        if all.len() >= ValidatorId::MAX as usize {
            return Err(LabelError::TooManyKeys(all.len()));
        }
        let everyone = all.len() <= per_validator_max;
        let mut always = always.to_vec();
        always.sort_unstable();

        let mut set = ValidatorSet {
            group_names,
            numeric: true,
            key_text: String::with_capacity(all.len() * 7),
            key_ends: Vec::with_capacity(all.len()),
            combo_of: Vec::with_capacity(all.len()),
            ..Default::default()
        };
        let mut combos = Combos::default();
        let mut groups = Vec::new();
        let mut next_label = labelled.iter().peekable();
        for (id, index) in all.iter().enumerate() {
            push_decimal(&mut set.key_text, *index);
            set.key_ends.push(set.key_text.len() as u32);
            groups.clear();
            while let Some((_, group)) = next_label.next_if(|(i, _)| i == index) {
                groups.push(*group);
            }
            set.combo_of.push(combos.intern(&groups)?);
            if everyone || always.binary_search(index).is_ok() {
                set.own_ids.push(id as ValidatorId);
            }
        }
        set.finish(combos);
        Ok(set)
    }

    /// This set with the unlabelled validators `more` added at the end, when that keeps every
    /// existing id: a set built by [`ValidatorSet::from_indices`] and `more` ascending, above
    /// its last index. `None` otherwise (build the set anew). A `watch_all` set grows this way
    /// when validators are activated, without rebuilding a million entries.
    pub fn appended(
        &self,
        more: &[u64],
        always: &[u64],
        per_validator_max: usize,
    ) -> Option<ValidatorSet> {
        if !self.numeric {
            return None;
        }
        let last = match self.len() {
            0 => None,
            n => Some(self.key(n as ValidatorId - 1).parse::<u64>().ok()?),
        };
        let ascending = more.windows(2).all(|pair| pair[0] < pair[1]);
        if !ascending
            || more
                .first()
                .is_some_and(|first| last.is_some_and(|l| *first <= l))
        {
            return None;
        }
        let len = self.len() + more.len();
        let everyone = len <= per_validator_max;
        let had_everyone = self.own_ids.len() == self.len();
        if (!self.is_empty() && had_everyone != everyone) || len >= ValidatorId::MAX as usize {
            return None;
        }
        let mut set = self.clone();
        let unlabelled =
            match (0..set.combination_count()).find(|c| set.combination_groups(*c) == [0]) {
                Some(combination) => u16::try_from(combination).ok()?,
                None => {
                    let combination = u16::try_from(set.combination_count()).ok()?;
                    set.combo_groups.push(0);
                    set.combo_starts.push(set.combo_groups.len() as u32);
                    combination
                }
            };
        for index in more {
            let id = set.len() as ValidatorId;
            push_decimal(&mut set.key_text, *index);
            set.key_ends.push(set.key_text.len() as u32);
            set.combo_of.push(unlabelled);
            if everyone || always.contains(index) {
                set.own_ids.push(id);
            }
        }
        Some(set)
    }

    fn finish(&mut self, combos: Combos) {
        self.combo_starts = combos.starts;
        self.combo_groups = combos.groups;
        if self.combo_starts.is_empty() {
            self.combo_starts.push(0);
        }
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.key_ends.is_empty()
    }

    /// The canonical key of `id`.
    pub fn key(&self, id: ValidatorId) -> &str {
        let id = id as usize;
        let start = if id == 0 {
            0
        } else {
            self.key_ends[id - 1] as usize
        };
        &self.key_text[start..self.key_ends[id] as usize]
    }

    /// The id of a canonical key.
    pub fn id_of(&self, key: &str) -> Option<ValidatorId> {
        let (mut low, mut high) = (0usize, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            match self.compare(self.key(middle as ValidatorId), key) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Some(middle as ValidatorId),
            }
        }
        None
    }

    /// The order of ids: decimal keys by value (shorter first, then digits), others as text.
    fn compare(&self, a: &str, b: &str) -> Ordering {
        if self.numeric {
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        } else {
            a.cmp(b)
        }
    }

    /// For each id of this set, the id its key has in `old` ([`ValidatorId::MAX`] when `old`
    /// lacks it): one merge of the two sorted key lists when they are ordered alike, which
    /// keeps replacing a million-validator set linear.
    pub fn ids_in(&self, old: &ValidatorSet) -> Vec<ValidatorId> {
        if self.numeric != old.numeric {
            return self
                .ids()
                .map(|id| old.id_of(self.key(id)).unwrap_or(ValidatorId::MAX))
                .collect();
        }
        let mut mapping = Vec::with_capacity(self.len());
        let mut next_old = 0;
        for id in self.ids() {
            let key = self.key(id);
            while (next_old as usize) < old.len()
                && self.compare(old.key(next_old), key) == Ordering::Less
            {
                next_old += 1;
            }
            if (next_old as usize) < old.len() && old.key(next_old) == key {
                mapping.push(next_old);
                next_old += 1;
            } else {
                mapping.push(ValidatorId::MAX);
            }
        }
        mapping
    }

    /// All ids.
    pub fn ids(&self) -> impl Iterator<Item = ValidatorId> + '_ {
        0..self.len() as ValidatorId
    }

    /// Groups of `id`, always starting with group 0 ([`ALL_GROUP`]).
    pub fn groups_of(&self, id: ValidatorId) -> &[GroupId] {
        self.combination_groups(self.combination_of(id))
    }

    /// The combination of groups `id` belongs to. Validators of one combination share all
    /// their groups, so a sum over a million validators can be folded per combination (a few)
    /// and spread to the groups once.
    pub fn combination_of(&self, id: ValidatorId) -> usize {
        usize::from(self.combo_of[id as usize])
    }

    /// Number of distinct combinations of groups.
    pub fn combination_count(&self) -> usize {
        self.combo_starts.len() - 1
    }

    /// The groups of combination `combination`, starting with group 0 ([`ALL_GROUP`]).
    pub fn combination_groups(&self, combination: usize) -> &[GroupId] {
        &self.combo_groups
            [self.combo_starts[combination] as usize..self.combo_starts[combination + 1] as usize]
    }

    /// Number of groups, [`ALL_GROUP`] included.
    pub fn group_count(&self) -> usize {
        self.group_names.len()
    }

    /// The name of group `group`.
    pub fn group_name(&self, group: GroupId) -> &str {
        &self.group_names[usize::from(group)]
    }

    /// Whether `id` gets series of its own.
    pub fn has_own_series(&self, id: ValidatorId) -> bool {
        self.own_series_index(id).is_some()
    }

    /// Position of `id` among the validators with series of their own.
    pub fn own_series_index(&self, id: ValidatorId) -> Option<usize> {
        if self.own_ids.len() == self.len() {
            return ((id as usize) < self.len()).then_some(id as usize);
        }
        self.own_ids.binary_search(&id).ok()
    }

    /// The validators with series of their own, in id order.
    pub fn own_series_ids(&self) -> &[ValidatorId] {
        &self.own_ids
    }

    /// Labels of `id` other than [`ALL_GROUP`].
    pub fn labels_of(&self, id: ValidatorId) -> impl Iterator<Item = &str> + '_ {
        self.groups_of(id)[1..].iter().map(|g| self.group_name(*g))
    }
}

/// Why a key file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file's content is not a label map.
    #[error("key file {path}, line {line}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads a key file: `label → [keys]` in TOML (`.toml`), JSON (`.json`), or the YAML form
/// operators already use (any other extension):
///
/// ```text
/// server-1: [0xaa.., 0xbb..]
/// server-2:
///   - 0xcc..
/// ```
pub fn read_key_file(path: &Path) -> Result<LabelMap, KeyFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let syntax = |line: usize, message: String| KeyFileError::Syntax {
        path: shown.clone(),
        line,
        message,
    };
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map_or(0, |span| text[..span.start].lines().count().max(1));
            syntax(line, e.message().to_string())
        }),
        Some("json") => serde_json::from_str(&text).map_err(|e| syntax(e.line(), e.to_string())),
        _ => parse_yaml_labels(&text).map_err(|(line, m)| syntax(line, m)),
    }
}

/// Parses the small YAML subset of label files: `label: [a, b]` and `label:` followed by
/// `- key` lines; `#` comments; quotes optional.
pub fn parse_yaml_labels(text: &str) -> Result<LabelMap, (usize, String)> {
    let mut labels = LabelMap::new();
    let mut current: Option<String> = None;
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    for (number, raw) in text.lines().enumerate() {
        let line_no = number + 1;
        let line = raw.split('#').next().unwrap_or("").trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let trimmed = line.trim_start();
        if let Some(item) = trimmed.strip_prefix('-') {
            let Some(label) = current.as_ref() else {
                return Err((line_no, "list item before any label".into()));
            };
            let key = unquote(item);
            if key.is_empty() {
                return Err((line_no, "empty key".into()));
            }
            labels.entry(label.clone()).or_default().push(key);
            continue;
        }
        let Some((label, rest)) = trimmed.split_once(':') else {
            return Err((
                line_no,
                format!("expected `label: [keys]`, found `{trimmed}`"),
            ));
        };
        let label = unquote(label);
        if label.is_empty() {
            return Err((line_no, "empty label".into()));
        }
        let rest = rest.trim();
        let keys = labels.entry(label.clone()).or_default();
        if rest.is_empty() {
            current = Some(label);
            continue;
        }
        let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
            return Err((
                line_no,
                format!("expected a list `[a, b]` after `{label}:`"),
            ));
        };
        keys.extend(inner.split(',').map(unquote).filter(|k| !k.is_empty()));
        current = None;
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(key: &str) -> Result<String, String> {
        if key.starts_with("0x") {
            Ok(key.to_ascii_lowercase())
        } else {
            Err("must start with 0x".into())
        }
    }

    #[test]
    fn keys_carry_every_label_and_the_all_group() {
        let labels: LabelMap = [
            ("server-1".to_string(), vec!["0xAA".into(), "0xbb".into()]),
            ("customer-x".to_string(), vec!["0xaa".into()]),
        ]
        .into();
        let set = ValidatorSet::build(&labels, &["0xcc".into()], &SeriesPolicy::default(), lower)
            .expect("valid");
        assert_eq!(set.len(), 3);
        let aa = set.id_of("0xaa").expect("known");
        let mut names: Vec<&str> = set.labels_of(aa).collect();
        names.sort();
        assert_eq!(names, ["customer-x", "server-1"]);
        assert_eq!(set.groups_of(aa)[0], 0);
        let cc = set.id_of("0xcc").expect("known");
        assert_eq!(set.labels_of(cc).count(), 0);
        assert_eq!(set.id_of("0xdd"), None);
    }

    #[test]
    fn per_validator_series_stop_above_the_threshold_except_listed_keys() {
        let labels: LabelMap = [(
            "a".to_string(),
            vec!["0x1".into(), "0x2".into(), "0x3".into()],
        )]
        .into();
        let policy = SeriesPolicy {
            per_validator_max: 2,
            always: vec!["0x2".into()],
        };
        let set = ValidatorSet::build(&labels, &[], &policy, lower).expect("valid");
        let own: Vec<&str> = set
            .ids()
            .filter(|id| set.has_own_series(*id))
            .map(|id| set.key(id))
            .collect();
        assert_eq!(own, ["0x2"]);
    }

    #[test]
    fn index_sets_agree_with_the_text_build_of_the_same_keys() {
        let indices: Vec<u64> = vec![0, 2, 9, 10, 11, 99, 100, 1_000_000, u64::MAX];
        let labels: IndexLabels = [
            ("a".to_string(), vec![10, 2, 2, 5]),
            ("b".to_string(), vec![5, 1_000_000]),
        ]
        .into();
        let set = ValidatorSet::from_indices(&labels, &indices, &[100], 3).expect("valid");
        let text_labels: LabelMap = labels
            .iter()
            .map(|(l, keys)| (l.clone(), keys.iter().map(u64::to_string).collect()))
            .collect();
        let text_unlabelled: Vec<String> = indices.iter().map(u64::to_string).collect();
        let policy = SeriesPolicy {
            per_validator_max: 3,
            always: vec!["100".into()],
        };
        let text = ValidatorSet::build(&text_labels, &text_unlabelled, &policy, |k| {
            Ok(k.to_string())
        })
        .expect("valid");
        assert_eq!(set.len(), 10, "9 indices and the labelled 5");
        // Ids follow the index, not the text: 9 comes before 10.
        let keys: Vec<&str> = set.ids().map(|id| set.key(id)).collect();
        assert_eq!(
            keys,
            [
                "0",
                "2",
                "5",
                "9",
                "10",
                "11",
                "99",
                "100",
                "1000000",
                "18446744073709551615"
            ]
        );
        for id in text.ids() {
            let key = text.key(id);
            let same = set.id_of(key).expect("in both");
            assert_eq!(set.key(same), key);
            assert_eq!(
                set.labels_of(same).collect::<Vec<_>>(),
                text.labels_of(id).collect::<Vec<_>>(),
                "labels of {key}"
            );
            assert_eq!(set.has_own_series(same), text.has_own_series(id), "{key}");
        }
        for missing in ["1", "3", "01", "101", "", "x"] {
            assert_eq!(set.id_of(missing), None, "{missing}");
        }
        assert_eq!(set.own_series_ids().len(), 1);
    }

    #[test]
    fn ids_in_maps_every_key_to_its_old_id() {
        let empty = IndexLabels::new();
        let old = ValidatorSet::from_indices(&empty, &[1, 5, 9, 10, 70], &[], 0).expect("valid");
        let new =
            ValidatorSet::from_indices(&empty, &[0, 5, 10, 11, 70, 99], &[], 0).expect("valid");
        let none = ValidatorId::MAX;
        assert_eq!(new.ids_in(&old), [none, 1, 3, none, 4, none]);
        let text = ValidatorSet::build(
            &LabelMap::new(),
            &["10".into(), "5".into()],
            &SeriesPolicy::default(),
            |k| Ok(k.to_string()),
        )
        .expect("valid");
        let from_text = new.ids_in(&text);
        assert_eq!(text.key(from_text[1]), "5");
        assert_eq!(text.key(from_text[2]), "10");
        assert_eq!(from_text.iter().filter(|id| **id == none).count(), 4);
        let text_in_text = text.ids_in(&text);
        assert_eq!(text_in_text, [0, 1]);
    }

    #[test]
    fn appending_indices_keeps_ids_and_equals_a_fresh_build() {
        let labels: IndexLabels = [("a".to_string(), vec![3, 7])].into();
        let set = ValidatorSet::from_indices(&labels, &[1, 3, 7, 9], &[], 0).expect("valid");
        let grown = set.appended(&[10, 12], &[12], 0).expect("appendable");
        let fresh =
            ValidatorSet::from_indices(&labels, &[1, 3, 7, 9, 10, 12], &[12], 0).expect("valid");
        assert_eq!(grown.len(), fresh.len());
        for id in fresh.ids() {
            assert_eq!(grown.key(id), fresh.key(id));
            assert_eq!(grown.groups_of(id), fresh.groups_of(id));
            assert_eq!(grown.has_own_series(id), fresh.has_own_series(id));
        }
        assert_eq!(grown.id_of("12"), Some(5));
        assert_eq!(grown.ids_in(&set), [0, 1, 2, 3, u32::MAX, u32::MAX]);
        // Not after the last index, not ascending, or crossing the series threshold: rebuild.
        assert!(set.appended(&[8], &[], 0).is_none());
        assert!(set.appended(&[12, 11], &[], 0).is_none());
        let small = ValidatorSet::from_indices(&labels, &[1, 3, 7, 9], &[], 4).expect("valid");
        assert!(small.appended(&[10], &[], 4).is_none());
        assert_eq!(small.appended(&[], &[], 4).expect("nothing added").len(), 4);
        let text = ValidatorSet::build(
            &LabelMap::new(),
            &["1".into()],
            &SeriesPolicy::default(),
            |k| Ok(k.to_string()),
        )
        .expect("valid");
        assert!(text.appended(&[2], &[], 0).is_none());
        let empty = ValidatorSet::from_indices(&IndexLabels::new(), &[], &[], 0).expect("valid");
        assert_eq!(
            empty.appended(&[0, 5], &[], 0).expect("appendable").len(),
            2
        );
    }

    #[test]
    fn small_sets_give_everyone_own_series() {
        let set = ValidatorSet::from_indices(&IndexLabels::new(), &[4, 7], &[], 2).expect("valid");
        assert_eq!(set.own_series_index(1), Some(1));
        assert_eq!(set.own_series_index(2), None);
        let set = ValidatorSet::from_indices(&IndexLabels::new(), &[4, 7], &[], 1).expect("valid");
        assert_eq!(set.own_series_index(1), None);
        let empty = ValidatorSet::from_indices(&IndexLabels::new(), &[], &[], 0).expect("valid");
        assert!(empty.is_empty());
        assert_eq!(empty.id_of("0"), None);
    }

    #[test]
    fn reserved_label_and_bad_key_are_named() {
        let labels: LabelMap = [("all".to_string(), vec!["0x1".into()])].into();
        assert_eq!(
            ValidatorSet::build(&labels, &[], &SeriesPolicy::default(), lower).unwrap_err(),
            LabelError::Reserved("all".into())
        );
        let labels: LabelMap = [("s".to_string(), vec!["zz".into()])].into();
        let err = ValidatorSet::build(&labels, &[], &SeriesPolicy::default(), lower).unwrap_err();
        assert!(err.to_string().contains("`zz`"), "{err}");
    }

    #[test]
    fn yaml_label_files_in_both_list_forms() {
        let text = "# keys\nserver-1: [0x1234, \"0x2345\"]\nserver-2:\n  - 0x3456 # spare\n  - '0x4567'\nempty: []\n";
        let labels = parse_yaml_labels(text).expect("parses");
        assert_eq!(labels["server-1"], ["0x1234", "0x2345"]);
        assert_eq!(labels["server-2"], ["0x3456", "0x4567"]);
        assert!(labels["empty"].is_empty());
        assert_eq!(parse_yaml_labels("- 0x1").unwrap_err().0, 1);
        assert_eq!(parse_yaml_labels("a: 0x1").unwrap_err().0, 1);
    }

    #[test]
    fn key_files_by_extension() {
        let dir = tempfile::tempdir().expect("tempdir");
        let json = dir.path().join("keys.json");
        std::fs::write(&json, r#"{"s1": ["0x1"]}"#).expect("write");
        assert_eq!(read_key_file(&json).expect("json")["s1"], ["0x1"]);
        let toml = dir.path().join("keys.toml");
        std::fs::write(&toml, "s1 = [\"0x1\", \"0x2\"]\n").expect("write");
        assert_eq!(read_key_file(&toml).expect("toml")["s1"], ["0x1", "0x2"]);
        let missing = dir.path().join("nope.yaml");
        assert!(
            read_key_file(&missing)
                .unwrap_err()
                .to_string()
                .contains("nope.yaml")
        );
    }
}
