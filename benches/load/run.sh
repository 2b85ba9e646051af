#!/usr/bin/env bash
# Load comparison in one run, on one mock upstream:
#   wrk -> mock                      (reference: what the upstream alone does)
#   wrk -> bare Pingora hop -> mock  (benches/bare_hop.rs, the yardstick of BASELINE.md)
#   wrk -> Switchyard -> mock        (auth, body parse, model rewrite, pooled connector)
# for non-stream and stream chat completions. Per row: req/s, p50/p90/p99, non-2xx, socket
# errors, CPU µs per request of the proxy (and of the mock), peak RSS, upstream connections.
# Only ratios measured in the same run mean anything (BASELINE.md: rows drift up to 45%
# between runs on these shared machines).
#
# Usage: benches/load/run.sh          (from anywhere; env knobs below)
#   DURATION=10s  measured run per row      WARMUP=3s   warm-up run per row (not measured)
#   CONNS=32      wrk connections           THREADS=2   wrk threads
#   SKIP_BUILD=1  use the existing release binaries
# Writes bench-results/load-<UTC timestamp>.md (table) and .wrk.txt (raw wrk output).
# Exit status 3 when a measured row had non-2xx answers or socket errors (they are flagged).
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
SKIP_BUILD=${SKIP_BUILD:-0}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SY_BIN=$TARGET_DIR/release/switchyard
BARE_BIN=$TARGET_DIR/release/examples/bare_hop
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[load] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

to_seconds() { # wrk duration (10s, 2m, 1h, 10) -> whole seconds
  local d=$1
  case $d in
    *s) echo "${d%s}" ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *h) echo $(( ${d%h} * 3600 )) ;;
    *) echo "$d" ;;
  esac
}
DURATION_S=$(to_seconds "$DURATION")
WARMUP_S=$(to_seconds "$WARMUP")
[[ $DURATION_S =~ ^[0-9]+$ && $DURATION_S -gt 0 ]] || die "DURATION must be like 10s, 1m (got $DURATION)"
[[ $WARMUP_S =~ ^[0-9]+$ ]] || die "WARMUP must be like 3s (got $WARMUP)"

# ---- tools ---------------------------------------------------------------------------------
for tool in curl ss timeout awk; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  log "installing wrk"
  $SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
fi

if [[ $SKIP_BUILD != 1 ]]; then
  log "building release binaries (cargo may wait for its lock)"
  (cd "$ROOT" && cargo build --release --bin switchyard --example bare_hop)
fi
[[ -x $SY_BIN ]] || die "missing $SY_BIN"
[[ -x $BARE_BIN ]] || die "missing $BARE_BIN"

