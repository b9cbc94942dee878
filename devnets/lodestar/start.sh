#!/usr/bin/env bash
# Start a local single-node Ethereum beacon chain (Lodestar 1.5.1, minimal preset, Altair from
# genesis) for valwatch's end-to-end tests, and wait until it produces blocks.
#
#   eval "$(devnets/lodestar/start.sh)"    # sets VALWATCH_LODESTAR_RUN_DIR, VALWATCH_LODESTAR_REST_URL, ...
#   ... tests ...
#   devnets/lodestar/vc.sh stop            # validators 56..63 go offline
#   devnets/lodestar/vc.sh start           # and come back
#   devnets/lodestar/stop.sh
#
# Validators (64 at genesis, interop keys):
#   0..47   run inside the beacon node              always online
#   48..55  never started                           always offline
#   56..63  separate validator client (vc.sh)        online until `vc.sh stop`
#
# Env (all optional):
#   VALWATCH_LODESTAR_RUN_DIR            run dir for data, logs, PIDs (default: new temp dir)
#   VALWATCH_LODESTAR_REST_PORT          beacon REST API port on 127.0.0.1 (default 9596)
#   VALWATCH_LODESTAR_P2P_PORT           libp2p TCP port on 127.0.0.1 (default 19000)
#   VALWATCH_LODESTAR_SECONDS_PER_SLOT   slot time (default 2; 8 slots per epoch). 1 works too,
#                               but under CPU load online validators then miss attestations
#                               (see README)
#   VALWATCH_LODESTAR_GENESIS_VALIDATORS validators in the genesis state (default 64)
#   VALWATCH_LODESTAR_BN_VALIDATORS      range run by the beacon node (default 0..47)
#   VALWATCH_LODESTAR_VC_VALIDATORS      range run by the separate client (default 56..63; empty = none)
#   VALWATCH_LODESTAR_START_TIMEOUT      seconds to wait for the REST API and a moving head (default 120)
#   VALWATCH_LODESTAR_WAIT_FINALIZED     1 = also wait for the first finalized epoch (about 40 slots
#                               after genesis; the timeout then counts from the head moving)
#   VALWATCH_LODESTAR_ENTRY              lodestar entry point (default: from install.sh, which installs)
#   VALWATCH_CACHE              passed to install.sh
#
# Stdout: shell assignments (also saved as $VALWATCH_LODESTAR_RUN_DIR/env), nothing else.
# Run dir: beacon.log, vc.log, beacon.pid, vc.pid, beacon-data/, vc-data/, env.
# Exit 1 with the log tail on stderr if the chain does not come up; nothing is left running then.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

rest_port=${VALWATCH_LODESTAR_REST_PORT:-9596}
p2p_port=${VALWATCH_LODESTAR_P2P_PORT:-19000}
sps=${VALWATCH_LODESTAR_SECONDS_PER_SLOT:-2}
genesis_n=${VALWATCH_LODESTAR_GENESIS_VALIDATORS:-64}
bn_vals=${VALWATCH_LODESTAR_BN_VALIDATORS:-0..47}
vc_vals=${VALWATCH_LODESTAR_VC_VALIDATORS-56..63}
timeout_s=${VALWATCH_LODESTAR_START_TIMEOUT:-120}

for v in rest_port p2p_port sps genesis_n timeout_s; do
  case ${!v} in '' | *[!0-9]*) die "$v must be a positive integer, got '${!v}'" ;; esac
done
for v in bn_vals vc_vals; do
  case ${!v} in '' | [0-9]*..[0-9]*) ;; *) die "$v must look like 0..47, got '${!v}'" ;; esac
done
[ -n "$bn_vals" ] || die "VALWATCH_LODESTAR_BN_VALIDATORS must not be empty"
command -v curl >/dev/null 2>&1 || die "curl is needed"

entry=${VALWATCH_LODESTAR_ENTRY:-}
if [ -z "$entry" ]; then
  entry=$("$here/install.sh")
fi
[ -f "$entry" ] || die "lodestar entry point $entry not found"

if [ -n "${VALWATCH_LODESTAR_RUN_DIR:-}" ]; then
  mkdir -p "$VALWATCH_LODESTAR_RUN_DIR"
  run_dir=$(cd "$VALWATCH_LODESTAR_RUN_DIR" && pwd)
  for name in beacon vc; do
    if pid=$(pid_of "$name"); then
      die "$name of a previous run is still running in $run_dir (pid $pid): run stop.sh first"
    fi
  done
fi
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$rest_port" "$p2p_port"; do
  if port_busy "$p"; then
    die "port $p on 127.0.0.1 is already in use (another node? set VALWATCH_LODESTAR_REST_PORT / VALWATCH_LODESTAR_P2P_PORT)"
  fi
