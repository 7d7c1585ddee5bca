# perf_setup.sh: what the scripts that run glue_perf share. Sourced, not run:
#
#   source "$(dirname "$0")/perf_setup.sh"
#   perf_setup NAME "$0" "$@"     # NAME: the script's name, for its messages
#
# perf_setup changes to the source tree, sets `perf` to BUILD_DIR/bench/glue_perf (the
# script's first argument, build-release by default; exit 2 when it is not built), and
# runs the script again under scripts/isolated.sh: inside a private network namespace
# with loopback up and multicast routed to it, when allowed (else on this host's
# loopback, with a warning).
# Then it exports GLUE_LISTEN_INTERFACE=lo and GLUE_LOG_LEVEL=warning.
perf_setup() {
  local name=$1 script=$2
  shift 2
  cd "$(dirname "$script")/.." || exit 2
  perf=${1:-build-release}/bench/glue_perf
  if [[ ! -x $perf ]]; then
    echo "$name: no $perf; build it first (see bench/compare_peers.sh)" >&2
    exit 2
  fi
  if [[ "${GLUE_PERF_INSIDE:-}" != 1 ]]; then
    export GLUE_PERF_INSIDE=1
    exec scripts/isolated.sh --allow-host "bench/${script##*/}" "$@"
  fi
  export GLUE_LISTEN_INTERFACE=lo GLUE_LOG_LEVEL=warning
}
