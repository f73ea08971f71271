#!/bin/bash
# Makes the TLS material of a mailfleet fleet with openssl: one private CA,
# the controller's certificate, one per agent and one per operator, each
# valid 825 days (the most that clients accept for a server certificate).
#
# The CA is made once: when OUTDIR already holds ca.pem and ca.key they are
# reused, so that certificates added later are trusted by the running fleet.
# A certificate already in OUTDIR is kept when it was issued by that CA and
# names the same subject alternative names; otherwise it is issued again.
set -euo pipefail

readonly PROG="${0##*/}"
readonly DAYS=825

usage() {
  cat >&2 <<EOF
usage: $PROG OUTDIR [--controller NAME[:SAN,...]] [--agent NAME[:SAN,...]]...
                    [--operator NAME]...

Writes to OUTDIR (created if missing; keys mode 0600):
  ca.pem ca.key                 the fleet's CA (reused when present)
  controller.pem controller.key CN=NAME (default mailfleet-controller),
                                serverAuth and clientAuth
  agent-NAME.pem agent-NAME.key CN=NAME, serverAuth and clientAuth
  operator-NAME.pem .key        CN=NAME, clientAuth only

Controller and agent certificates name DNS:NAME, DNS:localhost and
IP:127.0.0.1, plus each SAN given: a host name, an IP address, or either
with its DNS: or IP: prefix (e.g. --agent gw1:gw1.example.net,IP:192.0.2.7).
EOF
  exit 2
}

die() {
  echo "$PROG: $*" >&2
  exit 1
}

# A name becomes a file name and a certificate's CN: no slashes, no leading
# dot, nothing a config file would read as syntax.
check_name() {
  local kind="$1" name="$2"
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$ ]] ||
    die "$kind name '$name' must match [A-Za-z0-9][A-Za-z0-9._@-]{0,63}"
}

is_ip() {
  [[ "$1" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ||
     ("$1" =~ ^[0-9A-Fa-f:.]+$ && "$1" == *:*:*) ]]
}
is_dns() {
  [[ "$1" =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]]
}

# "host", "IP:addr", "DNS:host" or a bare address -> "DNS:host" / "IP:addr".
san_entry() {
  local san="$1"
  case "$san" in
    DNS:*) is_dns "${san#DNS:}" || die "'$san' is not a DNS name"; echo "$san" ;;
    IP:*) is_ip "${san#IP:}" || die "'$san' is not an IP address"; echo "$san" ;;
    *)
      if is_ip "$san"; then
        echo "IP:$san"
      elif is_dns "$san"; then
        echo "DNS:$san"
      else
        die "'$san' is neither a host name nor an IP address"
      fi ;;
  esac
}

# "NAME[:SAN,SAN...]" -> NAME in $spec_name, the full SAN list in $spec_sans.
parse_server_spec() {
  local kind="$1" spec="$2" extra=""
  spec_name="${spec%%:*}"
  [[ "$spec" == *:* ]] && extra="${spec#*:}"
  check_name "$kind" "$spec_name"
  spec_sans="DNS:$spec_name,DNS:localhost,IP:127.0.0.1"
  if [[ -n "$extra" ]]; then
    local san
    local -a san_list
    IFS=, read -r -a san_list <<<"$extra"
    for san in "${san_list[@]}"; do
      [[ -n "$san" ]] || die "$kind '$spec': empty SAN"
      san="$(san_entry "$san")"
      # Already there: listed once.
      [[ ",$spec_sans," == *",$san,"* ]] || spec_sans="$spec_sans,$san"
    done
  fi
}

