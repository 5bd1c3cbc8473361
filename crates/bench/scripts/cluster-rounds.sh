#!/bin/bash
# What the cluster costs: one preset, side by side in interleaved rounds, with the same clients
# on one server, on two nodes of a cluster (clients split between their ports), and on two
# nodes sharing one port with --reuse-port; and, for room100, a room of 1,000 members on two
# nodes (100 of them sending) to show that Redis's work a message does not grow with members.
#
#   crates/bench/scripts/cluster-rounds.sh [ROUNDS] [OUT]
#
# NODES="1 2 4 8" instead runs the preset on that many nodes of one cluster each (clients split
# between them): how Redis's work and the servers' CPU a chat line grow with nodes.
#
# ROUNDS (default 5, at most 20); OUT (default cluster-rounds/) gets one JSON report per cell
# and the table as table.txt. PRESET (room100 or saturate, default room100), DURATION and
# WARMUP (default 10s and 2s) set the load. Every cell starts its own redis-server and servers
# on 127.0.0.1 ports from PORT (default 17400), with --no-history (nothing stored: the figures
# are the relay's and the bus's), and stops them after. Redis's CPU and its count of SPUBLISH
# calls are read before and after each run (the whole run, warm-up included, over the chat
# lines sent in it). Each run is bounded (`timeout`). Needs jq, redis-server and redis-cli.
set -u
cd "$(dirname "$0")/../../.."
ROUNDS=${1:-5}
OUT=${2:-cluster-rounds}
PRESET=${PRESET:-room100}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PORT=${PORT:-17400}
B=target/release/reactor-chat-bench
S=target/release/reactor-chat
NODES=${NODES:-}
CELLS="one two reuse"
[ "$PRESET" = room100 ] && CELLS="$CELLS two-1k"
[ -n "$NODES" ] && CELLS=$(for n in $NODES; do printf 'nodes-%s ' "$n"; done)

. crates/bench/scripts/rounds-common.sh
rounds_setup cluster-rounds.sh
for tool in redis-server redis-cli; do
  command -v $tool > /dev/null || { echo "cluster-rounds.sh needs $tool (apt-get install redis-server)" >&2; exit 2; }
done
TICK=$(getconf CLK_TCK)
REDIS_PORT=$((PORT + 9))
pids=()

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# SPUBLISH's calls and the microseconds Redis spent in them (delivery to subscribers included),
# by Redis's own count.
spublish_stats() { redis-cli -p "$REDIS_PORT" info commandstats | awk -F'[=,]' '/^cmdstat_spublish:/ { print $2, $4 }'; }
stop_all() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2> /dev/null; wait 2> /dev/null; pids=(); }
trap stop_all EXIT

start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning \
    --dir "$OUT" > /dev/null &
  pids+=($!)
  REDIS_PID=$!
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping 2> /dev/null | grep -q PONG && return; sleep 0.05; done
  echo "redis-server did not start" >&2; return 1
}

start_server() { # PORT FLAG...: a server on 127.0.0.1:PORT, its pid in SERVER_PID; its log
  local port=$1 log=$CELL_LOG-$1 # in OUT/rROUND-CELL-PORT.log
  shift
  "$S" --bind "127.0.0.1:$port" --ephemeral --no-history --rate 0 --max-clients 5000 \
    --log-level warn "$@" > "$log.out" 2> "$log.log" &
  SERVER_PID=$!
  pids+=($!)
  for _ in $(seq 200); do grep -q "listening on" "$log.out" 2> /dev/null && return; sleep 0.05; done
  echo "the server on port $port did not start: $(tail -1 "$log.log")" >&2; return 1
}

cell() { # ROUND CELL: the servers of the cell, one bench run, its JSON report in OUT
  local round=$1 cell=$2 targets=() load=() cluster=() f=$OUT/r$1-$2
  CELL_LOG=$f
  start_redis || return 1
  cluster=(--cluster "redis://127.0.0.1:$REDIS_PORT")
  case $cell in
    one)
      start_server "$PORT" || return 1
      targets=(--addr "127.0.0.1:$PORT" --server-pid "$SERVER_PID") ;;
    two | two-1k)
      start_server "$PORT" "${cluster[@]}" || return 1
      local first=$SERVER_PID
      start_server $((PORT + 1)) "${cluster[@]}" || return 1
      targets=(--addr "127.0.0.1:$PORT" --addr "127.0.0.1:$((PORT + 1))" --server-pid "$first" --server-pid "$SERVER_PID")
      [ "$cell" = two-1k ] && load=(--clients 1000 --senders 100) ;;
    reuse)
      start_server "$PORT" "${cluster[@]}" --reuse-port || return 1
      local first=$SERVER_PID
      start_server "$PORT" "${cluster[@]}" --reuse-port || return 1
      targets=(--addr "127.0.0.1:$PORT" --server-pid "$first" --server-pid "$SERVER_PID") ;;
    nodes-*)
      local n=${cell#nodes-} i
      for i in $(seq 0 $((n - 1))); do
        start_server $((PORT + i)) "${cluster[@]}" || return 1
        targets+=(--addr "127.0.0.1:$((PORT + i))" --server-pid "$SERVER_PID")
      done ;;
  esac
  local ticks0 stats0 ticks1 stats1
  ticks0=$(cpu_ticks "$REDIS_PID")
  stats0=$(spublish_stats)
  timeout 180 "$B" --preset "$PRESET" --duration "$DURATION" --warmup "$WARMUP" --json \
    "${targets[@]}" "${load[@]}" > "$f.json" 2> "$f.err"
  local status=$?
  ticks1=$(cpu_ticks "$REDIS_PID")
  stats1=$(spublish_stats)
  read -r calls0 usec0 <<< "${stats0:-0 0}"
  read -r calls1 usec1 <<< "${stats1:-0 0}"
  echo "$((ticks1 - ticks0)) $((calls1 - calls0)) $((usec1 - usec0))" > "$f.redis"
  stop_all
  return $status
}