# ---- processes and clean-up ----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-load.XXXXXX")
PIDS=()
cleanup() {
  local rc=$? pid i
  trap - EXIT
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

USED_PORTS=" "
free_port() { # sets PORT to a free loopback port below the ephemeral range
  local p
  for _ in $(seq 500); do
    p=$(( 20000 + RANDOM % 12000 ))
    [[ $USED_PORTS == *" $p "* ]] && continue
    if [[ -z $(ss -Htan "( sport = :$p )") ]]; then
      USED_PORTS+="$p "
      PORT=$p
      return 0
    fi
  done
  die "no free loopback port found"
}
free_port; MOCK_PORT=$PORT
free_port; SY_PORT=$PORT
free_port; SY_ADMIN_PORT=$PORT
free_port; BARE_PORT=$PORT

cat >"$WORK/switchyard.yaml" <<EOF
listen: 127.0.0.1:$SY_PORT
admin: { listen: 127.0.0.1:$SY_ADMIN_PORT }
server: { threads: 2, grace_period_seconds: 1, graceful_shutdown_timeout_seconds: 1 }
providers:
  - { name: mock, protocol: openai, base_url: "http://127.0.0.1:$MOCK_PORT/v1", api_key: "k", timeouts: { connect: 2s, first_byte: 30s, idle: 30s } }
models:
  - { id: bench-model, channels: [ { provider: mock, model: mock-model } ] }
keys:
  - { name: bench, key: "sk-bench" }
EOF

# RUST_LOG=warn: no per-request access-log line, so logging does not dominate the measurement.
RUST_LOG=warn "$SY_BIN" mock --listen "127.0.0.1:$MOCK_PORT" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!; PIDS+=("$MOCK_PID")
RUST_LOG=warn "$SY_BIN" run -c "$WORK/switchyard.yaml" >"$WORK/switchyard.log" 2>&1 &
SY_PID=$!; PIDS+=("$SY_PID")
"$BARE_BIN" "127.0.0.1:$BARE_PORT" "127.0.0.1:$MOCK_PORT" >"$WORK/bare.log" 2>&1 &
BARE_PID=$!; PIDS+=("$BARE_PID")

URL_MOCK=http://127.0.0.1:$MOCK_PORT/v1/chat/completions
URL_SY=http://127.0.0.1:$SY_PORT/v1/chat/completions
URL_BARE=http://127.0.0.1:$BARE_PORT/v1/chat/completions
AUTH="Authorization: Bearer sk-bench"
CHECK_BODY='{"model":"bench-model","messages":[{"role":"user","content":"hello load test"}]}'
CHECK_STREAM_BODY='{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hello load test"}]}'

post() { # url body outfile -> prints the HTTP status
  curl -sS --max-time 5 -o "$3" -w '%{http_code}' -X POST -H "$AUTH" \
    -H 'Content-Type: application/json' --data "$2" "$1" 2>/dev/null || echo 000
}

wait_ready() { # name pid logfile url
  local i
  for i in $(seq 150); do
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; die "$1 exited during start-up"; }
    [[ $(post "$4" "$CHECK_BODY" /dev/null) == 200 ]] && return 0
    sleep 0.1
  done
  cat "$3" >&2
  die "$1 did not answer 200 within 15 s"
}
wait_ready mock "$MOCK_PID" "$WORK/mock.log" "$URL_MOCK"
wait_ready switchyard "$SY_PID" "$WORK/switchyard.log" "$URL_SY"
wait_ready bare_hop "$BARE_PID" "$WORK/bare.log" "$URL_BARE"

# One correct answer of each kind through each target before loading it.
for target in mock sy bare; do
  url_var=URL_${target^^}
  url=${!url_var}
  code=$(post "$url" "$CHECK_BODY" "$WORK/check.json")
  [[ $code == 200 ]] && grep -q '"choices"' "$WORK/check.json" \
    || { cat "$WORK/check.json" >&2; die "$target: non-stream check failed (HTTP $code)"; }
  code=$(post "$url" "$CHECK_STREAM_BODY" "$WORK/check.sse")
  [[ $code == 200 ]] && grep -q '^data: \[DONE\]' "$WORK/check.sse" \
    || { cat "$WORK/check.sse" >&2; die "$target: stream check failed (HTTP $code)"; }
done
log "all three targets answer; mock :$MOCK_PORT, switchyard :$SY_PORT, bare hop :$BARE_PORT"

# ---- measurement ---------------------------------------------------------------------------
cpu_ticks() { # pid -> utime+stime (all threads) in clock ticks
  local s
  s=$(<"/proc/$1/stat")
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo $(( ${12} + ${13} ))
}
peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
active_opens() { # system-wide count of TCP connect()s (this network namespace)
  awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "ActiveOpens") c = i; h = 1 } else print $c }' /proc/net/snmp
}
upstream_established() { # pid -> its established connections to the mock
  ss -Htnp state established "( dport = :$MOCK_PORT )" | grep -c "pid=$1," || true
}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT_DIR=$ROOT/bench-results
mkdir -p "$OUT_DIR"
OUT_MD=$OUT_DIR/load-$STAMP.md
OUT_RAW=$OUT_DIR/load-$STAMP.wrk.txt
: >"$OUT_RAW"

declare -A R   # R[mode.target.field]
FLAGGED=""

