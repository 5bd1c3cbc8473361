#!/bin/bash
# reactor-chat and two IRC servers side by side: saturate, room100 and idle10k, each with
#   line      reactor-chat, line-protocol clients
#   rc-irc    reactor-chat, IRC clients (--proto irc: its IRC front end on the chat port)
#   ngircd    ngIRCd (crates/bench/peers/ngircd.conf), IRC clients
#   inspircd  InspIRCd (crates/bench/peers/inspircd.conf), IRC clients
# in interleaved rounds (every scenario against every server, then the next round), then a
# table of every cell and each column's median, and the host's steal time per round.
#
#   crates/bench/scripts/irc-rounds.sh [ROUNDS] [OUT]
#
# ROUNDS (default 3, at most 20); OUT (default irc-rounds/) gets one JSON report per cell,
# each server's log, `log`, and the table as table.txt. DURATION and WARMUP (default 4s and
# 1s) set the windows of saturate and room100; idle10k runs as its preset, with IDLE_CLIENTS
# (default 10000) connections. Every server is started fresh for each cell, on 127.0.0.1 only
# (ports PORT_BASE.., default 17000-17002), and stopped after it, so no run inherits another's
# memory or sessions. Each run is bounded (`timeout`), and a cell that fails
# (a server missing or not speaking IRC, a bench error) is reported as failed, with the reason,
# instead of ending the run. Needs jq; ngircd and inspircd from Debian's packages.
set -u
cd "$(dirname "$0")/../../.."
ROUNDS=${1:-3}
OUT=${2:-irc-rounds}
DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
IDLE_CLIENTS=${IDLE_CLIENTS:-10000}
PORT_BASE=${PORT_BASE:-17000}
B=target/release/reactor-chat-bench
S=target/release/reactor-chat
PEERS=crates/bench/peers
# PREVIOUS=path/to/an/older/reactor-chat adds its line protocol as a column (prev-line), so a
# change is measured against the build before it in the same run.
PREVIOUS=${PREVIOUS:-}
TARGETS="${PREVIOUS:+prev-line }line rc-irc ngircd inspircd"
SCENARIOS="saturate room100 idle10k"

. crates/bench/scripts/rounds-common.sh
rounds_setup irc-rounds.sh
: > "$OUT/cells.tsv"

# The machine's CPU ticks (all CPUs): "total steal idle", from /proc/stat's first line.
ticks() {
  read -r _ u n s i w q sq st _ < /proc/stat
  echo "$((u + n + s + i + w + q + sq + st)) $st $((i + w))"
}

idle() { # the share of CPU time idle over 2 s, in percent
  local t1 st1 i1 t2 st2 i2
  read -r t1 st1 i1 <<< "$(ticks)"; sleep 2; read -r t2 st2 i2 <<< "$(ticks)"
  echo $(( 100 * (i2 - i1) / (t2 - t1) ))
}

listening() { # PORT: whether something accepts connections on 127.0.0.1:PORT
  (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

SERVER_PID=
WHY=
# start TARGET PORT LOG: starts TARGET's server on PORT, in the foreground of a background job,
# and waits (at most 10 s) until it listens; sets SERVER_PID, or WHY it could not.
start() {
  local target=$1 port=$2 log=$3 conf
  SERVER_PID= WHY=
  if listening "$port"; then WHY="port $port is already taken"; return 1; fi
  case $target in
    line | rc-irc | prev-line)
      # Flood control off (--rate 0), room for idle10k's connections; loopback is exempt from
      # --max-per-ip, and the bench spreads its logins over 128 addresses, under
      # --max-unregistered-per-ip. No history and nothing on disk.
      local bin=$S
      [ "$target" = prev-line ] && bin=$PREVIOUS
      "$bin" --bind "127.0.0.1:$port" --rate 0 --max-clients $((IDLE_CLIENTS + 1000)) \
        --log-level warn --no-history --ephemeral > "$log" 2>&1 &
      ;;
    ngircd)
      if ! command -v ngircd > /dev/null; then
        WHY="ngircd is not installed (apt-get install ngircd)"; return 1
      fi
      conf=$OUT/ngircd.conf
      sed "s/^\([[:space:]]*Ports[[:space:]]*=\).*/\1 $port/" "$PEERS/ngircd.conf" > "$conf"
      # -n: in the foreground. As root it runs as nobody by itself.
      ngircd -n -f "$conf" > "$log" 2>&1 &
      ;;
    inspircd)
      if ! command -v inspircd > /dev/null; then
        WHY="inspircd is not installed (apt-get install inspircd)"; return 1
      fi
      conf=$OUT/inspircd.conf
      sed "s/\(<bind address=\"127.0.0.1\" port=\"\)[0-9]*/\1$port/" "$PEERS/inspircd.conf" > "$conf"
      inspircd --config="$conf" --nofork --nopid --runasroot > "$log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    listening "$port" && return 0
    if ! kill -0 "$SERVER_PID" 2> /dev/null; then
      wait "$SERVER_PID" 2> /dev/null
      WHY="$target exited: $(tail -n 1 "$log")" SERVER_PID=
      return 1
    fi
    sleep 0.1
  done
  WHY="$target did not listen on $port within 10 s"
  stop
  return 1
}

