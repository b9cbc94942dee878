"""SSZ objects <-> Beacon API JSON.

The Beacon API encodes every unsigned integer as a decimal string, booleans as
JSON booleans, fixed and variable byte strings as 0x-prefixed lower-case hex,
bitlists as the 0x-hex of their SSZ serialization (which carries the
length-delimiting bit) and bitvectors as the 0x-hex of their SSZ bytes.
Container fields keep the names and the order of the SSZ definition.

`from_api` is the inverse; the generator uses it to decode the block files it
wrote and replays them through the spec's state transition, which proves the
JSON is a faithful encoding of the chain the verdicts were taken from.
"""

import json

from ssz.bitfields import BitList, BitVector
from ssz.boolean import Boolean
from ssz.byte_arrays import ByteList, ByteVector
from ssz.collections import List, Vector
from ssz.container import Container
from ssz.uint import BaseUint

from eth_consensus_specs.utils.ssz.ssz_impl import serialize, ssz_deserialize


def to_api(value):
    """Encode an SSZ value the way a Beacon API JSON body carries it."""
    if isinstance(value, Boolean):
        return bool(value)
    if isinstance(value, BaseUint):
        return str(int(value))
    if isinstance(value, (BitList, BitVector)):
        return "0x" + serialize(value).hex()
    if isinstance(value, (bytes, ByteList)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (List, Vector)):
        return [to_api(item) for item in value]
    if isinstance(value, Container):
        return {name: to_api(getattr(value, name)) for name in type(value).model_fields}
    raise TypeError(f"cannot encode {type(value)!r} for the Beacon API")


def _hex(text):
    if not isinstance(text, str) or not text.startswith("0x"):
        raise ValueError(f"expected 0x-hex string, got {text!r}")
    return bytes.fromhex(text[2:])


def from_api(obj, typ):
    """Decode Beacon API JSON into the SSZ type `typ` (strict: strings for
    integers, 0x-hex for bytes and bitfields, exact container keys)."""
    if issubclass(typ, Boolean):
        if not isinstance(obj, bool):
            raise ValueError(f"expected JSON boolean, got {obj!r}")
        return typ(obj)
    if issubclass(typ, BaseUint):
        if not isinstance(obj, str) or not obj.isdigit():
            raise ValueError(f"expected decimal string, got {obj!r}")
        return typ(int(obj))
    if issubclass(typ, (BitList, BitVector)):
        return ssz_deserialize(typ, _hex(obj))
    if issubclass(typ, ByteList):
        return typ(data=_hex(obj))
    if issubclass(typ, ByteVector):
        return typ(_hex(obj))
    if issubclass(typ, (List, Vector)):
        if not isinstance(obj, list):
            raise ValueError(f"expected JSON array, got {obj!r}")
        return typ(data=[from_api(item, typ.ELEMENT_TYPE) for item in obj])
    if issubclass(typ, Container):
        fields = typ.model_fields
        if not isinstance(obj, dict) or list(obj) != list(fields):
            raise ValueError(f"{typ.__name__}: keys {list(obj)} != {list(fields)}")
        return typ(**{name: from_api(obj[name], f.annotation) for name, f in fields.items()})
    raise TypeError(f"cannot decode into {typ!r}")


