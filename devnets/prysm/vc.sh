#!/usr/bin/env bash
# Take the stoppable validator client (validators 56..63 by default) offline or bring it back.
#
#   devnets/prysm/vc.sh stop   [RUN_DIR]   # SIGINT (then SIGTERM, SIGKILL) by PID; ok if not running
#   devnets/prysm/vc.sh start  [RUN_DIR]   # restart with the same keys and slashing-protection DB;
#                                          # waits until it has its duties (VALWATCH_PRYSM_VC_START_TIMEOUT, 60 s)
#   devnets/prysm/vc.sh status [RUN_DIR]   # prints "running PID" (exit 0) or "stopped" (exit 1)
#
# RUN_DIR defaults to $VALWATCH_PRYSM_RUN_DIR, then to the run dir of the last start.sh.
# The always-on client (vc-online, validators 0..47) is never touched by this script.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=devnets/prysm/lib.sh
. "$here/lib.sh"

cmd=${1:-}
resolve_run_dir "${2:-}" || die "no run dir: pass it, set VALWATCH_PRYSM_RUN_DIR, or run start.sh first"

case $cmd in
  stop)
    stop_proc vc
    ;;
  start)
    load_run_env
    [ -n "$VALWATCH_PRYSM_VC_VALIDATORS" ] || die "this run has no stoppable validator client (VALWATCH_PRYSM_VC_VALIDATORS empty)"
    pid_of beacon >/dev/null || die "the beacon node of $run_dir is not running"
    start_vc vc "$VALWATCH_PRYSM_VC_VALIDATORS"
    ;;
  status)
    if pid=$(pid_of vc); then
      echo "running $pid"
    else
      echo stopped
      exit 1
    fi
    ;;
  *)
    die "usage: $0 stop|start|status [RUN_DIR]"
    ;;
esac