stop() { # SIGTERM, then SIGKILL after 5 s; reaps the server either way
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2> /dev/null
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2> /dev/null
  wait "$SERVER_PID" 2> /dev/null
  SERVER_PID=
}
trap 'stop; exit 130' INT TERM

# cell ROUND SCENARIO TARGET PORT: one bounded run; its report in OUT/rR-SCENARIO-TARGET.json
# and one line in OUT/cells.tsv: round, scenario, target, then "ok" and the report's figures,
# or "failed" and why.
cell() {
  local r=$1 p=$2 t=$3 port=$4 name="r$1-$2-$3" why v rc proto=() window=()
  for _ in $(seq 1 15); do v=$(idle); [ "$v" -ge 70 ] && break; done
  echo "$(date -u +%T) idle=$v% $name" | tee -a "$OUT/log"
  [ "$t" = line ] || [ "$t" = prev-line ] || proto=(--proto irc)
  # ngIRCd listens with a backlog of 10 (fixed in its code): connects past it have their SYNs
  # dropped and retried after 1, 3, 7... s, so its clients log in at most 10 at a time.
  [ "$t" = ngircd ] && proto+=(--max-pending 10)
  if [ "$p" = idle10k ]; then
    window=(--clients "$IDLE_CLIENTS")
  else
    window=(--duration "$DURATION" --warmup "$WARMUP")
  fi
  if ! start "$t" "$port" "$OUT/$name.server.log"; then
    printf '%s\t%s\t%s\tfailed\t%s\n' "$r" "$p" "$t" "$WHY" >> "$OUT/cells.tsv"
    echo "  failed: $WHY" | tee -a "$OUT/log"
    return
  fi
  timeout 200 "$B" "${proto[@]}" --addr "127.0.0.1:$port" --server-pid "$SERVER_PID" \
    --preset "$p" "${window[@]}" --json --quiet > "$OUT/$name.json" 2> "$OUT/$name.err"
  rc=$?
  stop
  # (jq 1.6 accepts an empty file, hence -s.)
  if [ $rc -ne 0 ] || [ ! -s "$OUT/$name.json" ] \
    || ! jq -e .scenario "$OUT/$name.json" > /dev/null 2>&1; then
    why=$(tail -n 1 "$OUT/$name.err")
    [ $rc -eq 124 ] && why="timed out after 200 s"
    printf '%s\t%s\t%s\tfailed\t%s\n' "$r" "$p" "$t" "${why:-exit $rc}" >> "$OUT/cells.tsv"
    echo "  failed: ${why:-exit $rc}" | tee -a "$OUT/log"
    return
  fi
  # Fields 5-23: deliveries/s, bytes/s, server ns per delivery, server %, bench %, bench the
  # limit, p50 ms, p99 ms, connections, failed, bytes per connection, steal %, connects/s,
  # lost, duplicated, out of order, ack timeouts, closed by the server, and the first error.
  jq -r --arg r "$r" --arg p "$p" --arg t "$t" '[$r, $p, $t, "ok",
      .delivered_per_sec, .delivered_bytes_per_sec, (.server_cpu_ns_per_delivery // "-"),
      (.server_cpu_pct // "-"), .bench_cpu_pct, .bench_is_limit,
      (.latency_us.p50 / 1000), (.latency_us.p99 / 1000), .connections, .failed,
      (.server_rss_per_connection_bytes // "-"), (.host_steal_pct // "-"), .connect_per_sec,
      .lost, .duplicated, .out_of_order, .ack_timeouts, .closed_by_server,
      (.first_error // "")] | @tsv' "$OUT/$name.json" >> "$OUT/cells.tsv"
}

: > "$OUT/steal.tsv"
for r in $(seq 1 "$ROUNDS"); do
  read -r t0 st0 i0 <<< "$(ticks)"
  started=$(date +%s)
  for p in $SCENARIOS; do
    n=0
    for t in $TARGETS; do
      cell "$r" "$p" "$t" $((PORT_BASE + n))
      # reactor-chat serves both line and IRC clients: one port; the peers their own.
      [ "$t" = line ] || n=$((n + 1))
    done
  done
  read -r t1 st1 i1 <<< "$(ticks)"
  printf '%s\t%s\t%s\t%s\n' "$r" "$(( $(date +%s) - started ))" \
    "$(awk -v a=$((st1 - st0)) -v b=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * a / b }')" \
    "$(awk -v a=$((i1 - i0)) -v b=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * a / b }')" \
    >> "$OUT/steal.tsv"
done

# The table: per scenario every cell, then each server's median over its rounds that ran.
awk -F'\t' -v scenarios="$SCENARIOS" -v targets="$TARGETS" '
BEGIN {
  # The columns of each scenario: fields of cells.tsv.
  cols["saturate"] = "5 6 7 8 9 16"; cols["room100"] = "5 6 7 8 9 11 12 16"
  cols["idle10k"] = "13 17 15 8 16"
  head[5] = "deliv/s"; head[6] = "MB/s"; head[7] = "srv ns/d"; head[8] = "srv"
  head[9] = "bench"; head[11] = "p50 ms"; head[12] = "p99 ms"; head[13] = "conns"
  head[15] = "B/conn"; head[16] = "steal"; head[17] = "conn/s"
}
function si(v) {
  if (v >= 1e6) return sprintf("%.2fM", v / 1e6)
  if (v >= 1e3) return sprintf("%.1fk", v / 1e3)
  return sprintf("%.0f", v)
}
function show(m, v, limit, tried) {
  if (v == "-" || v == "") return "-"
  if (m == 5 || m == 17) return si(v)
  if (m == 6) return sprintf("%.1f", v / 1e6)
  if (m == 8) return sprintf("%.0f%%", v)
  if (m == 9) return sprintf("%.0f%%", v) (limit == "true" ? "!" : "")
  if (m == 11 || m == 12) return sprintf("%.2f", v)
  if (m == 13) return tried > v ? v "/" tried : v
  if (m == 16) return sprintf("%.1f%%", v)
  return sprintf("%.0f", v)
}
function median(list,   a, n, i, j, x) {
  n = split(list, a, " ")
  if (n == 0) return "-"
  for (i = 2; i <= n; i++) { # insertion sort: a few rounds
    x = a[i]
    for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]
    a[j + 1] = x
  }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ cells[$2, ++count[$2]] = $0 }
END {
  ns = split(scenarios, S, " "); nt = split(targets, T, " ")
  for (s = 1; s <= ns; s++) {
    p = S[s]; nc = split(cols[p], C, " ")
    printf "\n== %s ==\n%-7s %-9s", p, "round", "server"
    for (c = 1; c <= nc; c++) printf " %9s", head[C[c]]
    printf "\n"
    split("", med); split("", lim)
    for (k = 1; k <= count[p]; k++) {
      split(cells[p, k], f, "\t")
      printf "%-7s %-9s", "r" f[1], f[3]
      if (f[4] != "ok") { printf " failed: %s\n", f[5]; continue }
      for (c = 1; c <= nc; c++) {
        m = C[c]; printf " %9s", show(m, f[m], f[10], f[13] + f[14])
        if (f[m] != "-") med[f[3], m] = med[f[3], m] " " f[m]
      }
      printf "\n"
      if (f[18] + f[19] + f[20] + f[21] + f[22] > 0)
        printf "%-17s lost %d, duplicated %d, out of order %d, ack timeouts %d, closed by server %d\n", \
          "", f[18], f[19], f[20], f[21], f[22]
      if (f[23] != "") printf "%-17s first error: %s\n", "", f[23]
      if (f[10] == "true") lim[f[3]] = "true"
    }
    for (j = 1; j <= nt; j++) {
      t = T[j]; printf "%-7s %-9s", "median", t
      if (med[t, C[1]] == "") { printf " no run completed\n"; continue }
      for (c = 1; c <= nc; c++) printf " %9s", show(C[c], median(med[t, C[c]]), lim[t], 0)
      printf "\n"
    }
  }
  print "\ndeliv/s: deliveries a second; MB/s: what the clients read, framing included; srv ns/d:"
  print "server CPU per delivery; srv, bench: CPU as % of one core (! the bench was the limit, its"
  print "one thread at 90 % or more); conns: logged in (/ tried, if some failed); B/conn: server"
  print "memory per idle connection; steal: the machine'"'"'s, over the window. A run with loss,"
  print "duplicates, reordering, stalls or connections closed by the server says so under it."
}' "$OUT/cells.tsv" | tee "$OUT/table.txt"
echo | tee -a "$OUT/table.txt"
awk -F'\t' '{ printf "round %s: %s s, host steal %s%%, idle %s%% of the machine'"'"'s CPU time\n", $1, $2, $3, $4 }' \
  "$OUT/steal.tsv" | tee -a "$OUT/table.txt"
