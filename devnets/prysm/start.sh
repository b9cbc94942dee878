#!/usr/bin/env bash
# Start a local single-node Ethereum proof-of-stake chain with Electra active from genesis, for
# valwatch's end-to-end tests: geth (execution layer) + Prysm beacon-chain (consensus layer) +
# Prysm validator clients, all built from the Go module proxy by install.sh. Waits until blocks
# are being made.
#
#   eval "$(devnets/prysm/start.sh)"    # sets VALWATCH_PRYSM_RUN_DIR, VALWATCH_PRYSM_REST_URL, ...
#   ... tests ...
#   devnets/prysm/vc.sh stop            # validators 56..63 go offline
#   devnets/prysm/vc.sh start           # and come back
#   devnets/prysm/stop.sh
#
# Validators (64 at genesis, interop keys, Prysm's mainnet preset with 8 slots per epoch):
#   0..47   validator client "vc-online"             always online
#   48..55  never started                            always offline
#   56..63  validator client "vc" (vc.sh)            online until `vc.sh stop`
#
# Env (all optional):
#   VALWATCH_PRYSM_RUN_DIR             data, logs, PIDs (default: new temp dir)
#   VALWATCH_PRYSM_REST_PORT           beacon REST API on 127.0.0.1 (default: a free port)
#   VALWATCH_PRYSM_GRPC_PORT           beacon gRPC for the validator clients (default: a free port)
#   VALWATCH_PRYSM_P2P_PORT            beacon libp2p TCP (default: a free port)
#   VALWATCH_PRYSM_QUIC_PORT           beacon libp2p QUIC, UDP (default: a free port)
#   VALWATCH_PRYSM_DISCOVERY_PORT      beacon discv5 UDP, not opened (discovery is off) (default: a free port)
#   VALWATCH_PRYSM_GETH_P2P_PORT       geth devp2p TCP (default: a free port)
#   VALWATCH_PRYSM_ENGINE_PORT         geth engine API (JWT) (default: a free port)
#   VALWATCH_PRYSM_SECONDS_PER_SLOT    slot time (default 2)
#   VALWATCH_PRYSM_GENESIS_DELAY       seconds from now to genesis (default 15: geth, the beacon node
#                                      and the clients are up before slot 1)
#   VALWATCH_PRYSM_GENESIS_VALIDATORS  validators in the genesis state (default 64)
#   VALWATCH_PRYSM_ONLINE_VALIDATORS   range run by the always-on client (default 0..47)
#   VALWATCH_PRYSM_VC_VALIDATORS       range run by the stoppable client (default 56..63; empty = none)
#   VALWATCH_PRYSM_START_TIMEOUT       seconds for the REST API and a moving head (default 120)
#   VALWATCH_PRYSM_VC_START_TIMEOUT    seconds for a validator client to come up (default 60)
#   VALWATCH_CACHE                     passed to install.sh
#
# Stdout: shell assignments (also saved as $VALWATCH_PRYSM_RUN_DIR/env), nothing else.
# Run dir: env, config.yaml, genesis.ssz, geth-genesis.json, jwt.hex, geth.toml, *.log, *.pid,
# geth-data/, beacon-data/, vc-online-data/, vc-data/.
# Exit 1 with the log tails on stderr if the chain does not come up; nothing is left running then.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=devnets/prysm/lib.sh
. "$here/lib.sh"

sps=${VALWATCH_PRYSM_SECONDS_PER_SLOT:-2}
delay=${VALWATCH_PRYSM_GENESIS_DELAY:-15}
genesis_n=${VALWATCH_PRYSM_GENESIS_VALIDATORS:-64}
online_vals=${VALWATCH_PRYSM_ONLINE_VALIDATORS:-0..47}
vc_vals=${VALWATCH_PRYSM_VC_VALIDATORS-56..63}
timeout_s=${VALWATCH_PRYSM_START_TIMEOUT:-120}
for v in sps delay genesis_n timeout_s; do
  case ${!v} in '' | *[!0-9]*) die "$v must be a non-negative integer, got '${!v}'" ;; esac
