"""Scenario scripts: who attests what, which slots stay empty, who signs the
sync aggregate.  Every choice is fixed by the code or by a seeded RNG, so a
re-run builds the same chain byte for byte.

Faults start at `ctx.fault_start` (the first slot of epoch e-1); everything
before is an honest warm-up chain shared by all scenarios of a fork.  Vote
faults are scripted for attestation duties of the watched epoch e only;
duties of e-1 and e+1 are honest (included at the next block) unless the
validator is offline.  Empty slots and sync faults may be anywhere in e and e+1.
"""

import random
from dataclasses import dataclass

from .chain import (
    CORRECT,
    ONTIME,
    WRONG_HEAD,
    WRONG_TARGET,
    WRONG_TARGET_HEAD_OK,
    Plan,
    Vote,
)


@dataclass
class Context:
    epoch: int  # watched epoch e
    slots_per_epoch: int
    fault_start: int  # first slot of e-1
    committees: dict  # slot of e -> list of committees (lists of validator indices)
    proposers: dict  # slot of e -> proposer index (predicted from the warm-up state)
    sync_committee: list  # validator index by sync committee position (epochs e, e+1)
    n_validators: int

    def slot(self, k):
        """k-th slot of the watched epoch."""
        return self.epoch * self.slots_per_epoch + k

    @property
    def window(self):
        """Slots of e and e+1."""
        first = self.epoch * self.slots_per_epoch
        return range(first, first + 2 * self.slots_per_epoch)

    def member(self, k, ci, pos):
        return self.committees[self.slot(k)][ci][pos]


def _by_label(expected):
    out = {}
    for a in expected["attestations"]:
        out.setdefault(a["scripted"], []).append(a)
    return out


def _require(cond, msg):
    if not cond:
        raise AssertionError(f"scenario intent not met: {msg}")


def late(d):
    return Plan(f"late:{d}", [Vote(CORRECT, (d,))])


class Script:
    name = "?"
    seed = 0
    summary = ""

    def __init__(self, ctx):
        self.ctx = ctx
        self.offline = set()  # never attest, propose or sync-sign from fault_start on
        self.skips = {}  # slot -> reason the slot gets no block
        self.faults = {}  # validator -> Plan for its duty in the watched epoch
        self.sync_never = set()  # validators that sign no sync message in e, e+1
        self.sync_missing = {}  # block slot -> set of sync committee positions left unset
        self.setup(random.Random(self.seed))

    def setup(self, rng):
        pass

    def verify(self, expected):
        """Scenario-specific assertions on the finished expected.json content
        (that the chain really contains what the scenario is about)."""

    def watched(self, slot):
        return slot // self.ctx.slots_per_epoch == self.ctx.epoch

    # --- the interface the chain builder calls ---------------------------------

    def skip_reason(self, slot, proposer):
        if slot >= self.ctx.fault_start and proposer in self.offline:
            return "offline"
        return self.skips.get(slot)

    def plan(self, slot, ci, pos, v):
        if slot >= self.ctx.fault_start and v in self.offline:
            return Plan("offline", [])
        if self.watched(slot):
            return self.faults.get(v, ONTIME)
        return ONTIME

    def sync_signs(self, slot, pos, v):
        if slot >= self.ctx.fault_start and v in self.offline:
            return False
        if slot in self.ctx.window:
            if v in self.sync_never or pos in self.sync_missing.get(slot, ()):
                return False
        return True


class Baseline(Script):
    name = "baseline"
    summary = "Everyone online; every attestation included at delay 1."


class Offline(Script):
    name = "offline"
    seed = 2
    summary = (
        "6 validators offline from the first slot of e-1: no attestations, their "
        "proposals are missing (slot empty) and their sync-committee bits are 0."
    )

    def setup(self, rng):
        ctx = self.ctx
        chosen = [ctx.proposers[ctx.slot(2)]]  # one proposer of e
        for v in ctx.sync_committee:  # one sync committee member
            if v not in chosen:
                chosen.append(v)
                break
        rest = [v for v in range(ctx.n_validators) if v not in chosen]
        chosen += rng.sample(rest, 4)
        self.offline = set(chosen)

    def verify(self, expected):
        for a in expected["attestations"]:
            if a["index"] in self.offline:
                _require(a["flags"] == 0 and not a["included"], "offline has no flags")
        _require(any(p["skip_reason"] == "offline" for p in expected["proposals"]),
                 "an offline proposer misses a slot")
        _require(all(set(self.offline).isdisjoint(s["signed"] or ()) for s in expected["sync"]),
                 "offline validators never sign")


