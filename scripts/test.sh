#!/usr/bin/env bash
# Installs what is missing, builds glue and runs every test with CTest, saying after
# each run how many tests were skipped and which; then installs build/ into a
# temporary prefix and builds and runs examples/ against it (scripts/check_install.sh).
#
#   scripts/test.sh              # build/ (RelWithDebInfo), all tests
#   scripts/test.sh --sanitize   # also build-asan/ (ASan+UBSan) without the end-to-end
#                                # tests (label e2e), and build-tsan/ (TSan) with the
#                                # tests of code on several threads (label threads)
#
# The tests run inside a private network namespace (loopback only, multicast routed to
# it) whenever this user may create one, so that nothing they send can leave the
# machine (scripts/isolated.sh); otherwise they run as they are, on loopback, unless CI
# is set. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

scripts/setup.sh

# Without a private network namespace the tests run on this host's loopback and skip
# what needs more; under CI (CI set) that is an error instead.
isolated=(scripts/isolated.sh --allow-host)
if [[ -n "${CI:-}" ]]; then
  isolated=(scripts/isolated.sh)
fi

# report_skipped DIR LOG: how many tests ctest's output LOG lists as skipped, and
# which (a test that skipped tested nothing; under CI a skip is a failure instead).
report_skipped() {
  local names=()
  mapfile -t names < <(awk '/^The following tests did not run:/ { listed = 1; next }
                            listed && / \(Skipped\)$/ {
                              sub(/^[ \t]*[0-9]+ - /, ""); sub(/ \(Skipped\)$/, "")
                              print; next }
                            listed && !/^[ \t]/ { listed = 0 }' "$2")
  echo "test.sh: $1: ${#names[@]} tests skipped"
  if ((${#names[@]} > 0)); then
    printf '  skipped: %s\n' "${names[@]}"
  fi
}

# build_and_test DIR [CMAKE ARGS...]; it builds the targets in build_targets (all when
# empty), and ctest runs behind the words in run_prefix, with the arguments in
# ctest_args.
run_prefix=()
ctest_args=()
build_targets=()
build_and_test() {
  local dir=$1 status=0
  shift
  echo "== $dir: configure and build" >&2
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  if ((${#build_targets[@]} > 0)); then
    cmake --build "$dir" --target "${build_targets[@]}"
  else
    cmake --build "$dir"
  fi
  echo "== $dir: test" >&2
  "${isolated[@]}" "${run_prefix[@]}" ctest --test-dir "$dir" --output-on-failure \
    -j "$(nproc)" --timeout 600 "${ctest_args[@]}" |
    tee "$dir/ctest-output.log" || status=$?
  report_skipped "$dir" "$dir/ctest-output.log"
  return "$status"
}

# Line tables only (-g1): what backtraces, gdb's stepping and the sanitizers' reports
# use; full debug information (-g) nearly doubles the time templates take to compile.
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
scripts/check_install.sh build
if ((sanitize)); then
  # Whole programs end to end (label e2e) run in the plain build only, which keeps
  # the sanitizer runs short.
  ctest_args=(-LE e2e)
  build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug -DGLUE_SANITIZE=address \
    -DGLUE_BUILD_BENCHMARKS=OFF "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -g1"
  # TSan's shadow memory needs an address layout that ASLR with many random bits
  # breaks on newer kernels; setarch -R turns randomization off for its run.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    run_prefix=(setarch "$(uname -m)" -R)
  fi
  # -O1 (which TSan's authors advise as the least for bearable speed) compiles in half
  # the time of -O2 with TSan's instrumentation. Only the test programs whose code runs
  # on several threads (label threads: glue_test(... THREADS)) are built and run: in
  # the others everything runs on the test's one thread, and TSan has nothing to find.
  ctest_args=(-L threads)
  build_targets=(glue_threaded_tests)
  build_and_test build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLUE_SANITIZE=thread \
    -DGLUE_BUILD_BENCHMARKS=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
fi
echo "test.sh: all tests passed" >&2
