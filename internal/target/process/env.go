package process

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/internal/render"
)

func itoa(n int) string { return strconv.Itoa(n) }

// mapArgv resolves a command written in image terms: an absolute argv[0]
// that exists inside the unpacked image runs from there.
func (in *instance) mapArgv(argv []string) []string {
	return mapArgv(in.t.rootfsDir(in), argv)
}

func mapArgv(rootfs string, argv []string) []string {
	out := append([]string(nil), argv...)
	if len(out) > 0 && filepath.IsAbs(out[0]) {
		inside := filepath.Join(rootfs, out[0])
		if _, err := os.Stat(inside); err == nil {
			out[0] = inside
		}
	}
	return out
}

// instanceEnv builds an instance's environment: the rendered service
// environment with other services' addresses rewritten to their fronts,
// then what ladder tells every instance.
func instanceEnv(site render.SiteRef, data string, svc render.Service, slot, snapshotID, rootfs string, ports map[int]int, fronts map[string]map[int]int) []string {
	env := map[string]string{}
	for k, v := range svc.Environment {
		env[k] = rewriteAddrs(v, fronts)
	}
	// The image's PATH names directories inside the image; keep them
	// resolvable on the host, then fall back to the host's PATH.
	var path []string
	for _, p := range filepath.SplitList(env["PATH"]) {
		if p != "" {
			path = append(path, filepath.Join(rootfs, p))
		}
	}
	path = append(path, filepath.SplitList(os.Getenv("PATH"))...)
	env["PATH"] = strings.Join(path, string(filepath.ListSeparator))
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = os.Getenv("HOME")
	}
	if len(svc.Ports) > 0 {
		env["PORT"] = itoa(ports[svc.Ports[0].Target])
	}
	env["LADDER_SNAPSHOT"] = snapshotID
	env["LADDER_ENVIRONMENT"] = site.Env
	env["LADDER_DATA"] = data
	env["LADDER_SITE"] = site.Site
	env["LADDER_SERVICE"] = svc.Name
	env["LADDER_SLOT"] = slot
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// addrRef matches "name:port" where name could be a service's host name,
// as written in URLs ("http://users:8080/x") and plain addresses.
var addrRef = regexp.MustCompile(`(^|[/@=,;\s])([a-zA-Z0-9][a-zA-Z0-9_.-]*):([0-9]{1,5})\b`)

// rewriteAddrs points "service:port" references at the service's front on
// the host, which is how a service finds another without container DNS.
func rewriteAddrs(v string, fronts map[string]map[int]int) string {
	return addrRef.ReplaceAllStringFunc(v, func(m string) string {
		sub := addrRef.FindStringSubmatch(m)
		ports, ok := fronts[sub[2]]
		if !ok {
			return m
		}
		port, _ := strconv.Atoi(sub[3])
		front, ok := ports[port]
		if !ok {
			return m
		}
		return sub[1] + "127.0.0.1:" + itoa(front)
	})
}