done
for v in online_vals vc_vals; do
  case ${!v} in '' | [0-9]*..[0-9]*) ;; *) die "$v must look like 0..47, got '${!v}'" ;; esac
done
[ -n "$online_vals" ] || die "VALWATCH_PRYSM_ONLINE_VALIDATORS must not be empty"
command -v curl >/dev/null 2>&1 || die "curl is needed"
command -v python3 >/dev/null 2>&1 || die "python3 is needed"

# Binaries (builds them on the first run).
paths=$("$here/install.sh")
GETH=$(printf '%s\n' "$paths" | sed -n 's/^GETH=//p')
BEACON=$(printf '%s\n' "$paths" | sed -n 's/^BEACON=//p')
VALIDATOR=$(printf '%s\n' "$paths" | sed -n 's/^VALIDATOR=//p')
PRYSMCTL=$(printf '%s\n' "$paths" | sed -n 's/^PRYSMCTL=//p')
for b in "$GETH" "$BEACON" "$VALIDATOR" "$PRYSMCTL"; do [ -x "$b" ] || die "binary $b missing"; done

if [ -n "${VALWATCH_PRYSM_RUN_DIR:-}" ]; then
  mkdir -p "$VALWATCH_PRYSM_RUN_DIR"
  run_dir=$(cd "$VALWATCH_PRYSM_RUN_DIR" && pwd)
  for name in vc vc-online beacon geth; do
    if pid=$(pid_of "$name"); then
      die "$name of a previous run is still running in $run_dir (pid $pid): run stop.sh first"
    fi
  done
  rm -rf "$run_dir"/{geth-data,beacon-data,vc-data,vc-online-data,vc-wallet,vc-online-wallet}
else
  run_dir=$(mktemp -d "${TMPDIR:-/tmp}/valwatch-prysm.XXXXXX")
fi

# Ports: the ones given, else free ones (TCP and UDP both free, all distinct).
ports=$(python3 - <<'PY'
import socket
seen = set()
def free():
    while True:
        t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
        except OSError:
            t.close(); u.close(); continue
        t.close(); u.close()
        if p not in seen:
            seen.add(p); return p
print(" ".join(str(free()) for _ in range(7)))
PY
)
read -r f1 f2 f3 f4 f5 f6 f7 <<<"$ports"
rest_port=${VALWATCH_PRYSM_REST_PORT:-$f1}
grpc_port=${VALWATCH_PRYSM_GRPC_PORT:-$f2}
p2p_port=${VALWATCH_PRYSM_P2P_PORT:-$f3}
quic_port=${VALWATCH_PRYSM_QUIC_PORT:-$f4}
disc_port=${VALWATCH_PRYSM_DISCOVERY_PORT:-$f5}
geth_p2p_port=${VALWATCH_PRYSM_GETH_P2P_PORT:-$f6}
engine_port=${VALWATCH_PRYSM_ENGINE_PORT:-$f7}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$rest_port" "$grpc_port" "$p2p_port" "$geth_p2p_port" "$engine_port"; do
  port_busy "$p" && die "port $p on 127.0.0.1 is already in use (set the VALWATCH_PRYSM_*_PORT variables)"
done

rest_url=http://127.0.0.1:$rest_port
fee_recipient=0x0000000000000000000000000000000000001234
# %q quoting: the file is sourced by vc.sh and `eval`ed by callers.
printf 'VALWATCH_PRYSM_%s=%q\n' \
  RUN_DIR "$run_dir" \
  REST_URL "$rest_url" \
  REST_PORT "$rest_port" \
  GRPC_PORT "$grpc_port" \
  P2P_PORT "$p2p_port" \
  QUIC_PORT "$quic_port" \
  GETH_P2P_PORT "$geth_p2p_port" \
  ENGINE_PORT "$engine_port" \
  SECONDS_PER_SLOT "$sps" \
  SLOTS_PER_EPOCH 8 \
  GENESIS_VALIDATORS "$genesis_n" \
  ONLINE_VALIDATORS "$online_vals" \
  VC_VALIDATORS "$vc_vals" \
  FEE_RECIPIENT "$fee_recipient" \
  GETH "$GETH" \
  BEACON "$BEACON" \
  VALIDATOR "$VALIDATOR" \
  PRYSMCTL "$PRYSMCTL" >"$run_dir/env"
