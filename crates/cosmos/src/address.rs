//! Consensus and operator addresses: from consensus public keys to the 20-byte consensus address,
//! and between hex and bech32 (`<prefix>valcons`, `<prefix>valoper`).
//!
//! CometBFT shows consensus addresses as upper-case hex; x/slashing shows them as bech32
//! `<prefix>valcons`. An ed25519 address is the first 20 bytes of SHA-256(pubkey); a secp256k1
//! address is RIPEMD160(SHA256(compressed pubkey)). Any other key type is an
//! [`AddressError::UnsupportedKey`], never a panic.

use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

/// A 20-byte consensus (or operator) address.
pub type Address = [u8; 20];

/// Why a key or an address could not be turned into an [`Address`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A key type this watcher cannot derive an address from (BLS12-381, BN254, ...).
    #[error("unsupported consensus key type `{0}`")]
    UnsupportedKey(String),
    /// The key has the wrong length for its type.
    #[error("{kind} key has {len} bytes, expected {expected}")]
    KeyLength {
        /// Key type.
        kind: &'static str,
        /// Length found.
        len: usize,
        /// Length expected.
        expected: usize,
    },
    /// Neither hex nor bech32 of 20 bytes.
    #[error("`{0}` is not a 20-byte hex or bech32 address")]
    Malformed(String),
    /// A bech32 address with a human-readable part other than the one expected.
    #[error("address has prefix `{found}`, expected `{expected}`")]
    WrongPrefix {
        /// Found prefix.
        found: String,
        /// Expected prefix.
        expected: String,
    },
}

/// The kinds of consensus keys an address can be derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// 32-byte ed25519 key.
    Ed25519,
    /// 33-byte compressed secp256k1 key.
    Secp256k1,
}

impl KeyKind {
    /// Recognises a key type from its CometBFT JSON name (`tendermint/PubKeyEd25519`) or its
    /// protobuf type URL (`/cosmos.crypto.ed25519.PubKey`).
    pub fn from_type_name(name: &str) -> Result<Self, AddressError> {
        match name {
            "tendermint/PubKeyEd25519" | "/cosmos.crypto.ed25519.PubKey" | "ed25519" => {
                Ok(KeyKind::Ed25519)
            }
            "tendermint/PubKeySecp256k1" | "/cosmos.crypto.secp256k1.PubKey" | "secp256k1" => {
                Ok(KeyKind::Secp256k1)
            }
            other => Err(AddressError::UnsupportedKey(other.to_string())),
        }
    }
}

/// The consensus address of a raw public key of kind `kind`.
pub fn consensus_address(kind: KeyKind, key: &[u8]) -> Result<Address, AddressError> {
    let mut out = [0u8; 20];
    match kind {
        KeyKind::Ed25519 => {
            check_len("ed25519", key, 32)?;
            out.copy_from_slice(&Sha256::digest(key)[..20]);
        }
        KeyKind::Secp256k1 => {
            check_len("secp256k1", key, 33)?;
            out.copy_from_slice(&Ripemd160::digest(Sha256::digest(key)));
        }
    }
    Ok(out)
}

fn check_len(kind: &'static str, key: &[u8], expected: usize) -> Result<(), AddressError> {
    if key.len() == expected {
        Ok(())
    } else {
        Err(AddressError::KeyLength {
            kind,
            len: key.len(),
            expected,
        })
    }
}

/// Upper-case hex, as CometBFT shows addresses.
pub fn to_hex(address: &Address) -> String {
    hex::encode_upper(address)
}

/// Bech32 with human-readable part `hrp` (for example `cosmosvalcons`).
pub fn to_bech32(hrp: &str, address: &Address) -> String {
    subtle_encoding::bech32::encode(hrp, address)
}

/// Parses 40 hex digits (either case) into an address.
pub fn from_hex(text: &str) -> Result<Address, AddressError> {
    let mut out = [0u8; 20];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|_| AddressError::Malformed(text.to_string()))?;
    Ok(out)
}

