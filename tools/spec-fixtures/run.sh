#!/usr/bin/env bash
# Build (or reuse) the Python venv with the executable consensus spec and run
# the fixture generator.
#
#   tools/spec-fixtures/run.sh [OUT_DIR] [generator options]   # regenerate (default OUT_DIR: the fixtures)
#   tools/spec-fixtures/run.sh --check [FIXTURES_DIR]         # regenerate into a temp dir, diff, exit 1 on difference
#
# Environment:
#   VALWATCH_CACHE       cache root (default ~/.cache/valwatch); the venv is $VALWATCH_CACHE/spec-venv
#   SPEC_FIXTURES_PYTHON interpreter to build the venv with (must be Python >= 3.12)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
FIXTURES="$REPO/crates/ethereum/tests/fixtures/spec"
CACHE="${VALWATCH_CACHE:-$HOME/.cache/valwatch}"
VENV="$CACHE/spec-venv"
REQS="$HERE/requirements.txt"

die() { echo "spec-fixtures: $*" >&2; exit 2; }

is_py312() {  # is "$1" a Python >= 3.12 interpreter?
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    local c
    if [[ -n "${SPEC_FIXTURES_PYTHON:-}" ]]; then
        is_py312 "$SPEC_FIXTURES_PYTHON" || die "SPEC_FIXTURES_PYTHON=$SPEC_FIXTURES_PYTHON is not Python >= 3.12"
        echo "$SPEC_FIXTURES_PYTHON"; return
    fi
    for c in python3.12 python3.13 python3.14 python3; do
        if command -v "$c" >/dev/null 2>&1 && is_py312 "$(command -v "$c")"; then
            command -v "$c"; return
        fi
    done
    for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
        if [[ -x "$c" ]] && is_py312 "$c"; then echo "$c"; return; fi
    done
    die "no Python >= 3.12 found (tried SPEC_FIXTURES_PYTHON, python3.12/3.13/3.14/python3 on PATH, ~/.pyenv/versions/3.1x); install one or set SPEC_FIXTURES_PYTHON"
}

ensure_venv() {
    local py stamp want
    py="$(find_python)"
    want="$(sha256sum "$REQS" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"
    stamp="$VENV/.valwatch-spec-fixtures"
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && "$VENV/bin/python" -c 'import eth_consensus_specs.fulu.minimal' >/dev/null 2>&1; then
        return
    fi
    echo "spec-fixtures: creating venv $VENV with $py" >&2
    local t0=$SECONDS
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$py" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS"
    echo "$want" > "$stamp"
    echo "spec-fixtures: venv ready in $((SECONDS - t0))s" >&2
}

check=0
if [[ "${1:-}" == "--check" ]]; then check=1; shift; fi
out="$FIXTURES"
if [[ $# -gt 0 && "$1" != -* ]]; then out="$1"; shift; fi

ensure_venv

if [[ $check -eq 0 ]]; then
    exec "$VENV/bin/python" "$HERE/generate.py" --out "$out" "$@"
fi

[[ -d "$out" ]] || die "--check: no fixtures at $out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$VENV/bin/python" "$HERE/generate.py" --out "$tmp/spec" "$@"
if diff -r -q "$out" "$tmp/spec"; then
    echo "spec-fixtures: fixtures in $out are up to date"
else
    echo "spec-fixtures: fixtures in $out differ from a fresh generation (see above);" \
         "regenerate with tools/spec-fixtures/run.sh" >&2
    exit 1
fi