def dumps(body):
    """Compact, deterministic JSON text (key order as built), newline-terminated."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True) + "\n"


# --- endpoint bodies ---------------------------------------------------------

META = {"execution_optimistic": False, "finalized": False}


def genesis_body(spec, state):
    return {
        "data": {
            "genesis_time": str(int(state.genesis_time)),
            "genesis_validators_root": "0x" + bytes(state.genesis_validators_root).hex(),
            "genesis_fork_version": "0x" + bytes(spec.config.GENESIS_FORK_VERSION).hex(),
        }
    }


def block_body(fork, signed_block):
    return {"version": fork, **META, "data": to_api(signed_block)}


def header_body(spec, signed_block):
    block = signed_block.message
    header = spec.BeaconBlockHeader(
        slot=block.slot,
        proposer_index=block.proposer_index,
        parent_root=block.parent_root,
        state_root=block.state_root,
        body_root=spec.hash_tree_root(block.body),
    )
    assert spec.hash_tree_root(header) == spec.hash_tree_root(block)
    return {
        **META,
        "data": {
            "root": "0x" + bytes(spec.hash_tree_root(block)).hex(),
            "canonical": True,
            "header": {"message": to_api(header), "signature": to_api(signed_block.signature)},
        },
    }


def committees_body(spec, state, epoch):
    """GET /eth/v1/beacon/states/{state}/committees?epoch=<epoch>"""
    data = []
    count = spec.get_committee_count_per_slot(state, epoch)
    start = spec.compute_start_slot_at_epoch(epoch)
    for slot in range(start, start + spec.SLOTS_PER_EPOCH):
        for index in range(count):
            committee = spec.get_beacon_committee(state, spec.Slot(slot), spec.CommitteeIndex(index))
            data.append(
                {"index": str(index), "slot": str(slot), "validators": [str(v) for v in committee]}
            )
    return {**META, "data": data}


def sync_committee_indices(spec, state, epoch):
    """Validator indices of the sync committee serving `epoch`, by position."""
    period = epoch // spec.EPOCHS_PER_SYNC_COMMITTEE_PERIOD
    current = spec.get_current_epoch(state) // spec.EPOCHS_PER_SYNC_COMMITTEE_PERIOD
    if period == current:
        committee = state.current_sync_committee
    elif period == current + 1:
        committee = state.next_sync_committee
    else:
        raise ValueError(f"sync committee of epoch {epoch} not known to state")
    by_pubkey = {bytes(v.pubkey): i for i, v in enumerate(state.validators)}
    return [by_pubkey[bytes(pk)] for pk in committee.pubkeys]


def sync_committees_body(spec, state, epoch):
    """GET /eth/v1/beacon/states/{state}/sync_committees?epoch=<epoch>"""
    indices = sync_committee_indices(spec, state, epoch)
    size = spec.SYNC_COMMITTEE_SIZE // spec.SYNC_COMMITTEE_SUBNET_COUNT
    aggregates = [
        [str(v) for v in indices[i : i + size]] for i in range(0, len(indices), size)
    ]
    return {**META, "data": {"validators": [str(v) for v in indices], "validator_aggregates": aggregates}}


def proposer_duties_body(state, proposers, dependent_root):
    """GET /eth/v1/validator/duties/proposer/<epoch>; `proposers` maps slot -> index."""
    data = [
        {
            "pubkey": "0x" + bytes(state.validators[p].pubkey).hex(),
            "validator_index": str(p),
            "slot": str(slot),
        }
        for slot, p in sorted(proposers.items())
    ]
    return {"dependent_root": "0x" + bytes(dependent_root).hex(), "execution_optimistic": False, "data": data}


def validator_status(spec, validator, epoch):
    """Beacon API validator status (the 'validator status' table of the API spec)."""
    far = spec.FAR_FUTURE_EPOCH
    if validator.activation_epoch > epoch:
        if validator.activation_eligibility_epoch == far:
            return "pending_initialized"
        return "pending_queued"
    if validator.activation_epoch <= epoch < validator.exit_epoch:
        if validator.exit_epoch == far:
            return "active_ongoing"
        return "active_slashed" if validator.slashed else "active_exiting"
    if epoch < validator.withdrawable_epoch:
        return "exited_slashed" if validator.slashed else "exited_unslashed"
    return "withdrawal_possible" if validator.effective_balance != 0 else "withdrawal_done"


def validators_body(spec, state):
    """GET /eth/v1/beacon/states/head/validators"""
    epoch = spec.get_current_epoch(state)
    data = [
        {
            "index": str(i),
            "balance": str(int(state.balances[i])),
            "status": validator_status(spec, v, epoch),
            "validator": to_api(v),
        }
        for i, v in enumerate(state.validators)
    ]
    return {**META, "data": data}


# Forks in activation order; config keys are <NAME>_FORK_EPOCH / <NAME>_FORK_VERSION.
FORK_ORDER = ["altair", "bellatrix", "capella", "deneb", "electra", "fulu", "gloas"]
# Constants of the executable spec that are spec-internal, not chain parameters.
_SKIP_CONSTANTS = ("PAYLOAD_STATUS_", "UINT64_MAX", "UINT256_MAX", "ENDIANNESS")


def config_spec_body(spec, fork, later_fork_versions):
    """GET /eth/v1/config/spec for a chain that starts at `fork` at genesis.

    Fork epochs up to and including `fork` are 0, later ones FAR_FUTURE_EPOCH.
    `later_fork_versions` maps fork name -> version bytes for forks the spec
    module of `fork` does not know (so a consumer sees them unscheduled).
    """
    far = str(int(spec.FAR_FUTURE_EPOCH))
    active = FORK_ORDER[: FORK_ORDER.index(fork) + 1]
    data = {}

    def put(name, value):
        if isinstance(value, str):
            data[name] = value
        elif isinstance(value, tuple):  # BLOB_SCHEDULE
            data[name] = [
                {k: str(int(v)) for k, v in entry.items()} for entry in value
            ]
        else:
            data[name] = to_api(value)

    for name in spec.config._fields:
        value = getattr(spec.config, name)
        if name.endswith("_FORK_EPOCH"):
            forkname = name[: -len("_FORK_EPOCH")].lower()
            data[name] = "0" if forkname in active else far
        else:
            put(name, value)
    for forkname, version in later_fork_versions.items():
        key = forkname.upper()
        if f"{key}_FORK_EPOCH" not in data:
            data[f"{key}_FORK_VERSION"] = "0x" + bytes(version).hex()
            data[f"{key}_FORK_EPOCH"] = far
    # Beacon nodes still serve the pre-millisecond slot length.
    data["SECONDS_PER_SLOT"] = str(int(spec.config.SLOT_DURATION_MS) // 1000)
    for name in sorted(dir(spec)):
        if not name.isupper() or name in data or name.startswith(_SKIP_CONSTANTS):
            continue
        value = getattr(spec, name)
        if isinstance(value, (BaseUint, bytes)) and not isinstance(value, Boolean):
            data[name] = to_api(value)
    return {"data": data}
