#!/usr/bin/env bash
# Times discovery with the real program, cmd/simple_endpoint, on loopback:
#
#   bench/discovery_timing.sh [--providers] [--no-time-limits] [BUILD_DIR]
#                                                 # BUILD_DIR defaults to build
#
# For multicast discovery (4 endpoints, every setting at its default) and for the
# rendezvous example of the Go reference implementation of glue (one endpoint with
# GLUE_DISCOVERY_TARGET_ADDRESS=0, three with GLUE_DISCOVERY_TARGET_ADDRESS=
# 127.0.0.1:27320) it measures, from the time stamps of the endpoints' stdout lines:
#   join     from the start of the last endpoint to each endpoint's `added` line for
#            its third peer (max; must be <= 200 ms);
#   join after start-up, the same from the last endpoint's log line saying that its
#            discovery starts (`discovery: interface ...`): without the time it takes
#            to start a process, which a busy machine stretches (no limit);
#   expire   from `kill -9` of one endpoint to each other's `removed ... reason=expired`
#            line for it (max; must be <= rate x multiplier + rate = 3 s);
#   goodbye  from SIGTERM to another to each other's `removed ... reason=goodbye` (max).
# Then the same three with multicast off, for each provider that finds peers without
# it: `peers` (a peers file listing the four data addresses, GLUE_DISCOVERY_PROVIDERS=
# peers) and `dns` (SRV records of a dnsmasq the script starts on 127.0.0.1,
# GLUE_DISCOVERY_PROVIDERS=dns; skipped, with a message, when dnsmasq is not
# installed, and a failure then when CI is set). And `rendezvous-killed`: four endpoints
# join through a rendezvous, which is then killed (-9); the three others must expire it
# and keep each other (no `removed` line for one another) until 3 periods after that.
# Then it runs 50 multicast endpoints and reports the bytes per second each sends.
# Prints one summary line per measure; exits non-zero when a check fails.
#
# --providers runs only the measures with multicast off (peers, dns, rendezvous-killed;
# about 15 s); they take a network id and ports of their own (GLUE_NETWORK_ID=7310,
# ports 27411-27430), so that they can share a namespace with other tests.
# --no-time-limits marks a figure over its limit SLOW without failing: only what did
# not happen at all fails. The e2e test discovery_providers_with_multicast_off runs
# both, since on a loaded machine starting a process alone can take 200 ms.
#
# It runs in a network namespace of its own with only loopback (re-executing itself
# under scripts/isolated.sh, which needs root, when it is not in one already), so that
# nothing it sends can leave the machine. Takes about 40 s.
# shellcheck disable=SC2317  # functions run through trap and wait_until
set -euo pipefail

args=("$@")
providers_only=0 time_limits=1
while [[ ${1:-} == --* ]]; do
  case $1 in
    --providers) providers_only=1 ;;
    --no-time-limits) time_limits=0 ;;
    *) echo "discovery_timing: unknown flag $1" >&2; exit 2 ;;
  esac
  shift
done
build=${1:-build}
endpoint=$(realpath -e "$build/cmd/simple_endpoint") || {
  echo "discovery_timing: no $build/cmd/simple_endpoint; build it first" >&2
  exit 2
}
build=$(realpath "$build")

# Anywhere but in a namespace whose only interface is loopback, with multicast routed
# to it, start again in one (scripts/isolated.sh refuses, and says why, when it cannot
# make one).
if [[ $(ip -o link show | awk -F': ' '{print $2}') != lo ||
      $(ip route show 224.0.0.0/4) != *"dev lo"* ]]; then
  exec "$(dirname "$0")/../scripts/isolated.sh" bash "$0" "${args[@]}"
fi

# The endpoints take every default, whatever this shell's environment says.
unset "${!GLUE_@}"
readonly rate_ms=1000 multiplier=2
readonly join_limit_ms=200 expire_limit_ms=$((rate_ms * multiplier + rate_ms))

logs=$(mktemp -d)
declare -A endpoint_pid  # of the endpoints running, by name
dnsmasq_pid=
cleanup() {
  local pid
  for pid in "${endpoint_pid[@]}" $dnsmasq_pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# now_us: the wall clock in microseconds, without a fork.
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# ms US: microseconds as milliseconds with one decimal.
ms() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# stamp: copies stdin to stdout, each line prefixed with its arrival in microseconds.
stamp() {
  local line t
  while IFS= read -r line; do
    t=$EPOCHREALTIME
    printf '%s %s\n' "${t/./}" "$line"
  done
}

# start NAME [VAR=VALUE...]: starts an endpoint called NAME, its stdout and stderr
# time-stamped into $logs/NAME.out and .err; sets started_us and endpoint_pid[NAME].
start() {
  local name=$1
  shift
  started_us=$(now_us)
  env GLUE_ENDPOINT_NAME="$name" "$@" "$endpoint" \
    > >(stamp >"$logs/$name.out") 2> >(stamp >"$logs/$name.err") &
  endpoint_pid[$name]=$!
}

# stop SIGNAL NAME...: signals the endpoints NAME... and waits until they have gone.
stop() {
  local signal=$1 name
  shift
  for name; do kill "-$signal" "${endpoint_pid[$name]}"; done
  for name; do
    wait "${endpoint_pid[$name]}" 2>/dev/null || true
    unset "endpoint_pid[$name]"
  done
}

# wait_until TIMEOUT_MS COMMAND...: polls COMMAND until it succeeds; fails at timeout.
# The figures come from the lines' stamps, not from this loop.
wait_until() {
  local deadline=$(($(now_us) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_us) < deadline)) || return 1
    sleep 0.01
  done
}

