# Sourced by the end-to-end tests of the glue command: check() counts what failed,
# finish() says how it went and exits with it.
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
