#!/usr/bin/env bash
# Build the Cosmos SDK chain binary `simd` used by valwatch's Cosmos end-to-end tests.
#
# Source: the simapp that ships inside the released Go module github.com/cosmos/ibc-go/v8
# (testing/simapp/simd): Cosmos SDK v0.50.x with an embedded CometBFT v0.38.x node and the
# usual modules (auth, bank, staking, slashing, distribution, gov, mint, upgrade, evidence,
# feegrant, consensus, ...). cosmossdk.io/simapp itself is not served by the module proxy
# reachable here (403 "This module version is not available"), see README.md.
#
# Output: $VALWATCH_CACHE/bin/simd-<version>   (VALWATCH_CACHE defaults to ~/.cache/valwatch)
# The last line on stdout is the absolute path of the binary, so callers can do
#   SIMD=$(devnets/cosmos/build.sh | tail -n1)
#
# Env:
#   VALWATCH_CACHE    cache root (binary, GOPATH, GOMODCACHE, GOCACHE, sources)
#   SIMD_MODULE       Go module holding the simapp (default github.com/cosmos/ibc-go/v8)
#   SIMD_MODULE_VERSION  its version (default v8.8.0)
#   SIMD_PKG          package path inside the module (default ./testing/simapp/simd)
#   GO                go binary (default: `go` on PATH, else /usr/local/go/bin/go)
#   SIMD_FORCE=1      rebuild even if the binary is present and works
#   CGO_ENABLED       default 0 (static binary)
set -euo pipefail

SIMD_MODULE=${SIMD_MODULE:-github.com/cosmos/ibc-go/v8}
SIMD_MODULE_VERSION=${SIMD_MODULE_VERSION:-v8.8.0}
SIMD_PKG=${SIMD_PKG:-./testing/simapp/simd}
CACHE=${VALWATCH_CACHE:-$HOME/.cache/valwatch}
TAG="ibc-go-${SIMD_MODULE_VERSION}"
BIN="$CACHE/bin/simd-$TAG"

log() { echo "[cosmos/build] $*" >&2; }
die() { echo "[cosmos/build] ERROR: $*" >&2; exit 1; }
now() { date +%s; }

T0=$(now)
mkdir -p "$CACHE/bin" || die "cannot create $CACHE/bin"

# One build at a time per cache dir (parallel test jobs may all call this).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.simd-build.lock"
  flock -w 1800 9 || die "timed out waiting for another build.sh holding $CACHE/.simd-build.lock"
fi

if [[ "${SIMD_FORCE:-0}" != 1 && -x "$BIN" ]]; then
  if v=$("$BIN" version 2>&1) && [[ -n "$v" ]]; then
    log "cached: $BIN (simd version: $v), nothing to do"
    echo "$BIN"
    exit 0
  fi
  log "cached binary $BIN does not run ('simd version' failed: $v); rebuilding"
fi

GO=${GO:-}
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else die "no Go toolchain found (need go >= 1.21 on PATH or GO=/path/to/go)"; fi
fi
GOVER=$("$GO" env GOVERSION) || die "'$GO env GOVERSION' failed"
log "using $GO ($GOVER)"

# Keep everything Go writes under the cache dir so that a second run is fast and the
# user's ~/go is untouched.
export GOPATH="$CACHE/go"
export GOMODCACHE="$CACHE/go/pkg/mod"
export GOCACHE="$CACHE/go-build"
export GOTOOLCHAIN=local   # never try to download another toolchain
# Static binary, no C compiler needed (only the standard library's net and os/user use cgo
# here; the build takes the same CPU time either way). Set CGO_ENABLED=1 to override.
export CGO_ENABLED=${CGO_ENABLED:-0}
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
mkdir -p "$CACHE/bin" "$CACHE/src" "$GOMODCACHE" "$GOCACHE"

# 1. fetch the module source (verified against the checksum database)
T1=$(now)
log "downloading $SIMD_MODULE@$SIMD_MODULE_VERSION"
DL_JSON=$(cd "$CACHE" && "$GO" mod download -json "$SIMD_MODULE@$SIMD_MODULE_VERSION" 2>&1) || true
MODDIR=$(printf '%s\n' "$DL_JSON" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
if [[ -z "$MODDIR" || ! -d "$MODDIR" ]]; then
  printf '%s\n' "$DL_JSON" >&2
  die "could not download $SIMD_MODULE@$SIMD_MODULE_VERSION from the Go module proxy ($GOPROXY)"
fi

# 2. copy to a writable build dir (the module cache is read-only; `go install` refuses
#    modules with replace directives, this one has one for goleveldb)
SRC="$CACHE/src/$TAG"
if [[ ! -f "$SRC/.copied" ]]; then
  rm -rf "$SRC"
  cp -r "$MODDIR" "$SRC"
  chmod -R u+w "$SRC"
  touch "$SRC/.copied"
fi
T2=$(now)
log "source ready in $SRC ($((T2 - T1)) s)"

# 3. build. Dependencies come from the module's own go.sum; the version package is
#    stamped so that `simd version` prints something meaningful.
V=github.com/cosmos/cosmos-sdk/version
LDFLAGS="-s -w -X $V.Name=simd -X $V.AppName=simd -X $V.Version=$TAG -X $V.Commit=$SIMD_MODULE@$SIMD_MODULE_VERSION"
log "go mod download (dependencies)"
(cd "$SRC" && "$GO" mod download) || die "downloading dependencies of $SIMD_MODULE@$SIMD_MODULE_VERSION failed"
T3=$(now)
log "dependencies ready ($((T3 - T2)) s); go build $SIMD_PKG (slow on a cold cache: several minutes on 2 cores)"
(cd "$SRC" && "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$BIN.tmp" "$SIMD_PKG") \
  || die "go build of $SIMD_PKG in $SRC failed (see the compiler output above)"
T4=$(now)

v=$("$BIN.tmp" version 2>&1) || die "built binary does not run: $v"
mv -f "$BIN.tmp" "$BIN"
log "built $BIN (simd version: $v)"
log "timings: source $((T2 - T1)) s, deps $((T3 - T2)) s, compile $((T4 - T3)) s, total $((T4 - T0)) s"
echo "$BIN"
