#!/usr/bin/env bash
# Stop every node of the localnet in VALWATCH_COSMOS_RUN_DIR (SIGTERM, then SIGKILL after
# 15 s). Always exits 0. The run dir (homes, logs, localnet.env) is kept for inspection;
# start.sh wipes it. Pass --clean to remove the run dir as well.
set -euo pipefail
trap 'exit 0' EXIT  # never fail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pids=()
for ((i = 0; i < NUM_NODES; i++)); do
  pid=$(node_pid "$i")
  if pid_alive "$pid"; then pids+=("$pid"); fi
done
# safety net: simd processes started with this run dir's homes but without a pid file
while read -r pid; do
  [[ -n "$pid" && " ${pids[*]} " != *" $pid "* ]] && pids+=("$pid")
done < <(stray_pids)

if ((${#pids[@]})); then
  clog "stopping pids ${pids[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill_pid "$pid" 15 || clog "pid $pid would not die"; done
fi
for ((i = 0; i < NUM_NODES; i++)); do rm -f "$(node_pidfile "$i")"; done

if [[ "${1:-}" == --clean && -f "$RUN_DIR/$MARKER" ]]; then rm -rf "$RUN_DIR"; fi
left=$(stray_pids)
[[ -z "$left" ]] || clog "WARNING: still running: $left"
clog "stopped"
exit 0
