#!/bin/sh
# Runs a command inside a private network namespace whose only interface is loopback,
# up, with multicast on and 224.0.0.0/4 routed to it: whatever the command sends
# cannot leave the machine, and the namespace vanishes with it. Making one needs root
# (CAP_SYS_ADMIN) and unshare(1) from util-linux.
#
#   scripts/isolated.sh CMD [ARGS...]
#   scripts/isolated.sh --allow-host CMD [ARGS...]
#
# Exits with CMD's status. When no namespace can be made it says why on stderr and
# exits 125 without running CMD; with --allow-host it warns and runs CMD on this
# host's network instead (for commands that keep to loopback by themselves).
set -eu

allow_host=0
if [ "${1:-}" = --allow-host ]; then
  allow_host=1
  shift
fi
case "${1:-}" in
  ''|-h|--help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

if unshare -n true 2>/dev/null; then
  exec unshare -n sh -c '
    if ! { ip link set lo up && ip link set lo multicast on &&
           ip route add 224.0.0.0/4 dev lo; }; then
      echo "isolated.sh: could not set up loopback in the private namespace" >&2
      exit 125
    fi
    exec "$@"' sh "$@"
fi

if [ "$allow_host" = 1 ]; then
  echo "isolated.sh: cannot create a private network namespace (needs root and" \
       "unshare); running '$1' on this host's network" >&2
  exec "$@"
fi
echo "isolated.sh: cannot create a private network namespace (needs root and" \
     "unshare); not running '$1'" >&2
exit 125
