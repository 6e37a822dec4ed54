#!/bin/sh
# Configures Nextcloud for Scopegate with occ. Idempotent: run it again
# after changing the host name or the client secret.
#   MCP_HOST           public host name (https://$MCP_HOST/mcp is the resource)
#   MCP_CLIENT_ID      the gateway's client id (32-64 printable ASCII, no colon)
#   MCP_CLIENT_SECRET  its secret
#   NEXTCLOUD_INTERNAL_HOST  optional: the host name nextcloud_mcp calls
#                      Nextcloud by (the host of NEXTCLOUD_URL), made a
#                      trusted domain; not needed for localhost names
set -eu
: "${MCP_HOST:?}" "${MCP_CLIENT_ID:?}" "${MCP_CLIENT_SECRET:?}"
occ() { php /var/www/html/occ "$@"; }

until occ status --output=json 2>/dev/null | grep -q '"installed":true'; do sleep 5; done

# The issuer (iss) follows the Host of the token request: pin the public URL.
occ config:system:set overwritehost --value="$MCP_HOST"
occ config:system:set overwriteprotocol --value=https
occ config:system:set overwrite.cli.url --value="https://$MCP_HOST"

# Nextcloud answers a Host missing from trusted_domains with 400 "Access
# through untrusted domain"; the MCP server calls it by its internal name.
# Generated links keep the public host (overwritehost above).
if [ -n "${NEXTCLOUD_INTERNAL_HOST:-}" ]; then
	if ! occ config:system:get trusted_domains | grep -qxF "$NEXTCLOUD_INTERNAL_HOST"; then
		n=$(occ config:system:get trusted_domains | grep -c . || true)
		occ config:system:set trusted_domains "$n" --value="$NEXTCLOUD_INTERNAL_HOST"
	fi
fi

# The OpenID provider, and bearer validation of its tokens for the API.
occ app:install oidc || occ app:enable oidc
occ app:install user_oidc || occ app:enable user_oidc
occ config:app:set user_oidc oidc_provider_bearer_validation --value=true --type=boolean
# MCP clients register themselves (RFC 7591). Any registrant that declares
# the MCP resource can introspect its tokens: turn this off if you
# pre-register your clients.
occ config:app:set oidc dynamic_client_registration --value=true

# The gateway's own client, bound to the resource so that introspection
# answers for the resource's tokens. There is no edit command: recreate.
occ oidc:remove "$MCP_CLIENT_ID" >/dev/null 2>&1 || true
occ oidc:create scopegate-gateway "https://$MCP_HOST/mcp/oauth/callback" \
	--type=confidential \
	--client_id="$MCP_CLIENT_ID" \
	--client_secret="$MCP_CLIENT_SECRET" \
	--resource_url="https://$MCP_HOST/mcp"

# The apps whose tools the MCP server offers.
for app in notes deck cookbook tables; do occ app:install "$app" || occ app:enable "$app" || true; done
echo "scopegate setup: done"
