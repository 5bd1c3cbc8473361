#!/bin/bash
# The rounds behind BENCHMARKS.md's "TLS" tables: every preset in clear text and over TLS back to
# back (clear, TLS, clear, TLS, ...), each round the same order, one JSON report per run in
# OUT (default tls-rounds/). Before each run it waits, at most 30 s, for the machine to be at
# least 70 % idle over 2 s and logs the figure; each report also carries the idle and steal
# shares of its own window (host_idle_pct, host_steal_pct).
#
#   cargo build --release && crates/bench/scripts/tls-rounds.sh [ROUNDS] [OUT]
set -u
ROUNDS=${1:-5}
OUT=${2:-tls-rounds}
B=${BENCH:-target/release/reactor-chat-bench}
S=${SERVER:-target/release/reactor-chat}
mkdir -p "$OUT"

idle() { # the share of CPU time idle over 2 s, in percent
  read -r _ u n s i w q sq st _ < /proc/stat; t1=$((u+n+s+i+w+q+sq+st)); i1=$i
  sleep 2
  read -r _ u n s i w q sq st _ < /proc/stat; t2=$((u+n+s+i+w+q+sq+st)); i2=$i
  echo $(( 100 * (i2 - i1) / (t2 - t1) ))
}

run() { # NAME ARGS...: one bounded run, its report in OUT/NAME.json
  local name=$1; shift
  local v
  for _ in $(seq 1 15); do v=$(idle); [ "$v" -ge 70 ] && break; done
  echo "$(date -u +%T) idle=$v% $name" | tee -a "$OUT/log"
  timeout 200 "$B" --spawn-server "$S" --server-arg=--no-history "$@" --json --quiet \
    > "$OUT/$name.json" 2>> "$OUT/log"
}

for r in $(seq 1 "$ROUNDS"); do
  for p in saturate fanout1k room100; do
    run "r$r-$p-clear" --preset $p --duration 4s --warmup 1s
    run "r$r-$p-tls" --preset $p --duration 4s --warmup 1s --tls
  done
  run "r$r-idle10k-clear" --preset idle10k
  run "r$r-idle10k-tls" --preset idle10k --tls
  run "r$r-handshakes" --preset handshakes --tls
done