class LateInclusion(Script):
    name = "late_inclusion"
    summary = (
        "Whole committees of e included only late: delays 2,3,4,5,6,7,8,9,10,12,15 "
        "(those past the end of e in e+1); one committee half at delay 2, half at 3; "
        "one committee whose delay (9 from the last slot of e) falls past the end of "
        "e+1, so it is never included; the rest on time."
    )

    # (slot offset in e, committee index) -> inclusion delay; "mix" = 2/3 by position
    TABLE = {
        (0, 0): 15, (0, 1): 12, (1, 0): 10, (1, 1): 9, (2, 0): 8, (2, 1): 6,
        (3, 0): 5, (3, 1): 4, (4, 0): 3, (4, 1): 2, (5, 1): "mix",
        (6, 0): 7, (6, 1): 4, (7, 0): 8, (7, 1): 9,
    }

    def setup(self, rng):
        last = self.ctx.window[-1]
        for (k, ci), d in self.TABLE.items():
            for pos, v in enumerate(self.ctx.committees[self.ctx.slot(k)][ci]):
                delay = (2, 3)[pos % 2] if d == "mix" else d
                if self.ctx.slot(k) + delay > last:  # lands after e+1: never included
                    self.faults[v] = Plan(f"too_late:{delay}", [Vote(CORRECT, (delay,))])
                else:
                    self.faults[v] = late(delay)

    def verify(self, expected):
        delays = {a["inclusion_delay"] for a in expected["attestations"] if a["included"]}
        _require({2, 3, 4, 5, 6, 8} <= delays and max(delays) > 8, f"delays {delays}")
        e1 = (expected["epoch"] + 1) * expected["slots_per_epoch"]
        _require(any(a["inclusion_slot"] >= e1 for a in expected["attestations"] if a["included"]),
                 "some included in e+1")
        _require(sum(not a["included"] for a in expected["attestations"]) == 4, "one committee lost")


class WrongHead(Script):
    name = "wrong_head"
    summary = (
        "Votes for the parent of the head block with correct source/target: position 0 "
        "of committee 0 at slots 1..7 of e (delay 1), all of committee 1 at slot 3 "
        "(delay 1), 2 validators at delay 2, 1 at delay 5."
    )

    def setup(self, rng):
        m = self.ctx.member
        for k in range(1, 8):
            self.faults[m(k, 0, 0)] = Plan("wrong_head", [Vote(WRONG_HEAD)])
        for v in self.ctx.committees[self.ctx.slot(3)][1]:
            self.faults[v] = Plan("wrong_head", [Vote(WRONG_HEAD)])
        for pos in (0, 1):
            self.faults[m(5, 1, pos)] = Plan("wrong_head+late:2", [Vote(WRONG_HEAD, (2,))])
        self.faults[m(6, 1, 0)] = Plan("wrong_head+late:5", [Vote(WRONG_HEAD, (5,))])

    def verify(self, expected):
        flags = {"wrong_head": 3, "wrong_head+late:2": 3, "wrong_head+late:5": 2}
        for label, atts in _by_label(expected).items():
            _require(all(a["flags"] == flags.get(label, 7) for a in atts), label)


class WrongTarget(Script):
    name = "wrong_target"
    summary = (
        "Votes naming the parent of the epoch-boundary block as target (and as head): "
        "committee 0 of slot 1 and committee 1 of slot 4 entirely (delay 1), one "
        "validator at the boundary slot itself, 2 included at delay 3 (no flag at "
        "all although included), 1 at delay 2; plus 2 voting a wrong target with the "
        "correct head root (head flag still 0: it requires the target)."
    )

    def setup(self, rng):
        ctx, m = self.ctx, self.ctx.member
        for v in ctx.committees[ctx.slot(1)][0] + ctx.committees[ctx.slot(4)][1]:
            self.faults[v] = Plan("wrong_target", [Vote(WRONG_TARGET)])
        self.faults[m(0, 0, 0)] = Plan("wrong_target", [Vote(WRONG_TARGET)])
        for pos in (0, 1):
            self.faults[m(2, 1, pos)] = Plan("wrong_target_head_ok", [Vote(WRONG_TARGET_HEAD_OK)])
            self.faults[m(3, 0, pos)] = Plan("wrong_target+late:3", [Vote(WRONG_TARGET, (3,))])
        self.faults[m(5, 0, 0)] = Plan("wrong_target+late:2", [Vote(WRONG_TARGET, (2,))])

    def verify(self, expected):
        flags = {"wrong_target": 1, "wrong_target_head_ok": 1, "wrong_target+late:2": 1,
                 "wrong_target+late:3": 0}
        for label, atts in _by_label(expected).items():
            _require(all(a["flags"] == flags.get(label, 7) and a["included"] for a in atts), label)