done
if [ -z "${VALWATCH_LODESTAR_RUN_DIR:-}" ]; then
  run_dir=$(mktemp -d "${TMPDIR:-/tmp}/valwatch-lodestar.XXXXXX")
fi

rest_url=http://127.0.0.1:$rest_port
# %q quoting: the file is sourced by vc.sh and `eval`ed by callers.
printf 'VALWATCH_LODESTAR_%s=%q\n' \
  RUN_DIR "$run_dir" \
  REST_URL "$rest_url" \
  REST_PORT "$rest_port" \
  P2P_PORT "$p2p_port" \
  SECONDS_PER_SLOT "$sps" \
  SLOTS_PER_EPOCH 8 \
  GENESIS_VALIDATORS "$genesis_n" \
  BN_VALIDATORS "$bn_vals" \
  VC_VALIDATORS "$vc_vals" \
  ENTRY "$entry" >"$run_dir/env"
printf '%s\n' "$run_dir" >"$last_run_file"
load_run_env

: >"$run_dir/beacon.log"
: >"$run_dir/vc.log"
log "run dir $run_dir; starting beacon node (REST $rest_url, p2p 127.0.0.1:$p2p_port, ${sps} s slots, validators $bn_vals in-process)"
t_start=$SECONDS
(lodestar_exec "$entry" dev \
  --preset minimal \
  --genesisValidators "$genesis_n" --startValidators "$bn_vals" \
  --reset --dataDir "$run_dir/beacon-data" \
  --rest --rest.address 127.0.0.1 --rest.port "$rest_port" --rest.namespace '*' \
  --server "$rest_url" \
  --listenAddress 127.0.0.1 --port "$p2p_port" --discv5 false --mdns false \
  --sync.isSingleNode --network.allowPublishToZeroPeers --eth1 false \
  --params.SECONDS_PER_SLOT "$sps" --params.ALTAIR_FORK_EPOCH 0 \
  --logFile none) \
  </dev/null >>"$run_dir/beacon.log" 2>&1 &
printf '%s\n' "$!" >"$run_dir/beacon.pid"
bn_pid=$!

fail() {
  log "ERROR: $*"
  log "---- tail of $run_dir/beacon.log ----"
  if [ -s "$run_dir/beacon.log" ]; then tail -n 40 "$run_dir/beacon.log" >&2; else log "(empty)"; fi
  if [ -s "$run_dir/vc.log" ]; then
    log "---- tail of $run_dir/vc.log ----"
    tail -n 20 "$run_dir/vc.log" >&2 || true
  fi
  stop_proc vc
  stop_proc beacon
  exit 1
}

head_slot() {
  curl -fsS --max-time 2 "$rest_url/eth/v1/beacon/headers/head" 2>/dev/null |
    sed -n 's/.*"slot":"\([0-9]*\)".*/\1/p'
}

deadline=$((t_start + timeout_s))
first_slot=
while :; do
  kill -0 "$bn_pid" 2>/dev/null || fail "beacon node exited during start"
  [ $SECONDS -lt $deadline ] || fail "no advancing head after ${timeout_s} s (REST $rest_url)"
  slot=$(head_slot || true)
  if [ -n "$slot" ]; then
    if [ -z "$first_slot" ]; then
      first_slot=$slot
      log "REST API up after $((SECONDS - t_start)) s, head slot $slot"
    elif [ "$slot" -gt "$first_slot" ]; then
      log "head advanced to slot $slot after $((SECONDS - t_start)) s"
      break
    fi
  fi
  sleep 0.5
done

if [ -n "$vc_vals" ]; then
  start_vc || fail "validator client did not start"
fi

if [ "${VALWATCH_LODESTAR_WAIT_FINALIZED:-0}" = 1 ]; then
  deadline=$((SECONDS + timeout_s))
  while :; do
    kill -0 "$bn_pid" 2>/dev/null || fail "beacon node exited while waiting for finality"
    [ $SECONDS -lt $deadline ] || fail "no finalized epoch after ${timeout_s} s more"
    fin=$(curl -fsS --max-time 2 "$rest_url/eth/v1/beacon/states/head/finality_checkpoints" 2>/dev/null |
      sed -n 's/.*"finalized":{"epoch":"\([0-9]*\)".*/\1/p' || true)
    if [ -n "$fin" ] && [ "$fin" -gt 0 ]; then
      log "first finalized epoch $fin after $((SECONDS - t_start)) s"
      break
    fi
    sleep 1
  done
fi

log "ready in $((SECONDS - t_start)) s; stop with: $here/stop.sh $run_dir"
cat "$run_dir/env"
