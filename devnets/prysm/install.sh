#!/usr/bin/env bash
# Build the Electra devnet's binaries from the Go module proxy: geth (execution layer) and Prysm's
# beacon-chain, validator and prysmctl (consensus layer), pinned versions, into
#   $VALWATCH_CACHE/bin/geth-<GETH_VERSION>
#   $VALWATCH_CACHE/bin/prysm-beacon-chain-<PRYSM_VERSION>
#   $VALWATCH_CACHE/bin/prysm-validator-<PRYSM_VERSION>
#   $VALWATCH_CACHE/bin/prysmctl-<PRYSM_VERSION>
# A second run finds them and returns at once (about 0.2 s).
#
#   devnets/prysm/install.sh      # stdout: GETH=..., BEACON=..., VALIDATOR=..., PRYSMCTL=... (paths)
#
# Env (all optional):
#   VALWATCH_CACHE                  cache root (default ~/.cache/valwatch): binaries, GOPATH,
#                                   GOMODCACHE, GOCACHE, the writable Prysm source copy
#   VALWATCH_PRYSM_FORCE_INSTALL=1  rebuild even if the binaries are there and run
#   VALWATCH_PRYSM_GO               go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#
# Needs Go >= 1.25 (Prysm's go.mod), a C compiler (Prysm links blst and other C code through cgo)
# and the Go module proxy. Cold build on 2 cores: 3.5 min idle (geth 1.5 min, Prysm 2 min),
# up to about 7 min while other builds run (see README.md). Builds are serialized with flock
# and written under temporary names first.
set -euo pipefail

PRYSM_MODULE=github.com/OffchainLabs/prysm/v7
PRYSM_VERSION=v7.1.2
GETH_MODULE=github.com/ethereum/go-ethereum
GETH_VERSION=v1.16.7
# Part of the stamp: a change of how the binaries are built rebuilds them.
RECIPE="prysm=$PRYSM_MODULE@$PRYSM_VERSION geth=$GETH_MODULE@$GETH_VERSION cgo=-O2,-D__BLST_PORTABLE__ preset=mainnet r1"

CACHE=${VALWATCH_CACHE:-$HOME/.cache/valwatch}
BIN_DIR=$CACHE/bin
GETH=$BIN_DIR/geth-$GETH_VERSION
BEACON=$BIN_DIR/prysm-beacon-chain-$PRYSM_VERSION
VALIDATOR=$BIN_DIR/prysm-validator-$PRYSM_VERSION
PRYSMCTL=$BIN_DIR/prysmctl-$PRYSM_VERSION
STAMP=$BIN_DIR/.prysm-devnet-$PRYSM_VERSION-$GETH_VERSION.stamp

log() { printf '[prysm/install %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

print_paths() {
  printf 'GETH=%s\nBEACON=%s\nVALIDATOR=%s\nPRYSMCTL=%s\n' "$GETH" "$BEACON" "$VALIDATOR" "$PRYSMCTL"
}

# intact: every binary exists, runs, and the stamp names this recipe.
intact() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ] || return 1
  [ -x "$GETH" ] && [ -x "$BEACON" ] && [ -x "$VALIDATOR" ] && [ -x "$PRYSMCTL" ] || return 1
  # Outputs captured first: `cmd | grep -q` under pipefail fails when grep exits early.
  local out
  out=$("$GETH" version 2>/dev/null) && [[ $out == *"Version: ${GETH_VERSION#v}-stable"* ]] || return 1
  out=$("$BEACON" --version 2>/dev/null) && [[ $out == *"Prysm/$PRYSM_VERSION/"* ]] || return 1
  out=$("$VALIDATOR" --version 2>/dev/null) && [[ $out == *"Prysm/$PRYSM_VERSION/"* ]] || return 1
  "$PRYSMCTL" help >/dev/null 2>&1 || return 1
}

mkdir -p "$BIN_DIR" || die "cannot create $BIN_DIR"
if [ "${VALWATCH_PRYSM_FORCE_INSTALL:-0}" != 1 ] && intact; then
  print_paths
  exit 0
fi

exec 9>"$CACHE/.prysm-devnet-build.lock"
flock -w 3600 9 || die "timed out waiting for another install.sh ($CACHE/.prysm-devnet-build.lock)"
# Another install may have finished while this one waited.
if [ "${VALWATCH_PRYSM_FORCE_INSTALL:-0}" != 1 ] && intact; then
  print_paths
  exit 0
fi

GO=${VALWATCH_PRYSM_GO:-}
if [ -z "$GO" ]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
  else die "no Go toolchain (need go >= 1.25 on PATH or VALWATCH_PRYSM_GO)"; fi
