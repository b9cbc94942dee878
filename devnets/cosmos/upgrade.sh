#!/usr/bin/env bash
# Schedule a software upgrade through governance on the running localnet:
#   upgrade.sh NAME HEIGHT          (HEIGHT must be in the future; "+N" = current height + N)
# val0 submits the proposal (MsgSoftwareUpgrade, deposit 10000000stake = min_deposit), all
# 4 validators vote yes, and the script waits for PROPOSAL_STATUS_PASSED (voting period
# from genesis, 20 s by default). Then /cosmos.upgrade.v1beta1.Query/CurrentPlan returns the
# plan. Prints "<proposal id> <upgrade height>" on stdout.
# NOTE: at the upgrade height every node stops with "UPGRADE "NAME" NEEDED at height: H"
# (the binary has no handler for NAME): the chain halts for good. Pick a height the test
# does not need to cross, or stop.sh before it.
# Env: VALWATCH_COSMOS_TX_TIMEOUT (60), VALWATCH_COSMOS_FEES (2000stake).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=${1:-}
target=${2:-}
[[ -n "$name" && -n "$target" ]] || cdie "usage: upgrade.sh NAME HEIGHT|+N"
load_env
SIMD=$COSMOS_SIMD
TIMEOUT=${VALWATCH_COSMOS_TX_TIMEOUT:-60}
FEES=${VALWATCH_COSMOS_FEES:-2000$COSMOS_DENOM}
NODE=$(live_node_tcp "") || cdie "no node answers RPC"
now_h=$(curl -fsS "${NODE/tcp:/http:}/status" | jq -r .result.sync_info.latest_block_height)
if [[ $target == +* ]]; then height=$((now_h + ${target#+})); else height=$target; fi
[[ $height =~ ^[0-9]+$ ]] && ((height > now_h)) || cdie "upgrade height $height is not above the current height $now_h"

tx_wait "$NODE" "$TIMEOUT" upgrade software-upgrade "$name" --upgrade-height "$height" \
  --title "upgrade $name" --summary "valwatch localnet upgrade $name at $height" \
  --deposit "10000000$COSMOS_DENOM" --no-validate --no-checksum-required \
  --from val0 --keyring-backend test --home "$COSMOS_NODE0_HOME" --chain-id "$COSMOS_CHAIN_ID" \
  --fees "$FEES" >/dev/null
id=$("$SIMD" q gov proposals --node "$NODE" -o json | jq -r '[.proposals[].id | tonumber] | max')
[[ $id =~ ^[0-9]+$ ]] || cdie "cannot find the proposal id"
clog "proposal $id submitted (upgrade $name at height $height); voting yes with all validators"
for ((i = 0; i < NUM_NODES; i++)); do
  home_var="COSMOS_NODE${i}_HOME"
  tx_wait "$NODE" "$TIMEOUT" gov vote "$id" yes --from "val$i" --keyring-backend test \
    --home "${!home_var}" --chain-id "$COSMOS_CHAIN_ID" --fees "$FEES" >/dev/null
done
deadline=$(($(date +%s) + TIMEOUT + 60))
while :; do
  st=$("$SIMD" q gov proposal "$id" --node "$NODE" -o json | jq -r '.proposal.status')
  case "$st" in
  PROPOSAL_STATUS_PASSED) break ;;
  PROPOSAL_STATUS_REJECTED | PROPOSAL_STATUS_FAILED) cdie "proposal $id ended as $st" ;;
  esac
  (($(date +%s) < deadline)) || cdie "proposal $id still $st"
  sleep 1
done
clog "proposal $id passed; plan: $("$SIMD" q upgrade plan --node "$NODE" -o json | jq -c .)"
echo "$id $height"