printf '%s\n' "$run_dir" >"$last_run_file"
load_run_env

fail() {
  log "ERROR: $*"
  local f
  for f in geth beacon vc-online vc; do
    if [ -s "$run_dir/$f.log" ]; then
      log "---- tail of $run_dir/$f.log ----"
      tail -n 25 "$run_dir/$f.log" >&2 || true
    fi
  done
  stop_proc vc
  stop_proc vc-online
  stop_proc beacon
  stop_proc geth
  exit 1
}
trap 'fail "interrupted"' INT TERM

# The chain configuration: Prysm's mainnet preset (the only one a plain `go build` gives, see
# README.md) with 8 slots per epoch, every fork up to Electra at epoch 0, Fulu never.
cat >"$run_dir/config.yaml" <<EOF
PRESET_BASE: 'mainnet'
CONFIG_NAME: 'valwatch-electra-devnet'
MIN_GENESIS_ACTIVE_VALIDATOR_COUNT: $genesis_n
GENESIS_DELAY: 0
GENESIS_FORK_VERSION: 0x10000038
ALTAIR_FORK_VERSION: 0x20000038
ALTAIR_FORK_EPOCH: 0
BELLATRIX_FORK_VERSION: 0x30000038
BELLATRIX_FORK_EPOCH: 0
CAPELLA_FORK_VERSION: 0x40000038
CAPELLA_FORK_EPOCH: 0
DENEB_FORK_VERSION: 0x50000038
DENEB_FORK_EPOCH: 0
ELECTRA_FORK_VERSION: 0x60000038
ELECTRA_FORK_EPOCH: 0
FULU_FORK_VERSION: 0x70000038
FULU_FORK_EPOCH: 18446744073709551615
TERMINAL_TOTAL_DIFFICULTY: 0
SECONDS_PER_SLOT: $sps
SLOT_DURATION_MS: $((sps * 1000))
SLOTS_PER_EPOCH: 8
ETH1_FOLLOW_DISTANCE: 12
DEPOSIT_CHAIN_ID: 1337
DEPOSIT_NETWORK_ID: 1337
DEPOSIT_CONTRACT_ADDRESS: 0x4242424242424242424242424242424242424242
EOF

# Genesis: prysmctl writes the beacon state (interop keys, Electra schema) and, from the same
# config, geth's genesis.json (chain id 1337, Shanghai/Cancun/Prague at the genesis time, the
# deposit contract); the state's execution payload header is geth's genesis block.
log "run dir $run_dir; generating genesis ($genesis_n validators, genesis in $delay s, ${sps} s slots)"
(cd "$run_dir" && "$PRYSMCTL" testnet generate-genesis --fork electra \
  --num-validators "$genesis_n" --genesis-time-delay "$delay" \
  --chain-config-file config.yaml \
  --geth-genesis-json-out geth-genesis.json --output-ssz genesis.ssz) >"$run_dir/genesis.log" 2>&1 ||
  fail "prysmctl testnet generate-genesis failed (see $run_dir/genesis.log)"
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$run_dir/jwt.hex"
chmod 600 "$run_dir/jwt.hex"

