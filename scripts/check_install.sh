#!/usr/bin/env bash
# Checks what `cmake --install` gives a user: installs a build directory into a
# temporary prefix, builds examples/ against it with find_package(glue COMPONENTS
# services bridge), compiles the publisher again with `pkg-config --cflags --libs
# glue` and the components' examples with glue-services and glue-bridge, and runs a
# subscriber and that publisher in a private network namespace (scripts/isolated.sh)
# on loopback: the subscriber must receive all the messages, and both must exit by
# themselves; then the feature directory's example, whose file must reach the tree.
#
#   scripts/check_install.sh [BUILD_DIR]     # BUILD_DIR defaults to build
#
# Without a private network namespace the run is skipped, with a message, unless CI is
# set: then that is a failure. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build}
messages=10
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

echo "== install $build into a temporary prefix" >&2
cmake --install "$build" --prefix "$prefix" >/dev/null

echo "== the glue command and its completion for bash" >&2
"$prefix/bin/glue" --help >/dev/null
bash -c 'source "$1" && complete -p glue' _ \
  "$prefix/share/bash-completion/completions/glue" >/dev/null

echo "== examples/: configure and build against it (find_package)" >&2
cmake -S examples -B "$tmp/examples" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/examples"

echo "== examples/publisher.cc: compile with pkg-config" >&2
pc=$(find "$prefix" -name glue.pc -print -quit)
if [[ -z $pc ]]; then
  echo "check_install.sh: no glue.pc under the prefix" >&2
  exit 1
fi
export PKG_CONFIG_PATH=${pc%/*}
pkg-config --validate glue
read -ra pc_flags <<<"$(pkg-config --cflags --libs glue)"
"${CXX:-c++}" -std=c++20 -O1 examples/publisher.cc "${pc_flags[@]}" \
  -o "$tmp/publisher-pkg-config"

echo "== the components' examples: compile with glue-services and glue-bridge" >&2
for pair in services:features_example bridge:bridge_example; do
  component=${pair%%:*} example=${pair#*:}
  pkg-config --validate "glue-$component"
  read -ra pc_flags <<<"$(pkg-config --cflags --libs "glue-$component")"
  "${CXX:-c++}" -std=c++20 -O1 "examples/$example.cc" "${pc_flags[@]}" \
    -o "$tmp/$example-pkg-config"
done

if ! scripts/isolated.sh true 2>/dev/null; then
  if [[ -n "${CI:-}" ]]; then
    echo "check_install.sh: no private network namespace, and CI is set: cannot run" \
         "the examples" >&2
    exit 1
  fi
  echo "check_install.sh: skipped running the examples: no private network" \
       "namespace (needs root)" >&2
  exit 0
fi

echo "== run the subscriber and the publisher on loopback" >&2
# Both are bounded in time: the subscriber gives up after 30 s, the publisher waits at
# most 10 s for a peer; timeout(1) is the last resort.
export GLUE_LISTEN_INTERFACE=lo
# shellcheck disable=SC2016  # the inner shell expands its own arguments
if ! scripts/isolated.sh sh -c '
       timeout 60 "$1/subscriber" "$3" 30 >"$2/received" & subscriber=$!
       timeout 60 "$2/publisher-pkg-config" "$3" 50; published=$?
       wait "$subscriber"; received=$?
       echo "publisher exit $published, subscriber exit $received" >&2
       [ "$published" = 0 ] && [ "$received" = 0 ]' \
     sh "$tmp/examples" "$tmp" "$messages"; then
  echo "check_install.sh: the examples failed; the subscriber received:" >&2
  cat "$tmp/received" >&2
  exit 1
fi
cat "$tmp/received"
for ((i = 1; i <= messages; i++)); do
  if ! grep -q " said Hello, world\. $i\$" "$tmp/received"; then
    echo "check_install.sh: message $i never arrived" >&2
    exit 1
  fi
done
echo "== features_example: a feature declared in a file is in the tree" >&2
mkdir -p "$tmp/features/config" "$tmp/features/state"
echo '{"port": 80}' >"$tmp/features/config/web"
# shellcheck disable=SC2016  # the inner shell expands its own arguments
if ! scripts/isolated.sh sh -c '
       timeout 60 "$1" "$2/config" "$2/state" host-1 >"$2/out" 2>"$2/err" & pid=$!
       # Start returns once the tree is written: its line says so (within 20 s).
       i=0
       until grep -q "published" "$2/out" || [ $i -ge 200 ]; do sleep 0.1; i=$((i + 1)); done
       kill -TERM "$pid"; wait "$pid"; status=$?
       echo "features_example exit $status" >&2
       [ "$status" = 0 ] && grep -q "\"port\": *80" "$2/state/features/web/host-1"' \
     sh "$tmp/features_example-pkg-config" "$tmp/features"; then
  echo "check_install.sh: features_example did not publish its feature:" >&2
  cat "$tmp/features/out" "$tmp/features/err" >&2
  exit 1
fi
echo "check_install.sh: the installed glue builds the examples with CMake and" \
     "pkg-config; the subscriber received all $messages messages; the feature" \
     "directory wrote its tree" >&2
