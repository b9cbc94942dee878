//! Validator keys as the operator writes them, resolved to the canonical key valwatch tracks:
//! the consensus address in upper-case hex, as CometBFT shows it.
//!
//! A key may be an operator address (`<prefix>valoper1…`, resolved through x/staking), a
//! consensus address (40 hex digits or `<prefix>valcons1…`), or a consensus public key (base64
//! or hex; 32 bytes is ed25519, 33 bytes compressed secp256k1). Keys that cannot be resolved
//! yet (x/staking not read, operator unknown, unsupported key type) are returned with their
//! reason instead of failing the whole set: the watcher logs them, exports their count and
//! tries again at the next refresh. Pure: the x/staking answer is passed in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use valwatch_core::LabelMap;

use crate::address::{self, Address, KeyKind};

/// A key as configured, after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySpec {
    /// A consensus address (given directly or derived from a public key).
    Consensus(Address),
    /// An operator address (bech32, as written, lower-cased).
    Operator(String),
}

/// Parses a consensus address or consensus public key into the consensus address.
pub fn parse_consensus_key(text: &str) -> Result<Address, String> {
    match parse_key(text)? {
        KeySpec::Consensus(address) => Ok(address),
        KeySpec::Operator(_) => Err("an operator address is not a consensus key".into()),
    }
}

/// Parses any supported key form.
pub fn parse_key(text: &str) -> Result<KeySpec, String> {
    let text = text.trim();
    let is_hex = !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        return match text.len() {
            40 => address::from_hex(text)
                .map(KeySpec::Consensus)
                .map_err(|e| e.to_string()),
            64 | 66 => {
                let bytes = hex::decode(text).map_err(|e| e.to_string())?;
                pubkey_address(&bytes).map(KeySpec::Consensus)
            }
            n => Err(format!(
                "{n} hex digits: expected 40 (consensus address) or 64/66 (public key)"
            )),
        };
    }
    // Bech32 may be written all upper-case (never mixed).
    let lower = text.to_ascii_lowercase();
    let bech32 = if text == lower || text == text.to_ascii_uppercase() {
        address::from_bech32(&lower).ok()
    } else {
        None
    };
    if let Some((hrp, addr)) = bech32 {
        if hrp.ends_with("valoper") {
            return Ok(KeySpec::Operator(lower));
        }
        if hrp.ends_with("valcons") {
            return Ok(KeySpec::Consensus(addr));
        }
        return Err(format!(
            "bech32 prefix `{hrp}` is neither `<prefix>valoper` nor `<prefix>valcons`"
        ));
    }
    // Base64 only for key-sized text (32 or 33 bytes are 44 characters), so a typo is not
    // reported as a strange public key.
    if text.len() >= 40
        && text.len() % 4 == 0
        && let Ok(bytes) = subtle_encoding::base64::decode(text.as_bytes())
    {
        return pubkey_address(&bytes).map(KeySpec::Consensus);
    }
    Err("not a valoper, valcons, hex consensus address, or base64/hex consensus public key".into())
}

fn pubkey_address(bytes: &[u8]) -> Result<Address, String> {
    let kind = match bytes.len() {
        32 => KeyKind::Ed25519,
        33 => KeyKind::Secp256k1,
        n => {
            return Err(format!(
                "public key of {n} bytes: only ed25519 (32) and secp256k1 (33) are supported"
            ));
        }
    };
    address::consensus_address(kind, bytes).map_err(|e| e.to_string())
}

/// What x/staking says of one operator: its consensus address, or why there is none.
pub type OperatorAddresses = HashMap<String, Result<Address, String>>;

/// Keys resolved to canonical keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Labels with canonical keys (labels whose keys are all unresolved stay, empty).
    pub labels: LabelMap,
    /// Canonical keys that always get per-validator series.
    pub always: Vec<String>,
    /// Keys not resolved: key as written and why.
    pub unresolved: BTreeMap<String, String>,
    /// Operator address of each canonical key configured by its operator address.
    pub operators: BTreeMap<String, String>,
}

/// Resolves every configured key. `operators` is x/staking's operator → consensus address map
/// (`None` while x/staking has not been read); `consumer_keys` maps configured keys to their
/// consumer-chain consensus key (ICS); `prefix`, when known, is the chain's bech32 prefix that
/// configured bech32 keys must carry (a key of another chain is reported, not watched).
pub fn resolve(
    labels: &LabelMap,
    per_validator: &[String],
    consumer_keys: &BTreeMap<String, String>,
    operators: Option<&OperatorAddresses>,
    prefix: Option<&str>,
) -> Resolved {
    let mut out = Resolved::default();
    let one = |key: &str, out: &mut Resolved| -> Option<String> {
        let spec = match consumer_keys.get(key) {
            Some(consumer) => parse_key(consumer),
            None => check_prefix(key, prefix).and_then(|()| parse_key(key)),
        };
        let resolved = match spec {
            Err(reason) => Err(reason),
            Ok(KeySpec::Consensus(addr)) => Ok(addr),
            Ok(KeySpec::Operator(valoper)) => match operators {
                None => Err("x/staking has not been read yet".to_string()),
                Some(map) => match map.get(&valoper) {
                    None => Err("not a validator in x/staking".to_string()),
                    Some(Err(reason)) => Err(reason.clone()),
                    Some(Ok(addr)) => {
                        out.operators.insert(address::to_hex(addr), valoper.clone());
                        Ok(*addr)
                    }
                },
            },
        };
        match resolved {
            Ok(addr) => Some(address::to_hex(&addr)),
            Err(reason) => {
                out.unresolved.insert(key.to_string(), reason);
                None
            }
        }
    };
    for (label, keys) in labels {
        let mut canonical = BTreeSet::new();
        for key in keys {
            if let Some(hex) = one(key, &mut out) {
                canonical.insert(hex);
            }
        }
        out.labels
            .insert(label.clone(), canonical.into_iter().collect());
    }
    let mut always = BTreeSet::new();
    for key in per_validator {
        if let Some(hex) = one(key, &mut out) {
            always.insert(hex);
        }
    }
    out.always = always.into_iter().collect();
    out
}