# added_count NAME: how many `added` lines NAME printed.
added_count() {
  local n
  n=$(grep -c ' added ' "$logs/$1.out" 2>/dev/null) || true
  echo "${n:-0}"
}

# all_added COUNT NAME...: whether every NAME printed at least COUNT `added` lines.
all_added() {
  local count=$1 name
  shift
  for name; do (($(added_count "$name") >= count)) || return 1; done
}

# removal OBSERVER GONE: "STAMP REASON" of OBSERVER's first `removed` line for GONE.
removal() {
  awk -v gone="name=$2" '$2 == "removed" && $3 == gone {
    sub("reason=", "", $5); print $1, $5; exit }' "$logs/$1.out"
}

# all_removed GONE OBSERVER...: whether every OBSERVER printed a `removed` line for GONE.
all_removed() {
  local gone=$1 name
  shift
  for name; do [[ -n $(removal "$name" "$gone") ]] || return 1; done
}

# max_removal_us SINCE_US REASON GONE OBSERVER...: the longest time from SINCE_US to
# an observer's removal of GONE; fails (saying why) on another reason.
max_removal_us() {
  local since=$1 reason=$2 gone=$3 name at why max=0
  shift 3
  for name; do
    read -r at why <<<"$(removal "$name" "$gone")"
    if [[ $why != "$reason" ]]; then
      echo "  $name removed $gone with reason=$why, not $reason" >&2
      return 1
    fi
    if ((at - since > max)); then max=$((at - since)); fi
  done
  echo "$max"
}

failed=0

# slow: marks the verdict of the measure running SLOW, unless it failed already.
slow() { [[ $verdict == FAIL ]] || verdict=SLOW; }

# judge: sets failed when the verdict of the measure running fails it.
judge() {
  [[ $verdict == OK || ($verdict == SLOW && $time_limits == 0) ]] || failed=1
}

# start_four MODE ENV_1 ENV_2 ENV_3 ENV_4: starts four endpoints MODE-1..MODE-4, each
# with its ENV (words VAR=VALUE, split on spaces); sets names to theirs, and
# last_start to when the last one started.
start_four() {
  local mode=$1 i
  shift
  names=("$mode-1" "$mode-2" "$mode-3" "$mode-4")
  for i in 0 1 2 3; do
    # shellcheck disable=SC2086  # the env words split on purpose
    start "${names[i]}" ${1:-}
    shift
  done
  last_start=$started_us
}

# join_max_us: "JOIN AFTER_START_UP", the longest times from last_start, and from the
# last endpoint's discovery starting, to an endpoint of names printing its third
# `added` line; fails, saying so, when one did not within 5 s.
join_max_us() {
  local name at up max=0 max_up=0
  if ! wait_until 5000 all_added 3 "${names[@]}"; then
    echo "${names[0]%-1}: not every endpoint found the three others within 5 s" >&2
    return 1
  fi
  up=$(awk '$4 == "discovery:" && $5 == "interface" { print $1; exit }' \
    "$logs/${names[3]}.err")
  if [[ -z $up ]]; then
    echo "${names[3]} logged no 'discovery: interface' line" >&2
    return 1
  fi
  for name in "${names[@]}"; do
    at=$(awk '$2 == "added" && ++n == 3 { print $1; exit }' "$logs/$name.out")
    if ((at - last_start > max)); then max=$((at - last_start)); fi
    if ((at - up > max_up)); then max_up=$((at - up)); fi
  done
  echo "$max $max_up"
}

# joined: waits until the four endpoints of names have found each other, setting
# join_max and join_up (join_max_us's two figures; a join over the limit makes the
# caller's verdict SLOW); when they do not, kills them, fails the script and returns 1.
joined() {
  local join
  if ! join=$(join_max_us); then
    failed=1
    stop KILL "${names[@]}"
    return 1
  fi
  read -r join_max join_up <<<"$join"
  ((join_max <= join_limit_ms * 1000)) || slow
}

