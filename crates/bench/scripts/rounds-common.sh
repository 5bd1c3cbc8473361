# What the rounds scripts share, sourced by them (never run alone): the check of ROUNDS, jq, the
# release build, and OUT made absolute.
#
#   rounds_setup SCRIPT_NAME   (with ROUNDS and OUT set)

rounds_setup() {
  case $ROUNDS in
    '' | *[!0-9]*) echo "ROUNDS must be a number from 1 to 20" >&2; exit 2 ;;
  esac
  if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then
    echo "ROUNDS must be a number from 1 to 20" >&2; exit 2
  fi
  command -v jq > /dev/null || { echo "$1 needs jq (apt-get install jq)" >&2; exit 2; }
  cargo build --release -p reactor-chat -p reactor-chat-bench || exit 1
  mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
}
