// Command caddy is Caddy with Scopegate's modules compiled in. The release
// build goes through xcaddy (see xcaddy.json and build/xcaddy-build); this
// file is the plain `go build` alternative the Caddy project documents, used
// by tests for a fast rebuild.
package main

import (
	_ "time/tzdata"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate/caddymodule"
	_ "github.com/scopegate/scopegate/mcpbackend"
)

func main() {
	caddycmd.Main()
}
