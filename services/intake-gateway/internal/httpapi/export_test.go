package httpapi

import (
	"regexp"
	"sort"
)

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// RoutesOf lists the routes registered on s as "METHOD /path/{param}" (OpenAPI's spelling), for
// the test that compares them with the OpenAPI document.
func RoutesOf(s *Server) []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(out)
	return out
}
