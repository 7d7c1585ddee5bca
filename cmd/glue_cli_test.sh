#!/usr/bin/env bash
# The glue command as a user runs it, on loopback (ctest runs it in a private network
# namespace when scripts/test.sh can make one): what the README's quick start shows,
# and each exit status.
#
#   cmd/glue_cli_test.sh build/cmd/glue
set -uo pipefail
glue=$1
source "$(dirname "$0")/check.sh"
export GLUE_LISTEN_INTERFACE=lo GLUE_LOG_LEVEL=warning
# A group and network id of its own, apart from other tests running at once.
export GLUE_DISCOVERY_TARGET_ADDRESS=239.255.42.99:27399
export GLUE_DISCOVERY_LISTEN_ADDRESS=239.255.42.99:27399 GLUE_NETWORK_ID=4199
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$out"' EXIT
# await_line FILE PATTERN SECONDS: until a line of FILE matches PATTERN, or the
# seconds pass.
await_line() {
  local until=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    ((SECONDS < until)) || return 1
    sleep 0.05
  done
}

"$glue" sub -t 'sensors/#' -v -C 1 -W 20 >"$out/hello" &
sub=$!
"$glue" pub -t sensors/a -m hello --wait-subscribers 10
check "pub -m exits 0" 0 $?
wait $sub
check "sub -C 1 exits 0" 0 $?
check "sub -v prints topic and payload" "sensors/a hello" "$(cat "$out/hello")"

"$glue" sub -t n -C 1000 -W 20 >"$out/lines" &
sub=$!
seq 1000 | "$glue" pub -t n -l --wait-subscribers 10
check "pub -l exits 0" 0 $?
wait $sub
check "sub -C 1000 exits 0" 0 $?
check "1000 lines, in order" "$(seq 1000)" "$(cat "$out/lines")"

"$glue" sub -t bin -C 1 -W 20 >"$out/binary" &
sub=$!
printf 'a\001z' | "$glue" pub -t bin -s --wait-subscribers 10
wait $sub
check "a binary payload is escaped" 'a\x01z' "$(cat "$out/binary")"

"$glue" sub -t 'json/#' -C 1 -W 20 --json >"$out/json" &
sub=$!
printf 'say "hi"\n' | "$glue" pub -t json/a -s --wait-subscribers 10
wait $sub
check "sub --json prints one object a message" 1 \
  "$(grep -cE '^\{"topic":"json/a","type":"text","publisher":"[^"]+","history":false,"received":"[^"]+","payload":"say \\"hi\\"\\u000a"\}$' "$out/json")"

# Without --type, sub takes every type; with it, only that one.
"$glue" sub -t 'typed/#' -C 2 -W 20 -F '%t %y %p' >"$out/any" &
sub=$!
"$glue" sub -t 'typed/#' --type t.B -C 1 -W 20 -F '%t %y %p' >"$out/one" &
one=$!
"$glue" pub -t typed/a --type t.A -m 1 --wait-subscribers 10
"$glue" pub -t typed/b --type t.B -m 2 --wait-subscribers 10
wait $sub $one
check "sub without --type takes every type" "typed/a t.A 1
typed/b t.B 2" "$(cat "$out/any")"
check "sub --type takes that type only" "typed/b t.B 2" "$(cat "$out/one")"

# A model: a watcher holds it as a third endpoint; put, then get, ls and del.
"$glue" model cfg watch >"$out/watch" &
watch=$!
"$glue" model cfg put a 1 --timeout 10
check "model put exits 0" 0 $?
check "model get prints the value" 1 "$("$glue" model cfg get a --timeout 10)"
check "model ls lists the key" "a 1" "$("$glue" model cfg ls --timeout 10)"
"$glue" model cfg del a --timeout 10
check "model del exits 0" 0 $?
"$glue" model cfg get a --timeout 10 2>"$out/err"
check "model get of a key deleted exits 4" 4 $?
kill $watch
wait $watch
check "model watch printed the put and the delete" "put a 1
del a" "$(cat "$out/watch")"
"$glue" model lonely put a 1 --timeout 0.3 2>"$out/err"
check "model put with no other replica exits 3" 3 $?
"$glue" model lonely del a --timeout 0.3 2>"$out/err"
check "model del with no other replica exits 3" 3 $?
"$glue" model cfg bogus 2>"$out/err"
check "model with an unknown action exits 1" 1 $?

# Peers: --watch prints each joining and leaving (not a terminal here); the list
# shows one row a peer, with its address, how it was found, when it was last heard,
# the round trip and the frames each way.
"$glue" peers --watch >"$out/watch-peers" &
watcher=$!
await_line "$out/watch-peers" "^added " 10  # it runs: what it prints now is what comes
GLUE_ENDPOINT_NAME=visitor "$glue" sub -t visiting -W 20 &
visitor=$!
await_line "$out/watch-peers" "^added visitor id=" 10
check "peers --watch prints a peer joining" 0 $?
"$glue" peers --wait 1 >"$out/peers"
check "peers exits 0" 0 $?
check "peers lists the visitor with its columns" 1 \
  "$(grep -cE '^visitor +[0-9]+ +127\.0\.0\.1:[0-9]+ +multicast +[0-9.]+s +[0-9.]+ms +[0-9]+ +[0-9]+$' "$out/peers")"
