#!/usr/bin/env bash
# The MQTT bridge as users run it, against a real Mosquitto that the test starts on
# loopback (ctest runs it in a private network namespace when scripts/test.sh can make
# one), with Mosquitto's own clients on the MQTT side.
#
#   cmd/glue_bridge_test.sh build/cmd/glue
set -uo pipefail
glue=$1
source "$(dirname "$0")/check.sh"
require "the bridge's end-to-end test" mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd \
  openssl
export GLUE_LISTEN_INTERFACE=lo GLUE_LOG_LEVEL=warning
export GLUE_DISCOVERY_TARGET_ADDRESS=239.255.42.96:27396
export GLUE_DISCOVERY_LISTEN_ADDRESS=239.255.42.96:27396 GLUE_NETWORK_ID=4196
d=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$d"' EXIT
port=18830
broker() {  # broker CONF-LINES...: a Mosquitto on 127.0.0.1:$port, in the background
  # As this user: Mosquitto started as root would become user mosquitto, who cannot
  # read the test's private directory.
  printf '%s\n' "listener $port 127.0.0.1" "user $(id -un)" "$@" >"$d/mosquitto.conf"
  mosquitto -c "$d/mosquitto.conf" >>"$d/mosquitto.log" 2>&1 &
  broker_pid=$!
  await 5.0 mosquitto_pub -p $port -t probe -n 2>/dev/null
}
broker "allow_anonymous true"
check "Mosquitto runs" 0 $?

"$glue" bridge --broker mqtt://127.0.0.1:$port --out 'a/#' --in 'b/#' >"$d/bridge.out" \
  2>"$d/bridge.err" &
bridge=$!
await 5.0 grep -q '^glue bridge: bridging' "$d/bridge.out"
check "the bridge connects" 0 $?

# glue -> MQTT: what glue publishes under a/ reaches an MQTT subscriber.
mosquitto_sub -p $port -t 'a/#' -v -C 1 -W 20 >"$d/mqtt-got" &
sub=$!
# Until mosquitto_sub has subscribed: a message that came before would go to nobody.
pub_until() {
  "$glue" pub -t a/x -m hi --wait-subscribers 10 || return 1
  await 0.5 test -s "$d/mqtt-got"
}
await 20.0 pub_until
check "glue pub, bridged, exits 0" 0 $?
wait $sub
check "mosquitto_sub sees a/x hi" "a/x hi" "$(cat "$d/mqtt-got")"

# The glue type and expiry go out as MQTT 5 properties.
mosquitto_sub -p $port -V mqttv5 -t a/e -C 1 -W 20 -F '%t %p %E %P' >"$d/props" 2>/dev/null &
sub=$!
props_until() {
  "$glue" pub -t a/e -m exp --type t.E --expiry 30000 --wait-subscribers 10 || return 1
  await 0.5 test -s "$d/props"
}
await 20.0 props_until
wait $sub
check "the expiry goes out as the message expiry interval" 1 \
  "$(grep -cE '^a/e exp (29|30) ' "$d/props")"
check "the type goes out as the user property glue-type" 1 \
  "$(grep -c 'glue-type:t.E' "$d/props")"

# MQTT -> glue: what is published to the broker under b/ reaches a glue subscriber.
"$glue" sub -t 'b/#' -v -C 1 -W 20 >"$d/glue-got" &
sub=$!
# Until the subscriber's interest has reached the bridge: a message that came before
# would go to no glue subscriber.
sent_until() {
  mosquitto_pub -p $port -t b/y -m yo -q 1
  [[ -s "$d/glue-got" ]]
}
await 10.0 sent_until
wait $sub
check "glue sub sees b/y yo" "b/y yo" "$(cat "$d/glue-got")"

# No loop: b/ is bridged in; with --out 'b/#' too, what came in is not sent back.
kill -INT $bridge
wait $bridge
"$glue" bridge --broker mqtt://127.0.0.1:$port --both 'c/#' >"$d/bridge2.out" \
  2>"$d/bridge2.err" &
