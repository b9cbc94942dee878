#!/usr/bin/env bash
# Smoke test of a running localnet (start.sh first): plays the downtime scenario that
# valwatch's Cosmos e2e test plays, with plain RPC and simd CLI queries, and prints timings.
#   1. stop node 3 (smallest validator); watch its missed_blocks_counter rise until jailed
#   2. see it leave the CometBFT validator set (/validators)
#   3. start node 3 again, unjail it (unjail.sh), see it back in /validators and signing
#      (block_id_flag 2 in a block's last_commit)
#   4. kill node 0 (the first RPC) and check nodes 1..3 keep producing blocks; restart it
#      (and unjail it if its downtime got it jailed)
# Exits non-zero on the first expectation that fails. Env: VALWATCH_COSMOS_RUN_DIR,
# VALWATCH_COSMOS_SCENARIO_TIMEOUT (seconds per step, default 120).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_env
SIMD=$COSMOS_SIMD
STEP_TIMEOUT=${VALWATCH_COSMOS_SCENARIO_TIMEOUT:-120}
V=3 # validator taken down
K=0 # RPC node killed
valcons_var="COSMOS_NODE${V}_VALCONS"; VALCONS=${!valcons_var}
valoper_var="COSMOS_NODE${V}_VALOPER"; VALOPER=${!valoper_var}
hex_var="COSMOS_NODE${V}_CONS_ADDR_HEX"; HEX=${!hex_var}

say() { echo "[scenario $(date +%T)] $*"; }
fail() { echo "[scenario $(date +%T)] FAILED: $*" >&2; exit 1; }
ts() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(ts)" 'BEGIN { printf "%.1f", b - a }'; }