for round in $(seq 1 "$ROUNDS"); do
  for c in $CELLS; do
    cell "$round" "$c" || echo "round $round $c failed: $(tail -1 "$OUT/r$round-$c.err" 2> /dev/null)" >&2
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { jq -r "$2 // empty" "$1" 2> /dev/null; }

{
  echo "preset $PRESET, $DURATION windows, --no-history; Redis figures over whole runs"
  printf '%-4s %-8s %10s %8s %8s %5s %6s %16s %8s %9s %9s %9s\n' round cell "deliv/s" p50_us p99_us lost steal% "server cpu %" "redis %" "us/spub" "cpu us/sp" "spub/line"
  for round in $(seq 1 "$ROUNDS"); do
    for c in $CELLS; do
      f=$OUT/r$round-$c.json
      rate=$(field "$f" '.delivered_per_sec')
      [ -z "$rate" ] && { printf '%-4s %-8s failed\n' "$round" "$c"; continue; }
      procs=$(field "$f" '[.server_processes[]?.cpu_pct | floor | tostring] | join("+")')
      [ -z "$procs" ] && procs=$(field "$f" '.server_cpu_pct | floor')
      read -r ticks calls usec < "$OUT/r$round-$c.redis"
      sent=$(field "$f" '.sent')
      # Redis's CPU during the run as a share of one core, over the run's length (warm-up,
      # window and connecting: about the window plus the warm-up).
      total=$(echo "${DURATION%s} + ${WARMUP%s}" | bc -l)
      redis_pct=$(echo "$ticks * 100 / $TICK / $total" | bc -l)
      # Per SPUBLISH: Redis's own time in the command, and its whole process's CPU (idle
      # housekeeping included, which dominates at low rates).
      per_msg=- cpu_per=-
      if [ "${calls:-0}" -gt 0 ]; then
        per_msg=$(echo "$usec / $calls" | bc -l | xargs printf '%.2f')
        cpu_per=$(echo "$ticks * 1000000 / $TICK / $calls" | bc -l | xargs printf '%.1f')
      fi
      # SPUBLISH calls a chat line sent (joins and departures are published too).
      per_line=-
      [ "${sent:-0}" -gt 0 ] && per_line=$(echo "$calls / $sent" | bc -l | xargs printf '%.2f')
      printf '%-4s %-8s %10.0f %8.0f %8.0f %5s %6.1f %16s %8.1f %9s %9s %9s\n' "$round" "$c" "$rate" \
        "$(field "$f" '.latency_us.p50')" "$(field "$f" '.latency_us.p99')" "$(field "$f" '.lost')" \
        "$(field "$f" '.host_steal_pct')" "$procs" "$redis_pct" "$per_msg" "$cpu_per" "$per_line"
      echo "$rate" >> "$OUT/rate-$c"
      field "$f" '.latency_us.p50' >> "$OUT/p50-$c"
      field "$f" '.latency_us.p99' >> "$OUT/p99-$c"
      echo "$per_msg" >> "$OUT/redis-us-$c"
    done
  done
  echo
  printf '%-8s %12s %10s %10s %14s\n' median "deliv/s" p50_us p99_us "redis us/spub"
  for c in $CELLS; do
    printf '%-8s %12.0f %10.0f %10.0f %14s\n' "$c" "$(median < "$OUT/rate-$c")" \
      "$(median < "$OUT/p50-$c")" "$(median < "$OUT/p99-$c")" "$(grep -v '^-$' "$OUT/redis-us-$c" | median)"
  done
} | tee "$OUT/table.txt"
rm -f "$OUT"/rate-* "$OUT"/p50-* "$OUT"/p99-* "$OUT"/redis-us-*
