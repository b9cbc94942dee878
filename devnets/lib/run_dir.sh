# shellcheck shell=bash
# Run-dir and process helpers shared by the Ethereum devnets (lodestar, prysm): every process a
# devnet starts has a PID file in its run dir and is stopped by that PID only. Sourced by each
# devnet's lib.sh, which first sets:
#   devnet_env            the prefix of the devnet's variables (VALWATCH_LODESTAR, VALWATCH_PRYSM):
#                         ${devnet_env}_RUN_DIR, _STOP_GRACE and _KEEP_RUN_DIR are read from it
#   devnet_stop_grace     seconds to wait after SIGINT when ${devnet_env}_STOP_GRACE is unset
#   devnet_second_signal  what to send when SIGINT was not enough (INT or TERM)
#   last_run_file         where start.sh records the run dir it used last
# and defines log and die.

# resolve_run_dir [DIR]: the run dir from $1, else ${devnet_env}_RUN_DIR, else the last start.sh
# run. Sets run_dir; returns 1 if none is known.
resolve_run_dir() {
  local from_env="${devnet_env}_RUN_DIR"
  run_dir=${1:-${!from_env:-}}
  if [ -z "$run_dir" ] && [ -f "$last_run_file" ]; then
    run_dir=$(cat "$last_run_file")
  fi
  [ -n "$run_dir" ] || return 1
  run_dir=$(cd "$run_dir" 2>/dev/null && pwd) || return 1
}

# pid_of NAME: prints the PID in $run_dir/NAME.pid if that process is alive and ours (its command
# line mentions the run dir, so a recycled PID is never touched). Returns 1 otherwise; a zombie
# counts as dead.
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

# stop_proc NAME: SIGINT, wait the grace; $devnet_second_signal, wait 5 s; SIGKILL. By PID only.
# Always returns 0.
stop_proc() {
  local name=$1 pid grace_var="${devnet_env}_STOP_GRACE"
  pid=$(pid_of "$name") || { rm -f "$run_dir/$name.pid"; return 0; }
  log "stopping $name (pid $pid): SIGINT"
  kill -INT "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "${!grace_var:-$devnet_stop_grace}"; then
    log "$name (pid $pid) still running: SIG$devnet_second_signal"
    kill -"$devnet_second_signal" "$pid" 2>/dev/null || true
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

# finish_stop: after stop.sh stopped everything, delete the run dir if
# ${devnet_env}_KEEP_RUN_DIR=0 (by default it is kept: the logs are useful) and say so.
finish_stop() {
  local keep_var="${devnet_env}_KEEP_RUN_DIR"
  if [ "${!keep_var:-1}" = 0 ]; then
    rm -rf "$run_dir"
    if [ "$(cat "$last_run_file" 2>/dev/null)" = "$run_dir" ]; then rm -f "$last_run_file"; fi
    log "removed $run_dir"
  fi
  log "stopped (run dir $run_dir)"
}
