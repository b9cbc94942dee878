# shellcheck shell=bash
# The parts the Ethereum end-to-end scripts share (scripts/e2e-ethereum.sh against Lodestar,
# scripts/e2e-ethereum-electra.sh against Prysm + geth). Sourced, not run.
#
# The caller sets, before e2e_init:
#   repo        the repository root
#   e2e_name    log prefix (the script's name)
#   devnet      devnets/<name>: its stop.sh RUN_DIR and vc.sh stop|start RUN_DIR are used
#   chain       the chain name in valwatch's config (and so in every metric)
#   e2e_logs    array of log files (relative to the devnet's run dir) tailed on failure
# and calls, in order:
#   e2e_init                   work dir, run_dir=$work/<chain>, ports, the cleanup trap
#   e2e_build_valwatch         sets bin (VALWATCH_BIN, else builds target/debug/valwatch)
#   ... start the devnet in $run_dir, set rest=<its REST URL> ...
#   e2e_write_config           keys.json and valwatch.toml from the node's 64 validators
#   e2e_start_valwatch
#   e2e_monitor                scripts/lib/e2e_ethereum_monitor.py: drives, scrapes, asserts
#   e2e_stop_valwatch          SIGTERM must give exit 0 and a saved state; then status=0
#
# Env read here (all optional):
#   VALWATCH_BIN                  valwatch binary (default: target/debug/valwatch, built if missing)
#   VALWATCH_E2E_LISTEN_PORT      valwatch metrics port (default: a free port)
#   VALWATCH_E2E_SECONDS_PER_SLOT slot time (default 2)
#   VALWATCH_E2E_DOWN_EPOCHS      epochs the killable client stays down (default 3)
#   VALWATCH_E2E_TIMEOUT          overall deadline in seconds for the monitored phase (default 900)
#   VALWATCH_E2E_KEEP=1           keep the work dir (logs, config, scrapes) on success too

# A port nobody listens on right now (other devnets may share the machine).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log() { printf '[%s %s +%ss] %s\n' "$e2e_name" "$(date +%H:%M:%S)" "$((SECONDS - t0))" "$*" >&2; }

e2e_init() {
  t0=$SECONDS
  listen_port=${VALWATCH_E2E_LISTEN_PORT:-$(free_port)}
  sps=${VALWATCH_E2E_SECONDS_PER_SLOT:-2}
  down_epochs=${VALWATCH_E2E_DOWN_EPOCHS:-3}
  deadline_s=${VALWATCH_E2E_TIMEOUT:-900}
  work=$(mktemp -d "${TMPDIR:-/tmp}/valwatch-e2e-eth.XXXXXX")
  run_dir=$work/$chain
  vw_pid=
  mon_pid=
  status=1
  trap e2e_cleanup EXIT
  trap 'exit 1' INT TERM
  command -v python3 >/dev/null || { log "python3 is needed"; exit 1; }
  command -v curl >/dev/null || { log "curl is needed"; exit 1; }
}

# Runs on every exit: the monitor, valwatch and the devnet are stopped by PID (the devnet by its
# own stop.sh, which signals only the PIDs recorded in the run dir).
e2e_cleanup() {
  local rc=$? f
  [ "$status" = 0 ] || rc=1
  if [ -n "$mon_pid" ]; then kill -TERM "$mon_pid" 2>/dev/null || true; fi
  if [ -n "$vw_pid" ] && kill -0 "$vw_pid" 2>/dev/null; then
    kill -TERM "$vw_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$vw_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$vw_pid" 2>/dev/null || true
  fi
  if [ -d "$run_dir" ]; then
    "$devnet/stop.sh" "$run_dir" >/dev/null 2>&1 || true
  fi
  if [ "$rc" != 0 ]; then
    log "FAILED; work dir kept: $work"
    for f in "$work/valwatch.log" "${e2e_logs[@]/#/$run_dir/}"; do
      if [ -s "$f" ]; then
        log "---- tail of $f ----"
        tail -n 25 "$f" >&2 || true
      fi
    done
  elif [ "${VALWATCH_E2E_KEEP:-0}" = 1 ]; then
    log "work dir kept: $work"
  else
    rm -rf "$work"
  fi
  log "duration $((SECONDS - t0)) s"
  exit "$rc"
}

e2e_build_valwatch() {
  bin=${VALWATCH_BIN:-$repo/target/debug/valwatch}
  if [ -z "${VALWATCH_BIN:-}" ]; then
    log "building valwatch"
    (cd "$repo" && cargo build -q -p valwatch)
  fi
  [ -x "$bin" ] || { log "valwatch binary $bin not found"; exit 1; }
}

# Pubkeys of the 64 validators, from the node itself (repeated id= parameters: Lodestar 1.5.1
# answers the comma form with an empty list), and valwatch's config watching them under the
# labels online (0..47), always-offline (48..55) and killable (56..63).
e2e_write_config() {
  local ids
  ids=$(python3 -c 'print("&".join(f"id={i}" for i in range(64)))')
  curl -fsS --max-time 30 "$rest/eth/v1/beacon/states/head/validators?$ids" >"$work/validators.json"
  python3 - "$work" "$rest" "$listen_port" "$chain" <<'PY'
import json, sys
work, rest, port, chain = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
data = json.load(open(f"{work}/validators.json"))["data"]
keys = {int(v["index"]): v["validator"]["pubkey"] for v in data}
assert sorted(keys) == list(range(64)), f"the node knows validators {sorted(keys)}"
json.dump({str(i): k for i, k in keys.items()}, open(f"{work}/keys.json", "w"))
def group(r):
    return ",\n".join(f'  "{keys[i]}"' for i in r)
open(f"{work}/valwatch.toml", "w").write(f"""
[server]
listen = "127.0.0.1:{port}"
state_dir = "{work}/state"
save_interval_seconds = 5

[[ethereum]]
name = "{chain}"
beacon = ["{rest}"]
request_timeout_seconds = 20

[ethereum.validators.labels]
"online" = [
{group(range(0, 48))}
]
"always-offline" = [
{group(range(48, 56))}
]
"killable" = [
{group(range(56, 64))}
]
""")
PY
}

e2e_start_valwatch() {
  log "starting valwatch"
  RUST_LOG=${RUST_LOG:-info} "$bin" run --config "$work/valwatch.toml" >"$work/valwatch.log" 2>&1 &
  vw_pid=$!
}

# The monitored phase: scrapes, drives the validator client, asserts. In the background and
# waited for, so that a signal to the script runs the cleanup at once.
e2e_monitor() {
  local mon_rc=0
  python3 "$repo/scripts/lib/e2e_ethereum_monitor.py" "$work" "$listen_port" "$devnet" "$run_dir" \
    "$sps" "$down_epochs" "$deadline_s" "$rest" "$repo" "$chain" "$e2e_name" &
  mon_pid=$!
  wait "$mon_pid" || mon_rc=$?
  mon_pid=
  [ "$mon_rc" = 0 ] || exit 1
}

e2e_stop_valwatch() {
  local rc=0
  log "stopping valwatch with SIGTERM"
  kill -TERM "$vw_pid"
  wait "$vw_pid" || rc=$?
  vw_pid=
  if [ "$rc" != 0 ]; then
    log "valwatch exited with status $rc after SIGTERM (expected 0)"
    exit 1
  fi
  grep -q "state saved" "$work/valwatch.log" || { log "valwatch did not report saving its state"; exit 1; }
  status=0
  log "PASSED"
}
