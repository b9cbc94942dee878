"""The spec's verdict for the watched epoch, expected.json, and self-checks.

Where epoch e's participation flags live: process_attestation writes into
state.current_epoch_participation when the attestation's target epoch is the
state's current epoch, and into state.previous_epoch_participation when it is
the previous epoch; at every epoch transition
process_participation_flag_updates moves current -> previous and clears
current.  So once the last slot of e+1 is processed (and before the
transition into e+2) state.previous_epoch_participation[i] holds validator
i's final flags for epoch e (nothing can add to them any more: an attestation
whose target is e is rejected by process_attestation from e+2 on).
"""

from collections import Counter

from .chain import CORRECT, WRONG_HEAD, WRONG_TARGET, WRONG_TARGET_HEAD_OK

TIMELY_SOURCE, TIMELY_TARGET, TIMELY_HEAD = 1, 2, 4

# (head root matches the spec's, target root matches the spec's) per vote kind
KIND_MATCHES = {
    CORRECT: (True, True),
    WRONG_HEAD: (False, True),
    WRONG_TARGET: (False, False),
    WRONG_TARGET_HEAD_OK: (True, False),
}


class SelfCheckError(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise SelfCheckError(msg)


def spec_flags(chain, epoch):
    """Validator index -> participation flags of `epoch`, read from the spec state."""
    spec, state = chain.spec, chain.state
    check(int(spec.get_current_epoch(state)) == epoch + 1, "state must be in epoch e+1")
    check(
        int(state.slot) == chain.start_slot(epoch + 2) - 1,
        "state must have processed the last slot of e+1",
    )
    return [int(f) for f in state.previous_epoch_participation]


def predicted_flags(spec, duty):
    """Bookkeeping-only prediction (used to cross-check the spec, never written)."""
    bound = int(spec.integer_squareroot(spec.SLOTS_PER_EPOCH))
    flags = 0
    for slot, kind in duty.inclusions:
        delay = slot - duty.slot
        head_ok, target_ok = KIND_MATCHES[kind]
        if delay <= bound:
            flags |= TIMELY_SOURCE
        if target_ok:
            flags |= TIMELY_TARGET
        if target_ok and head_ok and delay == int(spec.MIN_ATTESTATION_INCLUSION_DELAY):
            flags |= TIMELY_HEAD
    return flags


def expected_inclusions(chain, duty, last_slot):
    """Where the builder's rules should have put each of the duty's votes."""
    block_slots = sorted(chain.blocks)
    out = set()
    for vote in duty.votes:
        for delay in vote.delays:
            later = [s for s in block_slots if duty.slot + delay <= s <= last_slot]
            if later:
                out.add((later[0], vote.kind))
    return out


def check_blocks_against_bookkeeping(chain, epoch, last_slot):
    """Walk the attestations in the canonical blocks with the spec's own
    get_attesting_indices and compare their roots with the spec's roots."""
    spec, state = chain.spec, chain.state
    target_root = bytes(spec.get_block_root(state, epoch))
    seen = Counter()
    for slot in sorted(chain.blocks):
        if slot <= chain.start_slot(epoch):
            continue
        block = chain.blocks[slot].message
        for att in block.body.attestations:
            data = att.data
            if int(data.target.epoch) != epoch:
                continue
            head_ok = bytes(data.beacon_block_root) == bytes(
                spec.get_block_root_at_slot(state, data.slot)
            )
            target_ok = bytes(data.target.root) == target_root
            kind = next(k for k, m in KIND_MATCHES.items() if m == (head_ok, target_ok))
            for v in spec.get_attesting_indices(state, att):
                duty = chain.duties[int(v)]
                check(duty.slot == int(data.slot), f"validator {v} attests at wrong slot")
                check(
                    (slot, kind) in duty.inclusions,
                    f"block {slot} carries {kind} vote of {v} not in bookkeeping",
                )
                seen[(int(v), slot, kind)] += 1
    for v, duty in chain.duties.items():
        for inc in duty.inclusions:
            check(seen[(v, *inc)] >= 1, f"bookkeeping inclusion {inc} of {v} not on chain")


def build_expected(chain, script, fork, epoch, first_slot, last_slot, sync_index):
    """Return expected.json's content, after asserting it is self-consistent."""
    spec, state = chain.spec, chain.state
    spe = int(spec.SLOTS_PER_EPOCH)
    flags = spec_flags(chain, epoch)
    window = range(chain.start_slot(epoch), last_slot + 1)

    check(sorted(chain.duties) == sorted(
        int(v) for v in spec.get_active_validator_indices(state, epoch)
    ), "every active validator has exactly one duty in e")
    check_blocks_against_bookkeeping(chain, epoch, last_slot)
    strict = not chain.deferred
    if script.name != "chaos":
        check(strict, f"aggregates deferred for lack of room: {chain.deferred}")

    attestations = []
    for v in sorted(chain.duties):
        duty = chain.duties[v]
        f = flags[v]
        check(f == predicted_flags(spec, duty),
              f"validator {v} ({duty.label}): spec flags {f} != bookkeeping "
              f"{predicted_flags(spec, duty)} from {duty.inclusions}")
        if strict:
            check(set(duty.inclusions) == expected_inclusions(chain, duty, last_slot),
                  f"validator {v} ({duty.label}) placed at {duty.inclusions}")
        if duty.label == "offline":
            check(f == 0 and not duty.inclusions, f"offline validator {v} has flags {f}")
        if duty.label == "ontime" and duty.inclusions[:1] == [(duty.slot + 1, CORRECT)]:
            check(f == 7, f"on-time validator {v} has flags {f}")
        first = min((s for s, _ in duty.inclusions), default=None)
        attestations.append({
            "index": v,
            "committee_slot": duty.slot,
            "committee_index": duty.committee_index,
            "committee_position": duty.position,
            "flags": f,
            "source_timely": bool(f & TIMELY_SOURCE),
            "target_timely": bool(f & TIMELY_TARGET),
            "head_timely": bool(f & TIMELY_HEAD),
            "included": first is not None,
            "inclusion_slot": first,
            "inclusion_delay": None if first is None else first - duty.slot,
            "inclusions": [
                {"slot": s, "delay": s - duty.slot, "vote": k} for s, k in sorted(duty.inclusions)
            ],
            "scripted": duty.label,
        })

    proposals = []
    for slot in window:
        proposed = slot in chain.blocks
        if proposed:
            check(int(chain.blocks[slot].message.proposer_index) == chain.proposers[slot],
                  f"block {slot} proposer mismatch")
        proposals.append({
            "slot": slot,
            "proposer_index": chain.proposers[slot],
            "proposed": proposed,
            "skip_reason": chain.skipped.get(slot),
        })

    sync = []
    for slot in window:
        entry = {"slot": slot, "block_present": slot in chain.blocks, "signed": None,
                 "not_signed": None}
        if slot in chain.blocks:
            bits = [bool(b) for b in chain.blocks[slot].message.body.sync_aggregate.sync_committee_bits]
            check(bits == chain.sync_bits[slot], f"sync bits of block {slot}")
            for pos, v in enumerate(sync_index):
                check(bits[pos] == script.sync_signs(slot, pos, v), f"sync script, slot {slot}")
            entry["signed"] = [v for v, b in zip(sync_index, bits) if b]
            entry["not_signed"] = [v for v, b in zip(sync_index, bits) if not b]
        sync.append(entry)

    # the target block root and every block root at a slot of e, as the spec sees them
    roots = [
        {"slot": s, "root": "0x" + bytes(spec.get_block_root_at_slot(state, s)).hex(),
         "block": s in chain.blocks}
        for s in range(chain.start_slot(epoch), chain.start_slot(epoch + 1))
    ]
    justified = state.previous_justified_checkpoint  # = current_justified during e
    counts = {
        "scripted": dict(sorted(Counter(a["scripted"] for a in attestations).items())),
        "flags": {str(k): n for k, n in sorted(Counter(a["flags"] for a in attestations).items())},
        "not_included": sum(not a["included"] for a in attestations),
        "missed_slots": sum(not p["proposed"] for p in proposals),
        "unset_sync_bits": sum(len(s["not_signed"] or ()) for s in sync),
        "deferred_aggregates": len(chain.deferred),
    }
    expected = {
        "fork": fork,
        "scenario": script.name,
        "summary": script.summary,
        "epoch": epoch,
        "slots_per_epoch": spe,
        "first_block_slot": first_slot,
        "last_slot": last_slot,
        "source": {"epoch": int(justified.epoch), "root": "0x" + bytes(justified.root).hex()},
        "target_root": "0x" + bytes(spec.get_block_root(state, epoch)).hex(),
        "block_roots": roots,
        "offline": sorted(script.offline),
        "counts": counts,
        "attestations": attestations,
        "proposals": proposals,
        "sync": sync,
    }
    script.verify(expected)
    return expected
