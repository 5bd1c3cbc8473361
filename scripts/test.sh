#!/usr/bin/env bash
# Runs the whole test suite: `cargo test --workspace` (the server, the client and the bench, and
# the browser tests: tests/it/browser.rs drives headless Chromium through tests/e2e/). First
# installs what those need, only when it is missing, so a warm machine goes straight to the tests:
#   - Debian's chromium (and fonts-noto-cjk, so Korean shows in the screenshots), netcat-openbsd
#     for `nc`, redis-server (the bench's --redis mode is tested against it), tmux, telnet and
#     busybox (tests/it/telnet.rs drives real telnets), irssi and WeeChat (tests/it/irssi.rs and
#     weechat.rs drive real IRC clients), and Node.js, through apt-get (as root, or with sudo);
#   - the npm packages of tests/e2e (playwright-core, and irc-framework for the IRC scenarios,
#     pinned by package-lock.json), with `npm ci`.
# Never downloads a browser of its own. Works unattended (CI runs it as root with no stdin).
# Every workspace binary is built first and its path exported (REACTOR_CHAT_BIN,
# REACTOR_CHAT_CLIENT_BIN, REACTOR_CHAT_BENCH_BIN): each package's tests start the others'
# binaries, which cargo only builds and names for the package they belong to. Arguments are passed
# to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd)
# Real telnet clients, driven in tmux by tests/it/telnet.rs.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v telnet >/dev/null 2>&1 || need+=(telnet)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v busybox >/dev/null 2>&1 || need+=(busybox)
# Real IRC clients, driven in tmux by tests/it/irssi.rs and tests/it/weechat.rs.
command -v irssi >/dev/null 2>&1 || need+=(irssi)
command -v weechat >/dev/null 2>&1 || need+=(weechat-curses)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "scripts/test.sh: installing ${need[*]}" >&2
    "${sudo[@]}" apt-get update </dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${need[@]}" </dev/null
fi

if [ ! -d tests/e2e/node_modules/playwright-core ] || [ ! -d tests/e2e/node_modules/irc-framework ]; then
    echo "scripts/test.sh: installing the npm packages of tests/e2e" >&2
    (cd tests/e2e && npm ci --no-audit --no-fund </dev/null)
fi

cargo build --workspace --bins
bins="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug"
export REACTOR_CHAT_BIN="$bins/reactor-chat"
export REACTOR_CHAT_CLIENT_BIN="$bins/reactor-chat-client"
export REACTOR_CHAT_BENCH_BIN="$bins/reactor-chat-bench"
for bin in "$REACTOR_CHAT_BIN" "$REACTOR_CHAT_CLIENT_BIN" "$REACTOR_CHAT_BENCH_BIN"; do
    [ -x "$bin" ] || { echo "scripts/test.sh: $bin was not built" >&2; exit 1; }
done
exec cargo test --workspace "$@"