bridge=$!
await 5.0 grep -q '^glue bridge: bridging' "$d/bridge2.out"
mosquitto_sub -p $port -t 'c/#' -v >"$d/loop" 2>/dev/null &
sub=$!
probe_c() {
  mosquitto_pub -p $port -t c/probe -m p
  await 0.5 grep -q '^c/probe' "$d/loop"
}
await 5.0 probe_c  # mosquitto_sub has subscribed
"$glue" sub -t 'c/#' -v -C 1 -W 20 >"$d/glue-c" &
gsub=$!
sent=0
c_sent_until() {
  mosquitto_pub -p $port -t c/z -m once -q 1
  sent=$((sent + 1))
  [[ -s "$d/glue-c" ]]
}
await 10.0 c_sent_until
wait $gsub
# An end marker, straight to the broker: an echo of c/z would have come before it.
mosquitto_pub -p $port -t c/end -m end
await 5.0 grep -q '^c/end' "$d/loop"
kill $sub
check "a message bridged in is not sent back out: the broker carried only what mosquitto_pub sent" \
  "$sent" "$(grep -c '^c/z once$' "$d/loop")"
kill -INT $bridge
wait $bridge

# Two bridges on one segment, with the same mappings, for availability: each message
# is bridged once, one way or the other, and none comes back.
pair=()
for name in br1 br2; do
  GLUE_ENDPOINT_NAME=$name "$glue" bridge --broker mqtt://127.0.0.1:$port --out 'two/#' \
    --in 'back/#' >"$d/$name.out" 2>"$d/$name.err" &
  pair+=($!)
done
await 5.0 grep -q '^glue bridge: bridging' "$d/br1.out" &&
  await 5.0 grep -q '^glue bridge: bridging' "$d/br2.out"
check "two bridges connect" 0 $?
# Each knows both bridges' two mappings: four keys of the model they share.
four() { [[ $("$glue" model glue-bridges ls --timeout 2 2>/dev/null | wc -l) == 4 ]]; }
await 10.0 four
check "the bridges know each other" 0 $?
mosquitto_sub -p $port -t 'two/#' -v >"$d/two" 2>/dev/null &
sub=$!
probe_out() {
  "$glue" pub -t two/probe -m p --wait-subscribers 10 >/dev/null
  await 0.5 grep -q '^two/probe' "$d/two"
}
await 10.0 probe_out
"$glue" pub -t two/x -m once --wait-subscribers 10
"$glue" pub -t two/end -m end --wait-subscribers 10  # after two/x, in order
await 5.0 grep -q '^two/end' "$d/two"
kill $sub
check "glue -> MQTT through two bridges: once" 1 "$(grep -c '^two/x once$' "$d/two")"
"$glue" sub -t 'back/#' -v -W 3 >"$d/back" 2>/dev/null &
gsub=$!
probe_in() {
  mosquitto_pub -p $port -t back/probe -m p -q 1
  await 0.5 grep -q '^back/probe' "$d/back"
}
await 10.0 probe_in
mosquitto_pub -p $port -t back/y -m once -q 1
wait $gsub  # -W 3: 3 s after the last message
check "MQTT -> glue through two bridges: once" 1 "$(grep -c '^back/y once$' "$d/back")"
kill -INT "${pair[@]}"
wait "${pair[@]}"
# A configuration file of Mosquitto-style lines: prefixes on both sides, a QoS each.
cat >"$d/bridge.conf" <<'CONF'
# glue loc/x/... goes out as rem/x/...; mq/y/... comes in as gl/y/...
topic x/# out 1 loc/ rem/
topic y/# in 0 gl/ mq/
CONF
"$glue" bridge --broker mqtt://127.0.0.1:$port --config "$d/bridge.conf" \
  >"$d/bridge6.out" 2>"$d/bridge6.err" &