/// Parses a bech32 address of 20 bytes, returning its human-readable part too.
pub fn from_bech32(text: &str) -> Result<(String, Address), AddressError> {
    let (hrp, data) = subtle_encoding::bech32::decode(text.trim())
        .map_err(|_| AddressError::Malformed(text.to_string()))?;
    let address: Address = data
        .as_slice()
        .try_into()
        .map_err(|_| AddressError::Malformed(text.to_string()))?;
    Ok((hrp, address))
}

/// Parses a bech32 address whose human-readable part must end with `suffix` (`valcons`).
pub fn from_bech32_with_suffix(
    text: &str,
    suffix: &str,
) -> Result<(String, Address), AddressError> {
    let (hrp, address) = from_bech32(text)?;
    if !hrp.ends_with(suffix) {
        return Err(AddressError::WrongPrefix {
            found: hrp,
            expected: format!("<prefix>{suffix}"),
        });
    }
    Ok((hrp, address))
}

/// Parses a consensus address given as 40 hex digits or as bech32 `<prefix>valcons`.
pub fn parse_consensus(text: &str) -> Result<Address, AddressError> {
    let text = text.trim();
    if text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return from_hex(text);
    }
    from_bech32_with_suffix(text, "valcons").map(|(_, address)| address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_address_is_the_sha256_prefix() {
        // From the cosmoshub-4 fixture: pubkey LtiHVLCc... has address D68EEC0D...
        let key = [
            0x2e, 0xd8, 0x87, 0x54, 0xb0, 0x9c, 0x13, 0xea, 0x05, 0x20, 0x8d, 0x2f, 0xa4, 0x89,
            0x7d, 0x99, 0xf9, 0x06, 0x0e, 0x69, 0x3d, 0x06, 0x93, 0xe0, 0xd5, 0xe5, 0x24, 0xbc,
            0xa9, 0xce, 0xe3, 0x1c,
        ];
        let address = consensus_address(KeyKind::Ed25519, &key).expect("32 bytes");
        assert_eq!(to_hex(&address), "D68EEC0D2E8248F1EC64CDB585EDB61ECA432BD8");
    }

    #[test]
    fn secp256k1_address_is_ripemd_of_sha256() {
        // RIPEMD160(SHA256(x)) of the compressed generator point G (a well known value: the
        // bitcoin hash160 of G's compressed encoding).
        let key = hex::decode("0279BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798")
            .expect("hex");
        let address = consensus_address(KeyKind::Secp256k1, &key).expect("33 bytes");
        assert_eq!(to_hex(&address), "751E76E8199196D454941C45D1B3A323F1433BD6");
    }

    #[test]
    fn wrong_lengths_and_unknown_kinds_are_errors_not_panics() {
        assert!(matches!(
            consensus_address(KeyKind::Ed25519, &[1; 33]),
            Err(AddressError::KeyLength { .. })
        ));
        assert!(matches!(
            KeyKind::from_type_name("/cosmos.crypto.bls12_381.PubKey"),
            Err(AddressError::UnsupportedKey(_))
        ));
    }

    #[test]
    fn bech32_round_trips_and_checks_the_prefix() {
        let address = from_hex("d68eec0d2e8248f1ec64cdb585edb61eca432bd8").expect("hex");
        let text = to_bech32("cosmosvalcons", &address);
        assert!(text.starts_with("cosmosvalcons1"));
        assert_eq!(
            from_bech32(&text).expect("bech32"),
            ("cosmosvalcons".into(), address)
        );
        assert!(matches!(
            from_bech32_with_suffix(&text, "valoper"),
            Err(AddressError::WrongPrefix { .. })
        ));
        let mut broken = text.clone();
        broken.pop();
        broken.push(if text.ends_with('q') { 'p' } else { 'q' });
        assert!(from_bech32(&broken).is_err());
        assert!(from_hex("xyz").is_err());
        assert_eq!(parse_consensus(&text).expect("valcons"), address);
        assert_eq!(
            parse_consensus("D68EEC0D2E8248F1EC64CDB585EDB61ECA432BD8").expect("hex"),
            address
        );
        assert!(parse_consensus(&to_bech32("cosmosvaloper", &address)).is_err());
    }
}
