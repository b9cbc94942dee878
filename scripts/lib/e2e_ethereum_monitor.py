#!/usr/bin/env python3
"""The monitored phase of the Ethereum end-to-end tests (scripts/e2e-ethereum*.sh, through
scripts/lib/e2e_ethereum.sh): scrapes valwatch, stops and restarts the devnet's killable
validator client, and asserts every verdict against the chain's own (see the scripts' headers).

    e2e_ethereum_monitor.py WORK PORT DEVNET RUN_DIR SECONDS_PER_SLOT DOWN_EPOCHS DEADLINE_S \
        REST REPO CHAIN LOG_NAME

WORK holds keys.json (index -> pubkey of the 64 validators); PORT is valwatch's metrics port;
DEVNET/vc.sh stop|start RUN_DIR drives the killable client; CHAIN is the chain name in
valwatch's config; LOG_NAME prefixes the log lines. Validators: 0..47 online, 48..55 always
offline, 56..63 killable. Exit 0 when every assertion holds, 1 otherwise.
"""
import json, re, subprocess, sys, time, urllib.request

work, port, devnet, run_dir = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sps, down_epochs, deadline_s, rest = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
repo, chain, log_name = sys.argv[9], sys.argv[10], sys.argv[11]
SPE = 8  # both devnets: 8 slots per epoch (checked against the node below)
keys = {int(i): k for i, k in json.load(open(f"{work}/keys.json")).items()}
index_of = {k: i for i, k in keys.items()}
ONLINE, OFFLINE, KILLABLE = range(0, 48), range(48, 56), range(56, 64)
start = time.time()
deadline = start + deadline_s

def log(msg):
    print(f"[{log_name} monitor +{int(time.time() - start)}s] {msg}", file=sys.stderr, flush=True)

# The proposal and sync oracles (scripts/lib/eth_oracle.py). Lodestar 1.5.1 serves proposer
# duties only for the current and next epoch: record them from now on, in the background.
sys.path.insert(0, f"{repo}/scripts/lib")
import eth_oracle
beacon = eth_oracle.Beacon(rest)
if int(beacon.spec()["SLOTS_PER_EPOCH"]) != SPE:
    print(f"the node has {beacon.spec()['SLOTS_PER_EPOCH']} slots per epoch, this test expects {SPE}", file=sys.stderr)
    sys.exit(1)
duty_recorder = eth_oracle.DutyRecorder(beacon, SPE, log=log)
duty_recorder.start()

def fail(msg):
    log("ASSERTION FAILED: " + msg)
    sys.exit(1)

def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()

def status(url):
    try:
        return get(url)[0]
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None

def head_slot():
    try:
        return int(json.loads(get(f"{rest}/eth/v1/beacon/headers/head")[1])["data"]["header"]["message"]["slot"])
    except Exception:
        return None

LINE = re.compile(r'^(valwatch_[a-z_]+)\{([^}]*)\} ([0-9.eE+-]+|NaN)$')
def scrape():
    try:
        text = get(f"http://127.0.0.1:{port}/metrics")[1]
    except Exception:
        return None
    out = {"epoch": None, "analysed": 0, "no_duties": 0, "skipped": 0, "v": {}}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        name, labels, value = m.groups()
        labels = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if labels.get("chain") != chain:
            continue
        if name == "valwatch_ethereum_last_analysed_epoch":
            out["epoch"] = int(float(value))
        elif name == "valwatch_ethereum_epochs_analysed_total":
            out["analysed"] = int(float(value))
        elif name == "valwatch_ethereum_epochs_without_proposer_duties_total":
            out["no_duties"] = int(float(value))
        elif name == "valwatch_ethereum_epochs_skipped_total":
            out["skipped"] += int(float(value))
        elif name.startswith("valwatch_validator_") and "validator" in labels:
            i = index_of.get(labels["validator"])
            if i is None:
                continue
            key = name + ":" + labels.get("duty", "")
            out["v"].setdefault(i, {})[key] = float(value)
    return out

def wait(what, cond, timeout=None):
    limit = time.time() + timeout if timeout else deadline
    while True:
        result = cond()
        if result:
            return result
        if time.time() > min(limit, deadline):
            fail(f"timed out waiting for {what}")
        time.sleep(1)

