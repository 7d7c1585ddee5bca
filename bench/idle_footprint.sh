#!/usr/bin/env bash
# idle_footprint.sh: what an idle endpoint with peers costs. Starts three glue_perf
# subscribers (endpoints that find each other, subscribe and exchange interests, then
# only announce) on loopback, inside a private network namespace when allowed, waits
# for them to settle, and prints for each its share of a core over the measured
# window and its resident memory:
#
#   endpoint=1 cpu_percent=0.21 rss_mib=7.4
#
#   bench/idle_footprint.sh [BUILD_DIR]     # BUILD_DIR defaults to build-release
#
# GLUE_IDLE_SECONDS sets the measured window (default 30).
set -uo pipefail
source "$(dirname "$0")/perf_setup.sh"
perf_setup idle_footprint.sh "$0" "$@"
seconds=${GLUE_IDLE_SECONDS:-30}
ticks=$(getconf CLK_TCK)
pids=()
for i in 1 2 3; do
  "$perf" sub --duration $((seconds + 10)) --topic "idle/$i" >/dev/null 2>&1 &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
sleep 5  # discovery and interests settle

# cpu_ticks PID: user + system time of PID so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
declare -A before
for pid in "${pids[@]}"; do before[$pid]=$(cpu_ticks "$pid"); done
sleep "$seconds"
n=0
for pid in "${pids[@]}"; do
  n=$((n + 1))
  used=$(($(cpu_ticks "$pid") - before[$pid]))
  rss_kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
  awk -v n="$n" -v used="$used" -v ticks="$ticks" -v s="$seconds" -v rss="$rss_kib" \
    'BEGIN { printf "endpoint=%d cpu_percent=%.2f rss_mib=%.1f\n", n, 100 * used / ticks / s, rss / 1024 }'
done
