#!/bin/sh
# uacme --hook for http-01 through a web root: uacme runs it as `hook METHOD TYPE IDENT TOKEN AUTH` and
# tries the next challenge type when it exits non-zero, so every type but http-01 is declined.
#   METHOD  begin (publish), done or failed (clean up)
#   UACME_CHALLENGE_DIR  the directory the web server serves as /.well-known/acme-challenge/
set -eu
method="$1" type="$2" token="$4" auth="$5"
[ "$type" = "http-01" ] || exit 1
case "$method" in
  begin) printf '%s' "$auth" > "$UACME_CHALLENGE_DIR/$token" ;;
  done|failed) rm -f "$UACME_CHALLENGE_DIR/$token" ;;
  *) exit 2 ;;
esac