class EmptySlots(Script):
    name = "empty_slots"
    summary = (
        "No block at slots 0, 2, 5, 6 of e and 0, 4 of e+1 (all validators online). "
        "Slot 0 of e empty makes the target the last block of e-1; attestations of "
        "slots 1, 5 and 7 wait for delay 2, of slot 4 for delay 3; attestations of an "
        "empty slot vote for the previous block, which is the spec's head for that slot."
    )

    def setup(self, rng):
        e = self.ctx.slot
        for k in (0, 2, 5, 6, 8, 12):
            self.skips[e(k)] = "empty"

    def verify(self, expected):
        roots = expected["block_roots"]
        _require(not roots[0]["block"] and roots[0]["root"] == expected["target_root"],
                 "target is the last block of e-1")
        by_slot = {}
        for a in expected["attestations"]:
            by_slot.setdefault(a["committee_slot"] % expected["slots_per_epoch"], set()).add(
                (a["inclusion_delay"], a["flags"]))
        _require(by_slot == {0: {(1, 7)}, 1: {(2, 3)}, 2: {(1, 7)}, 3: {(1, 7)}, 4: {(3, 2)},
                             5: {(2, 3)}, 6: {(1, 7)}, 7: {(2, 3)}}, f"delays/flags {by_slot}")


class DoubleInclusion(Script):
    name = "double_inclusion"
    summary = (
        "The same vote in two blocks: committee 0 of slot 1 at delays 1 and 4, "
        "committee 1 of slot 2 at 3 and 7, committee 1 of slot 4 at 1 and 9 (second in "
        "e+1), committee 0 of slot 6 at 1 and 2; a partial aggregate (2 members of "
        "committee 0 of slot 3) at delay 2, then the full committee at delay 5; two "
        "validators voting a wrong target (delay 1) and then the correct vote (delay 4), "
        "one voting a wrong head (delay 1) and then the correct vote (delay 2). "
        "The spec ORs the flags of all inclusions."
    )

    def setup(self, rng):
        ctx, m = self.ctx, self.ctx.member

        def committee(k, ci, plan):
            for v in ctx.committees[ctx.slot(k)][ci]:
                self.faults[v] = plan

        committee(1, 0, Plan("double:1+4", [Vote(CORRECT, (1, 4))]))
        committee(2, 1, Plan("double:3+7", [Vote(CORRECT, (3, 7))]))
        committee(4, 1, Plan("double:1+9", [Vote(CORRECT, (1, 9))]))
        committee(6, 0, Plan("double:1+2", [Vote(CORRECT, (1, 2))]))
        for pos in range(4):
            if pos < 2:
                self.faults[m(3, 0, pos)] = Plan("partial:2+5", [Vote(CORRECT, (2, 5))])
            else:
                self.faults[m(3, 0, pos)] = late(5)
        for pos in (0, 1):
            self.faults[m(5, 0, pos)] = Plan(
                "equivocation:wrong_target@1+correct@4",
                [Vote(WRONG_TARGET, (1,)), Vote(CORRECT, (4,))],
            )
        self.faults[m(5, 1, 0)] = Plan(
            "equivocation:wrong_head@1+correct@2", [Vote(WRONG_HEAD, (1,)), Vote(CORRECT, (2,))]
        )

    def verify(self, expected):
        flags = {"double:1+4": 7, "double:3+7": 2, "double:1+9": 7, "double:1+2": 7,
                 "partial:2+5": 3, "late:5": 2, "equivocation:wrong_target@1+correct@4": 3,
                 "equivocation:wrong_head@1+correct@2": 3, "ontime": 7}
        for label, atts in _by_label(expected).items():
            for a in atts:
                _require(a["flags"] == flags[label], label)
                if label != "ontime" and label != "late:5":
                    _require(len(a["inclusions"]) == 2, f"{label} included twice")


