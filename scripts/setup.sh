#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing glue needs, when any is
# missing. Nothing is fetched from anywhere but the distribution's own archive.
#
#   scripts/setup.sh           # install what is missing (as root), or say what to run
#   scripts/setup.sh --check   # only report; exit 1 when something is missing
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost-dev
  libprotobuf-dev protobuf-compiler
  libabsl-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  # c-ares: the DNS resolver behind discovery's DNS provider (SRV, A and AAAA
  # records, each lookup bounded in time). dnsmasq-base: the bare dnsmasq program,
  # which the DNS tests run as a server on loopback; the `dnsmasq` package would also
  # install and start a system-wide DNS service.
  libc-ares-dev dnsmasq-base
  # libsodium: the AEAD cipher (XChaCha20-Poly1305) that seals datagrams when a
  # keyring is set (glue_security).
  libsodium-dev
  # OpenSSL 3's libcrypto: the bulk of that cipher's work (ChaCha20-Poly1305).
  libssl-dev
  # CLI11: the glue command's parser of subcommands and flags (header-only).
  libcli11-dev
  # nlohmann/json (header-only): JSON for the coordination services (features,
  # registry). curl, inotify-tools and python3 (a webhook receiver): their end-to-end
  # tests act as users do.
  nlohmann-json3-dev curl inotify-tools python3
  # libmosquitto: the MQTT 5 client of the bridge (glue_bridge). mosquitto and
  # mosquitto-clients: the broker its end-to-end test starts on loopback, and
  # mosquitto_pub/mosquitto_sub. Debian's mosquitto package also enables a system-wide
  # broker on localhost:1883, which nothing here uses.
  libmosquitto-dev mosquitto mosquitto-clients
  # openssl: the certificates of the bridge's TLS test.
  openssl
  iproute2 util-linux
)
# The sanitizer and fuzzer builds use clang's runtime only when asked for.
if [[ "${GLUE_SETUP_CLANG:-0}" == 1 ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ "${1:-}" == --check ]]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: not root; run this and try again:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