[[ $# -ge 1 ]] || usage
OUTDIR="$1"
shift
[[ -n "$OUTDIR" && "$OUTDIR" != -* ]] || usage

controller_name="mailfleet-controller"
controller_sans="DNS:mailfleet-controller,DNS:localhost,IP:127.0.0.1"
declare -a agent_names=() agent_sans=() operator_names=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --controller)
      [[ $# -ge 2 ]] || usage
      parse_server_spec controller "$2"
      controller_name="$spec_name"
      controller_sans="$spec_sans"
      shift 2 ;;
    --agent)
      [[ $# -ge 2 ]] || usage
      parse_server_spec agent "$2"
      agent_names+=("$spec_name")
      agent_sans+=("$spec_sans")
      shift 2 ;;
    --operator)
      [[ $# -ge 2 ]] || usage
      check_name operator "$2"
      operator_names+=("$2")
      shift 2 ;;
    -h|--help) usage ;;
    *) echo "$PROG: unknown argument '$1'" >&2; usage ;;
  esac
done

# An agent trusts the forwarded principal of whichever client certificate
# carries the controller's name: no other certificate may carry it.
for name in ${agent_names[@]+"${agent_names[@]}"} ${operator_names[@]+"${operator_names[@]}"}; do
  [[ "$name" != "$controller_name" ]] ||
    die "'$name' is the controller's name: agents would take its certificate for the controller's"
done

command -v openssl >/dev/null || die "openssl is not installed"
mkdir -p "$OUTDIR" || die "cannot create $OUTDIR"
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$1" 2>"$work/err" || die "genpkey $1: $(tail -n1 "$work/err")"
  chmod 0600 "$1"
}

# A positive 127-bit serial: random, as CAs must make them.
serial() {
  local hex
  hex="$(openssl rand -hex 16)"
  printf '0x%x%s' "$(( 0x${hex:0:1} & 7 ))" "${hex:1}"
}

ca_pem="$OUTDIR/ca.pem"
ca_key="$OUTDIR/ca.key"
if [[ -e "$ca_pem" || -e "$ca_key" ]]; then
  [[ -f "$ca_pem" && -f "$ca_key" ]] ||
    die "$OUTDIR holds only one of ca.pem and ca.key"
  # The key must be the certificate's, or everything signed now is useless.
  [[ "$(openssl x509 -in "$ca_pem" -noout -pubkey 2>/dev/null)" == \
     "$(openssl pkey -in "$ca_key" -pubout 2>/dev/null)" ]] ||
    die "$ca_key is not the key of $ca_pem"
  echo "reusing the CA in $ca_pem"
else
  new_key "$ca_key"
  # A CA of its own name: two fleets' CAs never look alike to a verifier.
  openssl req -new -x509 -key "$ca_key" -sha256 -days "$DAYS" \
    -set_serial "$(serial)" \
    -subj "/O=mailfleet/CN=mailfleet fleet CA $(openssl rand -hex 4)" \
    -config /dev/null \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$ca_pem" 2>"$work/err" || die "CA certificate: $(tail -n1 "$work/err")"
  chmod 0644 "$ca_pem"
  echo "made the CA $ca_pem"
fi

# The subject alternative names in `openssl -text` form ("DNS:a,IPAddress:b")
# of the certificate $1, or with $2 set, of the list $2 as openssl would
# write it with the key $1 (IPv6 addresses come out in full).
sans_text() {
  if [[ $# -eq 2 && -z "$2" ]]; then
    return 0
  elif [[ $# -eq 1 ]]; then
    openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null
  else
    openssl req -new -key "$1" -subj /CN=x -config /dev/null \
      -addext "subjectAltName=$2" 2>/dev/null | openssl req -noout -text
  fi | sed -n '/Subject Alternative Name/{n;p}' | tr -d ' \n'
}

# issue BASENAME CN EKU SANS: BASENAME.pem and .key, signed by the CA.
issue() {
  local base="$OUTDIR/$1" cn="$2" eku="$3" sans="$4"
  if [[ -f "$base.pem" && -f "$base.key" ]] &&
     openssl verify -CAfile "$ca_pem" -purpose any "$base.pem" >/dev/null 2>&1 &&
     [[ "$(openssl x509 -in "$base.pem" -noout -pubkey 2>/dev/null)" == \
        "$(openssl pkey -in "$base.key" -pubout 2>/dev/null)" ]] &&
     [[ "$(sans_text "$base.pem")" == "$(sans_text "$base.key" "$sans")" ]]; then
    echo "kept $base.pem"
    return
  fi
  new_key "$base.key"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $eku"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid"
    [[ -z "$sans" ]] || echo "subjectAltName = $sans"
  } >"$work/leaf.ext"
  openssl req -new -key "$base.key" -subj "/O=mailfleet/CN=$cn" \
    -config /dev/null -out "$work/leaf.csr" 2>"$work/err" ||
    die "request for $cn: $(tail -n1 "$work/err")"
  openssl x509 -req -in "$work/leaf.csr" -CA "$ca_pem" -CAkey "$ca_key" \
    -set_serial "$(serial)" -sha256 -days "$DAYS" \
    -extfile "$work/leaf.ext" -out "$base.pem" 2>"$work/err" ||
    die "certificate for $cn: $(tail -n1 "$work/err")"
  chmod 0644 "$base.pem"
  echo "issued $base.pem (CN=$cn)"
}

issue controller "$controller_name" "serverAuth, clientAuth" "$controller_sans"
for i in ${agent_names[@]+"${!agent_names[@]}"}; do
  issue "agent-${agent_names[$i]}" "${agent_names[$i]}" "serverAuth, clientAuth" \
    "${agent_sans[$i]}"
done
for name in ${operator_names[@]+"${operator_names[@]}"}; do
  issue "operator-$name" "$name" "clientAuth" ""
done