# expire_after_kill GONE WATCHER...: kills GONE (-9) and waits until every WATCHER
# printed `removed ... reason=expired` for it. Sets killed_at (the kill, in
# microseconds), expire_us (the longest wait; 0 when one never came) and expire_max (it
# in ms, or `none`, which fails the caller's verdict; over the limit, SLOW).
expire_after_kill() {
  local gone=$1
  shift
  killed_at=$(now_us)
  stop KILL "$gone"
  if wait_until $((expire_limit_ms + 2000)) all_removed "$gone" "$@" &&
     expire_us=$(max_removal_us "$killed_at" expired "$gone" "$@"); then
    ((expire_us <= expire_limit_ms * 1000)) || slow
    expire_max=$(ms "$expire_us")
  else
    expire_us=0 expire_max=none verdict=FAIL
  fi
}

# measure MODE ENV_1 ENV_2 ENV_3 ENV_4: the three figures for four endpoints
# MODE-1..MODE-4, started with ENV_1..ENV_4.
measure() {
  local mode=$1 names last_start
  local verdict=OK join_max join_up killed_at expire_us expire_max goodbye_max t
  start_four "$@"
  joined || return 0  # failed already set; the measures after it still run

  # The second endpoint dies without a word: the others must notice its silence.
  local watchers=("${names[0]}" "${names[2]}" "${names[3]}")
  expire_after_kill "${names[1]}" "${watchers[@]}"

  # The third leaves politely: the two left hear its goodbye.
  t=$(now_us)
  stop TERM "${names[2]}"
  watchers=("${names[0]}" "${names[3]}")
  if wait_until 3000 all_removed "${names[2]}" "${watchers[@]}" &&
     goodbye_max=$(max_removal_us "$t" goodbye "${names[2]}" "${watchers[@]}"); then
    goodbye_max=$(ms "$goodbye_max")
  else
    goodbye_max=none verdict=FAIL
  fi

  stop TERM "${names[0]}" "${names[3]}"
  echo "$mode: join_max_ms=$(ms "$join_max")" \
       "join_after_start_up_max_ms=$(ms "$join_up") expire_max_ms=$expire_max" \
       "goodbye_max_ms=$goodbye_max $verdict" \
       "(limits: join <= $join_limit_ms, expire <= $expire_limit_ms)"
  judge
}

# rendezvous_killed ENV_OF_RENDEZVOUS ENV_OF_CLIENTS: four endpoints join through a
# rendezvous, which is then killed (-9); the three clients must expire it and keep
# each other meanwhile and for 3 periods after the last of them removed it.
rendezvous_killed() {
  local names last_start verdict=OK join_max join_up killed_at expire_us expire_max
  local kept client other
  start_four rendezvous-killed "$1" "$2" "$2" "$2"
  joined || return 0  # failed already set; the measures after it still run
  local clients=("${names[@]:1}")
  expire_after_kill "${names[0]}" "${clients[@]}"
  # From when the last client removed it (or from the kill, when one never did).
  local gone=$((killed_at + expire_us))
  sleep "$(awk -v left=$((gone + 3 * rate_ms * 1000 - $(now_us))) \
    'BEGIN { print (left > 0 ? left / 1e6 : 0) }')"
  kept=$(($(now_us) - killed_at))
  for client in "${clients[@]}"; do
    for other in "${clients[@]}"; do
      if [[ $client != "$other" && -n $(removal "$client" "$other") ]]; then
        echo "  $client removed $other ($(removal "$client" "$other")) after the" \
             "rendezvous died" >&2
        verdict=FAIL
      fi
    done
  done
  stop TERM "${clients[@]}"
  echo "rendezvous-killed: join_max_ms=$(ms "$join_max")" \
       "join_after_start_up_max_ms=$(ms "$join_up")" \
       "rendezvous_expire_max_ms=$expire_max clients_kept_ms=$(ms "$kept") $verdict" \
       "(limits: join <= $join_limit_ms, expire <= $expire_limit_ms, the three clients" \
       "remove none of each other until >= $((3 * rate_ms)) after it expired)"
  judge
}

# find_dnsmasq: the path of dnsmasq (in /usr/sbin, which PATH may lack), or nothing.
find_dnsmasq() {
  PATH=$PATH:/usr/sbin:/sbin:/usr/local/sbin command -v dnsmasq || true
}

