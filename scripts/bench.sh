#!/usr/bin/env bash
# Builds valwatch in release mode, runs the benchmarks of BENCHMARKS.md and prints one
# `name=value` line per figure on stdout (progress and criterion's own output go to stderr).
#
#   scripts/bench.sh            # everything, a few minutes on 2 cores
#   E2E_RUNS=5 scripts/bench.sh # more end-to-end repetitions (median reported)
#   BENCH_ONLY=exporter scripts/bench.sh  # only the exporter: its pipeline, memory and time (about 1 min)
#
# Respects CARGO_TARGET_DIR (default: ./target). Needs /usr/bin/time (GNU time) for the
# end-to-end figures.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
CRITERION_DIR="$TARGET_DIR/criterion"
E2E_RUNS="${E2E_RUNS:-3}"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "bench.sh: $*" >&2; }

log "building (release)"
cargo build --release --quiet -p valwatch -p valwatch-benches --bins >&2
ONLY="${BENCH_ONLY:-all}"
if [ "$ONLY" = all ]; then
log "criterion benches (ethereum, cosmos, metrics)"
cargo bench --quiet -p valwatch-benches --bench ethereum --bench cosmos --bench metrics \
    -- --noplot >&2

# median point estimate (ns) and its 95% interval from criterion's estimates.json
estimate() {
    local file="$CRITERION_DIR/$1/new/estimates.json"
    [ -f "$file" ] || { echo "missing $file" >&2; return 1; }
    # (criterion writes no final newline; `read` needs one)
    printf '%s\n' "$(sed -E 's/.*"median":\{"confidence_interval":\{"confidence_level":[0-9.]+,"lower_bound":([0-9.e+-]+),"upper_bound":([0-9.e+-]+)\},"point_estimate":([0-9.e+-]+).*/\3 \1 \2/' "$file")"
}
# figure NAME BENCH UNIT_DIVISOR DECIMALS: prints NAME=median and NAME_ci95=lo..hi
figure() {
    local name=$1 bench=$2 div=$3 dec=$4
    read -r med lo hi < <(estimate "$bench")
    awk -v n="$name" -v m="$med" -v l="$lo" -v h="$hi" -v d="$div" -v p="$dec" \
        'BEGIN { printf "%s=%.*f\n%s_ci95=%.*f..%.*f\n", n, p, m/d, n, p, l/d, p, h/d }'
}

figure epoch_analysis_ms epoch/analyse_extract_all 1e6 3
figure epoch_analysis_only_ms epoch/analyse 1e6 3
figure epoch_analysis_16k_ms epoch/analyse_extract_16k 1e6 3
figure epoch_baseline_ms epoch/baseline_sum 1e6 3
figure epoch_decode_ms epoch/decode 1e6 2
figure epoch_decode_committees_ms epoch/decode_committees 1e6 2
figure epoch_decode_blocks_ms epoch/decode_blocks 1e6 2
figure epoch_decode_analyse_ms epoch/decode_analyse 1e6 2
figure metrics_encode_ms_10k_series metrics/encode_10k_validators 1e6 2
figure cosmos_height_us_180 cosmos_height/judge_180_cosmoshub 1e3 3
figure cosmos_height_us_500 cosmos_height/judge_500_generated 1e3 3
read -r a _ _ < <(estimate epoch/analyse_extract_all)
read -r b _ _ < <(estimate epoch/baseline_sum)
awk -v a="$a" -v b="$b" 'BEGIN { printf "epoch_analysis_vs_baseline=%.1f\n", a/b }'

fi

log "fixture server: a generated mainnet-scale epoch"
"$TARGET_DIR/release/fixture-server" --keys-file "$WORK/keys.json" --keys 16000 \
    > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 600); do
    grep -q '^listening' "$WORK/server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; exit 1; }
    sleep 0.1
done
read -r _ URL _ EPOCH < "$WORK/server.out"
cat "$WORK/server.err" >&2
# The exporter's per-epoch pipeline in its steady state: HTTP -> decode -> analyse -> record
# -> publish for all 1,048,576 validators, the validator set already built (epoch-pipeline).
log "end to end: the exporter's pipeline for one epoch (epoch-pipeline, 10 runs)"
"$TARGET_DIR/release/epoch-pipeline" "$URL" "$EPOCH" 10 > "$WORK/pipeline.txt"
cat "$WORK/pipeline.txt" >&2
sed -nE 's/^cpu_ms min [0-9.]+ median ([0-9.]+); wall_ms min [0-9.]+ median ([0-9.]+); peak_rss_mb ([0-9.]+)$/epoch_e2e_cpu_ms=\1\nepoch_e2e_ms=\2\nepoch_e2e_pipeline_rss_mb=\3/p' \
    "$WORK/pipeline.txt"
sed -nE 's/^set grown by 16 activated validators: cpu_ms ([0-9.]+).*/epoch_set_growth_cpu_ms=\1/p' \
    "$WORK/pipeline.txt"

if [ "$ONLY" = all ]; then
log "one-shot command: valwatch ethereum analyze ($E2E_RUNS runs)"
# analyze_run FILE ARGS...: one analyze run under /usr/bin/time, appends "wall_ms cpu_ms rss_mb"
analyze_run() {
    local out=$1; shift
    /usr/bin/time -v -o "$WORK/time.txt" "$TARGET_DIR/release/valwatch" ethereum analyze \
        --beacon "$URL" --epoch "$EPOCH" --format json "$@" > "$WORK/report.json"
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, t, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + t[i] }
        /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
        END { printf "%.0f %.0f %.1f\n", w * 1000, (u + s) * 1000, r / 1024 }' \
        "$WORK/time.txt" >> "$out"
}
median_of() { # FILE COLUMN
    sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}
