# Sourced by the end-to-end tests of the glue command: check() counts what failed,
# await() waits for a condition with a deadline, require() skips (fails with CI set)
# without the tools a test needs, finish() says how it went and exits with it.
failures=0
check() {  # check WHAT EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "ok: $1"
  else
    echo "FAILED: $1: expected '$2', got '$3'"
    failures=$((failures + 1))
  fi
}
finish() {
  ((failures == 0)) || { echo "$failures check(s) failed"; exit 1; }
  echo "all checks passed"
}
# await SECONDS COMMAND...: until COMMAND succeeds, or the seconds (one decimal:
# 1.0, 10.0) pass.
await() {
  local until=$(($(date +%s%N) + ${1/./} * 100000000)) && shift
  until "$@"; do
    (($(date +%s%N) < until)) || return 1
    sleep 0.02
  done
}
# require WHAT TOOL...: each TOOL must be installed (scripts/setup.sh installs them);
# without one the test fails when CI is set, and otherwise skips saying which.
require() {
  local what=$1 tool && shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null && continue
    [[ -n "${CI:-}" ]] && { echo "FAILED: $tool is not installed (scripts/setup.sh)"; exit 1; }
    echo "skipped: $what needs $tool (scripts/setup.sh)"
    exit 0
  done
}
