#!/usr/bin/env bash
# Send `simd tx slashing unjail` for validator N (0..3) and wait until it is included.
#   unjail.sh N
# If the validator's jail time has not passed yet, waits for it first (by chain block time)
# so the tx is not rejected with "validator still jailed". If the validator is not jailed,
# prints so and exits 0 without sending anything.
# Prints the inclusion height on stdout. Env: VALWATCH_COSMOS_TX_TIMEOUT (default 60 s),
# VALWATCH_COSMOS_FEES (default 2000stake).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-}
check_index "$n"
load_env
SIMD=$COSMOS_SIMD
TIMEOUT=${VALWATCH_COSMOS_TX_TIMEOUT:-60}
FEES=${VALWATCH_COSMOS_FEES:-2000$COSMOS_DENOM}
home_var="COSMOS_NODE${n}_HOME"; HOME_N=${!home_var}
valoper_var="COSMOS_NODE${n}_VALOPER"; VALOPER=${!valoper_var}
valcons_var="COSMOS_NODE${n}_VALCONS"; VALCONS=${!valcons_var}

# a node that answers RPC and is not catching up (prefer the others: N may just be back)
NODE=$(live_node_tcp "$n" || live_node_tcp) || cdie "no node answers RPC"
q() { "$SIMD" q "$@" --node "$NODE" -o json 2>&1; }

val=$(q staking validator "$VALOPER") || cdie "query staking validator $VALOPER: $val"
jailed=$(jq -r '(.validator // .).jailed // false' <<<"$val")
if [[ $jailed != true ]]; then
  clog "validator $n ($VALOPER) is not jailed; nothing to do"
  exit 0
fi

# wait for the jail time to pass (chain time, i.e. the latest block's time)
infos=$(q slashing signing-infos --page-limit 1000) || cdie "query signing-infos: $infos"
until=$(jq -r --arg a "$VALCONS" '.info[] | select(.address == $a) | .jailed_until' <<<"$infos")
[[ -n "$until" ]] || cdie "no signing info for $VALCONS"
until_s=$(date -d "$until" +%s) || cdie "cannot parse jailed_until '$until'"
deadline=$(($(date +%s) + TIMEOUT))
while :; do
  bt=$(curl -fsS --max-time 2 "${NODE/tcp:/http:}/status" | jq -r '.result.sync_info.latest_block_time')
  bt_s=$(date -d "$bt" +%s)
  ((bt_s > until_s)) && break
  (($(date +%s) < deadline)) || cdie "jail of validator $n lasts until $until; chain time is $bt (timeout)"
  clog "jailed until $until, chain time $bt: waiting"
  sleep 1
done

tx_wait "$NODE" "$TIMEOUT" slashing unjail --from "val$n" --keyring-backend test --home "$HOME_N" \
  --chain-id "$COSMOS_CHAIN_ID" --fees "$FEES"
