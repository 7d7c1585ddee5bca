#!/usr/bin/env bash
# Installs what is missing, builds glue and runs the demo on loopback:
#   1. the multicast example of the Go reference implementation of glue: three
#      simple_endpoint subscribers and a publisher; it stops (goodbye), one
#      subscriber is killed (it expires);
#   2. the unicast rendezvous example: the same through 127.0.0.1:27320;
#   2b. the multicast example again with 30% of the datagrams lost (and some
#       duplicated, reordered and corrupted), messages that expire after 5 s;
#   2c. the multicast example again, the four sealing every datagram under a shared
#       keyring, while a fifth subscriber without it receives nothing and sees nobody;
#   3. the network and serialization layers exchanging frames over a lossy link;
#   4. a replicated model shared by three simple_endpoints (-model): one is cut off
#      by a partition while both sides write, and after the heal the three states are
#      the same (cmd/simple_endpoint_model_test.sh).
# Runs inside a private network namespace (scripts/isolated.sh) when allowed; every
# endpoint is bound to the loopback interface either way, so nothing leaves the
# machine. Exits 1 when the replicas of step 4 do not end in one state; otherwise
# never fails.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${GLUE_DEMO_INSIDE:-}" != 1 ]]; then
  if ! scripts/setup.sh; then
    echo "demo.sh: the packages above are needed first" >&2
    exit 0
  fi
  if ! { cmake -S . -B build -G Ninja >/dev/null &&
         cmake --build build --target simple_endpoint loopback_exchange transport_exchange; }; then
    echo "demo.sh: the build failed; see above" >&2
    exit 0
  fi
  export GLUE_DEMO_INSIDE=1
  exec scripts/isolated.sh --allow-host scripts/demo.sh "$@"
fi

export GLUE_LISTEN_INTERFACE=lo
endpoint=build/cmd/simple_endpoint
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$out"' EXIT

# run_example TITLE ENV_OF_ALL ENV_OF_FIRST ENV_OF_OTHERS [PUBLISHER_FLAGS...]: an
# example of the Go reference implementation of glue: three subscribers
# (endpoint1..3) and a publisher (endpoint4) that publishes 64 KiB messages at 20 Hz
# for 3 s, says goodbye and exits.
# Then endpoint3 is killed (no goodbye: the others see it expire) and the others are
# stopped.
run_example() {
  local title=$1 all=$2 first=$3 others=$4 pids=() i
  shift 4
  echo
  echo "== $title"
  for i in 1 2 3 4; do
    local env=$others
    ((i == 1)) && env=$first
    local args=()
    ((i == 4)) && args=(-sendMessages -duration 3 "$@")
    env $all $env GLUE_ENDPOINT_NAME="endpoint$i" "$endpoint" "${args[@]}" \
      >"$out/$i" 2>"$out/$i.log" &
    pids+=($!)
    ((i == 3)) && sleep 0.5  # the subscribers first, as in the README
  done
  wait "${pids[3]}" 2>/dev/null
  echo "(endpoint4 published for 3 s and said goodbye; killing endpoint3: the others"
  echo " see it expire)"
  { kill -9 "${pids[2]}" && wait "${pids[2]}"; } 2>/dev/null
  # Silent for its period (1 s) times the multiplier (2), then probed for one more
  # period: removed within 3 s of its last word.
  sleep 3.5
  kill -TERM "${pids[0]}" "${pids[1]}"
  wait "${pids[@]}" 2>/dev/null
  for i in 1 2 3 4; do
    sed "s/^/endpoint$i: /" "$out/$i"
  done
}

run_example "multicast discovery (239.192.137.1:27320): three subscribers, a publisher" \
  "" "" ""
run_example "unicast discovery through a rendezvous at 127.0.0.1:27320" "" \
  "GLUE_DISCOVERY_TARGET_ADDRESS=0" "GLUE_DISCOVERY_TARGET_ADDRESS=127.0.0.1:27320"
run_example "multicast again, every endpoint losing 30% of the datagrams it sends (2%
   duplicated, 5% reordered, 1% corrupted); messages expire after 5 s" \
  "GLUE_FAULT_LOSS=0.3 GLUE_FAULT_DUPLICATE=0.02 GLUE_FAULT_REORDER=0.05
   GLUE_FAULT_CORRUPT=0.01" "" "" -expiry 5000
(umask 077; scripts/make_key.sh demo >"$out/keyring")
GLUE_ENDPOINT_NAME=outsider "$endpoint" >"$out/outsider" 2>"$out/outsider.log" &
outsider=$!
run_example "multicast again, the four endpoints sealing every datagram under a shared
   keyring (GLUE_KEYRING_FILE); meanwhile an outsider without it subscribes to the
   same topic" "GLUE_KEYRING_FILE=$out/keyring" "" ""
kill -TERM "$outsider"
wait "$outsider" 2>/dev/null
echo "outsider (no keyring): received" \
  "$(sed -n 's/^final .* received=\([0-9]*\) .*/\1/p' "$out/outsider") message(s)," \
  "added $(grep -c '^added ' "$out/outsider") peer(s)"
grep -E 'security: (every datagram sealed|refused .*\(not sealed\))' "$out/1.log" |
  sed 's/^/endpoint1 log: /'
echo
echo "== the network and serialization layers: frames over a link that loses 10%"
build/cmd/loopback_exchange "$@" || echo "demo.sh: the exchange reported a problem" >&2
echo
echo "== the transport layer: 10,000 reliable ordered messages through 20% loss,"
echo "   5% duplication, 10% reordering and 1% corruption"
GLUE_FAULT_LOSS=0.2 GLUE_FAULT_DUPLICATE=0.05 GLUE_FAULT_REORDER=0.1 \
  GLUE_FAULT_CORRUPT=0.01 build/cmd/transport_exchange 2>/dev/null ||
  echo "demo.sh: the transport exchange reported a problem" >&2
echo
echo "== the fragmentation layer: 100 reliable ordered messages of 1 MiB (813"
echo "   fragments each) through the same faults"
GLUE_FAULT_LOSS=0.2 GLUE_FAULT_DUPLICATE=0.05 GLUE_FAULT_REORDER=0.1 \
  GLUE_FAULT_CORRUPT=0.01 build/cmd/transport_exchange --messages 100 --size 1048576 \
  2>/dev/null || echo "demo.sh: the large-message exchange reported a problem" >&2
echo
echo "== the model layer: three endpoints share the model 'demo' (simple_endpoint -model"
echo "   demo, commands on stdin); one is cut off by a partition while both sides write"
if ! cmd/simple_endpoint_model_test.sh "$endpoint"; then
  echo "demo.sh: FAILED: the three replicas of the model did not end in one state" >&2
  exit 1
fi
exit 0
