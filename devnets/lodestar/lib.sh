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

# resolve_run_dir [DIR]: the run dir from $1, else $VALWATCH_LODESTAR_RUN_DIR, else the last start.sh run.
# Sets run_dir; returns 1 if none is known.
resolve_run_dir() {
  run_dir=${1:-${VALWATCH_LODESTAR_RUN_DIR:-}}
  if [ -z "$run_dir" ] && [ -f "$last_run_file" ]; then
    run_dir=$(cat "$last_run_file")
  fi
  [ -n "$run_dir" ] || return 1
  run_dir=$(cd "$run_dir" 2>/dev/null && pwd) || return 1
}

# pid_of NAME: prints the PID in $run_dir/NAME.pid if that process is alive AND is ours (its
# command line mentions the run dir, so a recycled PID is never touched). Returns 1 otherwise.
pid_of() {
  local f=$run_dir/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$run_dir/" || return 1
  # A zombie is dead for our purposes.
  case $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) in Z | X | '') return 1 ;; esac
  printf '%s\n' "$pid"
}

# wait_gone PID SECONDS: 0 once the process is gone, 1 if still there after SECONDS.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    if [ ! -d "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
      return 0
    fi
    sleep 0.2
  done
  [ ! -d "/proc/$pid" ]
}

# stop_proc NAME: SIGINT, wait; SIGINT again, wait; SIGKILL. By PID only. Always returns 0.
stop_proc() {
  local name=$1 pid
  pid=$(pid_of "$name") || { rm -f "$run_dir/$name.pid"; return 0; }
  log "stopping $name (pid $pid): SIGINT"
  kill -INT "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "${VALWATCH_LODESTAR_STOP_GRACE:-5}"; then
    log "$name (pid $pid) still running: SIGINT again"
    kill -INT "$pid" 2>/dev/null || true
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
