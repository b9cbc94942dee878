# Shared helpers for the Cosmos localnet scripts (sourced, not executed).
# shellcheck shell=bash

# shellcheck disable=SC2034  # used by the scripts that source this file
COSMOS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VALWATCH_CACHE=${VALWATCH_CACHE:-$HOME/.cache/valwatch}
# Where the chain lives: homes, logs, pid files, localnet.env.
RUN_DIR=${VALWATCH_COSMOS_RUN_DIR:-${TMPDIR:-/tmp}/valwatch-cosmos}
NUM_NODES=4
# Port of node i = base + i * step (i = 0..3).
PORT_STEP=${VALWATCH_COSMOS_PORT_STEP:-10}
RPC_BASE=${VALWATCH_COSMOS_RPC_PORT:-26657}
P2P_BASE=${VALWATCH_COSMOS_P2P_PORT:-26656}
ABCI_BASE=${VALWATCH_COSMOS_ABCI_PORT:-26658}
PROM_BASE=${VALWATCH_COSMOS_PROM_PORT:-26660}
GRPC_BASE=${VALWATCH_COSMOS_GRPC_PORT:-9090}
API_BASE=${VALWATCH_COSMOS_API_PORT:-1317}
# shellcheck disable=SC2034
MARKER=.valwatch-cosmos-localnet

clog() { echo "[cosmos/$(basename "$0" .sh)] $*" >&2; }
cdie() { echo "[cosmos/$(basename "$0" .sh)] ERROR: $*" >&2; exit 1; }

node_home() { echo "$RUN_DIR/node$1"; }
node_pidfile() { echo "$RUN_DIR/node$1.pid"; }
node_logfile() { echo "$RUN_DIR/node$1.log"; }
rpc_port() { echo $((RPC_BASE + $1 * PORT_STEP)); }
p2p_port() { echo $((P2P_BASE + $1 * PORT_STEP)); }
abci_port() { echo $((ABCI_BASE + $1 * PORT_STEP)); }
prom_port() { echo $((PROM_BASE + $1 * PORT_STEP)); }
grpc_port() { echo $((GRPC_BASE + $1 * PORT_STEP)); }
api_port() { echo $((API_BASE + $1 * PORT_STEP)); }

check_index() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 < NUM_NODES)) || cdie "node index must be 0..$((NUM_NODES - 1)), got '${1:-}'"
}

# Load the env file written by start.sh (gives SIMD, CHAIN_ID, ... as COSMOS_*).
load_env() {
  local f="$RUN_DIR/localnet.env"
  [[ -f "$f" ]] || cdie "$f not found: run devnets/cosmos/start.sh first (VALWATCH_COSMOS_RUN_DIR=$RUN_DIR)"
  # shellcheck disable=SC1090
  source "$f"
  # the ports the localnet was started with win over this shell's VALWATCH_COSMOS_*_PORT
  PORT_STEP=${COSMOS_PORT_STEP:-$PORT_STEP}
  RPC_BASE=${COSMOS_RPC_PORT_BASE:-$RPC_BASE}
  P2P_BASE=${COSMOS_P2P_PORT_BASE:-$P2P_BASE}
  ABCI_BASE=${COSMOS_ABCI_PORT_BASE:-$ABCI_BASE}
  PROM_BASE=${COSMOS_PROM_PORT_BASE:-$PROM_BASE}
  GRPC_BASE=${COSMOS_GRPC_PORT_BASE:-$GRPC_BASE}
  API_BASE=${COSMOS_API_PORT_BASE:-$API_BASE}
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

node_pid() {
  local f
  f=$(node_pidfile "$1")
  [[ -f "$f" ]] && cat "$f" || true
}

# PIDs of simd processes whose command line uses this run dir's node home (safety net in
# case a pid file was lost). Matches the exact --home argument, never a process name.
stray_pids() {
  local home p cmd i
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    for ((i = 0; i < NUM_NODES; i++)); do
      home=$(node_home "$i")
      if [[ "$cmd" == *" start --home $home "* ]]; then echo "${p#/proc/}"; fi
    done
  done
}

# Stop one process: SIGTERM, wait up to $2 seconds, then SIGKILL.
kill_pid() {
  local pid=$1 grace=${2:-15} t
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((t = 0; t < grace * 10; t++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((t = 0; t < 50; t++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

# Launch node i in the background (new session, so it survives the caller's job control),
# write its pid file. Logs are appended, so a restarted node keeps its earlier log.
launch_node() {
  local i=$1 home log pidf
  home=$(node_home "$i")
  log=$(node_logfile "$i")
  pidf=$(node_pidfile "$i")
  echo "=== $(date -u +%FT%TZ) starting node$i" >>"$log"
  # The trailing --log_no_color keeps the logs grep-able; the " start --home H " shape is
  # what stray_pids() matches.
  setsid "$SIMD" start --home "$home" --log_no_color >>"$log" 2>&1 </dev/null &
  echo $! >"$pidf"
}

rpc_height() {
  curl -fsS --max-time 2 "http://127.0.0.1:$(rpc_port "$1")/status" 2>/dev/null \
    | jq -r '.result.sync_info.latest_block_height // empty' 2>/dev/null || true
}

# tx_wait NODE_TCP TIMEOUT ARGS... : run `simd tx ARGS... --node NODE_TCP -y -o json`, check
# CheckTx, then wait until the tx is in a block with code 0. Prints the inclusion height.
tx_wait() {
  local node=$1 timeout=$2 out json code hash res height deadline
  shift 2
  out=$("$SIMD" tx "$@" --node "$node" -y -o json 2>&1) || cdie "simd tx $1 $2 failed: $out"
  json=$(grep -o '{.*}' <<<"$out" | tail -n1)
  code=$(jq -r '.code' <<<"$json" 2>/dev/null || echo "?")
  hash=$(jq -r '.txhash' <<<"$json" 2>/dev/null || echo "")
  [[ $code == 0 && -n "$hash" ]] || cdie "simd tx $1 $2 rejected (code $code): $(jq -r '.raw_log // empty' <<<"$json" 2>/dev/null || echo "$out")"
  clog "tx $hash ($1 $2) sent via $node; waiting for inclusion"
  deadline=$(($(date +%s) + timeout))
  while :; do
    if res=$("$SIMD" q tx "$hash" --node "$node" -o json 2>/dev/null) && [[ $(jq -r '.height // "0"' <<<"$res" 2>/dev/null) != 0 ]]; then
      code=$(jq -r '.code // 0' <<<"$res")
      height=$(jq -r '.height' <<<"$res")
      [[ $code == 0 ]] || cdie "tx $hash failed in block $height (code $code): $(jq -r '.raw_log' <<<"$res")"
      clog "tx $hash included at height $height"
      echo "$height"
      return 0
    fi
    (($(date +%s) < deadline)) || cdie "tx $hash not included within ${timeout}s"
    sleep 0.5
  done
}

# first node (other than $1) that answers RPC and is not catching up, as tcp://127.0.0.1:PORT
live_node_tcp() {
  local j st
  for ((j = 0; j < NUM_NODES; j++)); do
    [[ $j == "${1:-x}" ]] && continue
    st=$(curl -fsS --max-time 2 "http://127.0.0.1:$(rpc_port "$j")/status" 2>/dev/null) || continue
    [[ $(jq -r '.result.sync_info.catching_up' <<<"$st") == false ]] && { echo "tcp://127.0.0.1:$(rpc_port "$j")"; return 0; }
  done
  return 1
}
