#!/usr/bin/env bash
# End-to-end test of the Ethereum watcher against a real beacon node (Lodestar 1.5.1, minimal
# preset, Altair, devnets/lodestar/): valwatch must report exactly what the validators did.
#
#   scripts/e2e-ethereum.sh
#
# The devnet has 64 validators: 0..47 run in the beacon node (always online), 48..55 never run
# (always offline), 56..63 run in a separate validator client that this script stops for a few
# epochs and starts again. valwatch watches all 64 under the labels online / always-offline /
# killable and is scraped every second; after each judged epoch the per-validator counters are
# recorded, so each epoch's verdict is known. The script asserts that:
#   - /readyz turns 200;
#   - every attestation verdict equals the chain's own participation flags (read from the
#     node's state at the end of the inclusion window): a miss exactly when no flag;
#   - every proposal verdict equals the chain's: the node's proposer duties (recorded while each
#     epoch is current) against the canonical chain (walked through parent roots): proposed =
#     a duty slot with a canonical block, missed = one without;
#   - every sync-committee verdict equals the chain's own accounting: process_sync_aggregate
#     pays each signing committee position and charges each silent one, per block, so the
#     members' balance changes between a block's parent state and its state say who signed,
#     without reading the sync bits valwatch reads (scripts/lib/eth_oracle.py);
#     compared per validator and per judged epoch (counter increments), exactly where the
#     oracle resolves every duty, within bounds where it leaves a few ambiguous;
#   - always-offline validators miss their attestation in every judged epoch, every proposal
#     and sync signature they were due, and perform none;
#   - killable validators miss every attestation in the epochs they were fully down, and
#     attest again after their restart (each verdict checked against the chain as above);
#   - SIGTERM stops valwatch with exit status 0.
# The same assertions run against an Electra node (Prysm + geth) in
# scripts/e2e-ethereum-electra.sh; the code is shared (scripts/lib/e2e_ethereum.sh,
# scripts/lib/e2e_ethereum_monitor.py).
# Epochs in which the client was stopped or started are transitional for the killable
# validators' own attestation checks (every oracle comparison covers them all the same).
#
# Env (all optional):
#   VALWATCH_BIN                  valwatch binary (default: target/debug/valwatch, built if missing)
#   VALWATCH_E2E_REST_PORT        beacon REST port (default: a free port)
#   VALWATCH_E2E_P2P_PORT         beacon p2p port (default: a free port)
#   VALWATCH_E2E_LISTEN_PORT      valwatch metrics port (default: a free port)
#   VALWATCH_E2E_SECONDS_PER_SLOT slot time (default 2)
#   VALWATCH_E2E_DOWN_EPOCHS      epochs the killable client stays down (default 3)
#   VALWATCH_E2E_TIMEOUT          overall deadline in seconds for the monitored phase (default 900)
#   VALWATCH_E2E_KEEP=1           keep the work dir (logs, config, scrapes) on success too
#
# Exit 0 on success; 1 with the reason and log tails otherwise. Everything started is stopped
# on every exit path (trap), by PID.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
e2e_name=e2e-ethereum
devnet=$repo/devnets/lodestar
chain=lodestar
e2e_logs=(beacon.log vc.log)
# shellcheck source=scripts/lib/e2e_ethereum.sh
. "$repo/scripts/lib/e2e_ethereum.sh"

e2e_init
rest_port=${VALWATCH_E2E_REST_PORT:-$(free_port)}
p2p_port=${VALWATCH_E2E_P2P_PORT:-$(free_port)}
e2e_build_valwatch

log "starting the devnet (${sps} s slots, REST 127.0.0.1:$rest_port)"
env_out=$(VALWATCH_LODESTAR_RUN_DIR=$run_dir VALWATCH_LODESTAR_REST_PORT=$rest_port \
  VALWATCH_LODESTAR_P2P_PORT=$p2p_port VALWATCH_LODESTAR_SECONDS_PER_SLOT=$sps \
  VALWATCH_LODESTAR_BN_VALIDATORS=0..47 VALWATCH_LODESTAR_VC_VALIDATORS=56..63 \
  VALWATCH_LODESTAR_GENESIS_VALIDATORS=64 \
  "$devnet/start.sh")
eval "$env_out"
rest=$VALWATCH_LODESTAR_REST_URL

e2e_write_config
e2e_start_valwatch
e2e_monitor
e2e_stop_valwatch
