#!/usr/bin/env bash
# Stop everything start.sh started for a run: both validator clients, the beacon node, geth. By
# the PIDs in the run dir only (SIGINT, then SIGTERM, then SIGKILL). Always exits 0, also when
# nothing is running.
#
#   devnets/prysm/stop.sh [RUN_DIR]
#
# RUN_DIR defaults to $VALWATCH_PRYSM_RUN_DIR, then to the run dir of the last start.sh.
# Env:
#   VALWATCH_PRYSM_STOP_GRACE      seconds to wait after SIGINT (default 10; each process leaves
#                                  in about 2 s)
#   VALWATCH_PRYSM_KEEP_RUN_DIR=0  also delete the run dir (default: keep it, the logs are useful)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=devnets/prysm/lib.sh
. "$here/lib.sh"

if ! resolve_run_dir "${1:-}"; then
  log "no run dir found: nothing to stop"
  exit 0
fi
# Clients first (they would log errors without a node), the execution layer last.
stop_proc vc
stop_proc vc-online
stop_proc beacon
stop_proc geth
finish_stop
exit 0
