package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// hashStack computes Stack.Hash: the sha256 of a canonical JSON form of the
// stack definition. What only records where or how the files were found is
// left out, so the same definition hashes the same in any checkout: the
// project directory (absolute paths are made relative to it), the project
// name (it defaults to the directory's name, and leaks into network and
// volume names), env_file/label_file lists (their content is already in
// environment/labels), build sections (images built from them are
// identified by their artifact digests instead) and the host side of
// published ports (host port and address): those are endpoints, which may
// differ between rungs (a rung publishes WEB_PORT=3001, another 3002) while
// the snapshot they run stays the same. Container ports are kept.
func hashStack(st *Stack) (string, error) {
	p := st.Compose
	type namedService struct {
		Name    string              `json:"name"`
		Service types.ServiceConfig `json:"service"`
	}
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	services := make([]namedService, 0, len(names))
	for _, name := range names {
		s := p.Services[name]
		s.Build, s.EnvFiles, s.LabelFiles, s.Extends = nil, nil, nil, nil
		if len(s.Ports) > 0 {
			ports := make([]types.ServicePortConfig, len(s.Ports))
			for i, pc := range s.Ports {
				pc.Published, pc.HostIP = "", ""
				ports[i] = pc
			}
			s.Ports = ports
		}
		services = append(services, namedService{Name: name, Service: s})
	}
	networks := types.Networks{}
	for k, n := range p.Networks {
		if n.Name == p.Name+"_"+k {
			n.Name = ""
		}
		networks[k] = n
	}
	volumes := types.Volumes{}
	for k, v := range p.Volumes {
		if v.Name == p.Name+"_"+k {
			v.Name = ""
		}
		volumes[k] = v
	}
	canonical := map[string]any{
		"services": services,
		"networks": networks,
		"volumes":  volumes,
		"secrets":  p.Secrets,
		"configs":  p.Configs,
		"x-ladder": st.Ext,
	}
	b, err := json.Marshal(canonical)
	if err != nil {
		return "", err
	}
	// Re-encoding the generic form sorts every object's keys and lets every
	// string be made independent of the project directory.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return "", err
	}
	if b, err = json.Marshal(relativize(generic, p.WorkingDir)); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// relativize rewrites absolute paths under dir in every string of v.
func relativize(v any, dir string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = relativize(e, dir)
		}
	case []any:
		for i, e := range v {
			v[i] = relativize(e, dir)
		}
	case string:
		if dir == "" {
			return v
		}
		if v == dir {
			return "."
		}
		return strings.ReplaceAll(v, dir+string(filepath.Separator), "./")
	}
	return v
}
