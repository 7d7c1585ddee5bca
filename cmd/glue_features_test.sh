#!/usr/bin/env bash
# The feature directory as users run it, on loopback (ctest runs it in a private
# network namespace when scripts/test.sh can make one): three hosts, each a
# `glue features serve` with its own configuration directory and state tree.
#
#   cmd/glue_features_test.sh build/cmd/glue
set -uo pipefail
glue=$1
source "$(dirname "$0")/check.sh"
export GLUE_LISTEN_INTERFACE=lo GLUE_LOG_LEVEL=warning
# A group and network id of its own, apart from other tests running at once; a host
# killed is missed within about a second.
export GLUE_DISCOVERY_TARGET_ADDRESS=239.255.42.98:27398
export GLUE_DISCOVERY_LISTEN_ADDRESS=239.255.42.98:27398 GLUE_NETWORK_ID=4198
export GLUE_DISCOVERY_RATE_MILLISECONDS=200
d=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$d"' EXIT
# holds FILE CONTENT: FILE holds exactly CONTENT (with the newline set adds).
holds() { [[ -f $1 && "$(cat "$1")" == "$2" ]]; }
gone() { [[ ! -e $1 ]]; }

for h in h1 h2 h3; do
  mkdir -p "$d/$h/config"
  GLUE_ENDPOINT_NAME=$h "$glue" features serve --config-dir "$d/$h/config" \
    --state-dir "$d/$h/state" 2>"$d/$h.log" &
  eval "pid_$h=$!"
done
# The three find one another: h3's feature reaches the others.
"$glue" features set probe '{}' --config-dir "$d/h3/config"
await 10.0 holds "$d/h1/state/features/probe/h3" '{}'
check "the hosts find one another" 0 $?
await 10.0 holds "$d/h2/state/features/probe/h3" '{}'
"$glue" features unset probe --config-dir "$d/h3/config"
await 10.0 gone "$d/h1/state/features/probe"
check "... and the probe is gone again" 0 $?

if command -v inotifywait >/dev/null; then
  inotifywait -m -r -q -e close_write,moved_to,delete --format '%w%f %e' \
    "$d/h2/state/features" >"$d/inotify" 2>/dev/null &
  inotify=$!
  sleep 0.5  # inotifywait sets up its watches after it starts, and says nothing then
elif [[ -n "${CI:-}" ]]; then
  check "inotifywait (inotify-tools) is installed" yes no
fi

# A file dropped into h1's configuration directory: in every tree within a second.
start=$(date +%s%N)
echo '{"port": 5432}' >"$d/h1/config/db.tmp" && mv "$d/h1/config/db.tmp" "$d/h1/config/db"
for h in h1 h2 h3; do
  await 1.0 holds "$d/$h/state/features/db/h1" '{"port": 5432}'
  check "a feature file appears in $h's tree within a second" 0 $?
done
echo "appeared everywhere after $((($(date +%s%N) - start) / 1000000)) ms"
check "glue features ls lists it" 'db h1 {"port":5432}' "$("$glue" features ls db)"

# Edited: changed everywhere.
"$glue" features set db '{"port": 5433}' --config-dir "$d/h1/config"
check "features set exits 0" 0 $?
for h in h2 h3; do
  await 5.0 holds "$d/$h/state/features/db/h1" '{"port": 5433}'
  check "an edit reaches $h" 0 $?
done

"$glue" features monitor >"$d/monitor" &
monitor=$!
await 10.0 grep -q '^set db h1' "$d/monitor"
check "monitor prints what is there first" 0 $?

# Invalid JSON: reported with the file's name, and the last good value stays.
echo '{"port": ' >"$d/h1/config/db"
await 5.0 grep -q "$d/h1/config/db: not JSON" "$d/h1.log"
check "invalid JSON is reported with the file's name" 0 $?
holds "$d/h2/state/features/db/h1" '{"port": 5433}'
check "... and the last good value stays" 0 $?
"$glue" features set db '{"port": 5434}' --config-dir "$d/h1/config"
await 5.0 holds "$d/h2/state/features/db/h1" '{"port": 5434}'
check "mended, it goes out" 0 $?

# Two hosts of one feature; one removes it, then one is killed.
"$glue" features set db '{"port": 1}' --config-dir "$d/h3/config"
await 5.0 holds "$d/h1/state/features/db/h3" '{"port": 1}'
check "a second host of the feature" 0 $?
rm "$d/h1/config/db"
for h in h1 h2 h3; do
  await 5.0 gone "$d/$h/state/features/db/h1"
  check "a file removed leaves $h's tree" 0 $?
done
holds "$d/h2/state/features/db/h3" '{"port": 1}'
check "... the other host's stays" 0 $?
kill -9 "$pid_h3"
wait "$pid_h3" 2>/dev/null
for h in h1 h2; do
  await 10.0 gone "$d/$h/state/features/db"
  check "a host killed leaves $h's tree, and its feature's directory goes" 0 $?
done
await 5.0 grep -q '^unset db h3' "$d/monitor"
check "monitor prints the changes" 0 $?
check "monitor printed each change once, in order" "set db h1 {\"port\":5433}
set db h1 {\"port\":5434}
set db h3 {\"port\":1}
unset db h1
unset db h3" "$(cat "$d/monitor")"
kill -INT $monitor

if [[ -n "${inotify:-}" ]]; then
  kill $inotify
  # Atomic: files of the tree only arrive by rename (moved_to) and leave (delete);
  # none is written in place (close_write), which a reader could catch half done.
  grep -q '/features/db/h1 MOVED_TO' "$d/inotify"
  check "inotify saw files arrive by rename" 0 $?
  check "inotify saw no file written in place" 0 "$(grep -c 'CLOSE_WRITE' "$d/inotify")"
fi

# Errors.
"$glue" features unset nothing --config-dir "$d/h1/config" 2>"$d/err"
check "unset of a feature not set exits 4" 4 $?
"$glue" features set a.json '{}' --config-dir "$d/h1/config" 2>"$d/err"
check "set of a bad name exits 1" 1 $?
"$glue" features set a '{"x":' --config-dir "$d/h1/config" 2>"$d/err"
check "set of invalid JSON exits 1" 1 $?
check "... saying where" 1 "$(grep -c 'not JSON: parse error at line 1, column 6' "$d/err")"
"$glue" features set a '{}' --config-dir "$d/none" 2>"$d/err"
check "set into a directory not there exits 1" 1 $?
"$glue" features serve --config-dir "$d/h1/config" 2>"$d/err"
check "serve without --state-dir exits 1" 1 $?
GLUE_ENDPOINT_NAME='a/b' "$glue" features serve --config-dir "$d/h1/config" \
  --state-dir "$d/x" 2>"$d/err"
check "serve as a host name that cannot be a file exits 2" 2 $?
"$glue" features bogus 2>"$d/err"
check "an unknown action exits 1" 1 $?
kill -INT "$pid_h1" "$pid_h2"
wait "$pid_h1" "$pid_h2"
check "serve exits 0 on Ctrl-C" 0 $?
GLUE_NETWORK_ID=4197 "$glue" features ls --timeout 0.3 2>"$d/err"
check "ls with no directory service exits 3" 3 $?

finish