: > "$WORK/analyze.txt"
for i in $(seq 1 "$E2E_RUNS"); do
    analyze_run "$WORK/analyze.txt"
    log "all validators run $i: wall_ms cpu_ms rss_mb = $(tail -1 "$WORK/analyze.txt")"
done
echo "analyze_all_report_mb=$(awk -v b="$(stat -c %s "$WORK/report.json")" 'BEGIN { printf "%.0f", b / 1e6 }')"
echo "analyze_all_ms=$(median_of "$WORK/analyze.txt" 1)"
echo "analyze_all_cpu_ms=$(median_of "$WORK/analyze.txt" 2)"
echo "analyze_all_rss_mb=$(median_of "$WORK/analyze.txt" 3)"
: > "$WORK/analyze16k.txt"
for i in $(seq 1 "$E2E_RUNS"); do
    analyze_run "$WORK/analyze16k.txt" --keys "$WORK/keys.json"
    log "16k keys run $i: wall_ms cpu_ms rss_mb = $(tail -1 "$WORK/analyze16k.txt")"
done
echo "analyze_16k_keys_ms=$(median_of "$WORK/analyze16k.txt" 1)"
echo "analyze_16k_keys_cpu_ms=$(median_of "$WORK/analyze16k.txt" 2)"
echo "analyze_16k_keys_rss_mb=$(median_of "$WORK/analyze16k.txt" 3)"

fi

# The exporter: `valwatch run` watching all 1,048,576 validators (watch_all, label aggregates
# only), finalized mode; peak RSS (VmHWM) once the epoch is judged.
log "exporter: valwatch run with watch_all until epoch $EPOCH is judged"
mkdir -p "$WORK/state"
cat > "$WORK/run.toml" <<TOML
[server]
listen = "127.0.0.1:0"
state_dir = "$WORK/state"

[[ethereum]]
name = "bench"
beacon = ["$URL"]
watch_all = true
mode = "finalized"
TOML
/usr/bin/time -v -o "$WORK/run-time.txt" "$TARGET_DIR/release/valwatch" --log-format json run \
    --config "$WORK/run.toml" > "$WORK/run.log" 2>&1 &
TIME_PID=$!
RUN_PID=""
for _ in $(seq 1 100); do
    RUN_PID=$(pgrep -P "$TIME_PID" -x valwatch || true)
    [ -n "$RUN_PID" ] && break
    sleep 0.1
done
JUDGED=""
for _ in $(seq 1 1200); do
    if grep -q "epoch judged" "$WORK/run.log"; then JUDGED=1; break; fi
    kill -0 "$RUN_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -n "$JUDGED" ]; then
    # CPU time of the whole process so far: start-up, key set-up, HTTP, decoding, analysis,
    # recording and publishing the metrics of the one epoch (it idles once the epoch is judged).
    awk -v hz="$(getconf CLK_TCK)" '{ printf "exporter_cpu_ms_first_epoch=%.0f\n", ($14 + $15) * 1000 / hz }' \
        "/proc/$RUN_PID/stat"
    sleep 1 # let the tracker publish
    awk '/VmHWM/ { printf "exporter_rss_mb_watch_all=%.1f\n", $2 / 1024 }
         /VmRSS/ { printf "exporter_rss_now_mb_watch_all=%.1f\n", $2 / 1024 }' "/proc/$RUN_PID/status"
    grep "epoch judged" "$WORK/run.log" | sed -nE 's/.*"seconds":([0-9.]+).*/exporter_epoch_judge_s=\1/p' | head -1
else
    log "the exporter did not judge the epoch; its log:"; tail -5 "$WORK/run.log" >&2
fi
# SIGTERM: valwatch saves its state and exits; the peak below includes that save.
kill -TERM "$RUN_PID" 2>/dev/null || true
wait "$TIME_PID" 2>/dev/null || true
# The exporter's peak over its whole run (start-up, key set-up, judging, shutdown save): the
# memory figure of the end-to-end target.
awk -F': ' '/Maximum resident/ { printf "exporter_peak_rss_mb_incl_shutdown_save=%.1f\nepoch_e2e_rss_mb=%.1f\n", $2 / 1024, $2 / 1024 }' "$WORK/run-time.txt"
echo "exporter_state_file_mb=$(du -m "$WORK/state"/*.state 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')"

# A restart on that state: the million windows are read back (and, with nothing new to judge,
# kept and saved again until the set is complete). Peak RSS until it has resumed and saved.
log "exporter: restart on the saved state"
state_bytes=$(stat -c %s "$WORK/state"/*.state)
/usr/bin/time -v -o "$WORK/restart-time.txt" "$TARGET_DIR/release/valwatch" --log-format json \
    run --config "$WORK/run.toml" > "$WORK/restart.log" 2>&1 &
TIME_PID=$!
RUN_PID=""
for _ in $(seq 1 100); do
    RUN_PID=$(pgrep -P "$TIME_PID" -x valwatch || true)
    [ -n "$RUN_PID" ] && break
    sleep 0.1
done
for _ in $(seq 1 600); do
    grep -q "resuming after the last judged epoch" "$WORK/restart.log" && break
    kill -0 "$RUN_PID" 2>/dev/null || break
    sleep 0.1
done
sleep 1
kill -TERM "$RUN_PID" 2>/dev/null || true
wait "$TIME_PID" 2>/dev/null || true
grep -q "state restored" "$WORK/restart.log" || log "the restarted exporter did not restore its state"
awk -F': ' '/Maximum resident/ { printf "exporter_restart_peak_rss_mb=%.1f\n", $2 / 1024 }' "$WORK/restart-time.txt"
echo "exporter_state_file_kept=$([ "$(stat -c %s "$WORK/state"/*.state)" = "$state_bytes" ] && echo yes || echo no)"

