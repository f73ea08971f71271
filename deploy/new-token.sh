#!/bin/bash
# Makes a bearer token for a mailfleet agent or controller: prints the token
# itself on the first line (give it to its holder, once: it is kept nowhere
# else) and on the second the line that goes in the server's --tokens file,
# which holds only the token's SHA-256.
set -euo pipefail

readonly PROG="${0##*/}"

usage() {
  cat >&2 <<EOF
usage: $PROG NAME ROLE

NAME  who holds the token: [A-Za-z0-9._@-]{1,64}; audit logs name it
ROLE  viewer (summaries, listings, envelopes), reader (also message
      content) or operator (also actions and flushes)

Prints the token, then the line "NAME ROLE SHA256HEX" for --tokens.
EOF
  exit 2
}

die() {
  echo "$PROG: $*" >&2
  exit 1
}

[[ $# -eq 2 ]] || usage
name="$1"
role="$2"
[[ "$name" =~ ^[A-Za-z0-9._@-]{1,64}$ ]] ||
  die "name '$name' must match [A-Za-z0-9._@-]{1,64}"
[[ "$role" =~ ^(viewer|reader|operator)$ ]] ||
  die "role '$role' must be viewer, reader or operator"
command -v openssl >/dev/null || die "openssl is not installed"

# 256 random bits, URL-safe base64 without padding: one word, nothing a
# shell, an HTTP header or a tokens file would split.
raw="$(openssl rand -base64 32)" || die "openssl rand failed"
token="${raw//+/-}"
token="${token//\//_}"
token="${token//=/}"
[[ ${#token} -eq 43 ]] || die "openssl rand gave an unexpected token"

digest="$(printf %s "$token" | openssl dgst -sha256 -r)" ||
  die "openssl dgst failed"
digest="${digest%% *}"
[[ "$digest" =~ ^[0-9a-f]{64}$ ]] || die "openssl dgst gave '$digest'"

printf '%s\n%s %s %s\n' "$token" "$name" "$role" "$digest"
