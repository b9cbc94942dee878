"""A signed beacon chain built slot by slot with the executable spec.

The builder proposes blocks, creates every validator's attestation and sync
committee signature and decides where each one is included, following a
scenario script (see scenarios.py).  It keeps its own bookkeeping of what it
placed where; the verdict itself is always read from the spec state.

Attestation model: at slot s, after the block of slot s (if any) has been
applied, each committee member may cast one or more votes.  A vote has a kind
(which roots it names) and a list of inclusion delays; for each delay d the
vote is put into the first block whose slot is >= s + d, as long as the spec
still accepts it there (target epoch is the block's epoch or the one before).
Votes with identical AttestationData waiting for the same block are merged
into one aggregate per committee, and (Electra and later) the aggregates of
one AttestationData across committees into one on-chain aggregate, like a
block producer does.
"""

from dataclasses import dataclass, field, replace

from eth_consensus_specs.test.helpers.block import build_empty_block, sign_block
from eth_consensus_specs.test.helpers.forks import is_post_electra
from eth_consensus_specs.test.helpers.genesis import (
    create_genesis_state,
    create_signed_genesis_block,
)
from eth_consensus_specs.test.helpers.keys import privkeys
from eth_consensus_specs.utils import bls

# Vote kinds (which roots the AttestationData names; the source is always the
# justified checkpoint the spec expects, anything else is an invalid block).
CORRECT = "correct"  # head = block root at the attestation slot, target = epoch boundary root
WRONG_HEAD = "wrong_head"  # head = parent of that block, target correct
WRONG_TARGET = "wrong_target"  # target = parent of the boundary block, head = that same root
WRONG_TARGET_HEAD_OK = "wrong_target_head_ok"  # target as WRONG_TARGET, head correct
VOTE_KINDS = (CORRECT, WRONG_HEAD, WRONG_TARGET, WRONG_TARGET_HEAD_OK)

GRAFFITI = b"valwatch spec fixture".ljust(32, b"\x00")
GENESIS_TIME = 1_700_000_000


@dataclass(frozen=True)
class Vote:
    kind: str = CORRECT
    delays: tuple = (1,)


@dataclass
class Plan:
    """What one validator does for one attestation duty."""

    label: str
    votes: list


ONTIME = Plan("ontime", [Vote()])


@dataclass
class Duty:
    validator: int
    slot: int
    committee_index: int
    position: int
    label: str
    votes: list
    # (inclusion slot, vote kind) for every block that carried this validator's bit
    inclusions: list = field(default_factory=list)


@dataclass
class Pending:
    data: object
    kind: str
    committee_index: int
    participants: set
    not_before: int