# The chain's own verdict: the state at the LAST slot of epoch n + 1 holds, in
# previous_epoch_participation, the flags epoch n's attesters earned from every inclusion in
# epochs n and n + 1 (the whole inclusion window), before the transition into n + 2 rotates
# them away. If that slot is empty, the state of the last block of epoch n + 1 holds the same
# flags (Lodestar 1.5.1 regenerates no state for an empty slot after the finalized
# checkpoint: HTTP 500). The oracle is exact in both directions: valwatch reports a miss if
# and only if the chain gave no flag at all.
oracle = {}
def participation(n):
    try:
        for slot in range((n + 2) * SPE - 1, (n + 1) * SPE - 1, -1):
            if beacon.header(slot) is not None:
                return [int(f) for f in beacon.state(slot)["previous_epoch_participation"]]
        raise eth_oracle.OracleError(f"epoch {n + 1} has no block")
    except Exception as e:
        log(f"no state oracle for epoch {n}: {e}")
        return None

# Every judged epoch's counters, kept as the scrapes go (a background thread would be nicer;
# every wait below scrapes).
snaps = {}  # epoch -> per-validator counters right after it was judged
meta = {}  # epoch -> the chain-level counters of the same scrape
judged = [0]  # epochs judged by valwatch so far
def record():
    s = scrape()
    if s and s["epoch"] is not None and s["epoch"] not in snaps:
        snaps[s["epoch"]] = s["v"]
        meta[s["epoch"]] = {k: s[k] for k in ("analysed", "no_duties", "skipped")}
        judged[0] = s["analysed"]
        oracle[s["epoch"]] = participation(s["epoch"])
        log(f"epoch {s['epoch']} judged (head {head_slot()})")
    return s

def wait_recording(what, cond, timeout=None):
    def step():
        s = record()
        return cond(s)
    return wait(what, step, timeout)

wait("/readyz 200", lambda: status(f"http://127.0.0.1:{port}/readyz") == 200, 300)
log("/readyz is 200")

# B: the first epoch entirely after the validator client was up.
hs = wait("the head", head_slot, 60)
first_good = hs // SPE + 1
wait_recording(f"epoch {first_good + 1} judged", lambda s: s and s["epoch"] is not None and s["epoch"] >= first_good + 1)

