#!/usr/bin/env bash
# The glue command as a user runs it, on loopback (ctest runs it in a private network
# namespace when scripts/test.sh can make one): what the README's quick start shows,
# and each exit status.
#
#   cmd/glue_cli_test.sh build/cmd/glue
set -uo pipefail
glue=$1
export GLUE_LISTEN_INTERFACE=lo GLUE_LOG_LEVEL=warning
# A group and network id of its own, apart from other tests running at once.
export GLUE_DISCOVERY_TARGET_ADDRESS=239.255.42.99:27399
export GLUE_DISCOVERY_LISTEN_ADDRESS=239.255.42.99:27399 GLUE_NETWORK_ID=4199
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$out"' EXIT
failures=0
check() {  # check WHAT EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "ok: $1"
  else
    echo "FAILED: $1: expected '$2', got '$3'"
    failures=$((failures + 1))
  fi
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
"$glue" model cfg bogus 2>"$out/err"
check "model with an unknown action exits 1" 1 $?

"$glue" pub -t nobody -m x --wait-subscribers 0.3 2>"$out/err"
check "pub with no subscriber exits 3" 3 $?
"$glue" sub -t quiet -W 0.5 2>"$out/err"
check "sub -W with nothing exits 27" 27 $?
"$glue" pub -t x 2>"$out/err"
check "pub without a message exits 1" 1 $?
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

((failures == 0)) || { echo "$failures check(s) failed"; exit 1; }
echo "all checks passed"