bridge=$!
await 5.0 grep -q '^glue bridge: bridging' "$d/bridge6.out"
mosquitto_sub -p $port -t 'rem/#' -v -C 1 -W 20 >"$d/conf-out" 2>/dev/null &
sub=$!
conf_out() {
  "$glue" pub -t loc/x/1 -m one --wait-subscribers 10 || return 1
  await 0.5 test -s "$d/conf-out"
}
await 20.0 conf_out
wait $sub
check "--config: out with both prefixes" "rem/x/1 one" "$(cat "$d/conf-out")"
"$glue" sub -t 'gl/#' -v -C 1 -W 20 >"$d/conf-in" &
sub=$!
conf_in() {
  mosquitto_pub -p $port -t mq/y/2 -m two
  await 0.5 test -s "$d/conf-in"
}
await 10.0 conf_in
wait $sub
check "--config: in with both prefixes" "gl/y/2 two" "$(cat "$d/conf-in")"
kill -INT $bridge
wait $bridge
echo "topic a/# sideways" >"$d/bad.conf"
"$glue" bridge --broker mqtt://127.0.0.1:$port --config "$d/bad.conf" 2>"$d/err"
check "a bad configuration line exits 1" 1 $?
check "... naming the file and line" 1 "$(grep -c "bad.conf:1: 'sideways' is not out, in or both" "$d/err")"

# --retain: a retained MQTT message becomes the topic's history for a late glue
# subscriber; a glue message goes out retained for a late MQTT subscriber. The glue
# type travels as the user property glue-type, both ways.
mosquitto_pub -p $port -t ret/x -m kept -r -q 1 -V mqttv5 -D publish user-property glue-type t.Kept
"$glue" bridge --broker mqtt://127.0.0.1:$port --retain --in 'ret/#' --out 'gret/#' \
  >"$d/bridge5.out" 2>"$d/bridge5.err" &
bridge=$!
await 5.0 grep -q '^glue bridge: bridging' "$d/bridge5.out"
"$glue" sub -t 'ret/#' -C 1 -W 20 -F '%t %p %y' >"$d/first-glue"
check "a retained MQTT message comes in, with its type" "ret/x kept t.Kept" \
  "$(cat "$d/first-glue")"
"$glue" sub -t 'ret/#' -C 1 -W 20 -F '%t %p %y history=%h' >"$d/late-glue"
check "... and reaches a later glue subscriber from the topic's history" \
  "ret/x kept t.Kept history=1" "$(cat "$d/late-glue")"
"$glue" pub -t gret/y -m stays --type t.Stays --wait-subscribers 10
await 5.0 test "$(mosquitto_sub -p $port -t 'gret/#' -C 1 -W 1 -F '%t %p' 2>/dev/null)" = "gret/y stays"
check "a glue message goes out retained for a late MQTT subscriber" 0 $?
kill -INT $bridge
wait $bridge

# The broker goes away: what glue publishes meanwhile waits in the bridge (QoS 1), and
# reaches a subscriber once the broker is back. The subscriber's session is persistent
# and the broker keeps it across its restart.
kill $broker_pid
wait $broker_pid 2>/dev/null
broker "allow_anonymous true" "persistence true" "persistence_location $d/"
"$glue" bridge --broker mqtt://127.0.0.1:$port --out 'r/#' >"$d/bridge4.out" \
  2>"$d/bridge4.err" &
bridge=$!
await 5.0 grep -q '^glue bridge: bridging' "$d/bridge4.out"
mosquitto_sub -p $port -t 'r/#' -q 1 -c -i glue-test-r -v -C 3 -W 60 >"$d/restart" &
sub=$!
await 5.0 grep -q 'as glue-test-r' "$d/mosquitto.log"
kill $broker_pid  # saves the subscriber's session
wait $broker_pid 2>/dev/null
for n in 1 2 3; do "$glue" pub -t r/$n -m "while away $n" --wait-subscribers 10; done
broker "allow_anonymous true" "persistence true" "persistence_location $d/"
wait $sub
check "QoS 1 messages published while the broker was away arrive after it is back" \
  "r/1 while away 1
r/2 while away 2
r/3 while away 3" "$(cat "$d/restart")"
kill -INT $bridge
wait $bridge

# mqtts://: a broker with a certificate from a CA of the test's own; the bridge checks
# it against --cafile, and refuses one from another CA.
tls_port=18831
for ca in ca other; do
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=glue test $ca" \
    -keyout "$d/$ca.key" -out "$d/$ca.crt" 2>/dev/null
done
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$d/server.key" \
  -out "$d/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$d/san"
openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
  -CAcreateserial -days 1 -extfile "$d/san" -out "$d/server.crt" 2>/dev/null
printf '%s\n' "listener $tls_port 127.0.0.1" "user $(id -un)" "allow_anonymous true" \
  "cafile $d/ca.crt" "certfile $d/server.crt" "keyfile $d/server.key" >"$d/tls.conf"
mosquitto -c "$d/tls.conf" >>"$d/mosquitto-tls.log" 2>&1 &
tls_broker=$!
await 5.0 mosquitto_pub -p $tls_port --cafile "$d/ca.crt" -h 127.0.0.1 -t probe -n 2>/dev/null
check "a TLS broker runs" 0 $?
"$glue" bridge --broker mqtts://127.0.0.1:$tls_port --cafile "$d/ca.crt" --out 's/#' \
  >"$d/bridge7.out" 2>"$d/bridge7.err" &
bridge=$!
await 5.0 grep -q '^glue bridge: bridging' "$d/bridge7.out"
check "the bridge connects over TLS" 0 $?
mosquitto_sub -p $tls_port --cafile "$d/ca.crt" -h 127.0.0.1 -t 's/#' -v -C 1 -W 20 \
  >"$d/tls-got" 2>/dev/null &
sub=$!
tls_until() {
  "$glue" pub -t s/x -m secret --wait-subscribers 10 || return 1
  await 0.5 test -s "$d/tls-got"
}
await 20.0 tls_until
wait $sub
check "over TLS, glue -> MQTT" "s/x secret" "$(cat "$d/tls-got")"
kill -INT $bridge
wait $bridge
"$glue" bridge --broker mqtts://127.0.0.1:$tls_port --cafile "$d/other.crt" --out 's/#' \
  2>"$d/err"
check "a certificate from another CA exits 2" 2 $?
check "... saying so" 1 "$(grep -c 'certificate verify failed' "$d/err")"
"$glue" bridge --broker mqtts://127.0.0.1:$tls_port --out 's/#' 2>"$d/err"
check "mqtts:// without --cafile exits 1" 1 $?
kill $tls_broker
wait $tls_broker 2>/dev/null

# Errors.
"$glue" bridge --broker http://127.0.0.1:$port --out 'a/#' 2>"$d/err"
check "a bad URL exits 1" 1 $?
check "... saying so" 1 "$(grep -c 'must be mqtt://HOST:PORT' "$d/err")"
"$glue" bridge --broker mqtt://127.0.0.1:$port --out 'a/#/x' 2>"$d/err"
check "a bad filter exits 1" 1 $?
"$glue" bridge --broker mqtt://127.0.0.1:$port 2>"$d/err"
check "no mapping exits 1" 1 $?
"$glue" bridge --broker mqtt://127.0.0.1:1 --out 'a/#' 2>"$d/err"
check "an unreachable broker exits 2" 2 $?
check "... saying why" 1 "$(grep -c 'cannot reach the broker mqtt://127.0.0.1:1: Connection refused' "$d/err")"
# A broker that wants a password.
kill $broker_pid
wait $broker_pid 2>/dev/null
mosquitto_passwd -c -b "$d/passwords" glue right 2>/dev/null
broker "allow_anonymous false" "password_file $d/passwords"
mosquitto_pub -p $port -t x -m y -u glue -P right
check "the broker takes the right password" 0 $?
echo wrong >"$d/wrong"
"$glue" bridge --broker mqtt://127.0.0.1:$port --username glue --password-file "$d/wrong" \
  --out 'a/#' 2>"$d/err"
check "refused credentials exit 2" 2 $?
check "... saying so" 1 "$(grep -c 'refused' "$d/err")"
echo right >"$d/right"
"$glue" bridge --broker mqtt://127.0.0.1:$port --username glue --password-file "$d/right" \
  --out 'a/#' >"$d/bridge3.out" 2>&1 &
bridge=$!
await 5.0 grep -q '^glue bridge: bridging' "$d/bridge3.out"
check "the right credentials connect" 0 $?
kill -INT $bridge
wait $bridge
((failures == 0)) || cat "$d/mosquitto.log"
finish
