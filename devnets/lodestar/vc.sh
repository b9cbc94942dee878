#!/usr/bin/env bash
# Take the separate validator client (validators 56..63 by default) offline or bring it back.
#
#   devnets/lodestar/vc.sh stop   [RUN_DIR]   # SIGINT, SIGINT, SIGKILL by PID; ok if not running
#   devnets/lodestar/vc.sh start  [RUN_DIR]   # restart with the same keys and slashing-protection
#                                             # DB; waits until it is connected (60 s timeout)
#   devnets/lodestar/vc.sh status [RUN_DIR]   # prints "running PID" (exit 0) or "stopped" (exit 1)
#
# RUN_DIR defaults to $VALWATCH_LODESTAR_RUN_DIR, then to the run dir of the last start.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

cmd=${1:-}
resolve_run_dir "${2:-}" || die "no run dir: pass it, set VALWATCH_LODESTAR_RUN_DIR, or run start.sh first"

case $cmd in
  stop)
    stop_proc vc
    ;;
  start)
    load_run_env
    pid_of beacon >/dev/null || die "the beacon node of $run_dir is not running"
    start_vc
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