class SyncMissing(Script):
    name = "sync_missing"
    seed = 8
    summary = (
        "3 sync-committee validators sign no sync message in e and e+1 (all their "
        "positions 0); 0-3 further random positions unset per block; the block at "
        "slot 4 of e has no sync participant at all, in the one at slot 3 of e+1 "
        "16 random positions are unset (plus the never-signers). Attestations all on time."
    )

    def setup(self, rng):
        ctx = self.ctx
        distinct = sorted(set(ctx.sync_committee))
        self.sync_never = set(rng.sample(distinct, 3))
        size = len(ctx.sync_committee)
        for slot in ctx.window:
            self.sync_missing[slot] = set(rng.sample(range(size), rng.randint(0, 3)))
        self.sync_missing[ctx.slot(4)] = set(range(size))
        self.sync_missing[ctx.slot(11)] = set(rng.sample(range(size), size // 2))

    def verify(self, expected):
        sync = {s["slot"]: s for s in expected["sync"]}
        _require(sync[self.ctx.slot(4)]["signed"] == [], "empty sync aggregate")
        for s in expected["sync"]:
            _require(self.sync_never.isdisjoint(s["signed"]), "never-signers unset")


class MissedProposals(Script):
    name = "missed_proposals"
    summary = (
        "The scheduled (online) proposers of slots 1, 4 and 7 of e and 2 of e+1 do not "
        "propose; they still attest and sign sync messages."
    )

    def setup(self, rng):
        for k in (1, 4, 7, 10):
            self.skips[self.ctx.slot(k)] = "missed"

    def verify(self, expected):
        missed = [p["slot"] for p in expected["proposals"] if not p["proposed"]]
        _require(missed == [self.ctx.slot(k) for k in (1, 4, 7, 10)], f"missed {missed}")


class Chaos(Script):
    name = "chaos"
    seed = 10
    summary = (
        "Seeded random mix: 3 validators offline, 3 random empty slots in e/e+1, "
        "each other duty of e on time, late, wrong head, wrong target (with or "
        "without correct head), doubly included, equivocating or missing; ~10% "
        "random sync misses."
    )

    def setup(self, rng):
        ctx = self.ctx
        self.offline = set(rng.sample(range(ctx.n_validators), 3))
        for slot in sorted(rng.sample(list(ctx.window), 3)):
            self.skips[slot] = "empty"
        for slot in sorted(ctx.committees):
            for committee in ctx.committees[slot]:
                for v in committee:
                    self.faults[v] = self._pick(rng)
        for slot in ctx.window:
            self.sync_missing[slot] = {
                pos for pos in range(len(ctx.sync_committee)) if rng.random() < 0.1
            }

    @staticmethod
    def _pick(rng):
        r = rng.random()
        d = rng.choice([1, 1, 2, 3])
        if r < 0.40:
            return ONTIME
        if r < 0.55:
            return late(rng.choice([2, 3, 4, 5, 6, 8, 10, 12]))
        if r < 0.65:
            return Plan(f"wrong_head@{d}", [Vote(WRONG_HEAD, (d,))])
        if r < 0.72:
            return Plan(f"wrong_target@{d}", [Vote(WRONG_TARGET, (d,))])
        if r < 0.75:
            return Plan(f"wrong_target_head_ok@{d}", [Vote(WRONG_TARGET_HEAD_OK, (d,))])
        if r < 0.83:
            a = rng.choice([1, 2, 3])
            b = a + rng.choice([1, 3, 6])
            return Plan(f"double:{a}+{b}", [Vote(CORRECT, (a, b))])
        if r < 0.88:
            return Plan(
                f"equivocation:wrong_target@{d}+correct@{d + 2}",
                [Vote(WRONG_TARGET, (d,)), Vote(CORRECT, (d + 2,))],
            )
        return Plan("no_vote", [])


class Honest:
    """Script of the shared warm-up chain: everyone online and on time."""

    def skip_reason(self, slot, proposer):
        return None

    def plan(self, slot, ci, pos, v):
        return ONTIME

    def sync_signs(self, slot, pos, v):
        return True


SCENARIOS = [
    Baseline,
    Offline,
    LateInclusion,
    WrongHead,
    WrongTarget,
    EmptySlots,
    DoubleInclusion,
    SyncMissing,
    MissedProposals,
    Chaos,
]