# start_dnsmasq PORT RECORD...: starts dnsmasq on 127.0.0.1:PORT answering for the
# domain `test` only, from a hosts file naming glue-host.test 127.0.0.1 and the SRV
# records RECORD... (--srv-host values); waits until it listens.
start_dnsmasq() {
  local port=$1 record srv=()
  shift
  for record; do srv+=("--srv-host=$record"); done
  echo "127.0.0.1 glue-host.test" >"$logs/hosts"
  "$dnsmasq" --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
    --addn-hosts="$logs/hosts" --local=/test/ --listen-address=127.0.0.1 \
    --bind-interfaces --port="$port" --pid-file= --log-facility=- "${srv[@]}" \
    >"$logs/dnsmasq.log" 2>&1 &
  dnsmasq_pid=$!
  listening() { [[ -n $(ss -Hlun "sport = :$port") ]]; }
  if ! wait_until 5000 listening; then
    echo "dns: dnsmasq did not listen on 127.0.0.1:$port within 5 s:" >&2
    cat "$logs/dnsmasq.log" >&2
    return 1
  fi
}

# bandwidth COUNT SECONDS: the bytes per second each of COUNT multicast endpoints sends,
# read from the loopback counters of this namespace, where nothing else runs.
bandwidth() {
  local count=$1 seconds=$2 i names=()
  for ((i = 1; i <= count; i++)); do
    names+=("many-$i")
    start "many-$i"
  done
  if ! wait_until 15000 all_added $((count - 1)) "${names[@]}"; then
    echo "bandwidth: not all $count endpoints saw the $((count - 1)) others" >&2
    failed=1
    return
  fi
  # Joining is over (fast-join answers go to newcomers only). The start-up
  # announcements (20, 40, 80... ms apart) end within about 1.3 periods of each
  # start; after 1.5 periods what follows is the steady state of periodic ones.
  sleep "$(awk -v r="$rate_ms" 'BEGIN { print 1.5 * r / 1000 }')"
  local bytes0 packets0 bytes1 packets1 t0 t1
  read -r bytes0 packets0 < <(awk '$1 == "lo:" { print $10, $11 }' /proc/net/dev)
  t0=$(now_us)
  sleep "$seconds"
  read -r bytes1 packets1 < <(awk '$1 == "lo:" { print $10, $11 }' /proc/net/dev)
  t1=$(now_us)
  stop TERM "${names[@]}"
  awk -v b=$((bytes1 - bytes0)) -v p=$((packets1 - packets0)) -v n="$count" \
      -v us=$((t1 - t0)) -v rate="$rate_ms" 'BEGIN {
    s = us / 1e6
    printf "multicast, %d endpoints, rate %d ms: %.1f bytes/s and %.2f datagrams/s per endpoint, %.1f bytes per datagram\n", n, rate, b / n / s, p / n / s, p ? b / p : 0
    printf "  (lo TX over %.2f s: every datagram sent, announcements and any answers, each counted once with its 28 bytes of IP and UDP headers, however many endpoints receive it; RX counts the same bytes again)\n", s
  }'
}

if ((!providers_only)); then
  measure multicast "" "" "" ""
  rendezvous_client=GLUE_DISCOVERY_TARGET_ADDRESS=127.0.0.1:27320
  measure rendezvous GLUE_DISCOVERY_TARGET_ADDRESS=0 "$rendezvous_client" \
    "$rendezvous_client" "$rendezvous_client"
fi

# With multicast off, on a network id and ports of their own.
readonly own=GLUE_NETWORK_ID=7310
for i in 1 2 3 4; do echo "127.0.0.1:$((27410 + i))"; done >"$logs/peers.txt"
env=()
for i in 1 2 3 4; do
  env+=("$own GLUE_DISCOVERY_PROVIDERS=peers GLUE_PEERS_PATH=$logs/peers.txt
         GLUE_LISTEN_ADDRESS=127.0.0.1:$((27410 + i))")
done
measure peers "${env[@]}"

dnsmasq=$(find_dnsmasq)
if [[ -z $dnsmasq ]]; then
  echo "dns: skipped: dnsmasq is not installed (Debian: dnsmasq-base;" \
       "scripts/setup.sh installs it)"
  [[ -z ${CI:-} ]] || failed=1
else
  records=() env=()
  for i in 1 2 3 4; do
    records+=("_glue._udp.peers.test,glue-host.test,$((27420 + i))")
    env+=("$own GLUE_DISCOVERY_PROVIDERS=dns GLUE_DISCOVERY_DNS_NAME=peers.test
           GLUE_DISCOVERY_DNS_SERVER=127.0.0.1:27420
           GLUE_LISTEN_ADDRESS=127.0.0.1:$((27420 + i))")
  done
  if start_dnsmasq 27420 "${records[@]}"; then
    measure dns "${env[@]}"
  else
    failed=1
  fi
fi

rendezvous_client="$own GLUE_DISCOVERY_TARGET_ADDRESS=127.0.0.1:27430"
rendezvous_killed "$own GLUE_DISCOVERY_TARGET_ADDRESS=0
                   GLUE_DISCOVERY_LISTEN_ADDRESS=127.0.0.1:27430" "$rendezvous_client"

((providers_only)) || bandwidth 50 5
exit "$failed"
