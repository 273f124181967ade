#!/bin/sh
# uacme --hook for tls-alpn-01 through a running `ualpn` server (uacme's own responder, the same protocol
# as /usr/share/uacme/ualpn.sh): `auth IDENT AUTH` makes ualpn answer acme-tls/1 handshakes for IDENT
# with the RFC 8737 certificate, `unauth IDENT` stops it. Every other challenge type is declined.
#   UALPN_SOCK  the unix socket of the ualpn server
set -eu
method="$1" type="$2" ident="$3" auth="$5"
[ "$type" = "tls-alpn-01" ] || exit 1
case "$method" in
  # The ualpn client's exit status is not its answer (it can be non-zero after "OK"): read the answer.
  begin) out=$(echo "auth $ident $auth" | ualpn -s "$UALPN_SOCK") || true ;;
  done|failed) out=$(echo "unauth $ident" | ualpn -s "$UALPN_SOCK") || true ;;
  *) exit 2 ;;
esac
[ "$out" = "OK" ]
