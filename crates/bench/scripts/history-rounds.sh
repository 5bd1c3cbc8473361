#!/bin/bash
# What storing history costs the relay: `saturate` with history off and on, in interleaved
# rounds, each round's on/off ratio and the median of them, the storage thread's CPU per line,
# and the host's steal per cell; then how long the full-text index takes to catch up after a
# window of the burst, and what storing a line cost in all (indexing included).
#
#   crates/bench/scripts/history-rounds.sh [ROUNDS] [OUT]
#
# ROUNDS (default 7, at most 20); OUT (default history-rounds/) gets one JSON report per cell
# and the table as table.txt. DURATION and WARMUP (default 10s and 2s) set the windows.
# PREVIOUS=path/to/an/older/reactor-chat adds it with history on as a third column (prev-on),
# measured in the same rounds. Every server is started fresh by the bench for its cell (a new
# data directory), on 127.0.0.1 only; the catch-up run uses port PORT (default 17100). Each run
# is bounded (`timeout`). Needs jq.
set -u
cd "$(dirname "$0")/../../.."
ROUNDS=${1:-7}
OUT=${2:-history-rounds}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PORT=${PORT:-17100}
PREVIOUS=${PREVIOUS:-}
B=target/release/reactor-chat-bench
S=target/release/reactor-chat
TARGETS="off on${PREVIOUS:+ prev-on}"

. crates/bench/scripts/rounds-common.sh
rounds_setup history-rounds.sh

cell() { # ROUND TARGET: one bench run, its JSON report in OUT
  local round=$1 target=$2 bin=$S args=()
  case $target in
    off) args=(--server-arg=--no-history) ;;
    prev-on) bin=$PREVIOUS ;;
  esac
  timeout 120 "$B" --preset saturate --duration "$DURATION" --warmup "$WARMUP" --json \
    --spawn-server "$bin" "${args[@]}" > "$OUT/r$round-$target.json" 2> "$OUT/r$round-$target.err"
}

for round in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do
    cell "$round" "$target" || echo "round $round $target failed: $(tail -1 "$OUT/r$round-$target.err")" >&2
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { jq -r "$2 // empty" "$1" 2> /dev/null; }

{
  printf '%-6s' round
  for target in $TARGETS; do printf ' %16s' "$target M/s (steal)"; done
  printf ' %8s %10s %8s %10s' ratio "us/line" "cpu %" unindexed
  [ -n "$PREVIOUS" ] && printf ' %10s %9s' prev-ratio "prev us/l"
  echo
  for round in $(seq 1 "$ROUNDS"); do
    printf '%-6s' "$round"
    for target in $TARGETS; do
      f=$OUT/r$round-$target.json
      rate=$(field "$f" '.delivered_per_sec')
      steal=$(field "$f" '.host_steal_pct')
      lost=$(field "$f" '.lost')
      if [ -n "$rate" ]; then
        printf ' %9.2f (%4.1f%%)' "$(echo "$rate / 1000000" | bc -l)" "${steal:-0}"
        [ "${lost:-0}" != 0 ] && printf ' LOST %s' "$lost"
      else
        printf ' %16s' failed
      fi
    done
    off=$(field "$OUT/r$round-off.json" '.delivered_per_sec')
    on=$(field "$OUT/r$round-on.json" '.delivered_per_sec')
    ratio=-
    [ -n "$off" ] && [ -n "$on" ] && ratio=$(echo "$on / $off" | bc -l | xargs printf '%.3f')
    echo "$ratio" >> "$OUT/ratios"
    printf ' %8s %10s %8s %10s' "$ratio" \
      "$(field "$OUT/r$round-on.json" '.history.us_per_line' | xargs -r printf '%.2f')" \
      "$(field "$OUT/r$round-on.json" '.history.cpu_pct' | xargs -r printf '%.0f')" \
      "$(field "$OUT/r$round-on.json" '.history.unindexed_at_end')"
    if [ -n "$PREVIOUS" ]; then
      prev=$(field "$OUT/r$round-prev-on.json" '.delivered_per_sec')
      pct=$(field "$OUT/r$round-prev-on.json" '.storage_thread_cpu_pct')
      pr=- pus=-
      [ -n "$off" ] && [ -n "$prev" ] && pr=$(echo "$prev / $off" | bc -l | xargs printf '%.3f')
      # Its storage thread's CPU per line: saturate's 100 clients share one room, so every
      # line is delivered 99 times (an older build has no history counters on /metrics).
      [ -n "$prev" ] && [ -n "$pct" ] && pus=$(echo "$pct / 100 / ($prev / 99) * 1000000" | bc -l | xargs printf '%.2f')
      echo "$pr" >> "$OUT/prev-ratios"
      printf ' %10s %9s' "$pr" "$pus"
    fi
    echo
  done
  printf 'median'
  for target in $TARGETS; do
    m=$(for round in $(seq 1 "$ROUNDS"); do field "$OUT/r$round-$target.json" '.delivered_per_sec'; done | median)
    [ "$m" = - ] && printf ' %16s' - || printf ' %16.2f' "$(echo "$m / 1000000" | bc -l)"
  done
  printf ' %8s' "$(grep -v '^-' "$OUT/ratios" | median)"
  [ -n "$PREVIOUS" ] && printf ' %41s' "$(grep -v '^-' "$OUT/prev-ratios" | median)"
  echo
} | tee "$OUT/table.txt"
rm -f "$OUT/ratios" "$OUT/prev-ratios"

# Catch-up: one window of the burst against a server kept running, then the full-text index
# catching up once the burst is over; the storage thread's CPU over everything, per line.
metric() { # NAME: its value on the catch-up server's /metrics
  exec 3<> "/dev/tcp/127.0.0.1/$PORT" || return 1
  printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  awk -v name="$1" '$1 == name { print $2 }' <&3
  exec 3>&-
}
DATA=$(mktemp -d)
"$S" --bind "127.0.0.1:$PORT" --rate 0 --max-clients 300 --log-level warn --data-dir "$DATA" \
  > "$OUT/catch-up-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2> /dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 50); do metric reactor_chat_history_stored_lines_total > /dev/null 2>&1 && break; sleep 0.2; done
timeout 120 "$B" --preset saturate --duration "$DURATION" --warmup "$WARMUP" --json \
  --addr "127.0.0.1:$PORT" --server-pid "$SERVER" > "$OUT/catch-up.json" 2> /dev/null
start=$(date +%s.%N)
left=$(metric reactor_chat_history_unindexed_lines)
for _ in $(seq 600); do
  left=$(metric reactor_chat_history_unindexed_lines)
  [ "${left:-1}" = 0 ] && break
  sleep 0.1
done
end=$(date +%s.%N)
stored=$(metric reactor_chat_history_stored_lines_total)
cpu=$(metric reactor_chat_history_cpu_seconds_total)
{
  echo
  echo "catch-up: $(field "$OUT/catch-up.json" '.history.unindexed_at_end') lines waiting for the index at the window's end, indexed $(echo "$end - $start" | bc -l | xargs printf '%.1f') s later (${left:-?} left)"
  echo "in all: $stored lines stored, storage thread $(printf '%.2f' "$cpu") s of CPU, $(echo "$cpu * 1000000 / $stored" | bc -l | xargs printf '%.2f') us a line, indexing included"
} | tee -a "$OUT/table.txt"
