#!/usr/bin/env bash
# End-to-end test of the Ethereum watcher against a real Electra beacon node: Prysm v7.1.2 with
# geth v1.16.7 as its execution engine (devnets/prysm/, both built from the Go module proxy),
# Electra active from genesis, so blocks carry EIP-7549 attestations (committee_bits) and an
# execution payload. The same assertions as scripts/e2e-ethereum.sh (Lodestar, Altair), by the
# same code (scripts/lib/e2e_ethereum.sh, scripts/lib/e2e_ethereum_monitor.py):
#
#   scripts/e2e-ethereum-electra.sh
#
# The devnet has 64 validators: 0..47 run in an always-on validator client, 48..55 never run
# (always offline), 56..63 run in a second validator client that this script stops for a few
# epochs and starts again. valwatch watches all 64 under the labels online / always-offline /
# killable; every attestation verdict must equal the chain's participation flags, every
# proposal verdict the proposer duties against the canonical chain, every sync verdict the
# balance changes of process_sync_aggregate (scripts/lib/eth_oracle.py); always-offline
# validators miss everything they were due, killable ones miss only while down; SIGTERM stops
# valwatch with exit status 0.
#
# The balance oracle of sync signatures needs one extra fact here: a plain `go build` of Prysm
# has the mainnet preset, whose sync committee has 512 seats, so every one of the 64 validators
# sits in it (about 8 seats each). Across an epoch boundary the oracle cancels the epoch
# transition's rewards with a validator outside the committee that has the same inputs; there is
# none here, so it takes the transition's balance change from the node's attestation rewards
# (POST /eth/v1/beacon/rewards/attestations/{epoch}) instead, still without reading sync bits.
#
# Env (all optional):
#   VALWATCH_BIN                  valwatch binary (default: target/debug/valwatch, built if missing)
#   VALWATCH_E2E_LISTEN_PORT      valwatch metrics port (default: a free port)
#   VALWATCH_E2E_SECONDS_PER_SLOT slot time (default 2)
#   VALWATCH_E2E_DOWN_EPOCHS      epochs the killable client stays down (default 3)
#   VALWATCH_E2E_TIMEOUT          overall deadline in seconds for the monitored phase (default 900)
#   VALWATCH_E2E_KEEP=1           keep the work dir (logs, config, scrapes) on success too
#   VALWATCH_CACHE                where devnets/prysm/install.sh keeps its build (first run:
#                                 about 7 min on 2 cores; later runs: instant)
# The devnet picks free ports on 127.0.0.1 itself.
#
# Exit 0 on success; 1 with the reason and log tails otherwise. Everything started is stopped
# on every exit path (trap), by PID.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
e2e_name=e2e-ethereum-electra
devnet=$repo/devnets/prysm
chain=prysm
e2e_logs=(beacon.log vc.log vc-online.log geth.log)
# shellcheck source=scripts/lib/e2e_ethereum.sh
. "$repo/scripts/lib/e2e_ethereum.sh"

e2e_init
e2e_build_valwatch

# The build (first run only) before the clock of the devnet starts.
log "building or finding geth and Prysm (devnets/prysm/install.sh)"
"$devnet/install.sh" >/dev/null

log "starting the devnet (${sps} s slots)"
env_out=$(VALWATCH_PRYSM_RUN_DIR=$run_dir VALWATCH_PRYSM_SECONDS_PER_SLOT=$sps \
  VALWATCH_PRYSM_ONLINE_VALIDATORS=0..47 VALWATCH_PRYSM_VC_VALIDATORS=56..63 \
  VALWATCH_PRYSM_GENESIS_VALIDATORS=64 \
  "$devnet/start.sh")
eval "$env_out"
rest=$VALWATCH_PRYSM_REST_URL
version=$(curl -fsS --max-time 5 "$rest/eth/v1/node/version" || true)
log "beacon node: $version"
fork=$(curl -fsS --max-time 5 "$rest/eth/v2/beacon/blocks/head" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
[ "$fork" = electra ] || { log "the head block is a $fork block, not electra"; exit 1; }

e2e_write_config
e2e_start_valwatch
e2e_monitor
e2e_stop_valwatch
