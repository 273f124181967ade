#!/bin/sh
# certbot --manual-auth-hook / --manual-cleanup-hook for dns-01: publishes (or removes) the TXT record
# _acme-challenge.$CERTBOT_DOMAIN with an RFC 2136 dynamic update signed with TSIG, sent by knsupdate.
#   $1                 "add" (auth hook) or "delete" (cleanup hook)
#   CERTBOT_DOMAIN     the name being validated (certbot sets it; for *.example.com it is example.com)
#   CERTBOT_VALIDATION the TXT value (certbot sets it)
#   DNS_HOOK_SERVER    name server address, DNS_HOOK_PORT its port, DNS_HOOK_ZONE the zone to update
#   DNS_HOOK_TSIG      "hmac-sha256:<key name>:<base64 secret>"
set -eu
action="$1"
name="_acme-challenge.${CERTBOT_DOMAIN}."
case "$action" in
  add) line="update add ${name} 60 TXT \"${CERTBOT_VALIDATION}\"" ;;
  delete) line="update delete ${name} TXT \"${CERTBOT_VALIDATION}\"" ;;
  *) echo "usage: $0 add|delete" >&2; exit 2 ;;
esac
printf 'server %s %s\nzone %s\n%s\nsend\n' "$DNS_HOOK_SERVER" "$DNS_HOOK_PORT" "$DNS_HOOK_ZONE" "$line" |
  knsupdate -t 10 -y "$DNS_HOOK_TSIG"
