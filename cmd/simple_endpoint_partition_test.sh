#!/usr/bin/env bash
# simple_endpoint_partition_test.sh SIMPLE_ENDPOINT: two simple_endpoints on loopback,
# started with faults (none yet), find each other; SIGUSR1 cuts the first off, and
# each reports the other expired; a second SIGUSR1 heals it, and each finds the other
# again. A third, started without faults, says why it cannot be partitioned. Exits 0
# when all of that happened within its deadline.
set -u
endpoint=$1
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; rm -rf "$dir"' EXIT

export GLUE_LISTEN_INTERFACE=lo GLUE_NETWORK_ID=7303 GLUE_DISCOVERY_RATE_MILLISECONDS=100
export GLUE_DISCOVERY_TARGET_ADDRESS=239.255.73.3:27397
export GLUE_DISCOVERY_LISTEN_ADDRESS=239.255.73.3:27397
for name in one two; do
  GLUE_FAULT_LOSS=0 GLUE_ENDPOINT_NAME=$name "$endpoint" >"$dir/$name" 2>"$dir/$name.log" &
  pids+=($!)
done
GLUE_ENDPOINT_NAME=three "$endpoint" >"$dir/three" 2>"$dir/three.log" &
pids+=($!)

# wait_for FILE COUNT PATTERN: until FILE has COUNT lines matching PATTERN, for at most
# 20 s. The file may not be there yet: the shell of a background job opens its
# redirection after `&` has returned.
wait_for() {
  local deadline=$((SECONDS + 20)) n
  while n=$(grep -c -- "$3" "$1" 2>/dev/null); ((${n:-0} < $2)); do
    if ((SECONDS >= deadline)); then
      echo "no $2 line(s) matching '$3' in $1 within 20 s:"
      cat "$1" "$1.log"
      exit 1
    fi
    sleep 0.05
  done
}

wait_for "$dir/one" 1 "^added name=two "
wait_for "$dir/two" 1 "^added name=one "
kill -USR1 "${pids[0]}"
wait_for "$dir/one" 1 "^partitioned$"
wait_for "$dir/two" 1 "^removed name=one .*reason=expired"
wait_for "$dir/one" 1 "^removed name=two .*reason=expired"
kill -USR1 "${pids[0]}"
wait_for "$dir/one" 1 "^healed$"
wait_for "$dir/one" 2 "^added name=two "
wait_for "$dir/two" 2 "^added name=one "
kill -USR1 "${pids[2]}"
wait_for "$dir/three.log" 1 "SIGUSR1: .*injects no faults"
echo "partitioned and healed while running; the endpoint without faults said why not"
