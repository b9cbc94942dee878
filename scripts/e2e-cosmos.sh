#!/usr/bin/env bash
# End-to-end test of valwatch's Cosmos watcher on a real 4-validator simd localnet.
#
#   scripts/e2e-cosmos.sh
#
# 1. builds valwatch (cargo build -p valwatch) and starts the localnet with
#    devnets/cosmos/start.sh (which builds simd from the Go module proxy once, cached):
#    4 validators on 127.0.0.1, signed_blocks_window 20, min_signed 0.5, jail 10 s;
# 2. runs `valwatch run` watching all 4 validators by operator address, with labels, against
#    TWO of the RPC endpoints (nodes 0 and 1);
# 3. stops validator 3 and asserts from /metrics: its misses rise one per judged height while
#    the others' do not move, blocks-left-before-jail counts down, it becomes jailed with its
#    bonded and rank gauges changing;
# 4. restarts and unjails it and asserts it is bonded, ranked and signing again;
# 5. kills RPC endpoint 0 and asserts no height is lost: the last judged height keeps
#    advancing and an always-up validator's judged-height count grows exactly with it;
# 6. SIGTERM → valwatch exits 0.
# Cleans up on every exit (trap) and prints its duration. Timeouts are generous so that it
# passes on a loaded 2-core machine.
#
# Env (optional):
#   VALWATCH_BIN                    use this valwatch binary instead of building one
#   VALWATCH_E2E_PORT               valwatch listen port (default 19615)
#   VALWATCH_E2E_TIMEOUT            seconds per waiting step (default 180)
#   VALWATCH_E2E_KEEP=1             keep the work and run dirs (also kept on failure)
#   VALWATCH_COSMOS_RUN_DIR         localnet run dir (default $TMPDIR/valwatch-e2e-cosmos)
#   VALWATCH_COSMOS_RPC_PORT ...    localnet ports (defaults here are the usual ones + 10000,
#                                   so a developer's own localnet keeps running)
#   SIMD_BIN, VALWATCH_CACHE        passed to devnets/cosmos (prebuilt simd, build cache)
# Conditions are single-quoted on purpose: wait_for evaluates them at every poll.
# shellcheck disable=SC2016
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV=$ROOT/devnets/cosmos
T0=$(date +%s)
TIMEOUT=${VALWATCH_E2E_TIMEOUT:-180}
PORT=${VALWATCH_E2E_PORT:-19615}
URL="http://127.0.0.1:$PORT"
CHAIN=localnet

export VALWATCH_COSMOS_RUN_DIR=${VALWATCH_COSMOS_RUN_DIR:-${TMPDIR:-/tmp}/valwatch-e2e-cosmos}
export VALWATCH_COSMOS_RPC_PORT=${VALWATCH_COSMOS_RPC_PORT:-36657}
export VALWATCH_COSMOS_P2P_PORT=${VALWATCH_COSMOS_P2P_PORT:-36656}
export VALWATCH_COSMOS_ABCI_PORT=${VALWATCH_COSMOS_ABCI_PORT:-36658}
export VALWATCH_COSMOS_PROM_PORT=${VALWATCH_COSMOS_PROM_PORT:-36660}
export VALWATCH_COSMOS_GRPC_PORT=${VALWATCH_COSMOS_GRPC_PORT:-19090}
export VALWATCH_COSMOS_API_PORT=${VALWATCH_COSMOS_API_PORT:-11317}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/valwatch-e2e-cosmos-work.XXXXXX")
VW_PID=""
OK=0

say() { echo "[e2e-cosmos $(date +%T) +$(($(date +%s) - T0))s] $*"; }
fail() {
  echo "[e2e-cosmos $(date +%T)] FAILED: $*" >&2
  exit 1
}

