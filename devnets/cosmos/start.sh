#!/usr/bin/env bash
# Create and start a 4-validator Cosmos SDK localnet on 127.0.0.1 for valwatch's e2e tests.
#
# Nodes are numbered 0..3; node i listens on base port + 10*i (RPC 26657/26667/26677/26687).
# Validator i has VALWATCH_COSMOS_POWERS[i] units of voting power (default 300 270 240 190:
# distinct ranks, node 0 largest, node 3 smallest, and any ONE node can be down while the
# other three still hold > 2/3 of the power, so the chain keeps producing blocks).
#
# Writes $RUN_DIR/localnet.env (sourceable shell) and $RUN_DIR/localnet.json (same facts),
# node homes $RUN_DIR/node<i>, logs $RUN_DIR/node<i>.log, pids $RUN_DIR/node<i>.pid.
# Any localnet already running in the same RUN_DIR is stopped and wiped first.
#
# Env (all optional):
#   VALWATCH_COSMOS_RUN_DIR    run dir (default ${TMPDIR:-/tmp}/valwatch-cosmos)
#   VALWATCH_CACHE             cache root used by build.sh (default ~/.cache/valwatch)
#   SIMD_BIN                   use this simd instead of calling build.sh
#   VALWATCH_COSMOS_CHAIN_ID   (default valwatch-local)
#   VALWATCH_COSMOS_POWERS     4 powers, space separated (default "300 270 240 190")
#   VALWATCH_COSMOS_TIMEOUT_COMMIT   CometBFT timeout_commit (default 200ms)
#   VALWATCH_COSMOS_TIMEOUT_PROPOSE / _PREVOTE / _PRECOMMIT  (default 500ms each: a round
#                              whose proposer is down is skipped in about 1 s instead of 2-3 s)
#   VALWATCH_COSMOS_SIGNED_BLOCKS_WINDOW (20)  VALWATCH_COSMOS_MIN_SIGNED (0.5)
#   VALWATCH_COSMOS_JAIL_DURATION (10s)  VALWATCH_COSMOS_SLASH_DOWNTIME (0.01)
#   VALWATCH_COSMOS_VOTING_PERIOD (20s)  VALWATCH_COSMOS_EXPEDITED_VOTING_PERIOD (10s)
#   VALWATCH_COSMOS_RPC_PORT (26657) _P2P_PORT (26656) _ABCI_PORT (26658) _PROM_PORT (26660)
#   VALWATCH_COSMOS_GRPC_PORT (9090) _API_PORT (1317) _PORT_STEP (10)
#   VALWATCH_COSMOS_GRPC=0|1 (1)  VALWATCH_COSMOS_API=0|1 (1)  VALWATCH_COSMOS_PROMETHEUS=0|1 (0)
#   VALWATCH_COSMOS_WAIT_HEIGHT (4)  VALWATCH_COSMOS_START_TIMEOUT seconds (120)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHAIN_ID=${VALWATCH_COSMOS_CHAIN_ID:-valwatch-local}
DENOM=stake
read -r -a POWERS <<<"${VALWATCH_COSMOS_POWERS:-300 270 240 190}"
((${#POWERS[@]} == NUM_NODES)) || cdie "VALWATCH_COSMOS_POWERS needs $NUM_NODES numbers"
POWER_REDUCTION=1000000 # sdk.DefaultPowerReduction: 1 power = 10^6 stake
TIMEOUT_COMMIT=${VALWATCH_COSMOS_TIMEOUT_COMMIT:-200ms}
TIMEOUT_PROPOSE=${VALWATCH_COSMOS_TIMEOUT_PROPOSE:-500ms}
TIMEOUT_PREVOTE=${VALWATCH_COSMOS_TIMEOUT_PREVOTE:-500ms}
TIMEOUT_PRECOMMIT=${VALWATCH_COSMOS_TIMEOUT_PRECOMMIT:-500ms}
WINDOW=${VALWATCH_COSMOS_SIGNED_BLOCKS_WINDOW:-20}
MIN_SIGNED=${VALWATCH_COSMOS_MIN_SIGNED:-0.5}
JAIL=${VALWATCH_COSMOS_JAIL_DURATION:-10s}
SLASH_DOWNTIME=${VALWATCH_COSMOS_SLASH_DOWNTIME:-0.01}
VOTING=${VALWATCH_COSMOS_VOTING_PERIOD:-20s}
EXPEDITED=${VALWATCH_COSMOS_EXPEDITED_VOTING_PERIOD:-10s}
ENABLE_GRPC=${VALWATCH_COSMOS_GRPC:-1}
ENABLE_API=${VALWATCH_COSMOS_API:-1}
ENABLE_PROM=${VALWATCH_COSMOS_PROMETHEUS:-0}
WAIT_HEIGHT=${VALWATCH_COSMOS_WAIT_HEIGHT:-4}
START_TIMEOUT=${VALWATCH_COSMOS_START_TIMEOUT:-120}
ACCOUNT_BALANCE=1000000000000 # 10^12 stake per validator account

for tool in jq curl sed; do command -v "$tool" >/dev/null || cdie "'$tool' is required"; done

T0=$(date +%s)

# ---------------------------------------------------------------- binary
if [[ -n "${SIMD_BIN:-}" ]]; then
  SIMD=$SIMD_BIN
else
  SIMD=$("$COSMOS_DIR/build.sh" | tail -n1)
fi
[[ -x "$SIMD" ]] || cdie "simd binary '$SIMD' not executable"
SIMD_VERSION=$("$SIMD" version 2>&1) || cdie "'$SIMD version' failed: $SIMD_VERSION"

# ---------------------------------------------------------------- clean slate
"$COSMOS_DIR/stop.sh" >/dev/null 2>&1 || true
if [[ -d "$RUN_DIR" ]]; then
  if [[ -f "$RUN_DIR/$MARKER" || -z "$(ls -A "$RUN_DIR")" ]]; then
    rm -rf "$RUN_DIR"
  else
    cdie "$RUN_DIR exists and is not a localnet dir made by this script; refusing to wipe it"
  fi
fi
mkdir -p "$RUN_DIR/gentx"
touch "$RUN_DIR/$MARKER"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for ((i = 0; i < NUM_NODES; i++)); do
  for p in "$(rpc_port "$i")" "$(p2p_port "$i")" "$(abci_port "$i")"; do
    ! port_busy "$p" || cdie "port 127.0.0.1:$p (node$i) is already in use"
  done
  if [[ $ENABLE_GRPC == 1 ]] && port_busy "$(grpc_port "$i")"; then cdie "port $(grpc_port "$i") in use"; fi
  if [[ $ENABLE_API == 1 ]] && port_busy "$(api_port "$i")"; then cdie "port $(api_port "$i") in use"; fi
done

# ---------------------------------------------------------------- keys and genesis
sx() { "$SIMD" "$@" 2>&1; }
declare -a ACC VALOPER VALCONS CONSHEX CONSPUB NODEID
clog "initialising $NUM_NODES node homes in $RUN_DIR"
for ((i = 0; i < NUM_NODES; i++)); do
  h=$(node_home "$i")
  out=$(sx init "val$i" --chain-id "$CHAIN_ID" --default-denom "$DENOM" --home "$h") || cdie "init node$i: $out"
  out=$(sx keys add "val$i" --keyring-backend test --home "$h" --output json) || cdie "keys add val$i: $out"
  # keep the mnemonic beside the home (test keyring, local chain only)
  printf '%s\n' "$out" | grep -o '{.*}' | jq -r '.mnemonic' >"$RUN_DIR/val$i.mnemonic" 2>/dev/null || true
  ACC[i]=$(sx keys show "val$i" -a --keyring-backend test --home "$h") || cdie "keys show: ${ACC[i]}"
  VALOPER[i]=$(sx keys show "val$i" -a --bech val --keyring-backend test --home "$h") || cdie "keys show --bech val: ${VALOPER[i]}"
  VALCONS[i]=$(sx comet show-address --home "$h") || cdie "comet show-address: ${VALCONS[i]}"
  CONSHEX[i]=$(jq -r '.address' "$h/config/priv_validator_key.json")
  CONSPUB[i]=$(jq -r '.pub_key.value' "$h/config/priv_validator_key.json")
  NODEID[i]=$(sx comet show-node-id --home "$h") || cdie "comet show-node-id: ${NODEID[i]}"
done

G0="$(node_home 0)/config/genesis.json"
for ((i = 0; i < NUM_NODES; i++)); do
  out=$(sx genesis add-genesis-account "${ACC[i]}" "${ACCOUNT_BALANCE}${DENOM}" --home "$(node_home 0)") \
    || cdie "add-genesis-account val$i: $out"
done

# Short slashing window, small downtime slash, short gov periods. The short jail duration
# is patched in only after `genesis validate` (see below).
jq --arg w "$WINDOW" --arg ms "$MIN_SIGNED" --arg jail "60s" --arg sd "$SLASH_DOWNTIME" \
  --arg vp "$VOTING" --arg ep "$EXPEDITED" --arg d "$DENOM" '
  .app_state.slashing.params.signed_blocks_window = $w
  | .app_state.slashing.params.min_signed_per_window = ($ms | tonumber | tostring)
  | .app_state.slashing.params.downtime_jail_duration = $jail
  | .app_state.slashing.params.slash_fraction_downtime = ($sd | tonumber | tostring)
  | .app_state.staking.params.bond_denom = $d
  | .app_state.mint.params.mint_denom = $d
  | .app_state.gov.params.voting_period = $vp
  | .app_state.gov.params.expedited_voting_period = $ep
  | .app_state.gov.params.max_deposit_period = $vp
  | .app_state.gov.params.min_deposit = [{"denom": $d, "amount": "10000000"}]
  | .app_state.gov.params.expedited_min_deposit = [{"denom": $d, "amount": "50000000"}]
  ' "$G0" >"$G0.tmp" && mv "$G0.tmp" "$G0"

for ((i = 0; i < NUM_NODES; i++)); do
  h=$(node_home "$i")
  [[ $i == 0 ]] || cp "$G0" "$h/config/genesis.json"
  amount=$((POWERS[i] * POWER_REDUCTION))
  out=$(sx genesis gentx "val$i" "${amount}${DENOM}" --chain-id "$CHAIN_ID" --keyring-backend test \
    --home "$h" --moniker "val$i" --ip 127.0.0.1 --p2p-port "$(p2p_port "$i")" \
    --commission-rate 0.10 --commission-max-rate 0.20 --commission-max-change-rate 0.01 \
    --min-self-delegation 1 --output-document "$RUN_DIR/gentx/gentx-$i.json") || cdie "gentx val$i: $out"
done
out=$(sx genesis collect-gentxs --gentx-dir "$RUN_DIR/gentx" --home "$(node_home 0)") || cdie "collect-gentxs: $out"
out=$(sx genesis validate "$G0") || cdie "genesis validate: $out"
# The SDK's genesis validation (used by gentx and `genesis validate`, not by InitChain)
# rejects downtime_jail_duration < 1 minute, while the chain itself only needs it > 0 (the
# same check as MsgUpdateParams). So the short jail goes in after validation.
jq --arg jail "$JAIL" '.app_state.slashing.params.downtime_jail_duration = $jail' "$G0" >"$G0.tmp" && mv "$G0.tmp" "$G0"
for ((i = 1; i < NUM_NODES; i++)); do cp "$G0" "$(node_home "$i")/config/genesis.json"; done

# ---------------------------------------------------------------- config.toml / app.toml / client.toml
# set_toml FILE SECTION KEY VALUE  (VALUE is written verbatim: quote strings yourself)
set_toml() {
  local file=$1 section=$2 key=$3 value=$4
  awk -v sec="$section" -v key="$key" -v val="$value" '
    BEGIN { cur = ""; done = 0 }
    /^\[.*\]$/ { cur = substr($0, 2, length($0) - 2) }
    {
      if (!done && cur == sec && $0 ~ ("^" key "[ ]*=")) { print key " = " val; done = 1; next }
      print
    }
    END { if (!done) exit 3 }
  ' "$file" >"$file.tmp" || cdie "$file: key [$section] $key not found"
  mv "$file.tmp" "$file"
}

peers_for() {
  local me=$1 j list=""
  for ((j = 0; j < NUM_NODES; j++)); do
    [[ $j == "$me" ]] && continue
    list+="${list:+,}${NODEID[j]}@127.0.0.1:$(p2p_port "$j")"
  done
  echo "$list"
}

for ((i = 0; i < NUM_NODES; i++)); do
  h=$(node_home "$i")
  c="$h/config/config.toml"
  a="$h/config/app.toml"
  k="$h/config/client.toml"
  set_toml "$c" "" moniker "\"val$i\""
  set_toml "$c" rpc laddr "\"tcp://127.0.0.1:$(rpc_port "$i")\""
  set_toml "$c" rpc pprof_laddr '""'
  set_toml "$c" "" proxy_app "\"tcp://127.0.0.1:$(abci_port "$i")\""
  set_toml "$c" p2p laddr "\"tcp://127.0.0.1:$(p2p_port "$i")\""
  set_toml "$c" p2p external_address "\"127.0.0.1:$(p2p_port "$i")\""
  set_toml "$c" p2p persistent_peers "\"$(peers_for "$i")\""
  set_toml "$c" p2p addr_book_strict false
  set_toml "$c" p2p allow_duplicate_ip true
  set_toml "$c" p2p pex false
  set_toml "$c" consensus timeout_propose "\"$TIMEOUT_PROPOSE\""
  set_toml "$c" consensus timeout_prevote "\"$TIMEOUT_PREVOTE\""
  set_toml "$c" consensus timeout_precommit "\"$TIMEOUT_PRECOMMIT\""
  set_toml "$c" consensus timeout_commit "\"$TIMEOUT_COMMIT\""
  set_toml "$c" instrumentation prometheus "$([[ $ENABLE_PROM == 1 ]] && echo true || echo false)"
  set_toml "$c" instrumentation prometheus_listen_addr "\"127.0.0.1:$(prom_port "$i")\""

  set_toml "$a" "" minimum-gas-prices "\"0$DENOM\""
  set_toml "$a" "" pruning '"nothing"'
  set_toml "$a" api enable "$([[ $ENABLE_API == 1 ]] && echo true || echo false)"
  set_toml "$a" api address "\"tcp://127.0.0.1:$(api_port "$i")\""
  set_toml "$a" grpc enable "$([[ $ENABLE_GRPC == 1 ]] && echo true || echo false)"
  set_toml "$a" grpc address "\"127.0.0.1:$(grpc_port "$i")\""

  set_toml "$k" "" chain-id "\"$CHAIN_ID\""
  set_toml "$k" "" keyring-backend '"test"'
  set_toml "$k" "" node "\"tcp://127.0.0.1:$(rpc_port "$i")\""
done

# ---------------------------------------------------------------- env file
ENVF="$RUN_DIR/localnet.env"
{
  echo "# written by devnets/cosmos/start.sh at $(date -u +%FT%TZ); node indexes are 0..$((NUM_NODES - 1))"
  echo "COSMOS_RUN_DIR='$RUN_DIR'"
  echo "COSMOS_SIMD='$SIMD'"
  echo "COSMOS_SIMD_VERSION='$SIMD_VERSION'"
  echo "COSMOS_CHAIN_ID='$CHAIN_ID'"
  echo "COSMOS_DENOM='$DENOM'"
  echo "COSMOS_BECH32_PREFIX='cosmos'"
  echo "COSMOS_NUM_NODES=$NUM_NODES"
  echo "COSMOS_PORT_STEP=$PORT_STEP"
  echo "COSMOS_RPC_PORT_BASE=$RPC_BASE"
  echo "COSMOS_P2P_PORT_BASE=$P2P_BASE"
  echo "COSMOS_ABCI_PORT_BASE=$ABCI_BASE"
  echo "COSMOS_PROM_PORT_BASE=$PROM_BASE"
  echo "COSMOS_GRPC_PORT_BASE=$GRPC_BASE"
  echo "COSMOS_API_PORT_BASE=$API_BASE"
  rpcs=""
  for ((i = 0; i < NUM_NODES; i++)); do rpcs+="${rpcs:+,}http://127.0.0.1:$(rpc_port "$i")"; done
  echo "COSMOS_RPC_URLS='$rpcs'"
  echo "COSMOS_SIGNED_BLOCKS_WINDOW=$WINDOW"
  echo "COSMOS_MIN_SIGNED_PER_WINDOW='$MIN_SIGNED'"
  echo "COSMOS_DOWNTIME_JAIL_DURATION='$JAIL'"
  echo "COSMOS_SLASH_FRACTION_DOWNTIME='$SLASH_DOWNTIME'"
  echo "COSMOS_TIMEOUT_COMMIT='$TIMEOUT_COMMIT'"
  echo "COSMOS_TIMEOUT_PROPOSE='$TIMEOUT_PROPOSE'"
  echo "COSMOS_GOV_VOTING_PERIOD='$VOTING'"
  for ((i = 0; i < NUM_NODES; i++)); do
    p="COSMOS_NODE${i}_"
    echo "${p}INDEX=$i"
    echo "${p}MONIKER='val$i'"
    echo "${p}HOME='$(node_home "$i")'"
    echo "${p}LOG='$(node_logfile "$i")'"
    echo "${p}PID_FILE='$(node_pidfile "$i")'"
    echo "${p}RPC='http://127.0.0.1:$(rpc_port "$i")'"
    echo "${p}RPC_TCP='tcp://127.0.0.1:$(rpc_port "$i")'"
    echo "${p}P2P='127.0.0.1:$(p2p_port "$i")'"
    echo "${p}GRPC='$([[ $ENABLE_GRPC == 1 ]] && echo "127.0.0.1:$(grpc_port "$i")")'"
    echo "${p}API='$([[ $ENABLE_API == 1 ]] && echo "http://127.0.0.1:$(api_port "$i")")'"
    echo "${p}NODE_ID='${NODEID[i]}'"
    echo "${p}KEY='val$i'"
    echo "${p}ACCOUNT='${ACC[i]}'"
    echo "${p}VALOPER='${VALOPER[i]}'"
    echo "${p}VALCONS='${VALCONS[i]}'"
    echo "${p}CONS_ADDR_HEX='${CONSHEX[i]}'"
    echo "${p}CONS_PUBKEY_B64='${CONSPUB[i]}'"
    echo "${p}CONS_PUBKEY_TYPE='ed25519'"
    echo "${p}POWER=${POWERS[i]}"
    echo "${p}SELF_DELEGATION=$((POWERS[i] * POWER_REDUCTION))"
  done
} >"$ENVF"

# Same facts as JSON, for tests that prefer to parse JSON.
(
  set +u
  # shellcheck disable=SC1090
  source "$ENVF"
  nodes="[]"
  for ((i = 0; i < NUM_NODES; i++)); do
    p="COSMOS_NODE${i}_"
    v() { local n="$p$1"; echo "${!n}"; }
    nodes=$(jq -c --argjson idx "$i" --arg moniker "$(v MONIKER)" --arg home "$(v HOME)" \
      --arg log "$(v LOG)" --arg pid_file "$(v PID_FILE)" --arg rpc "$(v RPC)" --arg p2p "$(v P2P)" \
      --arg grpc "$(v GRPC)" --arg api "$(v API)" --arg node_id "$(v NODE_ID)" --arg key "$(v KEY)" \
      --arg account "$(v ACCOUNT)" --arg valoper "$(v VALOPER)" --arg valcons "$(v VALCONS)" \
      --arg cons_addr_hex "$(v CONS_ADDR_HEX)" --arg cons_pubkey_b64 "$(v CONS_PUBKEY_B64)" \
      --argjson power "$(v POWER)" --arg self_delegation "$(v SELF_DELEGATION)" \
      '. + [{index: $idx, moniker: $moniker, home: $home, log: $log, pid_file: $pid_file, rpc: $rpc,
             p2p: $p2p, grpc: $grpc, api: $api, node_id: $node_id, key: $key, account: $account,
             valoper: $valoper, valcons: $valcons, cons_addr_hex: $cons_addr_hex,
             cons_pubkey_b64: $cons_pubkey_b64, cons_pubkey_type: "ed25519", power: $power,
             self_delegation: $self_delegation}]' <<<"$nodes")
  done
  jq -n --arg chain_id "$COSMOS_CHAIN_ID" --arg simd "$COSMOS_SIMD" --arg run_dir "$COSMOS_RUN_DIR" \
    --arg denom "$COSMOS_DENOM" --argjson window "$COSMOS_SIGNED_BLOCKS_WINDOW" \
    --arg min_signed "$COSMOS_MIN_SIGNED_PER_WINDOW" --arg jail "$COSMOS_DOWNTIME_JAIL_DURATION" \
    --arg slash "$COSMOS_SLASH_FRACTION_DOWNTIME" --argjson nodes "$nodes" \
    '{chain_id: $chain_id, simd: $simd, run_dir: $run_dir, denom: $denom,
      slashing: {signed_blocks_window: $window, min_signed_per_window: $min_signed,
                 downtime_jail_duration: $jail, slash_fraction_downtime: $slash},
      nodes: $nodes}' >"$RUN_DIR/localnet.json"
)

T1=$(date +%s)
clog "genesis and configs ready ($((T1 - T0)) s); starting $NUM_NODES nodes"

# ---------------------------------------------------------------- start and wait
for ((i = 0; i < NUM_NODES; i++)); do launch_node "$i"; done

fail_start() {
  trap '' PIPE
  "$COSMOS_DIR/stop.sh" >/dev/null 2>&1 || true # stop first: the caller may stop reading
  for ((j = 0; j < NUM_NODES; j++)); do
    echo "----- tail of $(node_logfile "$j")" >&2
    tail -n 25 "$(node_logfile "$j")" >&2 || true
  done
  cdie "$1 (nodes stopped; logs in $RUN_DIR)"
}

deadline=$(($(date +%s) + START_TIMEOUT))
while :; do
  ok=0
  hs=""
  for ((i = 0; i < NUM_NODES; i++)); do
    pid_alive "$(node_pid "$i")" || fail_start "node$i exited during start-up"
    h=$(rpc_height "$i")
    hs+=" node$i=${h:--}"
    if [[ -n "$h" ]] && ((h >= WAIT_HEIGHT)); then ok=$((ok + 1)); fi
  done
  ((ok == NUM_NODES)) && break
  (($(date +%s) < deadline)) || fail_start "timeout after ${START_TIMEOUT}s waiting for height >= $WAIT_HEIGHT on all nodes:$hs"
  sleep 0.5
done
T2=$(date +%s)
clog "all $NUM_NODES nodes at height >= $WAIT_HEIGHT:$hs (nodes started in $((T2 - T1)) s, total $((T2 - T0)) s)"
clog "env file: $ENVF"
echo "$ENVF"
