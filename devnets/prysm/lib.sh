# shellcheck shell=bash
# Helpers shared by start.sh, vc.sh and stop.sh of the Prysm + geth devnet. Sourced, not run.

# Where start.sh records the run dir it used last, for vc.sh/stop.sh called without one.
last_run_file=${TMPDIR:-/tmp}/valwatch-prysm-last-run

log() { printf '[prysm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# resolve_run_dir [DIR]: the run dir from $1, else $VALWATCH_PRYSM_RUN_DIR, else the last start.sh
# run. Sets run_dir; returns 1 if none is known.
resolve_run_dir() {
  run_dir=${1:-${VALWATCH_PRYSM_RUN_DIR:-}}
  if [ -z "$run_dir" ] && [ -f "$last_run_file" ]; then
    run_dir=$(cat "$last_run_file")
  fi
  [ -n "$run_dir" ] || return 1
  run_dir=$(cd "$run_dir" 2>/dev/null && pwd) || return 1
}

# pid_of NAME: prints the PID in $run_dir/NAME.pid if that process is alive and ours (its command
# line mentions the run dir, so a recycled PID is never touched). Returns 1 otherwise.
pid_of() {
  local f=$run_dir/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$run_dir/" || return 1
  case $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) in Z | X | '') return 1 ;; esac
  printf '%s\n' "$pid"
}

# wait_gone PID SECONDS: 0 once the process is gone (or a zombie), 1 if still there after SECONDS.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    if [ ! -d "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
      return 0
    fi
    sleep 0.1
  done
  [ ! -d "/proc/$pid" ]
}

# stop_proc NAME: SIGINT, wait $VALWATCH_PRYSM_STOP_GRACE s; SIGTERM, wait 5 s; SIGKILL. By PID
# only. Always returns 0. geth, beacon-chain and validator all leave within about 2 s of SIGINT.
stop_proc() {
  local name=$1 pid
  pid=$(pid_of "$name") || { rm -f "$run_dir/$name.pid"; return 0; }
  log "stopping $name (pid $pid): SIGINT"
  kill -INT "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "${VALWATCH_PRYSM_STOP_GRACE:-10}"; then
    log "$name (pid $pid) still running: SIGTERM"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 5; then
      log "$name (pid $pid) still running: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || log "WARNING: $name (pid $pid) survived SIGKILL"
    fi
  fi
  rm -f "$run_dir/$name.pid"
  return 0
}

# load_run_env: read the settings start.sh saved for this run.
load_run_env() {
  [ -f "$run_dir/env" ] || die "$run_dir/env missing: was this run dir made by start.sh?"
  # shellcheck disable=SC1091
  . "$run_dir/env"
}

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
