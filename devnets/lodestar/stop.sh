#!/usr/bin/env bash
# Stop the validator client and the beacon node of a run: SIGINT, SIGINT again, then SIGKILL,
# by the PIDs in the run dir only. Always exits 0, also when nothing is running.
#
#   devnets/lodestar/stop.sh [RUN_DIR]
#
# RUN_DIR defaults to $VALWATCH_LODESTAR_RUN_DIR, then to the run dir of the last start.sh.
# Env:
#   VALWATCH_LODESTAR_STOP_GRACE     seconds to wait after the first SIGINT (default 5). The validator
#                                    client exits in < 1 s; the beacon node of Lodestar 1.5.1 never
#                                    finishes its graceful shutdown (an internal event stream keeps it
#                                    open) and leaves at once on the second SIGINT.
#   VALWATCH_LODESTAR_KEEP_RUN_DIR=0 also delete the run dir (default: keep it, the logs are useful)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if ! resolve_run_dir "${1:-}"; then
  log "no run dir found: nothing to stop"
  exit 0
fi
stop_proc vc
stop_proc beacon
finish_stop
exit 0
