#!/usr/bin/env bash
# Install Lodestar 1.5.1 from the npm registry into a cache directory.
#
#   devnets/lodestar/install.sh            # install if missing or broken, else skip
#   VALWATCH_LODESTAR_FORCE_INSTALL=1 install.sh    # wipe and reinstall
#
# Env:
#   VALWATCH_CACHE          cache root (default: $HOME/.cache/valwatch)
#   VALWATCH_LODESTAR_FORCE_INSTALL  1 = reinstall even if the cache looks intact
#   VALWATCH_LODESTAR_NODEDIR        Node.js headers dir for node-gyp (default: autodetected)
#
# Needs: node >= 18 with npm, and to compile three native modules: g++, make, python3 and the
# Node.js headers (<node prefix>/include/node, or set VALWATCH_LODESTAR_NODEDIR) -- all on the CI machine.
#
# Output: progress on stderr; the absolute path of the lodestar entry point (a JS file, run
# it with `node`) as the only line on stdout, so `entry=$(install.sh)` works.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VALWATCH_CACHE:-$HOME/.cache/valwatch}
dest=$cache_root/lodestar-1.5.1
entry_rel=node_modules/@chainsafe/lodestar/lib/index.js
stamp_name=.valwatch-install-stamp

log() { printf '[lodestar-install] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found in PATH (Node.js 18 or 20 is needed)"
command -v npm >/dev/null 2>&1 || die "npm not found in PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  die "Node.js $(node --version) is too old for Lodestar 1.5.1 (need >= 18)"
fi

# The stamp ties an install to the exact inputs that produced it.
inputs=("$here/package.json" "$here/polyfill.cjs")
if [ -f "$here/package-lock.json" ]; then
  inputs+=("$here/package-lock.json")
fi
want_stamp="$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1) node$node_major"

native_modules=(snappy bcrypto bigint-buffer)

# Intact = stamp matches, entry point present, and the CLI actually loads and reports 1.5.1.
check_install() {
  local dir=$1
  [ -f "$dir/$stamp_name" ] || return 1
  [ "$(cat "$dir/$stamp_name")" = "$want_stamp" ] || return 1
  [ -f "$dir/$entry_rel" ] || return 1
  local mod
  for mod in "${native_modules[@]}"; do
    compgen -G "$dir/node_modules/$mod/build/Release/*.node" >/dev/null || return 1
  done
  local out
  # Lodestar reads LODESTAR_* variables as flags: run it without any.
  out=$(
    for v in $(compgen -e LODESTAR_ || true); do unset "$v"; done
    NODE_OPTIONS="--require $here/polyfill.cjs" exec timeout 60 node "$dir/$entry_rel" --version 2>&1
  ) || return 1
  case $out in
    *1.5.1*) return 0 ;;
    *) return 1 ;;
  esac
}

# node-gyp ships inside npm; use that one rather than anything from the network.
npm_cli=$(readlink -f "$(command -v npm)")
node_gyp=$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js
if [ ! -f "$node_gyp" ]; then
  node_gyp=$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js
fi
# Headers of the running Node.js, so node-gyp does not try to download them.
node_prefix=$(node -p 'require("path").resolve(process.execPath, "..", "..")')
gyp_flags=()
if [ -n "${VALWATCH_LODESTAR_NODEDIR:-}" ]; then
  gyp_flags=("--nodedir=$VALWATCH_LODESTAR_NODEDIR")
elif [ -f "$node_prefix/include/node/node_api.h" ]; then
  gyp_flags=("--nodedir=$node_prefix")
fi

mkdir -p "$cache_root"

# Serialize concurrent installs (two CI jobs, or a test calling install.sh twice).
exec 9>"$cache_root/.lodestar-1.5.1.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

t0=$(date +%s)
if [ "${VALWATCH_LODESTAR_FORCE_INSTALL:-0}" != 1 ] && check_install "$dest"; then
  log "already installed and intact in $dest (checked in $(($(date +%s) - t0)) s, skipping)"
  printf '%s\n' "$dest/$entry_rel"
  exit 0
fi

if [ -e "$dest" ]; then
  log "existing install in $dest is missing, stale or broken: reinstalling"
fi

tmp=$(mktemp -d "$cache_root/.lodestar-1.5.1.tmp.XXXXXX")
chmod 755 "$tmp"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

cp "$here/package.json" "$tmp/package.json"
npm_flags=(--ignore-scripts --no-audit --no-fund --omit-lockfile-registry-resolved --loglevel=error)
if [ -f "$here/package-lock.json" ]; then
  cp "$here/package-lock.json" "$tmp/package-lock.json"
  log "npm ci (locked versions) into $tmp ... (about 80 s, 330 MB)"
  (cd "$tmp" && npm ci "${npm_flags[@]}") >&2 || die "npm ci failed"
else
  log "npm install into $tmp ... (about 80 s, 330 MB)"
  (cd "$tmp" && npm install "${npm_flags[@]}") >&2 || die "npm install failed"
fi

# --ignore-scripts skips every install script, and three of Lodestar's native modules ship no
# prebuilt binary for Linux in their registry tarballs (their install scripts would download one
# from the internet or compile it). Compile them here with the node-gyp bundled in npm, against the
# installed Node.js headers, so no download is ever attempted:
#   snappy (req/resp compression, no JS fallback), bcrypto (p2p keys), bigint-buffer (speed only).
log "compiling native modules: ${native_modules[*]} (about 25 s)"
for mod in "${native_modules[@]}"; do
  [ -d "$tmp/node_modules/$mod" ] || die "expected module $mod is not in the install"
  (cd "$tmp/node_modules/$mod" && node "$node_gyp" rebuild --jobs=max "${gyp_flags[@]}") \
    >"$tmp/build-$mod.log" 2>&1 || { tail -n 30 "$tmp/build-$mod.log" >&2; die "building $mod failed (log above)"; }
done
printf '%s\n' "$want_stamp" >"$tmp/$stamp_name"

check_install "$tmp" || die "fresh install in $tmp does not run: node $tmp/$entry_rel --version failed"

# Swap into place. Paths inside node_modules are relative, so moving the tree is safe.
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT

t1=$(date +%s)
log "installed Lodestar 1.5.1 in $((t1 - t0)) s ($(du -sh "$dest" | cut -f1)) at $dest"
printf '%s\n' "$dest/$entry_rel"
