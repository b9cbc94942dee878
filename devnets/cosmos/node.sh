#!/usr/bin/env bash
# Stop or start one node of the running localnet, e.g. to take a validator offline.
#   node.sh stop N      SIGTERM (SIGKILL after 15 s); N = 0..3
#   node.sh kill N      SIGKILL at once (crash)
#   node.sh start N     start it again with the same home; waits until its RPC answers
#                       and it has caught up (catching_up=false), up to
#                       VALWATCH_COSMOS_NODE_TIMEOUT seconds (default 60)
#   node.sh status N    prints "running <pid> height <h>" or "stopped"
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd=${1:-}
n=${2:-}
[[ -n "$cmd" ]] || cdie "usage: node.sh stop|kill|start|status N"
check_index "$n"
load_env
SIMD=$COSMOS_SIMD
pid=$(node_pid "$n")

case "$cmd" in
stop | kill)
  if ! pid_alive "$pid"; then
    clog "node$n is not running"
    rm -f "$(node_pidfile "$n")"
    exit 0
  fi
  if [[ $cmd == kill ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  kill_pid "$pid" 15 || cdie "node$n (pid $pid) did not stop"
  rm -f "$(node_pidfile "$n")"
  echo "=== $(date -u +%FT%TZ) node$n stopped ($cmd)" >>"$(node_logfile "$n")"
  clog "node$n stopped (pid $pid)"
  ;;
start)
  if pid_alive "$pid"; then
    clog "node$n already running (pid $pid)"
    exit 0
  fi
  launch_node "$n"
  timeout=${VALWATCH_COSMOS_NODE_TIMEOUT:-60}
  deadline=$(($(date +%s) + timeout))
  while :; do
    pid_alive "$(node_pid "$n")" || { tail -n 30 "$(node_logfile "$n")" >&2; cdie "node$n exited after start"; }
    st=$(curl -fsS --max-time 2 "http://127.0.0.1:$(rpc_port "$n")/status" 2>/dev/null || true)
    if [[ -n "$st" ]] && [[ $(jq -r '.result.sync_info.catching_up' <<<"$st") == false ]]; then
      clog "node$n running (pid $(node_pid "$n")), height $(jq -r '.result.sync_info.latest_block_height' <<<"$st")"
      break
    fi
    if (($(date +%s) >= deadline)); then
      tail -n 30 "$(node_logfile "$n")" >&2
      cdie "node$n did not catch up within ${timeout}s"
    fi
    sleep 0.5
  done
  ;;
status)
  if pid_alive "$pid"; then echo "running $pid height $(rpc_height "$n")"; else echo stopped; fi
  ;;
*) cdie "unknown command '$cmd' (stop|kill|start|status)" ;;
esac