# geth: no discovery, no peers, devp2p on 127.0.0.1 (only a config file can set the listen
# address; --port always binds every interface), engine API on 127.0.0.1 with the JWT.
cat >"$run_dir/geth.toml" <<EOF
[Node.P2P]
ListenAddr = "127.0.0.1:$geth_p2p_port"
NoDiscovery = true
DiscoveryV4 = false
DiscoveryV5 = false
MaxPeers = 0
EOF
"$GETH" init --datadir "$run_dir/geth-data" --state.scheme path "$run_dir/geth-genesis.json" \
  >"$run_dir/geth.log" 2>&1 || fail "geth init failed"
t_start=$SECONDS
(cd "$run_dir" && exec "$GETH" --config "$run_dir/geth.toml" --datadir "$run_dir/geth-data" \
  --networkid 1337 --syncmode full --state.scheme path --cache 256 --nat none --ipcdisable \
  --authrpc.addr 127.0.0.1 --authrpc.port "$engine_port" --authrpc.jwtsecret "$run_dir/jwt.hex") \
  </dev/null >>"$run_dir/geth.log" 2>&1 &
printf '%s\n' "$!" >"$run_dir/geth.pid"
geth_pid=$!

log "starting the beacon node (REST $rest_url, gRPC 127.0.0.1:$grpc_port, p2p 127.0.0.1:$p2p_port)"
(cd "$run_dir" && exec "$BEACON" --accept-terms-of-use \
  --datadir "$run_dir/beacon-data" --force-clear-db \
  --chain-config-file "$run_dir/config.yaml" --genesis-state "$run_dir/genesis.ssz" \
  --execution-endpoint "http://127.0.0.1:$engine_port" --jwt-secret "$run_dir/jwt.hex" \
  --chain-id 1337 --contract-deployment-block 0 \
  --deposit-contract 0x4242424242424242424242424242424242424242 \
  --min-sync-peers 0 --no-discovery --bootstrap-node= \
  --p2p-host-ip 127.0.0.1 --p2p-local-ip 127.0.0.1 \
  --p2p-tcp-port "$p2p_port" --p2p-quic-port "$quic_port" --p2p-udp-port "$disc_port" \
  --rpc-host 127.0.0.1 --rpc-port "$grpc_port" \
  --http-host 127.0.0.1 --http-port "$rest_port" \
  --disable-monitoring \
  --suggested-fee-recipient "$fee_recipient" \
  --subscribe-all-subnets --interop-eth1data-votes) \
  </dev/null >>"$run_dir/beacon.log" 2>&1 &
printf '%s\n' "$!" >"$run_dir/beacon.pid"
bn_pid=$!

head_slot() {
  curl -fsS --max-time 2 "$rest_url/eth/v1/beacon/headers/head" 2>/dev/null |
    sed -n 's/.*"slot":"\([0-9]*\)".*/\1/p'
}

deadline=$((t_start + timeout_s))
while [ -z "$(head_slot || true)" ]; do
  kill -0 "$geth_pid" 2>/dev/null || fail "geth exited during start"
  kill -0 "$bn_pid" 2>/dev/null || fail "the beacon node exited during start"
  [ $SECONDS -lt $deadline ] || fail "REST API $rest_url not up after $timeout_s s"
  sleep 0.5
done
log "REST API up after $((SECONDS - t_start)) s"

start_vc vc-online "$online_vals" --force-clear-db || fail "validator client vc-online did not start"
if [ -n "$vc_vals" ]; then
  start_vc vc "$vc_vals" --force-clear-db || fail "validator client vc did not start"
fi

while :; do
  kill -0 "$geth_pid" 2>/dev/null || fail "geth exited"
  kill -0 "$bn_pid" 2>/dev/null || fail "the beacon node exited"
  [ $SECONDS -lt $deadline ] || fail "no block after ${timeout_s} s (REST $rest_url)"
  slot=$(head_slot || true)
  if [ -n "$slot" ] && [ "$slot" -gt 0 ]; then
    log "head at slot $slot after $((SECONDS - t_start)) s"
    break
  fi
  sleep 0.5
done
trap - INT TERM

log "ready in $((SECONDS - t_start)) s; stop with: $here/stop.sh $run_dir"
cat "$run_dir/env"
