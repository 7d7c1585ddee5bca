#!/usr/bin/env bash
# Installs what is missing, builds glue and runs the demo on loopback: for now the
# network and serialization layers exchanging announcements, data frames (through a
# link that loses 10% of datagrams), an acknowledgement, garbage and a goodbye.
# Runs inside a private network namespace when allowed; sends only to 127.0.0.1.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! scripts/setup.sh; then
  echo "demo.sh: the packages above are needed first" >&2
  exit 0
fi
if ! { cmake -S . -B build -G Ninja >/dev/null && cmake --build build --target loopback_exchange; }; then
  echo "demo.sh: the build failed; see above" >&2
  exit 0
fi

run=(build/cmd/loopback_exchange "$@")
if unshare -n true 2>/dev/null; then
  unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${run[@]}"
else
  "${run[@]}"
fi || echo "demo.sh: the demo reported a problem (exit $?)" >&2
exit 0
