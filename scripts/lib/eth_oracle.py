#!/usr/bin/env python3
"""Independent oracles for Ethereum proposal and sync-committee verdicts (end-to-end tests).

valwatch decides proposals from proposer duties + canonical blocks, and sync signatures from the
`sync_aggregate.sync_committee_bits` of blocks. The oracles here reach the same verdicts by other
roads, from the beacon node's own answers, so an end-to-end test can demand exact agreement:

- Proposals: the node's proposer duties, polled while each epoch is current (many nodes, e.g.
  Lodestar 1.5.1, serve only the current and next epoch) by `DutyRecorder`, and the canonical
  chain, walked back from the head through `parent_root` (`canonical_blocks`). A duty slot with
  a canonical block is proposed, one without is missed.
- Sync signatures: the chain's own accounting. From Altair on, `process_sync_aggregate` runs in
  every block and at once moves balances: each committee position whose bit is set earns
  `participant_reward` for its validator, each unset position costs it `participant_reward`,
  and the block's proposer earns `proposer_reward` per set bit (consensus-specs
  altair/beacon-chain.md). Nothing else in a block touches the balance of a validator that is
  neither the block's proposer nor slashed or whistleblower in it (attestation rewards go to the
  proposer only; attesters are paid at the epoch boundary). So between the states at slots s-1
  and s, a non-proposer holding k positions of the current sync committee changes by
  (2j - k) * participant_reward, j = positions that signed; the oracle solves for j from the
  balances alone and never reads the sync bits. `sync_verdicts` does this per slot.

Usable as a module (the e2e scripts import it) or from the command line:

    eth_oracle.py duties --rest URL --out FILE [--seconds N]   # record proposer duties
    eth_oracle.py sync --rest URL --from S --to S              # sync verdicts of blocks S..S
    eth_oracle.py blocks --rest URL --from S --to S            # canonical blocks of S..S

Nothing here is specific to one client except the Lodestar quirks noted where they are handled.
"""

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request

# Altair constants used by process_sync_aggregate (the same in the mainnet and minimal presets).
EFFECTIVE_BALANCE_INCREMENT = 10**9
BASE_REWARD_FACTOR = 64
SYNC_REWARD_WEIGHT = 2
PROPOSER_WEIGHT = 8
WEIGHT_DENOMINATOR = 64
PARTICIPATION_FLAG_WEIGHTS = (14, 26, 14)  # timely source, target, head
MAX_ATTESTATIONS = 128


class OracleError(Exception):
    """The chain's data does not fit the oracle's model: the test must fail, not guess."""