subprocess.run([f"{devnet}/vc.sh", "stop", run_dir], check=True)
kill_epoch = head_slot() // SPE
log(f"validator client stopped in epoch {kill_epoch}")
wait_recording(f"{down_epochs} epochs down", lambda s: (head_slot() or 0) // SPE >= kill_epoch + down_epochs)
subprocess.run([f"{devnet}/vc.sh", "start", run_dir], check=True)
restart_epoch = head_slot() // SPE
log(f"validator client started again in epoch {restart_epoch}")
last = restart_epoch + 3
wait_recording(f"epoch {last} judged", lambda s: s and s["epoch"] is not None and s["epoch"] >= last)
json.dump({str(k): v for k, v in snaps.items()}, open(f"{work}/snapshots.json", "w"))

epochs = sorted(snaps)
def counter(snap, i, name, duty):
    return snap.get(i, {}).get(f"valwatch_validator_{name}:{duty}", 0.0)

def diff(a, b, i, name, duty):
    return counter(snaps[b], i, name, duty) - counter(snaps[a], i, name, duty)

def per_epoch(i, name, duty, lo, hi):
    """Increments of a counter over judged epochs (prev, cur] with lo <= cur <= hi, as
    (epochs covered, increment) pairs."""
    out = []
    for a, b in zip(epochs, epochs[1:]):
        if lo <= b <= hi and a >= lo - 1:
            out.append(((a + 1, b), diff(a, b, i, name, duty)))
    return out

final = snaps[epochs[-1]]
problems = []
def check(cond, msg):
    if not cond:
        problems.append(msg)

total_missed = lambda i, duty: counter(final, i, "duty_missed_total", duty)
total_done = lambda i, duty: counter(final, i, "duty_performed_total", duty)

# Attestation verdicts against the chain's own participation flags, epoch by epoch (where a
# scrape caught the epoch alone): valwatch says missed exactly when the chain gave no flag.
# This is the check for online validators: on a loaded 2-core machine they do miss now and
# then (Lodestar also never includes attestations of an epoch's empty first slots), and
# valwatch must report precisely those misses, no more and no fewer.
confirmed_online_misses = 0
oracle_epochs = []
for a, b in zip(epochs, epochs[1:]):
    flags = oracle.get(b)
    if b != a + 1 or flags is None:
        continue
    oracle_epochs.append(b)
    for i in range(64):
        missed = diff(a, b, i, "duty_missed_total", "attestation")
        done = diff(a, b, i, "duty_performed_total", "attestation")
        if flags[i] == 0:
            check(missed == 1 and done == 0, f"epoch {b}: the chain gave validator {i} no flag, valwatch counted performed {done} missed {missed}")
            if i in ONLINE:
                confirmed_online_misses += 1
        else:
            check(done == 1 and missed == 0, f"epoch {b}: the chain gave validator {i} flags {flags[i]}, valwatch counted performed {done} missed {missed}")
check(len(oracle_epochs) >= max(3, (len(epochs) - 1) // 2), f"the state oracle covered only epochs {oracle_epochs} of {epochs}")

for i in ONLINE:
    check(total_done(i, "attestation") > 0, f"online validator {i} has no performed attestation")

# Proposals and sync signatures against their oracles (scripts/lib/eth_oracle.py), over the
# judged epochs, as ranges between two snapshots: (first epoch, last epoch, snapshot before
# or None for all-zero counters, snapshot after). The first snapshot counts from zero only if
# it holds exactly one judged epoch; a range in which valwatch skipped an epoch is left out.
duty_recorder.stop()
ranges, uncovered = [], []
if meta[epochs[0]]["analysed"] == 1 and meta[epochs[0]]["skipped"] == 0:
    ranges.append((epochs[0], epochs[0], None, epochs[0]))
else:
    uncovered.append(epochs[0])
for a, b in zip(epochs, epochs[1:]):
    if meta[b]["skipped"] != meta[a]["skipped"]:
        uncovered.append(b)
    else:
        ranges.append((a + 1, b, a, b))

def cdiff(a, b, i, name, duty):
    return counter(snaps[b], i, name, duty) - (counter(snaps[a], i, name, duty) if a is not None else 0.0)

def mdiff(a, b, key):
    return meta[b][key] - (meta[a][key] if a is not None else 0)

lo_slot, hi_slot = ranges[0][0] * SPE, (ranges[-1][1] + 1) * SPE - 1
oracle_t0 = time.time()
try:
    # From a few epochs earlier, so that the first block's parent is known too.
    blocks, orphaned = eth_oracle.canonical_blocks(beacon, max(0, lo_slot - 4 * SPE), hi_slot)
    sync_results = eth_oracle.sync_verdicts(beacon, lo_slot, hi_slot, SPE, blocks)
except eth_oracle.OracleError as e:
    fail(f"the oracle cannot judge slots {lo_slot}..{hi_slot}: {e}")
duties = duty_recorder.snapshot()
json.dump({"proposer_duties": {e: d for e, d in duties.items()},
           "blocks": {s: b["proposer"] for s, b in blocks.items()},
           "sync": [{**r, "positions": {str(i): k for i, k in r["positions"].items()},
                     "members": {str(i): v for i, v in r["members"].items()},
                     "ambiguous": {str(i): v for i, v in r["ambiguous"].items()}} for r in sync_results]},
          open(f"{work}/oracle.json", "w"))
log(f"oracle: slots {lo_slot}..{hi_slot}, {sum(1 for r in sync_results if r['block'])} blocks, "
    f"orphaned {orphaned}, proposer duties of epochs {sorted(duties)}, {time.time() - oracle_t0:.1f} s")

# Proposals: valwatch judges an epoch's proposals from the duties it cached while the epoch was
# current; if it never saw them (its first epochs), it credits the blocks' proposers and judges
# no miss (documented; counted in epochs_without_proposer_duties_total). The oracle applies the
# same rule to such epochs, exactly; other ranges are compared with the recorded duties.
prop = {"compared_slots": 0, "proposed": 0, "missed": 0, "fallback_epochs": 0, "excluded_epochs": []}
for lo, hi, a, b in ranges:
    slots = range(lo * SPE, (hi + 1) * SPE)
    without = mdiff(a, b, "no_duties")
    if without == 0 and all(e in duties for e in range(lo, hi + 1)):
        merged = {slot: v for e in range(lo, hi + 1) for slot, v in duties[e].items()}
        try:
            expected = eth_oracle.expected_proposals(merged, blocks, slots)
        except eth_oracle.OracleError as e:
            fail(f"proposal oracle, epochs {lo}..{hi}: {e}")
        prop["compared_slots"] += len(slots)
    elif without == hi - lo + 1:
        expected = {}
        for slot in slots:
            if slot in blocks and slot > 0:  # the genesis block is nobody's proposal
                e = expected.setdefault(blocks[slot]["proposer"], {"performed": 0, "missed": 0, "proposed_slots": [], "missed_slots": []})
                e["performed"] += 1
                e["proposed_slots"].append(slot)
        prop["fallback_epochs"] += hi - lo + 1
    else:
        prop["excluded_epochs"].extend(range(lo, hi + 1))
        continue
    for i in range(64):
        e = expected.get(i, {"performed": 0, "missed": 0, "proposed_slots": [], "missed_slots": []})
        done = cdiff(a, b, i, "duty_performed_total", "proposal")
        missed = cdiff(a, b, i, "duty_missed_total", "proposal")
        prop["proposed"] += e["performed"]
        prop["missed"] += e["missed"]
        check(done == e["performed"] and missed == e["missed"],
              f"proposal, validator {i}, epochs {lo}..{hi}: the chain says proposed at slots {e['proposed_slots']}, "
              f"missed at slots {e['missed_slots']} (expected performed {e['performed']} missed {e['missed']}); "
              f"valwatch counted performed {done:g} missed {missed:g}")
check(prop["proposed"] > 0 and prop["missed"] > 0, f"the proposal oracle compared too little: {prop}")

# Sync signatures: per validator and range, valwatch's counter increments against the verdicts
# the balances give. Exact where every duty of the validator in the range is resolved; where a
# few are ambiguous (see eth_oracle.sync_slot), valwatch must lie within the resolved counts
# plus the ambiguous ones, and its number of duties must still be exact.
syn = {"compared_member_slots": 0, "signed": 0, "missed": 0, "ambiguous_member_slots": 0,
       "validator_ranges_exact": 0, "validator_ranges_bounded": 0, "ambiguous_reasons": {}}
for r in sync_results:
    for reason in r["ambiguous"].values():
        syn["ambiguous_reasons"][reason] = syn["ambiguous_reasons"].get(reason, 0) + 1
for lo, hi, a, b in ranges:
    slots = range(lo * SPE, (hi + 1) * SPE)
    expected = eth_oracle.expected_sync(sync_results, slots)
    for i in range(64):
        e = expected.get(i, {"duties": 0, "performed": 0, "missed": 0, "ambiguous": 0, "missed_slots": [], "ambiguous_slots": []})
        done = cdiff(a, b, i, "duty_performed_total", "sync")
        missed = cdiff(a, b, i, "duty_missed_total", "sync")
        where = (f"sync, validator {i}, epochs {lo}..{hi} (slots {slots.start}..{slots.stop - 1}): the chain's balances say "
                 f"{e['duties']} duties, signed {e['performed']}, missed {e['missed']} at slots {e['missed_slots']}")
        syn["compared_member_slots"] += e["duties"] - e["ambiguous"]
        syn["ambiguous_member_slots"] += e["ambiguous"]
        syn["signed"] += e["performed"]
        syn["missed"] += e["missed"]
        if e["ambiguous"] == 0:
            syn["validator_ranges_exact"] += e["duties"] > 0
            check(done == e["performed"] and missed == e["missed"],
                  f"{where}; valwatch counted performed {done:g} missed {missed:g}")
        else:
            syn["validator_ranges_bounded"] += 1
            check(done + missed == e["duties"]
                  and e["performed"] <= done <= e["performed"] + e["ambiguous"]
                  and e["missed"] <= missed <= e["missed"] + e["ambiguous"],
                  f"{where}, ambiguous at {e['ambiguous_slots']}; valwatch counted performed {done:g} missed {missed:g}")
syn["compared_slots"] = sum(1 for r in sync_results if r["block"] and r["positions"] and not r["ambiguous"])
syn["slots_with_ambiguous_members"] = sum(1 for r in sync_results if r["ambiguous"])
check(syn["signed"] > 0 and syn["missed"] > 0, f"the sync oracle compared too little: {syn}")
check(syn["ambiguous_member_slots"] <= 0.1 * (syn["compared_member_slots"] + syn["ambiguous_member_slots"]),
      f"the sync oracle left too many verdicts ambiguous: {syn}")

# Only where the oracles could not reach (a first snapshot holding several epochs, a range with
# a skipped epoch): an online validator on a loaded machine may miss a few, never most.
for duty, limit in (("sync", 0.2), ("proposal", 0.25)):
    missed = done = 0
    for b in uncovered:
        a = max((e for e in epochs if e < b), default=None)
        missed += sum(cdiff(a, b, i, "duty_missed_total", duty) for i in ONLINE)
        done += sum(cdiff(a, b, i, "duty_performed_total", duty) for i in ONLINE)
    check(missed <= limit * (missed + done), f"online validators missed {missed} of {missed + done} {duty} duties in the epochs the oracles did not cover ({uncovered})")

offline_props = 0
for i in OFFLINE:
    for duty in ("attestation", "proposal", "sync"):
        check(total_done(i, duty) == 0, f"always-offline validator {i} performed {total_done(i, duty)} {duty} duties")
    check(total_missed(i, "attestation") == judged[0], f"always-offline validator {i}: {total_missed(i, 'attestation')} missed attestations in {judged[0]} judged epochs")
    offline_props += total_missed(i, "proposal")
    member = final.get(i, {}).get("valwatch_validator_ethereum_sync_committee_member:", 0)
    if member == 1:
        check(total_missed(i, "sync") > 0, f"always-offline sync member {i} has no missed sync signature")
check(offline_props > 0, "no missed proposal of any always-offline validator")

after_restart = restart_epoch + 2
for i in KILLABLE:
    for (rng, d) in per_epoch(i, "duty_missed_total", "attestation", kill_epoch + 1, restart_epoch - 1):
        check(d == rng[1] - rng[0] + 1, f"killable {i} missed {d} attestations in epochs {rng} while down")
    back = sum(d for _, d in per_epoch(i, "duty_performed_total", "attestation", after_restart, 10**9))
    check(back > 0, f"killable {i} performed no attestation after its restart")
down = [e for e in epochs if kill_epoch + 1 <= e <= restart_epoch - 1]
check(len(down) >= 1, f"no epoch judged while the client was fully down (kill {kill_epoch}, restart {restart_epoch}, judged {epochs})")
after = [e for e in epochs if e >= after_restart]
check(len(after) >= 1, "no epoch judged after the restart")

log(f"proposal oracle: {prop['compared_slots']} slots of epochs {ranges[0][0]}..{ranges[-1][1]} compared exactly "
    f"({prop['proposed']} proposed, {prop['missed']} missed, {prop['fallback_epochs']} epochs by valwatch's duty-less rule), "
    f"epochs excluded: {prop['excluded_epochs'] or 'none'}")
log(f"sync oracle: {syn['compared_member_slots']} member-slot verdicts compared ({syn['signed']} signed, {syn['missed']} missed) "
    f"in {syn['compared_slots']} fully resolved slots; {syn['ambiguous_member_slots']} ambiguous member-slots in "
    f"{syn['slots_with_ambiguous_members']} slots {syn['ambiguous_reasons'] or ''} bounded only; "
    f"{syn['validator_ranges_exact']} validator-epoch ranges exact, {syn['validator_ranges_bounded']} bounded")
summary = {
    "judged_epochs": epochs,
    "kill_epoch": kill_epoch,
    "restart_epoch": restart_epoch,
    "offline_missed_proposals": offline_props,
    "oracle_epochs": oracle_epochs,
    "online_misses_confirmed_by_the_state": confirmed_online_misses,
    "proposal_oracle": prop,
    "sync_oracle": syn,
    "uncovered_epochs": uncovered,
    "proposer_duty_changes": len(duty_recorder.changed),
    "killable_missed_attestations": {i: total_missed(i, "attestation") for i in KILLABLE},
}
log("summary " + json.dumps(summary))
if problems:
    # The first few of each kind (the text before the first comma), then the counts.
    kinds = {}
    for p in problems:
        kinds.setdefault(p.split(",")[0].split(":")[0], []).append(p)
    for same in kinds.values():
        for p in same[:10]:
            log("ASSERTION FAILED: " + p)
    log(f"{len(problems)} assertions failed: " + ", ".join(f"{len(v)} {k}" for k, v in kinds.items()))
    sys.exit(1)
log("all assertions hold")
