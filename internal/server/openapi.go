package server

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI document. The server's tests check it
// against the handlers, both ways: every route it lists is served, every
// served route is listed, and the read routes' answers validate against
// its schemas.
//
//go:embed openapi.yaml
var openAPI []byte

func (s *server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPI)
}