class Beacon:
    """A tiny Beacon API client (stdlib only). 404 answers are None."""

    def __init__(self, rest, timeout=30):
        self.rest = rest.rstrip("/")
        self.timeout = timeout
        self._states = {}  # slot -> state dict (a few kept, see state())

    def get(self, path):
        req = urllib.request.Request(self.rest + path, headers={"accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            body = e.read()[:300].decode(errors="replace")
            raise OracleError(f"GET {path}: HTTP {e.code} {body}") from None

    def spec(self):
        return self.get("/eth/v1/config/spec")["data"]

    def attestation_rewards(self, epoch):
        """{validator: head + target + source + inactivity, in gwei, signed}: what the epoch
        transition at the end of `epoch` + 1 pays or charges for `epoch`'s attestations
        (POST /eth/v1/beacon/rewards/attestations/{epoch}, all validators), or None where the
        node lacks the endpoint (Lodestar 1.5.1: 404). Cached per epoch."""
        cache = self.__dict__.setdefault("_rewards", {})
        if epoch not in cache:
            req = urllib.request.Request(f"{self.rest}/eth/v1/beacon/rewards/attestations/{epoch}", data=b"[]",
                                         headers={"accept": "application/json", "content-type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    rows = json.loads(r.read())["data"]["total_rewards"]
                cache[epoch] = {int(t["validator_index"]): sum(int(t.get(k, 0)) for k in ("head", "target", "source", "inactivity"))
                                for t in rows}
            except urllib.error.HTTPError as e:
                if e.code not in (400, 404, 405, 501):
                    raise OracleError(f"attestation rewards of epoch {epoch}: HTTP {e.code}") from None
                cache[epoch] = None
        return cache[epoch]

    def head_slot(self):
        return int(self.get("/eth/v1/beacon/headers/head")["data"]["header"]["message"]["slot"])

    def header(self, block_id):
        """(root, slot, proposer, parent_root, canonical flag) or None for an empty slot."""
        answer = self.get(f"/eth/v1/beacon/headers/{block_id}")
        if answer is None:
            return None
        d = answer["data"]
        m = d["header"]["message"]
        return {
            "root": d["root"],
            "slot": int(m["slot"]),
            "proposer": int(m["proposer_index"]),
            "parent_root": m["parent_root"],
            "canonical": d.get("canonical"),
        }

    def state(self, slot):
        """The full state at `slot` (debug endpoint; Lodestar serves every past slot by
        regenerating it). The last few are cached: sync_verdicts walks slot by slot."""
        if slot not in self._states:
            answer = self.get(f"/eth/v2/debug/beacon/states/{slot}")
            if answer is None:
                raise OracleError(f"the node has no state for slot {slot}")
            if len(self._states) >= 4:
                self._states.pop(min(self._states))
            self._states[slot] = answer["data"]
        return self._states[slot]


# ---------------------------------------------------------------------------------------------
# Proposals


def proposer_duties(beacon, epoch, slots_per_epoch):
    """{slot: validator index} for `epoch` as the node answers it now, plus its dependent root.

    Lodestar 1.5.1 answers the *next* epoch with the slot numbers of the current one (the
    validator order is right), so a slot outside `epoch` is mapped by its position in the epoch;
    an answer that does not cover every slot of the epoch exactly once is refused."""
    answer = beacon.get(f"/eth/v1/validator/duties/proposer/{epoch}")
    if answer is None:
        raise OracleError(f"no proposer duties for epoch {epoch}")
    start = epoch * slots_per_epoch
    duties = {}
    for d in answer["data"]:
        slot = int(d["slot"])
        if not start <= slot < start + slots_per_epoch:
            slot = start + slot % slots_per_epoch
        duties[slot] = int(d["validator_index"])
    if sorted(duties) != list(range(start, start + slots_per_epoch)):
        raise OracleError(f"proposer duties of epoch {epoch} cover slots {sorted(duties)}")
    return duties, answer.get("dependent_root")


class DutyRecorder(threading.Thread):
    """Polls the proposer duties of the head's epoch every `interval` seconds, in the
    background, and keeps for each epoch the answer given while it was the *current* epoch
    (the next epoch's answer is only a forecast; it is kept as such and compared). Nodes that
    serve past epochs could be asked afterwards; this works with those that do not."""

    def __init__(self, beacon, slots_per_epoch, interval=1.0, log=None):
        super().__init__(daemon=True)
        self.beacon = beacon
        self.spe = slots_per_epoch
        self.interval = interval
        self.log = log or (lambda msg: None)
        self.duties = {}  # epoch -> {slot: validator}, answered while current
        self.forecasts = {}  # epoch -> {slot: validator}, answered while next
        self.changed = []  # (epoch, old, new): the current answer changed within the epoch
        self.errors = 0
        self._genesis = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def clock_epoch(self):
        """The node's current epoch by the clock, which is what the duty endpoints call
        current (the head lags it across empty slots)."""
        if self._genesis is None:
            genesis = int(self.beacon.get("/eth/v1/beacon/genesis")["data"]["genesis_time"])
            self._genesis = (genesis, int(self.beacon.spec()["SECONDS_PER_SLOT"]))
        genesis, sps = self._genesis
        return max(0, int(time.time()) - genesis) // sps // self.spe

    def poll(self):
        epoch = self.clock_epoch()
        try:
            current, _ = proposer_duties(self.beacon, epoch, self.spe)
        except OracleError:
            # Around an epoch start the node's clock may already be in the next epoch.
            epoch += 1
            current, _ = proposer_duties(self.beacon, epoch, self.spe)
        with self._lock:
            old = self.duties.get(epoch)
            if old is not None and old != current:
                self.changed.append((epoch, old, current))
                self.log(f"proposer duties of epoch {epoch} changed while current: {old} -> {current}")
            self.duties[epoch] = current
        try:
            nxt, _ = proposer_duties(self.beacon, epoch + 1, self.spe)
            with self._lock:
                self.forecasts.setdefault(epoch + 1, nxt)
        except OracleError:
            pass  # optional

    def run(self):
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as e:  # noqa: BLE001 - a poll may fail; the next one retries
                self.errors += 1
                if self.errors <= 5:
                    self.log(f"proposer duty poll failed: {e}")
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()

    def snapshot(self):
        with self._lock:
            return {e: dict(d) for e, d in self.duties.items()}


def canonical_blocks(beacon, lo, hi):
    """{slot: header} of the canonical blocks in slots lo..hi (inclusive), found by walking the
    chain back from the head through parent roots; every slot in lo..hi is looked up by number
    too, and a block there that is not on the walked chain is reported as orphaned (the
    `canonical` flag of the node must agree with the walk)."""
    head = beacon.header("head")
    if head is None or head["slot"] < hi:
        raise OracleError(f"the head is at slot {head and head['slot']}, blocks up to {hi} needed")
    chain = {}
    cur = head
    while cur is not None and cur["slot"] >= lo:
        if cur["slot"] <= hi:
            chain[cur["slot"]] = cur
        if cur["slot"] == 0:
            break
        cur = beacon.header(cur["parent_root"])
        if cur is None:
            raise OracleError("a parent block of the canonical chain is unknown to the node")
    orphaned = []
    for slot in range(lo, hi + 1):
        h = beacon.header(slot)
        on_chain = chain.get(slot)
        if h is None:
            if on_chain is not None:
                raise OracleError(f"slot {slot}: the chain walk has block {on_chain['root']}, the slot lookup none")
            continue
        if on_chain is None or on_chain["root"] != h["root"]:
            orphaned.append(slot)
            if h["canonical"] is True:
                raise OracleError(f"slot {slot}: block {h['root']} is off the parent chain but flagged canonical")
        elif h["canonical"] is False:
            raise OracleError(f"slot {slot}: block {h['root']} is on the parent chain but flagged not canonical")
    return chain, orphaned


def proposal_verdicts(duties, blocks, slots):
    """[(slot, proposer, proposed)] for the duty slots among `slots`. proposed = the canonical
    chain has a block at the slot. A canonical block by another validator than the duty names
    means the duties are not the chain's: OracleError. Slot 0 is never a duty: the genesis
    block is part of the genesis state, nobody proposed it."""
    out = []
    for slot in slots:
        if slot not in duties or slot == 0:
            continue
        block = blocks.get(slot)
        if block is not None and block["proposer"] != duties[slot]:
            raise OracleError(f"slot {slot}: duty names validator {duties[slot]}, the canonical block is by {block['proposer']}")
        out.append((slot, duties[slot], block is not None))
    return out


# ---------------------------------------------------------------------------------------------
# Sync signatures


def integer_sqrt(n):
    x, y = n, (n + 1) // 2
    while y < x:
        x, y = y, (y + n // y) // 2
    return x


def is_active(validator, epoch):
    return int(validator["activation_epoch"]) <= epoch < int(validator["exit_epoch"])


def reward_constants(state, slots_per_epoch, sync_committee_size):
    """(base_reward_per_increment, participant_reward, proposer_reward) of process_sync_aggregate,
    from the state the block is applied to (its total active balance: effective balances of the
    validators active in its epoch)."""
    epoch = int(state["slot"]) // slots_per_epoch
    total = sum(int(v["effective_balance"]) for v in state["validators"] if is_active(v, epoch))
    total = max(total, EFFECTIVE_BALANCE_INCREMENT)
    per_increment = EFFECTIVE_BALANCE_INCREMENT * BASE_REWARD_FACTOR // integer_sqrt(total)
    total_base_rewards = per_increment * (total // EFFECTIVE_BALANCE_INCREMENT)
    max_participant = total_base_rewards * SYNC_REWARD_WEIGHT // WEIGHT_DENOMINATOR // slots_per_epoch
    participant = max_participant // sync_committee_size
    return per_increment, participant, participant * PROPOSER_WEIGHT // (WEIGHT_DENOMINATOR - PROPOSER_WEIGHT)


def attestation_proposer_reward(pre, post, boundary, per_increment):
    """What the block's attestations paid its proposer, as process_attestation computes it,
    from the participation flags the block set (post flags not already in the pre-state), up to
    the per-attestation rounding: returns (sum of numerators / denominator, exact as a float).
    The true reward is at most this and more than this minus the number of attestations."""
    numerator = 0
    if boundary:  # the epoch transition rotated current into previous and cleared current
        pairs = [(pre["current_epoch_participation"], post["previous_epoch_participation"]),
                 (["0"] * len(post["current_epoch_participation"]), post["current_epoch_participation"])]
    else:
        pairs = [(pre["previous_epoch_participation"], post["previous_epoch_participation"]),
                 (pre["current_epoch_participation"], post["current_epoch_participation"])]
    for before, after in pairs:
        for i, (a, b) in enumerate(zip(before, after)):
            new = int(b) & ~int(a)
            if new:
                base = int(post["validators"][i]["effective_balance"]) // EFFECTIVE_BALANCE_INCREMENT * per_increment
                for flag, weight in enumerate(PARTICIPATION_FLAG_WEIGHTS):
                    if new >> flag & 1:
                        numerator += base * weight
    return numerator / ((WEIGHT_DENOMINATOR - PROPOSER_WEIGHT) * WEIGHT_DENOMINATOR // PROPOSER_WEIGHT)


def _epoch_key(pre, post, i):
    """Everything the epoch transition reads about validator i to move its balance (Altair:
    flag rewards and penalties from its previous-epoch flags, effective balance, eligibility
    and slashing; inactivity penalty from its updated score; process_slashings). Two
    validators with equal keys get equal epoch deltas."""
    v = pre["validators"][i]
    return (
        v["effective_balance"], v["slashed"], v["activation_epoch"], v["exit_epoch"],
        v["withdrawable_epoch"], post["validators"][i]["effective_balance"],
        pre["previous_epoch_participation"][i], pre["inactivity_scores"][i],
        post["inactivity_scores"][i],
    )


def sync_slot(beacon, slot, slots_per_epoch, header=None, parent=None):
    """The sync verdicts the chain's balances give for the block at `slot`.

    Convention (the same as valwatch's): a sync duty belongs to the slot of the block that
    carries the aggregate. Members sign the block root of slot-1 during slot-1; the block of
    `slot` includes that aggregate and process_sync_aggregate pays for it while processing
    `slot`, with the committee of `slot`'s state (current_sync_committee). So the balance
    change from the parent block's state to the state at `slot` is this duty's verdict.
    (The parent's state, not the state at slot-1: Lodestar 1.5.1 cannot regenerate the state
    of an empty slot after the finalized checkpoint, and empty slots move no balance anyway
    unless an epoch boundary lies between, which is handled below.)

    Returns {"slot", "block": bool, "positions": {i: committee positions held},
    "members": {i: (positions, signed_positions)} for the members solved,
    "ambiguous": {i: reason} for the others, "reason": why the whole slot is left out or None}.
    When an epoch boundary lies between the parent and `slot`, the balances also carry the
    epoch transition's rewards and penalties; they are cancelled with a "twin": a validator
    outside the committee (and not the proposer) whose epoch-transition inputs are identical,
    and so is its epoch delta. Members without a twin (on a mainnet-preset devnet every
    validator is a member) take the node's attestation rewards of the paid epoch as their
    epoch delta where the node serves them (Prysm), else are ambiguous. The block's proposer
    also earns proposer rewards; see the end of the function for how it is solved."""
    out = {"slot": slot, "block": False, "positions": {}, "members": {}, "ambiguous": {}, "reason": None}
    if header is None:
        header = beacon.header(slot)
    if header is None:
        out["reason"] = "empty slot"
        return out
    out["block"] = True
    if slot == 0:
        out["reason"] = "genesis"
        return out
    if parent is None:
        parent = beacon.header(header["parent_root"])
    if parent is None or parent["root"] != header["parent_root"]:
        raise OracleError(f"slot {slot}: the parent block {header['parent_root']} is unknown")
    post = beacon.state(slot)
    if int(post["slot"]) != slot:
        raise OracleError(f"asked for the state at slot {slot}, got slot {post['slot']}")
    # The committee of the block's state; the members' positions.
    committee = post["current_sync_committee"]["pubkeys"]
    index_of = {v["pubkey"]: i for i, v in enumerate(post["validators"])}
    positions = {}
    for pk in committee:
        positions[index_of[pk]] = positions.get(index_of[pk], 0) + 1
    out["positions"] = positions

    def unresolved(reason):
        """The whole slot is left out: every member's verdict is unknown (its duty is not)."""
        out["reason"] = reason
        out["ambiguous"] = {i: reason for i in positions}
        return out

    pre = beacon.state(parent["slot"])
    if int(pre["slot"]) != parent["slot"]:
        raise OracleError(f"asked for the state at slot {parent['slot']}, got slot {pre['slot']}")
    boundaries = slot // slots_per_epoch - parent["slot"] // slots_per_epoch
    if boundaries > 1:
        return unresolved(f"{boundaries} epoch transitions since the parent block")
    n = len(post["validators"])
    if len(pre["validators"]) != n:
        return unresolved("the registry changed")
    if any(a["slashed"] != b["slashed"] for a, b in zip(pre["validators"], post["validators"])):
        return unresolved("a slashing")  # slasher and whistleblower rewards move balances too
    per_increment, reward, proposer_reward = reward_constants(post, slots_per_epoch, len(committee))
    if reward == 0:
        return unresolved("participant reward 0")
    proposer = header["proposer"]
    delta = [int(b) - int(a) for a, b in zip(pre["balances"], post["balances"])]

    boundary = boundaries == 1
    baseline = {}  # epoch key -> epoch delta of non-members, across a boundary
    for i in range(n):
        if i in positions or i == proposer:
            continue
        if not boundary:
            if delta[i] != 0:
                raise OracleError(f"slot {slot}: validator {i} is neither in the sync committee nor the proposer, "
                                  f"yet its balance moved by {delta[i]} within an epoch")
            continue
        key = _epoch_key(pre, post, i)
        if baseline.setdefault(key, delta[i]) != delta[i]:
            raise OracleError(f"slot {slot}: validators with equal epoch-transition inputs got different deltas "
                              f"({baseline[key]} and {delta[i]} for {i})")
    def solve(i, k, own):
        """j for (2j - k) * reward == own, or OracleError."""
        twice_j = own // reward + k
        if own % reward != 0 or twice_j % 2 or not 0 <= twice_j // 2 <= k:
            raise OracleError(f"slot {slot}: validator {i} holds {k} sync positions, its balance moved by {own} "
                              f"(after the epoch delta), not a multiple (2j-{k}) of participant_reward {reward}")
        return twice_j // 2

    def transition_delta(i):
        """The epoch transition's balance change for validator i when it has no twin: the
        node's attestation rewards (nothing else in process_epoch moves a balance here: no
        slashings, deposits or consolidations, checked above or absent from these devnets).
        The transition into epoch E pays for epoch E - 2; the one into epoch 1 pays nothing
        (process_rewards_and_penalties skips the genesis epoch). None if the node cannot say.
        A wrong delta is not silently accepted: solve() demands a multiple of the reward."""
        paid_epoch = slot // slots_per_epoch - 2
        if paid_epoch < 0:
            return 0
        rewards = beacon.attestation_rewards(paid_epoch)
        return None if rewards is None else rewards.get(i)

    epoch_delta = {}
    for i, k in sorted(positions.items()):
        own = delta[i]
        if boundary:
            key = _epoch_key(pre, post, i)
            if key in baseline:
                own -= baseline[key]
            else:
                # Every validator may be a member (the mainnet preset's 512 seats over 64
                # validators): no twin. Then the node's own attestation rewards give the delta.
                td = transition_delta(i)
                if td is None:
                    out["ambiguous"][i] = "epoch boundary, no twin"
                    continue
                own -= td
        if int(pre["balances"][i]) < k * reward:
            out["ambiguous"][i] = "balance near zero"
            continue
        epoch_delta[i] = own
        if i != proposer:
            out["members"][i] = (k, solve(i, k, own))
    if proposer in positions and proposer in epoch_delta:
        # The proposer also earns proposer_reward per set bit (its own included) and the
        # attestation inclusion rewards: own = (2j - k) * reward + (others + j) * proposer_reward
        # + attestations. The last is known to within MAX_ATTESTATIONS gwei, far below one step
        # of j (2 * reward + proposer_reward), so exactly one j may fit; else it is ambiguous.
        k = positions[proposer]
        if out["ambiguous"]:
            out["ambiguous"][proposer] = "proposer of the block, another member unresolved"
        else:
            others = sum(j for _, j in out["members"].values())
            attest = attestation_proposer_reward(pre, post, boundary, per_increment)
            fits = [j for j in range(k + 1)
                    if -1 <= attest - (epoch_delta[proposer] - (2 * j - k) * reward
                                       - (others + j) * proposer_reward) <= MAX_ATTESTATIONS]
            if len(fits) == 1:
                out["members"][proposer] = (k, fits[0])
            else:
                out["ambiguous"][proposer] = f"proposer of the block, {len(fits)} solutions"
    return out


def sync_verdicts(beacon, lo, hi, slots_per_epoch, blocks, log=None):
    """sync_slot for every slot in lo..hi (inclusive). `blocks` = canonical headers by slot
    (from canonical_blocks, reaching back to the parent of the first block in lo..hi)."""
    out = []
    for slot in range(lo, hi + 1):
        header = blocks.get(slot)
        if header is None:
            out.append({"slot": slot, "block": False, "positions": {}, "members": {}, "ambiguous": {},
                        "reason": "empty slot"})
            continue
        parent = next((blocks[s] for s in range(slot - 1, -1, -1) if s in blocks), None)
        out.append(sync_slot(beacon, slot, slots_per_epoch, header, parent))
    return out


# ---------------------------------------------------------------------------------------------
# Expected per-validator counts over a range of slots (what a watcher's counters should show)


def expected_sync(results, slots):
    """{validator: {"duties", "performed", "missed", "ambiguous", "missed_slots",
    "ambiguous_slots"}} over the sync results (sync_verdicts) of `slots`. One duty per member
    and slot with a block; a member holding several positions performed it when any of them
    signed (valwatch's rule). "duties" is exact even where the verdict is ambiguous."""
    slots = set(slots)
    out = {}
    for r in results:
        if r["slot"] not in slots or not r["block"]:
            continue
        for i in r["positions"]:
            e = out.setdefault(i, {"duties": 0, "performed": 0, "missed": 0, "ambiguous": 0,
                                   "missed_slots": [], "ambiguous_slots": []})
            e["duties"] += 1
            if i in r["members"]:
                if r["members"][i][1] > 0:
                    e["performed"] += 1
                else:
                    e["missed"] += 1
                    e["missed_slots"].append(r["slot"])
            else:
                e["ambiguous"] += 1
                e["ambiguous_slots"].append(r["slot"])
    return out


def expected_proposals(duties, blocks, slots):
    """{validator: {"performed", "missed", "proposed_slots", "missed_slots"}} for the duty
    slots among `slots` (duties: {slot: validator}, blocks: canonical headers by slot)."""
    out = {}
    for slot, proposer, proposed in proposal_verdicts(duties, blocks, slots):
        e = out.setdefault(proposer, {"performed": 0, "missed": 0, "proposed_slots": [], "missed_slots": []})
        e["performed" if proposed else "missed"] += 1
        e["proposed_slots" if proposed else "missed_slots"].append(slot)
    return out


# ---------------------------------------------------------------------------------------------
# Command line


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("duties", help="record proposer duties while epochs are current")
    d.add_argument("--rest", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--seconds", type=float, default=60)
    for name in ("sync", "blocks"):
        s = sub.add_parser(name)
        s.add_argument("--rest", required=True)
        s.add_argument("--from", dest="lo", type=int, required=True)
        s.add_argument("--to", dest="hi", type=int, required=True)
    args = p.parse_args()
    beacon = Beacon(args.rest)
    spe = int(beacon.spec()["SLOTS_PER_EPOCH"])
    if args.cmd == "duties":
        rec = DutyRecorder(beacon, spe, log=lambda m: print(m, file=sys.stderr))
        rec.start()
        time.sleep(args.seconds)
        rec.stop()
        json.dump({str(e): {str(s): v for s, v in d.items()} for e, d in rec.snapshot().items()},
                  open(args.out, "w"))
    elif args.cmd == "blocks":
        chain, orphaned = canonical_blocks(beacon, args.lo, args.hi)
        json.dump({"blocks": {s: {"root": h["root"], "proposer": h["proposer"]} for s, h in sorted(chain.items())},
                   "orphaned": orphaned}, sys.stdout, indent=1)
    else:
        chain, _ = canonical_blocks(beacon, max(0, args.lo - 4 * spe), args.hi)
        res = sync_verdicts(beacon, args.lo, args.hi, spe, chain)
        for r in res:
            r["members"] = {str(i): list(v) for i, v in r["members"].items()}
            r["ambiguous"] = {str(i): v for i, v in r["ambiguous"].items()}
            r["positions"] = {str(i): v for i, v in r["positions"].items()}
        json.dump(res, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