run_row() { # mode target url pid(empty for the mock row)
  local mode=$1 target=$2 url=$3 pid=$4 script k v
  script=$HERE/post.lua
  [[ $mode == stream ]] && script=$HERE/stream.lua
  log "$mode / $target: warm-up $WARMUP, then $DURATION"
  if [[ $WARMUP_S -gt 0 ]]; then
    timeout $(( WARMUP_S + 30 )) wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" --timeout 10s \
      -s "$script" "$url" >"$WORK/warm.txt" 2>&1 || { cat "$WORK/warm.txt" >&2; die "warm-up failed"; }
  fi
  local cpu0=0 cpu1=0 mcpu0 mcpu1 opens0 opens1 sampler
  [[ -n $pid ]] && cpu0=$(cpu_ticks "$pid")
  mcpu0=$(cpu_ticks "$MOCK_PID")
  opens0=$(active_opens)
  # Upstream connections open half-way through the run (pool size, or churn if it is large).
  echo "—" >"$WORK/estab"
  [[ -n $pid ]] && ( sleep $(( (DURATION_S + 1) / 2 )); upstream_established "$pid" >"$WORK/estab" ) &
  sampler=$!
  timeout $(( DURATION_S + 30 )) wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s --latency \
    -s "$script" "$url" >"$WORK/row.txt" 2>&1 || { cat "$WORK/row.txt" >&2; die "wrk failed"; }
  opens1=$(active_opens)
  [[ -n $pid ]] && cpu1=$(cpu_ticks "$pid")
  mcpu1=$(cpu_ticks "$MOCK_PID")
  wait "$sampler" || true
  { echo "===== $mode / $target ($url)"; cat "$WORK/row.txt"; echo; } >>"$OUT_RAW"

  local line
  line=$(grep '^RESULT ' "$WORK/row.txt") || { cat "$WORK/row.txt" >&2; die "no RESULT line from wrk"; }
  for kv in ${line#RESULT }; do
    k=${kv%%=*}; v=${kv#*=}
    R[$mode.$target.$k]=$v
  done
  local p=$mode.$target
  R[$p.cpu_us]=$(( (cpu1 - cpu0) * 1000000 / CLK_TCK ))
  R[$p.mock_cpu_us]=$(( (mcpu1 - mcpu0) * 1000000 / CLK_TCK ))
  R[$p.extra_connects]=$(( opens1 - opens0 - CONNS ))
  R[$p.estab]=$(<"$WORK/estab")
  R[$p.rss_kib]=""
  [[ -n $pid ]] && R[$p.rss_kib]=$(peak_rss_kib "$pid")
  local sock=$(( ${R[$p.connect]} + ${R[$p.read]} + ${R[$p.write]} + ${R[$p.timeout]} ))
  R[$p.sock]=$sock
  if (( ${R[$p.status_errors]} > 0 || sock > 0 )); then
    FLAGGED+="$mode/$target: ${R[$p.status_errors]} non-2xx, socket errors connect ${R[$p.connect]} read ${R[$p.read]} write ${R[$p.write]} timeout ${R[$p.timeout]}"$'\n'
  fi
  if ! kill -0 "$MOCK_PID" 2>/dev/null || { [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; }; then
    die "a process died during $mode/$target"
  fi
}

TARGETS=(mock bare sy)
declare -A TURL=([mock]=$URL_MOCK [bare]=$URL_BARE [sy]=$URL_SY)
declare -A TPID=([mock]="" [bare]=$BARE_PID [sy]=$SY_PID)
declare -A TNAME=([mock]="mock directly (reference)" [bare]="bare Pingora hop" [sy]="Switchyard")
for mode in nonstream stream; do
  for t in "${TARGETS[@]}"; do
    run_row "$mode" "$t" "${TURL[$t]}" "${TPID[$t]}"
  done
done

# ---- report --------------------------------------------------------------------------------
fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, x }'; }
ms() { awk -v x="$1" 'BEGIN { printf "%.2f", x / 1000 }'; }
rps() { awk -v n="${R[$1.requests]}" -v us="${R[$1.duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }'; }
per_req() { awk -v c="$2" -v n="${R[$1.requests]}" 'BEGIN { if (n > 0) printf "%.1f", c / n; else printf "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

{
  echo "# Switchyard load comparison, $STAMP"
  echo
  echo "Commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && echo ' (dirty tree)'),"
  echo "\`wrk -t$THREADS -c$CONNS -d$DURATION --latency\` after a $WARMUP warm-up per row, $(nproc) cores shared by wrk,"
  echo "the mock and the proxy; one \`switchyard mock\` upstream for every row; Switchyard and the bare hop"
  echo "run 2 threads each; Switchyard with RUST_LOG=warn (no access-log lines). CPU = user+sys of the"
  echo "process from /proc/PID/stat over the measured run (tick ${CLK_TCK} Hz), per completed request."
  echo "Upstream conns = the proxy's established connections to the mock half-way through the run"
  echo "(its pool); extra connects = TCP connect()s during the run beyond wrk's $CONNS, system-wide (so an"
  echo "upper bound on new upstream connections: thousands here would mean no pooling)."
  echo
  for mode in nonstream stream; do
    [[ $mode == nonstream ]] && echo "## Non-stream (JSON)" || echo "## Stream (SSE)"
    echo
    echo "| target | req/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | proxy CPU µs/req | mock CPU µs/req | proxy peak RSS MiB | upstream conns | extra connects | bytes/resp |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for t in "${TARGETS[@]}"; do
      p=$mode.$t
      flag=""
      (( ${R[$p.status_errors]} > 0 || ${R[$p.sock]} > 0 )) && flag=" ⚠ ERRORS"
      cpu="—"; rss="—"
      if [[ $t != mock ]]; then
        cpu=$(per_req "$p" "${R[$p.cpu_us]}")
        rss=$(fmt "$(awk -v k="${R[$p.rss_kib]}" 'BEGIN { print k / 1024 }')" 1)
      fi
      echo "| ${TNAME[$t]}$flag | $(rps "$p") | $(ms "${R[$p.p50_us]}") | $(ms "${R[$p.p90_us]}") | $(ms "${R[$p.p99_us]}") | ${R[$p.status_errors]} | ${R[$p.sock]} (c${R[$p.connect]}/r${R[$p.read]}/w${R[$p.write]}/t${R[$p.timeout]}) | $cpu | $(per_req "$p" "${R[$p.mock_cpu_us]}") | $rss | ${R[$p.estab]} | ${R[$p.extra_connects]} | $(awk -v b="${R[$p.bytes]}" -v n="${R[$p.requests]}" 'BEGIN { if (n > 0) printf "%.0f", b / n; else printf "-" }') |"
    done
    echo
  done
  echo "## Ratios (same run)"
  echo
  echo "| | non-stream | stream |"
  echo "|---|---|---|"
  row() { # label expr-function
    printf '| %s | %s | %s |\n' "$1" "$($2 nonstream)" "$($2 stream)"
  }
  thr_sy_bare() { ratio "$(rps "$1.sy")" "$(rps "$1.bare")"; }
  cpu_sy_bare() { ratio "$(per_req "$1.sy" "${R[$1.sy.cpu_us]}")" "$(per_req "$1.bare" "${R[$1.bare.cpu_us]}")"; }
  p50_sy_bare() { ratio "${R[$1.sy.p50_us]}" "${R[$1.bare.p50_us]}"; }
  p99_sy_bare() { ratio "${R[$1.sy.p99_us]}" "${R[$1.bare.p99_us]}"; }
  thr_sy_mock() { ratio "$(rps "$1.sy")" "$(rps "$1.mock")"; }
  thr_bare_mock() { ratio "$(rps "$1.bare")" "$(rps "$1.mock")"; }
  row "throughput Switchyard / bare hop" thr_sy_bare
  row "CPU µs per request Switchyard / bare hop" cpu_sy_bare
  row "p50 latency Switchyard / bare hop" p50_sy_bare
  row "p99 latency Switchyard / bare hop" p99_sy_bare
  row "throughput Switchyard / mock directly" thr_sy_mock
  row "throughput bare hop / mock directly" thr_bare_mock
  echo
  if [[ -n $FLAGGED ]]; then
    echo "**FLAGGED: rows with errors — do not trust their figures:**"
    echo
    printf '%s' "$FLAGGED" | sed 's/^/- /'
  else
    echo "No non-2xx answers and no socket errors in any measured row."
  fi
  echo
  echo "Raw wrk output: \`$(basename "$OUT_RAW")\`."
} >"$OUT_MD"

cat "$OUT_MD"
log "written $OUT_MD"
if [[ -n $FLAGGED ]]; then
  log "some rows had errors (see FLAGGED above)"
  exit 3
fi