/// Refuses a bech32 key whose prefix is not `prefix` + `valoper`/`valcons`.
fn check_prefix(key: &str, prefix: Option<&str>) -> Result<(), String> {
    let Some(prefix) = prefix else {
        return Ok(());
    };
    let Ok((hrp, _)) = address::from_bech32(&key.trim().to_ascii_lowercase()) else {
        return Ok(());
    };
    if hrp == format!("{prefix}valoper") || hrp == format!("{prefix}valcons") {
        Ok(())
    } else {
        Err(format!(
            "bech32 prefix `{hrp}` is not this chain's (`{prefix}valoper` / `{prefix}valcons`)"
        ))
    }
}

/// The canonical form check used when building the validator set: upper-case hex of 20 bytes.
pub fn canonical(key: &str) -> Result<String, String> {
    address::from_hex(key)
        .map(|a| address::to_hex(&a))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_KEY_B64: &str = "LtiHVLCcE+oFII0vpIl9mfkGDmk9BpPg1eUkvKnO4xw=";
    const ED_ADDR: &str = "D68EEC0D2E8248F1EC64CDB585EDB61ECA432BD8";

    #[test]
    fn every_key_form_gives_the_same_consensus_address() {
        let addr = address::from_hex(ED_ADDR).expect("hex");
        let forms = [
            ED_ADDR.to_string(),
            ED_ADDR.to_ascii_lowercase(),
            address::to_bech32("cosmosvalcons", &addr),
            ED_KEY_B64.to_string(),
            hex::encode(subtle_encoding::base64::decode(ED_KEY_B64).expect("b64")),
        ];
        for form in forms {
            assert_eq!(
                parse_consensus_key(&form),
                Ok(addr),
                "{form} gives the address"
            );
        }
    }

    #[test]
    fn operators_resolve_through_staking_and_bad_keys_are_reported() {
        let valoper = address::to_bech32("cosmosvaloper", &[9; 20]);
        let unknown_valoper = address::to_bech32("cosmosvaloper", &[8; 20]);
        let bls_valoper = address::to_bech32("cosmosvaloper", &[7; 20]);
        let labels: LabelMap = [(
            "s1".to_string(),
            vec![
                valoper.to_ascii_uppercase(),
                unknown_valoper.clone(),
                bls_valoper.clone(),
                "zz".into(),
                ED_ADDR.into(),
            ],
        )]
        .into();
        let before = resolve(&labels, &[], &BTreeMap::new(), None, None);
        assert_eq!(before.labels["s1"], [ED_ADDR]);
        assert_eq!(before.unresolved.len(), 4);

        let operators: OperatorAddresses = [
            (valoper.clone(), Ok([1; 20])),
            (
                bls_valoper.clone(),
                Err("unsupported consensus key type `/cosmos.crypto.bls12_381.PubKey`".into()),
            ),
        ]
        .into();
        let after = resolve(
            &labels,
            std::slice::from_ref(&valoper),
            &BTreeMap::new(),
            Some(&operators),
            Some("cosmos"),
        );
        let one = address::to_hex(&[1; 20]);
        let mut expected = vec![one.clone(), ED_ADDR.to_string()];
        expected.sort();
        assert_eq!(after.labels["s1"], expected);
        assert_eq!(after.always, std::slice::from_ref(&one));
        assert_eq!(after.operators[&one], valoper);
        assert!(after.unresolved[&unknown_valoper].contains("not a validator"));
        assert!(after.unresolved[&bls_valoper].contains("bls12_381"));
        assert!(after.unresolved["zz"].contains("not a valoper"));
        assert_eq!(after.unresolved.len(), 3);
    }

    #[test]
    fn consumer_keys_replace_the_configured_key() {
        let valoper = address::to_bech32("cosmosvaloper", &[9; 20]);
        let labels: LabelMap = [("ics".to_string(), vec![valoper.clone()])].into();
        let consumer: BTreeMap<String, String> = [(valoper, ED_KEY_B64.to_string())].into();
        let resolved = resolve(&labels, &[], &consumer, None, Some("neutron"));
        assert_eq!(resolved.labels["ics"], [ED_ADDR]);
        assert!(resolved.unresolved.is_empty());
        // Without the mapping, a key of another chain is reported.
        let labels: LabelMap = [(
            "x".to_string(),
            vec![address::to_bech32("osmovalcons", &[1; 20])],
        )]
        .into();
        let other = resolve(&labels, &[], &BTreeMap::new(), None, Some("cosmos"));
        assert!(other.labels["x"].is_empty());
        assert!(other.unresolved.values().all(|r| r.contains("osmovalcons")));
    }

    #[test]
    fn unsupported_public_key_lengths_are_errors() {
        let key48 = hex::encode([1u8; 48]);
        assert!(parse_key(&key48).is_err());
        let b64 = String::from_utf8(subtle_encoding::base64::encode([1u8; 48])).expect("ascii");
        assert!(parse_key(&b64).expect_err("48 bytes").contains("48 bytes"));
        assert_eq!(
            canonical(&ED_ADDR.to_ascii_lowercase()).as_deref(),
            Ok(ED_ADDR)
        );
    }
}
