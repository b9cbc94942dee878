# shellcheck shell=bash
# Helpers shared by start.sh, vc.sh and stop.sh of the Prysm + geth devnet. Sourced, not run.

# Where start.sh records the run dir it used last, for vc.sh/stop.sh called without one.
last_run_file=${TMPDIR:-/tmp}/valwatch-prysm-last-run

log() { printf '[prysm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Settings of the run-dir and process helpers shared with the other devnets.
devnet_env=VALWATCH_PRYSM
devnet_stop_grace=10
devnet_second_signal=TERM
# shellcheck source=devnets/lib/run_dir.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/run_dir.sh"

# range_start A..B / range_count A..B: first index and number of indices of a validator range.
range_start() { printf '%s\n' "${1%%..*}"; }
range_count() { printf '%s\n' $((${1##*..} - ${1%%..*} + 1)); }

# start_vc NAME RANGE [--force-clear-db]: a Prysm validator client for the interop keys RANGE
# (A..B), talking gRPC to the beacon node (needs load_run_env). Data in $run_dir/NAME-data (its
# slashing-protection DB survives a restart unless --force-clear-db), log appended to
# $run_dir/NAME.log, PID in $run_dir/NAME.pid. Waits until it has the chain's genesis and its
# validators' status from the node. Returns 1 (after printing why) if it does not come up; then
# it is not left running.
start_vc() {
  local name=$1 range=$2 pid mark
  shift 2
  if pid=$(pid_of "$name"); then
    log "validator client $name already running (pid $pid)"
    return 0
  fi
  mark=$(wc -l 2>/dev/null <"$run_dir/$name.log" || echo 0)
  printf '===== %s start %s =====\n' "$name" "$(date -u +%FT%TZ)" >>"$run_dir/$name.log"
  (cd "$run_dir" && exec "$VALWATCH_PRYSM_VALIDATOR" \
    --accept-terms-of-use \
    --chain-config-file "$run_dir/config.yaml" \
    --datadir "$run_dir/$name-data" \
    --wallet-dir "$run_dir/$name-wallet" \
    --beacon-rpc-provider "127.0.0.1:$VALWATCH_PRYSM_GRPC_PORT" \
    --interop-start-index "$(range_start "$range")" \
    --interop-num-validators "$(range_count "$range")" \
    --suggested-fee-recipient "$VALWATCH_PRYSM_FEE_RECIPIENT" \
    --disable-monitoring \
    "$@") </dev/null >>"$run_dir/$name.log" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$run_dir/$name.pid"
  local timeout=${VALWATCH_PRYSM_VC_START_TIMEOUT:-60}
  local deadline=$((SECONDS + timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$run_dir/$name.log" >&2
      rm -f "$run_dir/$name.pid"
      log "ERROR: validator client $name exited during start (log tail above, full log $run_dir/$name.log)"
      return 1
    fi
    # Logged once the client has the genesis from the node and has asked for its duties.
    if tail -n +"$((mark + 1))" "$run_dir/$name.log" | grep -aq 'Beacon chain started\|Schedule for epoch'; then
      break
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 40 "$run_dir/$name.log" >&2
      stop_proc "$name"
      log "ERROR: validator client $name not ready after $timeout s (log tail above)"
      return 1
    fi
    sleep 0.5
  done
  log "validator client $name for validators $range running (pid $pid, log $run_dir/$name.log)"
}
