#!/usr/bin/env bash
# The registry as users run it, on loopback (ctest runs it in a private network
# namespace when scripts/test.sh can make one): two `glue registry serve` endpoints,
# curl against either, a webhook receiver of the test's own, a partition healed.
#
#   cmd/glue_registry_test.sh build/cmd/glue
set -uo pipefail
glue=$1
here=$(dirname "$0")
source "$here/check.sh"
require "the registry's end-to-end test" curl python3
export GLUE_LISTEN_INTERFACE=lo GLUE_LOG_LEVEL=warning
# A group and network id of its own; started with faults (none) so that SIGUSR1 can
# partition an endpoint; a peer cut off is missed within half a second.
export GLUE_DISCOVERY_TARGET_ADDRESS=239.255.42.97:27397
export GLUE_DISCOVERY_LISTEN_ADDRESS=239.255.42.97:27397 GLUE_NETWORK_ID=4197
export GLUE_DISCOVERY_RATE_MILLISECONDS=200 GLUE_FAULT_LOSS=0
d=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$d"' EXIT
A=http://127.0.0.1:16553 B=http://127.0.0.1:16554
status() { curl -s -o "$d/body" -w '%{http_code}' "$@"; }  # status CURL-ARGS...
same() { [[ "$(curl -s "$A$1")" == "$(curl -s "$B$1")" ]]; }
answers() { [[ "$(status "$1")" == "$2" ]]; }  # answers URL STATUS

GLUE_ENDPOINT_NAME=reg-a "$glue" registry serve --http 127.0.0.1:16553 --read-timeout 1 \
  --max-connections 8 --max-body-bytes 4096 >"$d/a.out" 2>"$d/a.err" &
reg_a=$!
GLUE_ENDPOINT_NAME=reg-b "$glue" registry serve --http 127.0.0.1:16554 >"$d/b.out" \
  2>"$d/b.err" &
python3 "$here/webhook_receiver.py" 16580 "$d/hooks" &
python3 "$here/webhook_receiver.py" 16581 "$d/retried" --fail 2 &
await 10.0 answers "$A/app" 200 && await 10.0 answers "$B/app" 200
check "both registries serve" 0 $?

# The two share one content: what is PUT at one is read at the other.
check "PUT /app/dm" 200 "$(status -X PUT -d '{"name":"dm", "config":{"a":1}}' "$A/app/dm")"
await 10.0 answers "$B/app/dm" 200
check "... is read at the other registry" 0 $?
check "... as PUT, with when and by whom" 1 \
  "$(grep -c '^{"config":{"a":1},"name":"dm","updated_at":"[^"]*","updated_by":"reg-a"}$' "$d/body")"
curl -s -I "$B/app/dm" >"$d/head"
check "HEAD gives the webhooks' Link" 1 \
  "$(grep -c "^Link: <$B/app/dm/web-hooks>; rel=\"Subscriptions\"" "$d/head")"
check "PUT /srv/dm/host1" 200 \
  "$(status -X PUT -d '{"name":"host1", "endpoints":{"http":"http://h1:80/"}}' "$B/srv/dm/host1")"
await 10.0 answers "$A/srv/dm/host1" 200
check "... is read at the other registry" 0 $?
await 10.0 same /app && await 10.0 same /srv
check "GET /app and /srv are the same at both" 0 $?
check "DELETE /srv/dm/host1" 204 "$(status -X DELETE "$A/srv/dm/host1")"
await 10.0 answers "$B/srv/dm/host1" 404
check "... is gone at the other registry" 0 $?

# Webhooks: one on /app/dm, one on /srv/dm, registered at either registry; each
# change is POSTed once, by one of the two.
check "POST a webhook on /app/dm" 201 \
  "$(status -D "$d/headers" -X POST \
     -d '{"name":"dm-1", "endpoint":"http://127.0.0.1:16580/hooks"}' "$A/app/dm/web-hooks")"
check "... its Location" 1 \
  "$(grep -c "^Location: $A/app/dm/web-hooks/dm-1" "$d/headers" | tr -d '\r')"
