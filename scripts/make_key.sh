#!/usr/bin/env bash
# Prints one new keyring line, `ID BASE64`: ID as given, BASE64 the standard encoding
# of 32 bytes from /dev/urandom (the format of security/include/glue/security/keyring.h).
#
#   scripts/make_key.sh site-2026 >> keyring       # add a key to a keyring file
#   (umask 077; scripts/make_key.sh main > keyring) # a new file only its owner reads
#
# ID: 1 to 32 letters, digits, '-' or '_'. The first line of a keyring is the key that
# sends; add a new key to every keyring, move it first, then remove the old one.
set -euo pipefail
export LC_ALL=C

if [[ $# -ne 1 ]]; then
  echo "usage: $0 ID" >&2
  exit 2
fi
id=$1
if [[ ! "$id" =~ ^[A-Za-z0-9_-]{1,32}$ ]]; then
  echo "$0: ID '$id' must be 1 to 32 letters, digits, '-' or '_'" >&2
  exit 2
fi
key=$(head -c 32 /dev/urandom | base64 -w 0)
printf '%s %s\n' "$id" "$key"