class Chain:
    def __init__(self, spec, fork, n_validators):
        self.spec = spec
        self.fork = fork
        self.electra = is_post_electra(spec)
        balances = [spec.MAX_EFFECTIVE_BALANCE] * n_validators
        state = create_genesis_state(spec, balances, spec.MAX_EFFECTIVE_BALANCE)
        state.genesis_time = GENESIS_TIME
        self.genesis_state = state.copy()
        genesis_block = create_signed_genesis_block(spec, state)
        genesis_root = bytes(spec.hash_tree_root(genesis_block.message))
        self.state = state
        self.blocks = {}  # slot -> SignedBeaconBlock
        self.roots = {0: genesis_root}  # slot -> block root (slots with a block)
        self.root_slot = {genesis_root: 0}
        self.parent_root = {genesis_root: None}
        self.proposers = {}  # slot -> proposer index the spec assigned
        self.skipped = {}  # slot -> reason the slot has no block
        self.pool = {}  # (data root, committee, not_before) -> Pending
        self.duties = {}  # validator -> Duty, only for the watched epoch
        self.watch_epoch = None
        self.sync_bits = {}  # slot -> list of bools (sync_aggregate bits by position)
        self.attestation_counts = {}  # slot -> number of Attestation objects in the block
        self.deferred = []  # (slot, data slot) of aggregates that did not fit into a block
        self.pubkey_index = {bytes(v.pubkey): i for i, v in enumerate(state.validators)}
        self._sigs = {}

    def clone(self):
        other = Chain.__new__(Chain)
        other.__dict__.update(self.__dict__)
        other.state = self.state.copy()
        for name in ("blocks", "roots", "root_slot", "parent_root", "proposers", "skipped",
                     "sync_bits", "attestation_counts"):
            setattr(other, name, dict(getattr(self, name)))
        other.duties = {
            v: replace(d, votes=list(d.votes), inclusions=list(d.inclusions))
            for v, d in self.duties.items()
        }
        other.deferred = list(self.deferred)
        other.pool = {
            k: Pending(p.data, p.kind, p.committee_index, set(p.participants), p.not_before)
            for k, p in self.pool.items()
        }
        return other

    # --- chain queries ---------------------------------------------------

    def latest_root(self, slot):
        """Root of the last block at or before `slot`."""
        while slot not in self.roots:
            slot -= 1
        return self.roots[slot]

    def epoch_of(self, slot):
        return int(self.spec.compute_epoch_at_slot(slot))

    def start_slot(self, epoch):
        return int(self.spec.compute_start_slot_at_epoch(epoch))

    # --- building -----------------------------------------------------------

    def run_to(self, last_slot, script):
        for slot in range(int(self.state.slot) + 1, last_slot + 1):
            self.step(slot, script)

    def step(self, slot, script):
        spec, state = self.spec, self.state
        spec.process_slots(state, spec.Slot(slot))
        proposer = int(spec.get_beacon_proposer_index(state))
        self.proposers[slot] = proposer
        reason = script.skip_reason(slot, proposer)
        if reason is None:
            self._propose(slot, proposer, script)
        else:
            self.skipped[slot] = reason
        self._attest(slot, script)

    def _propose(self, slot, proposer, script):
        spec, state = self.spec, self.state
        block = build_empty_block(spec, state, spec.Slot(slot))
        assert int(block.proposer_index) == proposer
        block.body.graffiti = GRAFFITI
        attestations = self._select_attestations(slot)
        block.body.attestations = type(block.body.attestations)(data=attestations)
        block.body.sync_aggregate = self._sync_aggregate(slot, script)
        spec.process_block(state, block)
        block.state_root = spec.hash_tree_root(state)
        signed = sign_block(spec, state, block, proposer)
        assert spec.verify_block_signature(state, signed)
        root = bytes(spec.hash_tree_root(block))
        self.blocks[slot] = signed
        self.roots[slot] = root
        self.root_slot[root] = slot
        self.parent_root[root] = bytes(block.parent_root)
        self.attestation_counts[slot] = len(attestations)

    def _sign(self, data, validator):
        spec = self.spec
        key = (bytes(spec.hash_tree_root(data)), validator)
        if key not in self._sigs:
            domain = spec.get_domain(self.state, spec.DOMAIN_BEACON_ATTESTER, data.target.epoch)
            self._sigs[key] = bls.Sign(privkeys[validator], spec.compute_signing_root(data, domain))
        return self._sigs[key]

    def _attestation_data(self, slot, committee_index, kind):
        spec, state = self.spec, self.state
        epoch = self.epoch_of(slot)
        head = self.latest_root(slot)
        target = self.latest_root(self.start_slot(epoch))
        if kind == CORRECT:
            head_root, target_root = head, target
        elif kind == WRONG_HEAD:
            head_root, target_root = self.parent_root[head], target
        elif kind == WRONG_TARGET:
            head_root = target_root = self.parent_root[target]
        elif kind == WRONG_TARGET_HEAD_OK:
            head_root, target_root = head, self.parent_root[target]
        else:
            raise ValueError(kind)
        assert head_root is not None and target_root is not None
        return spec.AttestationData(
            slot=slot,
            index=0 if self.electra else committee_index,
            beacon_block_root=head_root,
            source=state.current_justified_checkpoint.copy(),
            target=spec.Checkpoint(epoch=epoch, root=target_root),
        )

    def _attest(self, slot, script):
        spec, state = self.spec, self.state
        epoch = self.epoch_of(slot)
        count = int(spec.get_committee_count_per_slot(state, epoch))
        data_cache = {}
        for ci in range(count):
            committee = spec.get_beacon_committee(state, spec.Slot(slot), spec.CommitteeIndex(ci))
            for pos, v in enumerate(int(x) for x in committee):
                plan = script.plan(slot, ci, pos, v)
                if epoch == self.watch_epoch:
                    self.duties[v] = Duty(v, slot, ci, pos, plan.label, list(plan.votes))
                for vote in plan.votes:
                    if (ci, vote.kind) not in data_cache:
                        data_cache[(ci, vote.kind)] = self._attestation_data(slot, ci, vote.kind)
                    data = data_cache[(ci, vote.kind)]
                    self._sign(data, v)
                    data_root = bytes(spec.hash_tree_root(data))
                    for delay in vote.delays:
                        key = (data_root, ci, slot + delay)
                        if key not in self.pool:
                            self.pool[key] = Pending(data, vote.kind, ci, set(), slot + delay)
                        self.pool[key].participants.add(v)

    def _select_attestations(self, slot):
        spec = self.spec
        epoch = self.epoch_of(slot)
        limit = int(spec.MAX_ATTESTATIONS_ELECTRA if self.electra else spec.MAX_ATTESTATIONS)
        groups = {}  # data root -> (data, kind, {committee: participants}, [pool keys])
        for key, p in sorted(self.pool.items(), key=lambda kv: (kv[1].not_before, kv[0])):
            data_epoch = self.epoch_of(int(p.data.slot))
            if data_epoch < epoch - 1:
                del self.pool[key]  # can no longer be included anywhere
                continue
            if p.not_before > slot:
                continue
            assert int(p.data.slot) + int(spec.MIN_ATTESTATION_INCLUSION_DELAY) <= slot
            g = groups.setdefault(key[0], (p.data, p.kind, {}, []))
            g[2].setdefault(p.committee_index, set()).update(p.participants)
            g[3].append(key)
        ordered = sorted(groups.items(), key=lambda kv: (int(kv[1][0].slot), kv[0]))
        out = []
        for _, (data, kind, committees, keys) in ordered[:limit]:
            for key in keys:
                del self.pool[key]
            out.extend(self._build_attestations(slot, data, kind, committees))
        # ordered[limit:] stay in the pool for a later block
        self.deferred.extend((slot, int(g[0].slot)) for _, g in ordered[limit:])
        assert len(out) <= limit
        return out

    def _build_attestations(self, slot, data, kind, committees):
        spec, state = self.spec, self.state
        watched = self.epoch_of(int(data.slot)) == self.watch_epoch
        for parts in committees.values():
            for v in sorted(parts):
                if watched:
                    self.duties[v].inclusions.append((slot, kind))
        if self.electra:
            bits, sigs = [], []
            for ci in sorted(committees):
                committee = spec.get_beacon_committee(state, data.slot, spec.CommitteeIndex(ci))
                for v in (int(x) for x in committee):
                    bits.append(v in committees[ci])
                    if v in committees[ci]:
                        sigs.append(self._sign(data, v))
            committee_bits = [i in committees for i in range(int(spec.MAX_COMMITTEES_PER_SLOT))]
            return [
                spec.Attestation(
                    aggregation_bits=spec.AggregationBits(data=bits),
                    data=data,
                    signature=bls.Aggregate(sigs),
                    committee_bits=spec.CommitteeBits(data=committee_bits),
                )
            ]
        out = []
        for ci in sorted(committees):
            assert int(data.index) == ci
            committee = spec.get_beacon_committee(state, data.slot, spec.CommitteeIndex(ci))
            bits = [int(v) in committees[ci] for v in committee]
            sigs = [self._sign(data, int(v)) for v in committee if int(v) in committees[ci]]
            out.append(
                spec.Attestation(
                    aggregation_bits=spec.AggregationBits(data=bits),
                    data=data,
                    signature=bls.Aggregate(sigs),
                )
            )
        return out

    def _sync_aggregate(self, slot, script):
        """Sync committee members sign the block root of slot-1 (spec process_sync_aggregate)."""
        spec, state = self.spec, self.state
        previous_slot = max(slot, 1) - 1
        block_root = spec.get_block_root_at_slot(state, spec.Slot(previous_slot))
        domain = spec.get_domain(
            state, spec.DOMAIN_SYNC_COMMITTEE, spec.compute_epoch_at_slot(spec.Slot(previous_slot))
        )
        signing_root = spec.compute_signing_root(block_root, domain)
        bits, sigs = [], []
        for pos, pk in enumerate(state.current_sync_committee.pubkeys):
            v = self.pubkey_index[bytes(pk)]
            signs = script.sync_signs(slot, pos, v)
            bits.append(signs)
            if signs:
                key = (bytes(signing_root), v)
                if key not in self._sigs:
                    self._sigs[key] = bls.Sign(privkeys[v], signing_root)
                sigs.append(self._sigs[key])
        self.sync_bits[slot] = bits
        return spec.SyncAggregate(
            sync_committee_bits=spec.SyncCommitteeBits(data=bits),
            sync_committee_signature=bls.Aggregate(sigs) if sigs else spec.G2_POINT_AT_INFINITY,
        )
