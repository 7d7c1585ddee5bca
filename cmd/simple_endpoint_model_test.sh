#!/usr/bin/env bash
# simple_endpoint_model_test.sh SIMPLE_ENDPOINT: three simple_endpoints on loopback
# share the model `demo` (-model), each taking its commands through a pipe, and write
# a key each. SIGUSR1 cuts endpoint3 off; while the others report it gone, endpoint1
# writes a color and endpoint2 deletes the shape, which endpoint3 still has, and
# endpoint3 writes another color and a size. A second SIGUSR1 heals it; once each
# endpoint has synced with the two others, the three print their states. Exits 0 when
# the three are the same and hold the writes of both sides (the two colors as
# concurrent values), each step within its deadline; otherwise says what it saw and
# exits 1. Prints what it does: scripts/demo.sh runs it as its last step.
set -u
endpoint=$1
dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; rm -rf "$dir"' EXIT

export GLUE_LISTEN_INTERFACE=lo GLUE_NETWORK_ID=7304 GLUE_DISCOVERY_RATE_MILLISECONDS=100
export GLUE_DISCOVERY_TARGET_ADDRESS=239.255.73.4:27396
export GLUE_DISCOVERY_LISTEN_ADDRESS=239.255.73.4:27396
export GLUE_FAULT_LOSS=0  # faults, none: so that SIGUSR1 partitions
# In memory: a directory from the environment would have the three share one file.
unset GLUE_MODEL_DIRECTORY
names=(endpoint1 endpoint2 endpoint3)
inputs=()  # the write end of each endpoint's stdin
for i in 0 1 2; do
  mkfifo "$dir/$i.in"
  GLUE_ENDPOINT_NAME=${names[i]} "$endpoint" -model demo <"$dir/$i.in" >"$dir/$i" \
    2>"$dir/$i.log" &
  pids+=($!)
  exec {input}>"$dir/$i.in"
  inputs+=("$input")
done

fail() {
  echo "simple_endpoint_model_test.sh: FAILED: $*" >&2
  for i in 0 1 2; do
    echo "--- ${names[i]}: stdout, then stderr" >&2
    cat "$dir/$i" "$dir/$i.log" >&2
  done
  exit 1
}

# lines I: how many lines endpoint I printed so far.
lines() { wc -l <"$dir/$1"; }

# wait_for I PATTERN [AFTER]: until endpoint I printed a line matching PATTERN after
# its first AFTER lines, for at most 10 s.
wait_for() {
  local deadline=$((SECONDS + 10))
  until tail -n "+$((${3:-0} + 1))" "$dir/$1" | grep -q -- "$2"; do
    ((SECONDS < deadline)) || fail "${names[$1]} printed no line matching '$2' in 10 s"
    sleep 0.05
  done
}

# tell I COMMAND: COMMAND on endpoint I's stdin, shown.
tell() {
  echo "  ${names[$1]} < $2"
  echo "$2" >&"${inputs[$1]}"
}

# dump: each endpoint prints its state; states[I] is endpoint I's, a line per key.
states=()
dump() {
  local i from
  for i in 0 1 2; do
    from=$(lines "$i")
    echo dump >&"${inputs[i]}"
    wait_for "$i" "^state demo keys=" "$from"
    states[i]=$(tail -n "+$((from + 1))" "$dir/$i" |
      awk '/^state demo keys=/ { on = 1; next } on && /^  / { print substr($0, 3); next }
           { on = 0 }')
  done
}

# show TITLE: the states, an endpoint a line.
show() {
  local i
  echo "$1"
  dump
  for i in 0 1 2; do
    echo "  ${names[i]}: ${states[i]//$'\n'/, }"
  done
}

echo "three endpoints open the model 'demo' and write a key each:"
for i in 0 1 2; do wait_for "$i" "^model demo: replicas=2$"; done
tell 0 "put color red"
tell 1 "put shape circle"
tell 2 "put size small"
for i in 0 1 2; do
  for change in "color=red by endpoint1" "shape=circle by endpoint2" \
                "size=small by endpoint3"; do
    wait_for "$i" "^model demo: put $change$"
  done
done
show "each endpoint printed the three puts as they came; the states:"

echo "SIGUSR1 to endpoint3: a partition cuts it off"
kill -USR1 "${pids[2]}"
wait_for 2 "^partitioned$"
for i in 0 1; do
  wait_for "$i" "^removed name=endpoint3 .*reason=expired"
  wait_for 2 "^removed name=${names[i]} .*reason=expired"
done
echo "each side reports the other gone; on endpoint1's side:"
tell 0 "put color blue"
tell 1 "del shape"
echo "on endpoint3's side:"
tell 2 "put color green"
tell 2 "put size large"
for i in 0 1; do
  wait_for "$i" "^model demo: put color=blue by endpoint1$"
  wait_for "$i" "^model demo: delete shape "
done
wait_for 2 "^model demo: put color=green by endpoint3$"
wait_for 2 "^model demo: put size=large by endpoint3$"
show "the states during the partition:"

echo "SIGUSR1 to endpoint3 again: the partition heals"
marks=()
for i in 0 1 2; do marks[i]=$(lines "$i"); done
kill -USR1 "${pids[2]}"
wait_for 2 "^healed$" "${marks[2]}"
for i in 0 1 2; do wait_for "$i" "^model demo: replicas=2$" "${marks[i]}"; done
for i in 0 1 2; do
  from=$(lines "$i")
  tell "$i" sync
  wait_for "$i" "^model demo: \(synced\|failed 'sync'\)" "$from"
  tail -n "+$((from + 1))" "$dir/$i" | grep -q "^model demo: synced replicas=2$" ||
    fail "${names[i]} did not sync with the two others"
done
echo "what each endpoint printed of the model after the heal:"
for i in 0 1 2; do
  tail -n "+$((marks[i] + 1))" "$dir/$i" | grep "^model demo: \(put\|delete\)" |
    sed "s/^/  ${names[i]}: /"
done
show "the states after the heal:"

[[ ${states[0]} == "${states[1]}" && ${states[1]} == "${states[2]}" ]] ||
  fail "the three states differ after the heal"
if ! grep -qx "color=\(blue\|green\) (+1 concurrent)" <<<"${states[0]}" ||
   ! grep -qx "size=large" <<<"${states[0]}" || grep -q "^shape=" <<<"${states[0]}"; then
  fail "the states are the same, but lack writes of one side"
fi
echo "the three states are the same, with the writes of both sides"
