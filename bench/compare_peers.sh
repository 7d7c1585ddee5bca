#!/usr/bin/env bash
# compare_peers.sh: glue_perf beside Cyclone DDS's ddsperf (when installed), on
# loopback, inside a private network namespace when allowed: throughput at 64 B,
# 1 KiB, 64 KiB and 1 MiB, and the 64-byte round trip. One line per case, with both
# figures and the ratio glue/ddsperf.
#
#   bench/compare_peers.sh [BUILD_DIR]     # BUILD_DIR defaults to build-release
#
# GLUE_COMPARE_SECONDS sets each run's length (default 5). GLUE_COMPARE_KEYRING=1
# compares glue with a keyring (every datagram sealed, docs/PROTOCOL.md section 12)
# against glue without one, instead of against ddsperf. Needs glue_perf built:
#   cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DGLUE_BUILD_TESTS=OFF
#   cmake --build build-release --target glue_perf
set -uo pipefail
source "$(dirname "$0")/perf_setup.sh"
perf_setup compare_peers.sh "$0" "$@"
export CYCLONEDDS_URI='<General><Interfaces><NetworkInterface name="lo" multicast="true"/></Interfaces></General>'
seconds=${GLUE_COMPARE_SECONDS:-5}
keyring=${GLUE_COMPARE_KEYRING:-0}
have_dds=0
command -v ddsperf >/dev/null && have_dds=1
((have_dds || keyring)) || echo "compare_peers.sh: ddsperf not installed (apt-get install cyclonedds-tools): glue alone" >&2
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$out"' EXIT
if ((keyring)); then
  (umask 077 && scripts/make_key.sh bench >"$out/keyring")
fi

# ratio A B: A/B with two decimals, or "-" when B is missing or 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }

# glue_rate SIZE: prints "MSGS_PER_S MBPS LOST" of the subscriber's final line.
glue_rate() {
  "$perf" sub --duration $((seconds + 2)) >"$out/sub" 2>"$out/sub.err" &
  sleep 0.3
  "$perf" pub --size "$1" --duration "$seconds" >/dev/null 2>"$out/pub.err"
  wait
  sed -n 's/^final rate_msgs_per_s=\([0-9.]*\) mbps=\([0-9.]*\) lost=\([0-9]*\)$/\1 \2 \3/p' "$out/sub"
}

# dds_rate SIZE: prints "MSGS_PER_S MBPS" of ddsperf's last full second.
dds_rate() {
  timeout $((seconds + 5)) ddsperf -D $((seconds + 1)) sub >"$out/ddsub" 2>&1 &
  sleep 0.5
  timeout $((seconds + 5)) ddsperf -D "$seconds" pub size "$1" >/dev/null 2>&1
  wait
  grep ' rate ' "$out/ddsub" | grep -v ' rate 0' | tail -2 | head -1 |
    sed -n 's/.* rate \([0-9.]*\) kS\/s \([0-9.]*\) Mb\/s.*/\1 \2/p' |
    awk '{ printf "%.0f %s\n", $1 * 1000, $2 }'
}

# sealed CMD...: CMD with the keyring set.
sealed() { GLUE_KEYRING_FILE="$out/keyring" "$@"; }

if ((keyring)); then
  for size in 64 1024 65536 1048576; do
    read -r g_rate g_mbps g_lost <<<"$(glue_rate "$size")"
    read -r s_rate s_mbps s_lost <<<"$(sealed glue_rate "$size")"
    echo "size=$size glue_msgs_per_s=${g_rate:-?} sealed_msgs_per_s=${s_rate:-?}" \
         "ratio=$(ratio "${s_rate:-0}" "$g_rate") glue_mbps=${g_mbps:-?}" \
         "sealed_mbps=${s_mbps:-?} glue_lost=${g_lost:-?} sealed_lost=${s_lost:-?}"
  done
  # ping_p50 [sealed]: the 64-byte round trip's median, in microseconds.
  ping_p50() {
    "$@" "$perf" pong --duration $((seconds + 2)) >/dev/null 2>&1 &
    sleep 0.3
    "$@" "$perf" ping --size 64 --duration "$seconds" 2>/dev/null | sed -n 's/.*p50=\([0-9.]*\).*/\1/p'
    wait
  }
  g_p50=$(ping_p50)
  s_p50=$(ping_p50 sealed)
  echo "ping size=64 glue_p50_us=${g_p50:-?} sealed_p50_us=${s_p50:-?}" \
       "added_us=$(awk -v a="${s_p50:-0}" -v b="${g_p50:-0}" 'BEGIN { printf "%.1f", a - b }')"
  exit 0
fi

for size in 64 1024 65536 1048576; do
  read -r g_rate g_mbps g_lost <<<"$(glue_rate "$size")"
  d_rate="" d_mbps=""
  ((have_dds)) && read -r d_rate d_mbps <<<"$(dds_rate "$size")"
  echo "size=$size glue_msgs_per_s=${g_rate:-?} ddsperf_msgs_per_s=${d_rate:--}" \
       "ratio=$(ratio "${g_rate:-0}" "$d_rate") glue_mbps=${g_mbps:-?}" \
       "ddsperf_mbps=${d_mbps:--} ratio_mbps=$(ratio "${g_mbps:-0}" "$d_mbps") glue_lost=${g_lost:-?}"
done

"$perf" pong --duration $((seconds + 2)) >/dev/null 2>&1 &
sleep 0.3
g_p50=$("$perf" ping --size 64 --duration "$seconds" 2>/dev/null | sed -n 's/.*p50=\([0-9.]*\).*/\1/p')
wait
d_p50=""
if ((have_dds)); then
  timeout $((seconds + 5)) ddsperf -D $((seconds + 1)) pong >/dev/null 2>&1 &
  sleep 0.5
  d_p50=$(timeout $((seconds + 5)) ddsperf -D "$seconds" ping size 64 2>&1 |
            grep ' mean ' | tail -1 | sed -n 's/.* 50% \([0-9.]*\)us.*/\1/p')
  wait
fi
echo "ping size=64 glue_p50_us=${g_p50:-?} ddsperf_p50_us=${d_p50:--}" \
     "ratio=$(ratio "${g_p50:-0}" "$d_p50") (lower is better)"
