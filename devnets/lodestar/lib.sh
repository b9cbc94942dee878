# shellcheck shell=bash
# Helpers shared by start.sh, vc.sh and stop.sh. Sourced, not run.

lib_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Where start.sh records the run dir it used last, for vc.sh/stop.sh called without one.
last_run_file=${TMPDIR:-/tmp}/valwatch-lodestar-last-run

log() { printf '[lodestar %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# lodestar_exec ENTRY ARGS...: replace the current (sub)shell with the lodestar CLI. Lodestar's
# argument parser reads every LODESTAR_* environment variable as a flag (LODESTAR_FOO_BAR=1 acts
# as --fooBar 1, and unknown ones abort the start), so all are removed except the preset. It runs
# in the run dir: Lodestar reads the git commit of its working directory for its version string,
# and `dev` imports keystores from ./keystores by default.
lodestar_exec() {
  local entry=$1 v
  shift
  cd "$run_dir" || return 1
  for v in $(compgen -e LODESTAR_ || true); do unset "$v"; done
  export LODESTAR_PRESET=minimal
  export NODE_OPTIONS="--require $lib_here/polyfill.cjs${NODE_OPTIONS:+ $NODE_OPTIONS}"
  exec node "$entry" "$@"
}

# Settings of the run-dir and process helpers shared with the other devnets.
devnet_env=VALWATCH_LODESTAR
devnet_stop_grace=5
devnet_second_signal=INT
# shellcheck source=devnets/lib/run_dir.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/run_dir.sh"

# start_vc: start the separate validator client for $VALWATCH_LODESTAR_VC_VALIDATORS (needs load_run_env).
# Appends to $run_dir/vc.log; PID in $run_dir/vc.pid. Waits until it has connected to the beacon
# node and loaded its keys, or fails with the log tail.
# Returns 1 (after printing why) if it does not come up; then it is not left running.
start_vc() {
  local pid
  if pid=$(pid_of vc); then
    log "validator client already running (pid $pid)"
    return 0
  fi
  if [ -z "$VALWATCH_LODESTAR_VC_VALIDATORS" ]; then
    log "ERROR: VALWATCH_LODESTAR_VC_VALIDATORS is empty: this run has no separate validator client"
    return 1
  fi
  local mark
  mark=$(wc -l <"$run_dir/vc.log" 2>/dev/null || echo 0)
  printf '===== vc start %s =====\n' "$(date -u +%FT%TZ)" >>"$run_dir/vc.log"
  (lodestar_exec "$VALWATCH_LODESTAR_ENTRY" validator \
    --network dev --preset minimal \
    --params.SECONDS_PER_SLOT "$VALWATCH_LODESTAR_SECONDS_PER_SLOT" --params.ALTAIR_FORK_EPOCH 0 \
    --interopIndexes "$VALWATCH_LODESTAR_VC_VALIDATORS" \
    --server "$VALWATCH_LODESTAR_REST_URL" \
    --dataDir "$run_dir/vc-data" \
    --logFile none) \
    </dev/null >>"$run_dir/vc.log" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$run_dir/vc.pid"
  local deadline=$((SECONDS + ${VALWATCH_LODESTAR_VC_START_TIMEOUT:-60}))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$run_dir/vc.log" >&2
      rm -f "$run_dir/vc.pid"
      log "ERROR: validator client exited during start (log tail above, full log $run_dir/vc.log)"
      return 1
    fi
    # Lodestar logs this once it has the genesis from the node and its keys are loaded.
    if tail -n +"$((mark + 1))" "$run_dir/vc.log" | grep -q 'Validator client ready\|Discovered new validators\|Attested\|Published attestations'; then
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 40 "$run_dir/vc.log" >&2
      stop_proc vc
      log "ERROR: validator client not ready after ${VALWATCH_LODESTAR_VC_START_TIMEOUT:-60} s (log tail above)"
      return 1
    fi
    sleep 0.5
  done
  log "validator client for $VALWATCH_LODESTAR_VC_VALIDATORS running (pid $pid, log $run_dir/vc.log)"
}