cleanup() {
  local code=$?
  set +e
  if [[ -n "$VW_PID" ]] && kill -0 "$VW_PID" 2>/dev/null; then
    kill -TERM "$VW_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$VW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$VW_PID" 2>/dev/null
  fi
  "$DEV/stop.sh" >/dev/null 2>&1
  if ((OK)) && [[ "${VALWATCH_E2E_KEEP:-0}" != 1 ]]; then
    rm -rf "$WORK" "$VALWATCH_COSMOS_RUN_DIR"
  else
    if [[ -f "$WORK/valwatch.log" ]]; then
      echo "---- last lines of valwatch's log ($WORK/valwatch.log)" >&2
      tail -n 40 "$WORK/valwatch.log" >&2
    fi
    echo "kept: $WORK and $VALWATCH_COSMOS_RUN_DIR" >&2
  fi
  local result=PASSED
  ((OK)) || result=FAILED
  echo "[e2e-cosmos] $result in $(($(date +%s) - T0)) s"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------- metrics
SCRAPE=""
scrape() { SCRAPE=$(curl -fsS --max-time 5 "$URL/metrics" 2>/dev/null) || SCRAPE=""; }

# m NAME [label="value" ...]: value of the first series of NAME carrying all the labels, or "".
m() {
  local name=$1
  shift
  awk -v n="$name" -v frags="$*" '
    BEGIN { k = split(frags, f, " ") }
    index($0, n "{") == 1 {
      ok = 1
      for (i = 1; i <= k; i++) if (index($0, f[i]) == 0) ok = 0
      if (ok) { print $NF; exit }
    }' <<<"$SCRAPE"
}

# vm NAME VALIDATOR_INDEX [more labels]: a per-validator series of validator i.
vm() {
  local name=$1 i=$2
  shift 2
  m "$name" "chain=\"$CHAIN\"" "validator=\"${HEX[$i]}\"" "$@"
}
missed() { local v; v=$(vm valwatch_validator_duty_missed_total "$1" 'duty="block"'); echo "${v:-0}"; }
signed() { local v; v=$(vm valwatch_validator_duty_performed_total "$1" 'duty="block"'); echo "${v:-0}"; }
last_judged() { local v; v=$(m valwatch_chain_last_processed_unit "chain=\"$CHAIN\""); echo "${v:-0}"; }

# wait_for DESCRIPTION CONDITION: scrapes until the shell condition holds.
wait_for() {
  local what=$1 cond=$2 deadline=$(($(date +%s) + TIMEOUT))
  while :; do
    scrape
    if [[ -n "$SCRAPE" ]] && eval "$cond"; then
      return 0
    fi
    (($(date +%s) < deadline)) || fail "timed out after ${TIMEOUT}s waiting for: $what"
    kill -0 "$VW_PID" 2>/dev/null || fail "valwatch exited while waiting for: $what"
    sleep 0.5
  done
}
# Numeric comparisons; an empty or NaN value is never >= nor == anything.
is_num() { [[ "$1" =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }
num_ge() { is_num "$1" && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
num_eq() { is_num "$1" && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }

# ---------------------------------------------------------------------------------- build, start
if [[ -n "${VALWATCH_BIN:-}" ]]; then
  BIN=$VALWATCH_BIN
else
  say "building valwatch"
  (cd "$ROOT" && cargo build -q -p valwatch)
  BIN=$ROOT/target/debug/valwatch
fi
[[ -x "$BIN" ]] || fail "no valwatch binary at $BIN"

say "starting the localnet in $VALWATCH_COSMOS_RUN_DIR (RPC ports from $VALWATCH_COSMOS_RPC_PORT)"
"$DEV/start.sh" >"$WORK/start.log" 2>&1 || {
  tail -n 40 "$WORK/start.log" >&2
  fail "devnets/cosmos/start.sh failed"
}
# shellcheck disable=SC1091
source "$VALWATCH_COSMOS_RUN_DIR/localnet.env"
HEX=() VALOPER=() RPC=()
for i in 0 1 2 3; do
  v="COSMOS_NODE${i}_CONS_ADDR_HEX"; HEX[i]=${!v^^}
  v="COSMOS_NODE${i}_VALOPER"; VALOPER[i]=${!v}
  v="COSMOS_NODE${i}_RPC"; RPC[i]=${!v}
done
say "chain $COSMOS_CHAIN_ID up; simd $COSMOS_SIMD_VERSION; window $COSMOS_SIGNED_BLOCKS_WINDOW, min_signed $COSMOS_MIN_SIGNED_PER_WINDOW"

cat >"$WORK/valwatch.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
state_dir = "$WORK/state"
save_interval_seconds = 5

[[cosmos]]
name = "$CHAIN"
rpc = ["${RPC[0]}", "${RPC[1]}"]
sdk_refresh_seconds = 2
request_timeout_seconds = 3

[cosmos.validators.labels]
"server-a" = ["${VALOPER[0]}", "${VALOPER[1]}"]
"server-b" = ["${VALOPER[2]}", "${VALOPER[3]}"]
EOF

say "starting valwatch on $URL"
"$BIN" run --config "$WORK/valwatch.toml" >"$WORK/valwatch.log" 2>&1 &
VW_PID=$!

wait_for "all 4 validators resolved, ranked and judged" '
  num_ge "$(last_judged)" 1 &&
  num_eq "$(m valwatch_cosmos_keys_unresolved "chain=\"$CHAIN\"")" 0 &&
  num_eq "$(vm valwatch_validator_cosmos_rank 3)" 4 &&
  num_eq "$(vm valwatch_validator_cosmos_bonded 3)" 1 &&
  num_ge "$(signed 3)" 3'
say "watching: last judged height $(last_judged); ranks $(for i in 0 1 2 3; do printf '%s ' "$(vm valwatch_validator_cosmos_rank $i)"; done)"

# ---------------------------------------------------------------------------------- downtime
base_missed=()
for i in 0 1 2; do base_missed[i]=$(missed "$i"); done
say "stopping validator 3 (misses so far: v0 ${base_missed[0]}, v1 ${base_missed[1]}, v2 ${base_missed[2]}, v3 $(missed 3))"
"$DEV/node.sh" stop 3 >>"$WORK/devnet.log" 2>&1

wait_for "validator 3 missing" 'num_ge "$(missed 3)" 2'
h_a=$(last_judged) m_a=$(missed 3)
# Blocks left before jail as seen at each scrape until the jail: the chain's count (refreshed
# with x/slashing) and valwatch's own (updated every judged height).
left_seen=("") own_seen=("")
note_left() {
  local l o
  num_eq "$(vm valwatch_validator_cosmos_jailed 3)" 1 && return 0
  l=$(vm valwatch_validator_cosmos_blocks_left_before_jail 3)
  o=$(vm valwatch_validator_cosmos_blocks_left_before_jail_valwatch 3)
  if is_num "$l" && [[ "$l" != "${left_seen[-1]}" ]]; then left_seen+=("$l"); fi
  if is_num "$o" && [[ "$o" != "${own_seen[-1]}" ]]; then own_seen+=("$o"); fi
  return 0
}
note_left
wait_for "validator 3 missing more" '
  note_left
  num_ge "$(missed 3)" $((${m_a%.*} + 5))'
h_b=$(last_judged) m_b=$(missed 3)
# Every height judged between the two samples was a miss of validator 3 (it was still in the
# set: jailing takes more than 10 misses), so its misses rose one per block.
(( ${m_b%.*} - ${m_a%.*} == ${h_b%.*} - ${h_a%.*} )) ||
  fail "validator 3: $((${m_b%.*} - ${m_a%.*})) misses over $((${h_b%.*} - ${h_a%.*})) judged heights ($h_a..$h_b)"
say "validator 3 missed heights $((${h_a%.*} + 1))..${h_b%.*}: one miss per block ($m_a → $m_b)"

wait_for "validator 3 jailed, unbonded, without rank" '
  note_left
  num_eq "$(vm valwatch_validator_cosmos_jailed 3)" 1 &&
  num_eq "$(vm valwatch_validator_cosmos_bonded 3)" 0 &&
  ! num_ge "$(vm valwatch_validator_cosmos_rank 3)" 1'
say "blocks left before jail seen: chain's count:${left_seen[*]}; valwatch's own:${own_seen[*]}"
# left_seen[0] and own_seen[0] are empty placeholders.
((${#left_seen[@]} >= 3)) || fail "blocks-left-before-jail (chain) did not count down (saw:${left_seen[*]})"
((${#own_seen[@]} >= 5)) || fail "blocks-left-before-jail (valwatch) did not count down (saw:${own_seen[*]})"
for seen in "${left_seen[*]}" "${own_seen[*]}"; do
  awk -v s="$seen" 'BEGIN { n = split(s, v, " "); for (i = 2; i <= n; i++) if (v[i] + 0 > v[i - 1] + 0) exit 1 }' ||
    fail "blocks left before jail went up: $seen"
done
for i in 0 1 2; do
  num_eq "$(missed "$i")" "${base_missed[i]}" || fail "validator $i missed while validator 3 was down ($(missed "$i") vs ${base_missed[i]})"
done
say "validator 3 jailed: bonded $(vm valwatch_validator_cosmos_bonded 3), rank $(vm valwatch_validator_cosmos_rank 3), seat price $(m valwatch_cosmos_seat_price_tokens "chain=\"$CHAIN\""); others missed nothing"

# ---------------------------------------------------------------------------------- recovery
say "restarting and unjailing validator 3"
"$DEV/node.sh" start 3 >>"$WORK/devnet.log" 2>&1 || fail "node 3 did not restart"
"$DEV/unjail.sh" 3 >>"$WORK/devnet.log" 2>&1 || fail "unjail failed"
wait_for "validator 3 bonded and ranked again" '
  num_eq "$(vm valwatch_validator_cosmos_jailed 3)" 0 &&
  num_eq "$(vm valwatch_validator_cosmos_bonded 3)" 1 &&
  num_eq "$(vm valwatch_validator_cosmos_rank 3)" 4'
s_a=$(signed 3)
wait_for "validator 3 signing again" 'num_ge "$(signed 3)" $((${s_a%.*} + 5))'
say "validator 3 signs again: signed $s_a → $(signed 3), missed $(missed 3)"

# ---------------------------------------------------------------------------------- endpoint loss
scrape
h0=$(last_judged)
c0=$(awk -v a="$(signed 1)" -v b="$(missed 1)" 'BEGIN { print a + b }')
skipped0=$(m valwatch_cosmos_heights_skipped_total "chain=\"$CHAIN\"")
say "killing RPC endpoint 0 (${RPC[0]}) at judged height $h0"
"$DEV/node.sh" kill 0 >>"$WORK/devnet.log" 2>&1
wait_for "heights judged through endpoint 1 only" 'num_ge "$(last_judged)" $((${h0%.*} + 15))'
h1=$(last_judged)
c1=$(awk -v a="$(signed 1)" -v b="$(missed 1)" 'BEGIN { print a + b }')
((${c1%.*} - ${c0%.*} == ${h1%.*} - ${h0%.*})) ||
  fail "validator 1 was judged at $((${c1%.*} - ${c0%.*})) of the $((${h1%.*} - ${h0%.*})) heights $h0..$h1: heights lost"
num_eq "$(m valwatch_cosmos_heights_skipped_total "chain=\"$CHAIN\"")" "${skipped0:-0}" || fail "heights were skipped"
wait_for "endpoint 0 reported down, endpoint 1 up" '
  num_eq "$(m valwatch_endpoint_up "endpoint=\"${RPC[0]}\"")" 0 &&
  num_eq "$(m valwatch_endpoint_up "endpoint=\"${RPC[1]}\"")" 1'
say "no height lost: $h0 → $h1 judged, validator 1 judged at every one of them"

# ---------------------------------------------------------------------------------- shutdown
say "SIGTERM to valwatch"
kill -TERM "$VW_PID"
code=0
wait "$VW_PID" || code=$?
VW_PID=""
((code == 0)) || fail "valwatch exited with $code after SIGTERM"
grep -q "state saved" "$WORK/valwatch.log" || fail "valwatch did not report saving its state"
ls "$WORK/state"/* >/dev/null 2>&1 || fail "no state file written"
OK=1
say "all checks passed"