fi
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || die "a C compiler is needed (cgo: blst)"
gover=$("$GO" env GOVERSION) || die "'$GO env GOVERSION' failed"
minor=$(printf '%s\n' "$gover" | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
[ -n "$minor" ] && [ "$minor" -ge 25 ] || die "Prysm $PRYSM_VERSION needs Go >= 1.25, found $gover"
log "using $GO ($gover)"

# Everything Go writes stays under the cache dir; never fetch another toolchain.
export GOPATH=$CACHE/go GOMODCACHE=$CACHE/go/pkg/mod GOCACHE=$CACHE/go-build
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
# blst (BLS signatures) is C and assembly behind cgo. The portable build avoids the ADX/BMI2 code
# paths, so the binary also runs on a CPU without them (the cache may move between machines).
export CGO_ENABLED=1 CGO_CFLAGS="-O2 -D__BLST_PORTABLE__"
mkdir -p "$GOMODCACHE" "$GOCACHE" "$CACHE/src"

t0=$SECONDS

# geth has no replace directive: `go install` works.
log "building geth $GETH_VERSION (1.5-2 min on 2 cores with a cold cache)"
gobin=$(mktemp -d "$BIN_DIR/.geth-build.XXXXXX")
if ! GOBIN=$gobin nice -n 10 "$GO" install -trimpath "$GETH_MODULE/cmd/geth@$GETH_VERSION" >&2; then
  rm -rf "$gobin"
  die "go install $GETH_MODULE/cmd/geth@$GETH_VERSION failed (output above)"
fi
mv -f "$gobin/geth" "$GETH"
rm -rf "$gobin"
t1=$SECONDS
log "geth built in $((t1 - t0)) s"

# Prysm's go.mod has replace directives, so `go install` refuses it: build in a writable copy.
log "downloading $PRYSM_MODULE@$PRYSM_VERSION"
dl=$(cd "$CACHE" && "$GO" mod download -json "$PRYSM_MODULE@$PRYSM_VERSION") ||
  die "go mod download $PRYSM_MODULE@$PRYSM_VERSION failed: $dl"
moddir=$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
[ -n "$moddir" ] && [ -d "$moddir" ] || die "no Dir in the answer of go mod download: $dl"
src=$CACHE/src/prysm-$PRYSM_VERSION
rm -rf "$src" "$src.tmp"
cp -r "$moddir" "$src.tmp"
chmod -R u+w "$src.tmp"
mv "$src.tmp" "$src"
# v7.1.2 replaces github.com/tyler-smith/go-bip39 with ./third_party/go-bip39, a nested module
# that the module zip leaves out (nested modules never ship in their parent's zip). The proxy
# serves the upstream go-bip39 v1.1.0, the version go.mod requires: drop the replace and record
# that module's checksums (verified against the checksum database).
if grep -q '=> ./third_party/go-bip39' "$src/go.mod"; then
  log "go.mod replaces go-bip39 with a directory missing from the module zip: using the upstream v1.1.0"
  (cd "$src" && "$GO" mod edit -dropreplace=github.com/tyler-smith/go-bip39 &&
    GOFLAGS=-mod=mod "$GO" mod download github.com/tyler-smith/go-bip39) ||
    die "could not switch go-bip39 to the upstream module"
fi
log "downloading Prysm's dependencies"
(cd "$src" && "$GO" mod download) || die "go mod download in $src failed"
t2=$SECONDS
log "building beacon-chain, validator, prysmctl (1.5-5 min on 2 cores with a cold cache)"
out=$(mktemp -d "$BIN_DIR/.prysm-build.XXXXXX")
V=$PRYSM_MODULE/runtime/version
ldflags="-X $V.gitTag=$PRYSM_VERSION -X $V.gitCommit=go-module-proxy"
if ! (cd "$src" && nice -n 10 "$GO" build -trimpath -ldflags "$ldflags" -o "$out/" \
  ./cmd/beacon-chain ./cmd/validator ./cmd/prysmctl) >&2; then
  rm -rf "$out"
  die "go build of Prysm in $src failed (output above)"
fi
mv -f "$out/beacon-chain" "$BEACON"
mv -f "$out/validator" "$VALIDATOR"
mv -f "$out/prysmctl" "$PRYSMCTL"
rm -rf "$out"
t3=$SECONDS
printf '%s\n' "$RECIPE" >"$STAMP"
intact || die "the freshly built binaries do not report the expected versions"
log "built in $((t3 - t0)) s (geth $((t1 - t0)) s, Prysm source+deps $((t2 - t1)) s, Prysm compile $((t3 - t2)) s)"
print_paths