"$glue" peers --wait 1 --json >"$out/peers-json"
check "peers --json gives the round trip and frames" 1 \
  "$(grep -cE '^\{"name":"visitor","id":"[0-9]+",.*"rtt_us":[1-9][0-9]*,"frames_in":[0-9]+,"frames_out":[0-9]+\}$' "$out/peers-json")"
kill -INT $visitor
wait $visitor
await_line "$out/watch-peers" "^removed visitor id=.* reason=goodbye" 10
check "peers --watch prints a peer leaving, and why" 0 $?
kill -INT $watcher
wait $watcher
check "peers --watch exits 0 on Ctrl-C" 0 $?
# On a terminal it redraws the table in place instead.
if command -v script >/dev/null; then
  GLUE_ENDPOINT_NAME=onscreen "$glue" sub -t screen -W 20 &
  onscreen=$!
  script -qfc "$glue peers --watch" /dev/null >"$out/tty" &
  tty=$!
  await_line "$out/tty" "^onscreen " 10
  check "peers --watch on a terminal redraws a table" 0 $?
  grep -q $'\e\\[H\e\\[2Jglue peers:' "$out/tty"
  check "... from the top of a cleared screen" 0 $?
  kill -INT $onscreen
  pkill -INT -f "^$glue peers --watch"
  wait $tty $onscreen
elif [[ -n "${CI:-}" ]]; then
  check "script(1), from util-linux, is installed" yes no
else
  echo "skipped: peers --watch on a terminal (script(1) of util-linux is missing)"
fi

# A subscriber whose acknowledgements come back later than pub lingers: exit 4, and
# the subscriber is named.
GLUE_FAULT_DELAY_MILLISECONDS=1500 GLUE_ENDPOINT_NAME=slow "$glue" sub -t slow -C 1 -W 20 \
  >/dev/null 2>&1 &
slow=$!
GLUE_LINGER_MILLISECONDS=200 "$glue" pub -t slow -m x --wait-subscribers 10 2>"$out/err"
check "pub not acknowledged within the linger exits 4" 4 $?
check "... naming the subscriber that owes it" 1 "$(grep -c 'owed by slow (127.0.0.1:' "$out/err")"
wait $slow

"$glue" pub -t nobody -m x --wait-subscribers 0.3 2>"$out/err"
check "pub with no subscriber exits 3" 3 $?
"$glue" sub -t quiet -W 0.5 2>"$out/err"
check "sub -W with nothing exits 27" 27 $?
"$glue" pub -t x 2>"$out/err"
check "pub without a message exits 1" 1 $?
"$glue" pub -t x -f "$out/no-such-file" 2>"$out/err"
check "pub -f of a file that is not there exits 1" 1 $?
"$glue" sub -t 'a/#/b' 2>"$out/err"
check "sub of an invalid filter exits 1" 1 $?
"$glue" pub -m x 2>"$out/err"
check "pub without -t exits 1" 1 $?
"$glue" 2>"$out/err"
check "no subcommand exits 1" 1 $?
GLUE_MTU=abc "$glue" sub -t x 2>"$out/err"
check "a bad variable exits 2" 2 $?
check "the bad variable is named" 1 "$(grep -c "GLUE_MTU='abc'" "$out/err")"
"$glue" keygen 'bad id' 2>"$out/err"
check "keygen of a bad id exits 1" 1 $?
line=$("$glue" keygen site-2026)
check "keygen prints ID BASE64 of 32 bytes" 32 \
  "$(cut -d' ' -f2 <<<"$line" | base64 -d | wc -c)"
"$glue" --help >/dev/null
check "--help exits 0" 0 $?

# Completion for bash: the subcommands, the flags of each, the model's actions; and
# every flag a subcommand's --help lists is in it.
completion="$(dirname "$0")/glue-completion.bash"
complete_words() {  # complete_words WORD...: what completing the last word offers
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _glue
           printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@" | sort | tr '\n' ' '
}
check "completion of the subcommand" "peers pub " "$(complete_words glue p)"
check "completion of a flag" "--wait-subscribers " "$(complete_words glue pub --wai)"
check "completion of sub's flags" "--count " "$(complete_words glue sub --co)"
check "completion of the model's actions" "del " "$(complete_words glue model cfg d)"
check "completion of the features' actions" "serve set " "$(complete_words glue features s)"
for command in pub sub peers model features registry bridge keygen; do
  # The options' lines of the help (not the examples under them): "  -t,--topic ...".
  for flag in $("$glue" "$command" --help | grep -E '^ +-' |
                grep -oE '^ +-[-A-Za-z,]*' | tr ',' '\n' | tr -d ' ' | sort -u); do
    grep -qE -- "(^|[ \"])$flag( |\"|$)" "$completion" ||
      check "completion has $command $flag" present missing
  done
done

finish
