#!/usr/bin/env python3
"""Generate spec-driven Beacon API fixtures for valwatch's epoch analyser.

    python generate.py [--out DIR] [--fork fulu,deneb] [--scenario a,b] [--jobs N]

See README.md next to this file.  Needs eth-consensus-specs (requirements.txt)
on Python >= 3.12; run.sh sets that up.
"""

import argparse
import importlib
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean

DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crates", "ethereum", "tests", "fixtures", "spec"))
FORKS = {"fulu": "eth_consensus_specs.fulu.minimal", "deneb": "eth_consensus_specs.deneb.minimal"}
# Fork versions of forks a spec module does not know, served as unscheduled.
LATER_FORKS = {"deneb": ("electra", "fulu")}
N_VALIDATORS = 64
WATCHED_EPOCH = 4  # epochs 0..2 honest warm-up, faults from the first slot of 3 (= e-1)
SPEC_PACKAGE = "eth-consensus-specs"


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(text)


def expected_text(expected):
    """Readable yet compact: one line per list element of the top-level lists."""
    lines = ["{"]
    items = list(expected.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i + 1 < len(items) else ""
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{json.dumps(key)}:[")
            for j, item in enumerate(value):
                sep = "," if j + 1 < len(value) else ""
                lines.append(json.dumps(item, separators=(",", ":")) + sep)
            lines.append("]" + comma)
        else:
            lines.append(f"{json.dumps(key)}:{json.dumps(value, separators=(',', ':'))}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def build_fork(fork, scenario_names, out_dir):
    """Build every requested scenario of one fork; returns manifest entries."""
    from specfix import api
    from specfix.chain import Chain
    from specfix.oracle import build_expected, check
    from specfix.scenarios import SCENARIOS, Context, Honest

    spec = importlib.import_module(FORKS[fork])
    later_versions = {}
    for name in LATER_FORKS.get(fork, ()):
        later_versions[name] = getattr(importlib.import_module(FORKS["fulu"]).config,
                                       f"{name.upper()}_FORK_VERSION")
    e = WATCHED_EPOCH
    spe = int(spec.SLOTS_PER_EPOCH)
    fault_start = (e - 1) * spe
    first_slot = e * spe - 1  # last slot of e-1
    last_slot = (e + 2) * spe - 1  # last slot of e+1

    t0 = time.time()
    base = Chain(spec, fork, N_VALIDATORS)
    base.run_to(fault_start - 1, Honest())
    # What the scenarios need to know in advance (committees and proposers of e are
    # fixed by the randao mix of e-2, final at this point).
    probe = base.state.copy()
    committees, proposers = {}, {}
    for slot in range(e * spe, (e + 1) * spe):
        spec.process_slots(probe, spec.Slot(slot))
        proposers[slot] = int(spec.get_beacon_proposer_index(probe))
        count = int(spec.get_committee_count_per_slot(probe, e))
        committees[slot] = [
            [int(v) for v in spec.get_beacon_committee(probe, spec.Slot(slot), spec.CommitteeIndex(ci))]
            for ci in range(count)
        ]
    sync_index = api.sync_committee_indices(spec, probe, e)
    check(sync_index == api.sync_committee_indices(spec, probe, e + 1), "one sync period")
    ctx = Context(e, spe, fault_start, committees, proposers, sync_index, N_VALIDATORS)
    warmup = time.time() - t0

    entries = []
    for cls in SCENARIOS:
        if scenario_names and cls.name not in scenario_names:
            continue
        t1 = time.time()
        script = cls(ctx)
        chain = base.clone()
        chain.watch_epoch = e
        chain.run_to(last_slot, script)
        for slot in ctx.committees:
            if slot in chain.blocks:
                check(chain.proposers[slot] == ctx.proposers[slot], "proposer prediction")
        state = chain.state
        files = {}
        files["config_spec.json"] = api.config_spec_body(spec, fork, later_versions)
        files["genesis.json"] = api.genesis_body(spec, chain.genesis_state)
        for epoch in (e, e + 1):
            files[f"committees_{epoch}.json"] = api.committees_body(spec, state, epoch)
            files[f"sync_committees_{epoch}.json"] = api.sync_committees_body(spec, state, epoch)
            duties = {s: p for s, p in chain.proposers.items() if s // spe == epoch}
            dependent = chain.latest_root(epoch * spe - 1)
            files[f"proposer_duties_{epoch}.json"] = api.proposer_duties_body(state, duties, dependent)
        for slot in range(first_slot, last_slot + 1):
            if slot in chain.blocks:
                files[f"blocks/{slot}.json"] = api.block_body(fork, chain.blocks[slot])
                files[f"headers/{slot}.json"] = api.header_body(spec, chain.blocks[slot])
        files["validators.json"] = api.validators_body(spec, state)
        texts = {name: api.dumps(body) for name, body in files.items()}
        expected = build_expected(chain, script, fork, e, first_slot, last_slot, sync_index)
        texts["expected.json"] = expected_text(expected)
        replay(spec, chain, texts, first_slot, last_slot)
        check(json.loads(texts["expected.json"]) == expected, "expected.json round trip")

        target = os.path.join(out_dir, f"{fork}_{cls.name}")
        if os.path.isdir(target):
            shutil.rmtree(target)
        for name in sorted(texts):
            _write(os.path.join(target, name), texts[name])
        size = sum(len(t) for t in texts.values())
        elapsed = time.time() - t1
        print(f"  {fork}_{cls.name}: {len(chain.blocks)} blocks, {size / 1024:.0f} KiB, "
              f"{elapsed:.1f}s  {expected['counts']['flags']}", flush=True)
        entries.append({
            "dir": f"{fork}_{cls.name}",
            "fork": fork,
            "scenario": cls.name,
            "summary": script.summary,
        })
    print(f"  {fork}: warm-up {warmup:.1f}s, total {time.time() - t0:.1f}s", flush=True)
    return entries


def replay(spec, chain, texts, first_slot, last_slot):
    """Re-run the spec's full state transition (signatures and state roots
    verified) from genesis over the blocks, taking those inside the fixture
    window from the JSON just produced, and compare with the builder's state."""
    from specfix import api
    from specfix.oracle import check

    state = chain.genesis_state.copy()
    for slot in sorted(chain.blocks):
        if slot >= first_slot:
            body = json.loads(texts[f"blocks/{slot}.json"])
            signed = api.from_api(body["data"], spec.SignedBeaconBlock)
            header = json.loads(texts[f"headers/{slot}.json"])["data"]
            check(header["root"] == "0x" + bytes(spec.hash_tree_root(signed.message)).hex(),
                  f"header root of {slot}")
        else:
            signed = chain.blocks[slot]
        spec.state_transition(state, signed, True)
    if int(state.slot) < last_slot:
        spec.process_slots(state, spec.Slot(last_slot))
    check(spec.hash_tree_root(state) == spec.hash_tree_root(chain.state), "replayed state differs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    parser.add_argument("--fork", default=",".join(FORKS), help="comma-separated forks")
    parser.add_argument("--scenario", default="", help="comma-separated scenarios (default: all)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes, one fork each (default: %(default)s)")
    args = parser.parse_args(argv)

    from importlib.metadata import version

    forks = [f for f in args.fork.split(",") if f]
    for f in forks:
        if f not in FORKS:
            parser.error(f"unknown fork {f!r}; known: {', '.join(FORKS)}")
    scenarios = [s for s in args.scenario.split(",") if s]
    from specfix.scenarios import SCENARIOS

    known = {cls.name for cls in SCENARIOS}
    for s in scenarios:
        if s not in known:
            parser.error(f"unknown scenario {s!r}; known: {', '.join(sorted(known))}")

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    print(f"generating {','.join(forks)} into {out}", flush=True)
    if args.jobs > 1 and len(forks) > 1:
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(forks))) as pool:
            results = list(pool.map(build_fork, forks, [scenarios] * len(forks), [out] * len(forks)))
    else:
        results = [build_fork(f, scenarios, out) for f in forks]
    entries = [entry for result in results for entry in result]

    if not scenarios and forks == list(FORKS):
        # full run: drop fixture directories of scenarios that no longer exist
        made = {entry["dir"] for entry in entries}
        for name in sorted(os.listdir(out)):
            path = os.path.join(out, name)
            if name not in made and os.path.isfile(os.path.join(path, "expected.json")):
                shutil.rmtree(path)
        manifest = {
            "generator": "tools/spec-fixtures/generate.py",
            "spec_package": f"{SPEC_PACKAGE}=={version(SPEC_PACKAGE)}",
            "preset": "minimal",
            "validators": N_VALIDATORS,
            "watched_epoch": WATCHED_EPOCH,
            "fixtures": entries,
        }
        _write(os.path.join(out, "manifest.json"), json.dumps(manifest, indent=1) + "\n")
        shutil.copyfile(os.path.join(HERE, "FIXTURES_README.md"), os.path.join(out, "README.md"))
    print(f"done in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