# query via the first node (other than $1) whose RPC answers
live_rpc() {
  local j
  for ((j = 0; j < NUM_NODES; j++)); do
    [[ $j == "${1:-x}" ]] && continue
    curl -fsS --max-time 1 "http://127.0.0.1:$(rpc_port "$j")/health" >/dev/null 2>&1 && { echo "$j"; return 0; }
  done
  return 1
}
rpc() { curl -fsS --max-time 3 "http://127.0.0.1:$(rpc_port "$Q")/$1"; }
height() { rpc status | jq -r '.result.sync_info.latest_block_height'; }
signing_info() {
  "$SIMD" q slashing signing-infos --page-limit 100 --node "tcp://127.0.0.1:$(rpc_port "$Q")" -o json \
    | jq -c --arg a "$VALCONS" '.info[] | select(.address == $a)
      | {missed: (.missed_blocks_counter // "0"), start_height: (.start_height // "0"),
         index_offset: (.index_offset // "0"), jailed_until, tombstoned: (.tombstoned // false)}'
}
validator() {
  "$SIMD" q staking validator "$VALOPER" --node "tcp://127.0.0.1:$(rpc_port "$Q")" -o json \
    | jq -c '.validator | {jailed: (.jailed // false), status, tokens}'
}
in_valset() { # in_valset HEIGHT -> "yes"/"no"
  rpc "validators?height=$1&per_page=100" | jq -r --arg a "$HEX" \
    'if any(.result.validators[]; .address == $a) then "yes" else "no" end'
}
signed_flag() { # flag of $HEX in block H's last_commit (i.e. its vote for H-1), or "none"
  rpc "block?height=$1" | jq -r --arg a "$HEX" \
    '[.result.block.last_commit.signatures[] | select(.validator_address == $a) | .block_id_flag] | first // "none"'
}

Q=$(live_rpc "$V") || fail "no node answers RPC"
say "chain $COSMOS_CHAIN_ID at height $(height); validator $V: $(validator) $(signing_info)"
h=$(height)
[[ $(in_valset "$h") == yes ]] || fail "validator $V not in the validator set at $h"
# x/slashing jails only when height > start_height + signed_blocks_window: wait for that so
# the stop->jail time below is the steady-state one (11 missed blocks).
min_h=$(($(signing_info | jq -r .start_height) + COSMOS_SIGNED_BLOCKS_WINDOW + 1))
while (($(height) < min_h)); do sleep 0.5; done

# ---- 1. take validator 3 down, watch it get jailed
T_STOP=$(ts)
"$COSMOS_DIR/node.sh" stop "$V"
H_STOP=$(height)
say "node$V stopped at height $H_STOP ($(since "$T_STOP") s)"
last=""
deadline=$(($(date +%s) + STEP_TIMEOUT))
while :; do
  si=$(signing_info) || si=""
  v=$(validator) || v=""
  cur="$(jq -r .missed <<<"$si" 2>/dev/null) $(jq -r .jailed <<<"$v" 2>/dev/null)"
  if [[ $cur != "$last" ]]; then say "t+$(since "$T_STOP")s h=$(height) missed_blocks_counter=${cur% *} jailed=${cur#* }"; last=$cur; fi
  if [[ $(jq -r .jailed <<<"$v" 2>/dev/null) == true ]]; then break; fi
  (($(date +%s) < deadline)) || fail "validator $V not jailed within ${STEP_TIMEOUT}s"
  sleep 0.3
done
T_JAIL=$(since "$T_STOP")
H_JAIL=$(height)
say "JAILED: $(since "$T_STOP") s after stop (seen at height $H_JAIL, stopped at $H_STOP); $v $si"

deadline=$(($(date +%s) + STEP_TIMEOUT))
while :; do
  h=$(height)
  [[ $(in_valset "$h") == no ]] && break
  (($(date +%s) < deadline)) || fail "validator $V still in /validators"
  sleep 0.3
done
T_OUT=$(since "$T_STOP")
say "left the validator set: /validators?height=$h has $(rpc "validators?height=$h" | jq -r .result.total) validators (t+${T_OUT}s)"

# ---- 2. bring it back, unjail, see it sign
T_START=$(ts)
"$COSMOS_DIR/node.sh" start "$V"
say "node$V back and caught up in $(since "$T_START") s"
T_UNJAIL=$(ts)
H_TX=$("$COSMOS_DIR/unjail.sh" "$V" | tail -n1)
say "unjail included at height $H_TX ($(since "$T_UNJAIL") s incl. waiting out the jail)"
deadline=$(($(date +%s) + STEP_TIMEOUT))
while :; do
  h=$(height)
  if [[ $(in_valset "$h") == yes ]]; then break; fi
  (($(date +%s) < deadline)) || fail "validator $V not back in /validators"
  sleep 0.3
done
say "back in the validator set at height $h (power $(rpc "validators?height=$h&per_page=100" | jq -r --arg a "$HEX" '.result.validators[] | select(.address == $a) | .voting_power'))"
deadline=$(($(date +%s) + STEP_TIMEOUT))
while :; do
  h=$(height)
  f=$(signed_flag "$h")
  [[ $f == 2 ]] && break
  (($(date +%s) < deadline)) || fail "validator $V does not sign (flag $f at $h)"
  sleep 0.3
done
say "SIGNING again: block $h last_commit has $HEX with block_id_flag 2 ($(since "$T_UNJAIL") s after the unjail started)"
say "validator $V now: $(validator) $(signing_info)"

# ---- 3. kill the first RPC node, others go on
"$COSMOS_DIR/node.sh" kill "$K"
Q=$(live_rpc "$K") || fail "no other node answers"
h0=$(height)
T_K=$(ts)
deadline=$(($(date +%s) + STEP_TIMEOUT))
while (($(height) < h0 + 5)); do
  (($(date +%s) < deadline)) || fail "chain stalled after killing node$K"
  sleep 0.3
done
say "node$K killed: node$Q went from $h0 to $(height) in $(since "$T_K") s; node$K RPC: $(curl -s --max-time 1 "http://127.0.0.1:$(rpc_port "$K")/status" >/dev/null 2>&1 && echo up || echo down)"
"$COSMOS_DIR/node.sh" start "$K"
say "node$K restarted"
# node K was down for several seconds: if that was more than 10 blocks it got jailed too
Q=$(live_rpc "$K")
VALOPER_K_var="COSMOS_NODE${K}_VALOPER"
jk=$("$SIMD" q staking validator "${!VALOPER_K_var}" --node "tcp://127.0.0.1:$(rpc_port "$Q")" -o json | jq -r '.validator.jailed // false')
if [[ $jk == true ]]; then
  say "node$K was jailed during its downtime: unjailing it"
  "$COSMOS_DIR/unjail.sh" "$K" >/dev/null
fi

say "SUMMARY stop->jailed ${T_JAIL}s, stop->out-of-valset ${T_OUT}s, window $COSMOS_SIGNED_BLOCKS_WINDOW, min_signed $COSMOS_MIN_SIGNED_PER_WINDOW, jail $COSMOS_DOWNTIME_JAIL_DURATION"
say "scenario OK"
