package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// ExtensionKey is the service key holding ladder's settings in compose.yaml.
const ExtensionKey = "x-ladder"

// serviceNames lists the keys of the services mapping, in file order.
func serviceNames(root *yaml.Node) []string {
	loc := locate(root, "services")
	m := resolve(loc.Value)
	if loc.Found != 1 || m == nil || m.Kind != yaml.MappingNode {
		return []string{}
	}
	names := []string{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; !isMergeKey(k) && !slices.Contains(names, k.Value) {
			names = append(names, k.Value)
		}
	}
	return names
}

// decodeExtensions decodes every service's x-ladder strictly from the
// interpolated tree and checks it against the service's ports (read from
// model, so the check runs even when compose-go's full load does not).
func decodeExtensions(file string, root *yaml.Node, model map[string]any) (map[string]ServiceExt, Diagnostics) {
	exts := map[string]ServiceExt{}
	var ds Diagnostics
	services, _ := model["services"].(map[string]any)
	for _, name := range serviceNames(root) {
		var ext ServiceExt
		loc := locate(root, "services", name, ExtensionKey)
		if loc.Found == 3 {
			ds = append(ds, DecodeNode(loc.Value, &ext, file, loc.Path)...)
			ds = append(ds, checkExt(file, root, name, ext)...)
			svc, _ := services[name].(map[string]any)
			ports := targetPorts(svc["ports"])
			if ext.Health != nil {
				ds = append(ds, checkEndpoint(file, root, []string{"services", name, ExtensionKey, "health"}, ext.Health.Path, ext.Health.Port, ports, "probe", "/healthz")...)
			}
			if ext.Metrics != nil {
				ds = append(ds, checkEndpoint(file, root, []string{"services", name, ExtensionKey, "metrics"}, ext.Metrics.Path, ext.Metrics.Port, ports, "scrape", "/metrics")...)
			}
		}
		exts[name] = ext
	}
	return exts, ds
}

func checkEndpoint(file string, root *yaml.Node, segs []string, path string, port int, ports []int, verb, example string) Diagnostics {
	var ds Diagnostics
	self := locate(root, segs...)
	if !strings.HasPrefix(path, "/") {
		loc := locate(root, append(segs, "path")...)
		n := loc.Value
		msg := fmt.Sprintf("path must start with \"/\", like \"/%s\"", path)
		if loc.Found != len(segs)+1 {
			n, loc.Path, msg = self.keyNode(), self.Path+".path", fmt.Sprintf("path is required, like %q", example)
		}
		ds = append(ds, at(file, n, loc.Path, msg))
	}
	switch {
	case port != 0 && !slices.Contains(ports, port):
		loc := locate(root, append(segs, "port")...)
		ds = append(ds, at(file, loc.Value, loc.Path, fmt.Sprintf("port %d is not one of the service's container ports (%s)", port, portList(ports))))
	case port == 0 && len(ports) == 0:
		ds = append(ds, at(file, self.keyNode(), self.Path, fmt.Sprintf("no port to %s: the service has no ports", verb)))
	}
	return ds
}

func portList(ports []int) string {
	if len(ports) == 0 {
		return "it has none"
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// targetPorts reads the container ports of a service's `ports` as written,
// short syntax parsed by compose-go itself.
func targetPorts(v any) []int {
	list, _ := v.([]any)
	var out []int
	add := func(p int) {
		if p > 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, e := range list {
		switch e := e.(type) {
		case string:
			cfgs, err := types.ParsePortConfig(e)
			if err != nil {
				continue
			}
			for _, c := range cfgs {
				add(int(c.Target))
			}
		case map[string]any:
			if t, ok := asInt(e["target"]); ok {
				add(t)
			}
		default:
			if t, ok := asInt(e); ok {
				add(t)
			}
		}
	}
	return out
}

func asInt(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case uint64:
		return int(v), true
	case float64:
		return int(v), true
	case string:
		i, err := strconv.Atoi(v)
		return i, err == nil
	}
	return 0, false
}