check "POST a webhook on /srv/dm" 201 \
  "$(status -X POST -d '{"name":"dm-srv", "endpoint":"http://127.0.0.1:16580/"}' \
     "$B/srv/dm/web-hooks")"
await 10.0 answers "$A/srv/dm/web-hooks/dm-srv" 200 &&
  await 10.0 answers "$B/app/dm/web-hooks/dm-1" 200
check "both registries hold both webhooks" 0 $?
status -X PUT -d '{"name":"dm", "config":{"a":2}}' "$B/app/dm" >/dev/null
status -X PUT -d '{"name":"h1", "endpoints":{}}' "$A/srv/dm/h1" >/dev/null
status -X PUT -d '{"name":"h2", "endpoints":{}}' "$B/srv/dm/h2" >/dev/null
# Each write where the one before it has arrived: a write that has not seen the one
# before it is concurrent with it, and the model's rule may resolve the two before a
# replica shows the first (a delete, say), which then makes no change to post.
await 10.0 answers "$B/srv/dm/h1" 200
status -X DELETE "$B/srv/dm/h1" >/dev/null
await 10.0 answers "$A/app/dm" 200
status -X DELETE "$A/app/dm" >/dev/null
lines() { [[ $(wc -l <"$d/hooks" 2>/dev/null || echo 0) -ge $1 ]]; }
await 10.0 lines 5
check "the receiver got a POST for each of 5 changes" 0 $?
# One more, whose arrival says the POSTs before it have all been made.
status -X PUT -d '{"name":"dm", "config":{"a":3}}' "$A/app/dm" >/dev/null
await 10.0 lines 6
check "exactly one POST a change" 6 "$(wc -l <"$d/hooks")"
check "... each of another change" 6 "$(grep -o '"version":"[^"]*"' "$d/hooks" | sort -u | wc -l)"
# What they said, a hook at a time (each hook's in the order of its changes): the
# resource by path (either registry may have posted it), and the event.
said() {
  python3 -c '
import json, sys
from urllib.parse import urlparse
for line in open(sys.argv[1]):
    n = json.loads(line)
    if n["name"] == sys.argv[2]:
        print(urlparse(n["uri"]).path, n["event"])
' "$d/hooks" "$1"
}
check "the POSTs to the /app/dm webhook" "/app/dm put
/app/dm delete
/app/dm put" "$(said dm-1)"
check "the POSTs to the /srv/dm webhook" "/srv/dm/h1 put
/srv/dm/h2 put
/srv/dm/h1 delete" "$(said dm-srv)"

# A receiver that fails twice gets the POST on the third attempt.
status -X POST -d '{"name":"r", "endpoint":"http://127.0.0.1:16581/"}' \
  "$A/app/r/web-hooks" >/dev/null
await 10.0 answers "$B/app/r/web-hooks/r" 200
status -X PUT -d '{"name":"r", "config":1}' "$B/app/r" >/dev/null
await 10.0 grep -q '"event":"put"' "$d/retried"
check "a POST refused is tried again until it is taken" 0 $?

# A stream of server-sent events: the state, then each change.
curl -s -N "$B/app/dm?watch=1" >"$d/stream" &
stream=$!
await 5.0 grep -q '^event: snapshot' "$d/stream"
check "a stream starts with the state" 0 $?
status -X PUT -d '{"name":"dm", "config":{"a":4}}' "$A/app/dm" >/dev/null
await 5.0 grep -q '^data: {"event":"put",.*"config":{"a":4}' "$d/stream"
check "... and sends each change" 0 $?
kill $stream

# A registration with a time to live leaves unless PUT again within it.
check "PUT with ?ttl=1" 200 \
  "$(status -X PUT -d '{"name":"t", "endpoints":{}}' "$A/srv/dm/t?ttl=1")"
await 5.0 answers "$B/srv/dm/t" 200
check "... is read at the other registry" 0 $?
await 10.0 answers "$B/srv/dm/t" 404
check "... and leaves both after the ttl" 0 $?
answers "$A/srv/dm/t" 404
check "... both" 0 $?

# A partition between the two, writes on both sides, healed: the same content again.
kill -USR1 $reg_a
await 5.0 grep -q '^partitioned$' "$d/a.out"
check "SIGUSR1 partitions a registry" 0 $?
status -X PUT -d '{"name":"split", "config":"a"}' "$A/app/split" >/dev/null
status -X PUT -d '{"name":"split", "config":"b"}' "$B/app/split" >/dev/null
status -X PUT -d '{"name":"ha", "endpoints":{}}' "$A/srv/s/ha" >/dev/null
status -X PUT -d '{"name":"hb", "endpoints":{}}' "$B/srv/s/hb" >/dev/null
kill -USR1 $reg_a
await 5.0 grep -q '^healed$' "$d/a.out"
await 30.0 same /app && await 30.0 same /srv
check "healed, both have the same /app and /srv" 0 $?
check "... with the writes of both sides" '["ha","hb"]' \
  "$(curl -s "$A/srv/s" | python3 -c 'import json,sys; print(json.dumps(sorted(json.load(sys.stdin))).replace(" ", ""))')"

# Errors: JSON, with a status that fits.
check "a body that is not JSON: 400" 400 "$(status -X PUT -d '{"name":' "$A/app/x")"
check "... saying why" 1 "$(grep -c '"error":"the body is not JSON: parse error' "$d/body")"
check "a missing field: 400" 400 "$(status -X PUT -d '{"name":"x"}' "$A/app/x")"
check "... naming it" 1 "$(grep -c 'missing field: config' "$d/body")"
check "a name not the path's: 400" 400 \
  "$(status -X PUT -d '{"name":"y", "endpoints":{}}' "$A/srv/s/x")"
check "a bad name: 400" 400 "$(status "$A/app/a%20b")"
check "a webhook not http://: 400" 400 \
  "$(status -X POST -d '{"name":"w", "endpoint":"https://x/"}' "$A/app/x/web-hooks")"
check "nothing there: 404" 404 "$(status "$A/app/nothing")"
check "no such resource: 404" 404 "$(status "$A/other")"
check "a method not allowed: 405" 405 "$(status -D "$d/headers" -X PATCH "$A/app/x")"
check "... with Allow" 1 "$(grep -c '^Allow: GET, HEAD, PUT, DELETE' "$d/headers")"
check "a body over --max-body-bytes: 413" 413 \
  "$(head -c 5000 /dev/zero | tr '\0' x | status -X PUT --data-binary @- "$A/app/x")"
exec 3<>/dev/tcp/127.0.0.1/16553
printf 'NOT HTTP\r\n\r\n' >&3
check "a malformed request: 400" 1 "$(timeout 5 head -1 <&3 | grep -c '^HTTP/1.1 400')"
exec 3<&-
# A client that stops halfway is cut off after --read-timeout (1 s).
exec 3<>/dev/tcp/127.0.0.1/16553
printf 'GET /app HTTP/1.1\r\n' >&3
timeout 5 cat <&3 >/dev/null
check "a slow client is cut off" 0 $?
exec 3<&-
# At --max-connections (8), one more gets 503.
for fd in 10 11 12 13 14 15 16 17; do eval "exec $fd<>/dev/tcp/127.0.0.1/16553"; done
check "one connection over the bound: 503" 503 "$(status "$A/app")"
for fd in 10 11 12 13 14 15 16 17; do eval "exec $fd<&-"; done
await 5.0 answers "$A/app" 200
check "... and served again when they go" 0 $?
"$glue" registry serve --http 127.0.0.1:16553 2>"$d/err"
check "serving on an address in use exits 2" 2 $?
"$glue" registry serve --http nonsense 2>"$d/err"
check "serving on a bad address exits 1" 1 $?
"$glue" registry bogus 2>"$d/err"
check "an unknown action exits 1" 1 $?
finish
