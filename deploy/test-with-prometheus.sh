#!/usr/bin/env bash
# Runs a real Prometheus (Debian's package) against a running valwatch, on 127.0.0.1 only, and
# checks that Prometheus ingests valwatch's OpenMetrics exposition (target up, no scrape
# error), that the shipped alerting rules load and evaluate, and that every query of the
# shipped Grafana dashboard parses and evaluates.
#   deploy/test-with-prometheus.sh [path/to/valwatch]   (default: target/debug/valwatch)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
binary="${1:-$repo/target/debug/valwatch}"
[ -x "$binary" ] || { echo "no valwatch binary at $binary (build it with cargo build -p valwatch)" >&2; exit 1; }
command -v prometheus >/dev/null 2>&1 || bash "$repo/deploy/prometheus/test.sh" >/dev/null
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
vw_port=$(free_port); prom_port=$(free_port)

"$binary" run --config "$repo/examples/valwatch.toml" --listen "127.0.0.1:$vw_port" \
  --state-dir "$work/state" 2> "$work/valwatch.log" &
pids+=($!)
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $repo/deploy/prometheus/valwatch-alerts.yml
scrape_configs:
  - job_name: valwatch
    static_configs:
      - targets: ["127.0.0.1:$vw_port"]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
pids+=($!)
api="http://127.0.0.1:$prom_port/api/v1"

deadline=$((SECONDS + 60))
until curl -sf "$api/targets" 2>/dev/null | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
ok = targets and all(t["health"] == "up" and not t["lastError"] for t in targets)
sys.exit(0 if ok else 1)' 2>/dev/null; do
  if [ $SECONDS -gt $deadline ]; then
    echo "Prometheus did not scrape valwatch successfully:" >&2
    curl -s "$api/targets" >&2 || true; tail -20 "$work/prometheus.log" >&2; tail -20 "$work/valwatch.log" >&2
    exit 1
  fi
  sleep 1
done
echo "Prometheus scrapes valwatch: target up, no scrape error"
sleep 3

python3 - "$api" "$repo/deploy/grafana/valwatch-overview.json" <<'PY'
import json, sys, urllib.parse, urllib.request
api, dashboard = sys.argv[1], sys.argv[2]
def query(expr):
    url = f"{api}/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)
failures = 0
panels = json.load(open(dashboard))["panels"]
for panel in panels:
    for target in panel["targets"]:
        expr = target["expr"].replace("$chain", ".*").replace("$group", ".*")
        answer = query(expr)
        if answer.get("status") != "success":
            failures += 1
            print(f"panel {panel['title']!r}: {answer}", file=sys.stderr)
must_have = ["valwatch_endpoint_up", "valwatch_chain_ready", "valwatch_build_info"]
for name in must_have:
    if not query(name)["data"]["result"]:
        failures += 1
        print(f"no series for {name}", file=sys.stderr)
with urllib.request.urlopen(f"{api}/rules", timeout=10) as r:
    groups = json.load(r)["data"]["groups"]
rules = [rule for g in groups for rule in g["rules"]]
bad = [r["name"] for r in rules if r.get("health") not in ("ok", "unknown")]
if not rules or bad:
    failures += 1
    print(f"rules loaded: {len(rules)}, unhealthy: {bad}", file=sys.stderr)
print(f"{sum(len(p['targets']) for p in panels)} dashboard queries evaluated, {len(rules)} rules healthy, {failures} failures")
sys.exit(1 if failures else 0)
PY
