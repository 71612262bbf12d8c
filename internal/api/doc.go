// Package api holds the JSON documents ladder's HTTP API serves and its
// CLI prints with -o json, so that the server, the dashboard and the
// command line describe a running stack in exactly the same terms.
package api
