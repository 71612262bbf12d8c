package render

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ComposeFileVersion is the Compose file format ComposeFile writes: 2.4,
// the last of the versioned formats, which docker-compose 1.x and
// `docker compose` both read and which keeps depends_on conditions.
const ComposeFileVersion = "2.4"

// ComposeFile renders d as a Compose file that names each service's image
// by image(service, digest): the desired state in the form Docker's own
// tools read, for `docker-compose -p PROJECT -f FILE ps/logs` and for
// comparisons with docker-compose. Variables ladder sets on every instance
// are written too, so containers made from the file are told their
// snapshot. workingDir resolves relative bind mounts.
func ComposeFile(d *Desired, image func(service, digest string) string, workingDir string) ([]byte, error) {
	f := composeFile{Version: ComposeFileVersion, Services: map[string]composeService{}}
	for _, svc := range d.Services {
		cs := composeService{
			Image:       image(svc.Name, svc.Digest),
			Entrypoint:  literals(svc.Entrypoint),
			Command:     literals(svc.Command),
			WorkingDir:  literal(svc.WorkingDir),
			Environment: map[string]string{},
			Restart:     svc.Restart,
			Scale:       svc.Replicas,
			Labels: map[string]string{
				"dev.ladder.snapshot": d.Snapshot, "dev.ladder.environment": d.Env, "dev.ladder.site": d.Site,
				"dev.ladder.service": svc.Name, "dev.ladder.digest": svc.Digest, "dev.ladder.config": svc.Config,
			},
			StopGracePeriod: svc.StopGrace.String(),
		}
		if r := svc.Resources; r != nil {
			if cpus, err := strconv.ParseFloat(r.CPUs, 64); err == nil {
				cs.CPUs = cpus
			}
			cs.MemLimit = r.Memory
		}
		if svc.MaxRestarts > 0 {
			cs.Restart = fmt.Sprintf("%s:%d", svc.Restart, svc.MaxRestarts)
		}
		for k, v := range svc.Environment {
			v = literal(v)
			if svc.Secret(k) {
				// Never write a secret to disk: docker-compose takes it
				// from its own environment when someone runs the file.
				v = "${" + k + "}"
			}
			cs.Environment[k] = v
		}
		if _, ok := cs.Environment["PORT"]; !ok && len(svc.Ports) > 0 {
			cs.Environment["PORT"] = strconv.Itoa(svc.Ports[0].Target)
		}
		cs.Environment["LADDER_SNAPSHOT"] = d.Snapshot
		cs.Environment["LADDER_ENVIRONMENT"] = d.Env
		cs.Environment["LADDER_DATA"] = d.Data
		cs.Environment["LADDER_SITE"] = d.Site
		cs.Environment["LADDER_SERVICE"] = svc.Name
		for _, p := range svc.Ports {
			spec := fmt.Sprintf("%d/%s", p.Target, p.Protocol)
			if p.Published != 0 {
				pub := fmt.Sprint(p.Published)
				if p.PublishedEnd != 0 {
					pub += fmt.Sprintf("-%d", p.PublishedEnd)
				}
				spec = pub + ":" + spec
			}
			if p.HostIP != "" {
				if p.Published == 0 {
					spec = ":" + spec
				}
				spec = p.HostIP + ":" + spec
			}
			cs.Ports = append(cs.Ports, spec)
		}
		if h := svc.Health; h != nil && len(h.Command) > 0 {
			cs.Healthcheck = &composeHealth{
				Test: healthTest(h), Interval: h.Interval.String(), Timeout: h.Timeout.String(),
				Retries: h.Retries, StartPeriod: h.StartPeriod.String(),
			}
		}
		if svc.HealthDisabled && cs.Healthcheck == nil {
			cs.Healthcheck = &composeHealth{Disable: true}
		}
		applyRuntime(&cs, svc)
		for _, file := range svc.Files {
			if f.Files == nil {
				f.Files = map[string][]string{}
			}
			// Compose file format 2.4 has no secrets or configs: ladder
			// copies them into each container; this records which.
			f.Files[svc.Name] = append(f.Files[svc.Name], fmt.Sprintf("%s %s -> %s (%s, mode %04o)", file.Kind, file.Name, file.Target, file.Source, file.Mode))
		}
		if len(svc.DependsOn) > 0 {
			cs.DependsOn = map[string]composeDep{}
			for _, dep := range svc.DependsOn {
				cs.DependsOn[dep.Service] = composeDep{Condition: dep.Condition}
			}
		}
		for _, m := range svc.Volumes {
			src := m.Source
			if m.Type == "bind" && !filepath.IsAbs(src) && workingDir != "" {
				src = filepath.Join(workingDir, src)
			}
			spec := src + ":" + m.Target
			if m.Type == "tmpfs" || src == "" {
				spec = m.Target
			}
			if m.ReadOnly {
				spec += ":ro"
			}
			cs.Volumes = append(cs.Volumes, spec)
		}
		f.Services[svc.Name] = cs
	}
	if len(d.Networks) > 0 {
		f.Networks = map[string]struct{}{}
		for _, n := range d.Networks {
			f.Networks[n] = struct{}{}
		}
	}
	if len(d.Volumes) > 0 {
		f.Volumes = map[string]struct{}{}
		for _, v := range d.Volumes {
			f.Volumes[v] = struct{}{}
		}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Rendered by ladder: snapshot %s on %s. Regenerated on every release; do not edit.\n", d.Snapshot, d.SiteRef)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type composeFile struct {
	Version  string                    `yaml:"version"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct{}       `yaml:"networks,omitempty"`
	Volumes  map[string]struct{}       `yaml:"volumes,omitempty"`
	// Files lists each service's secrets and configs (an extension field,
	// which docker-compose ignores).
	Files map[string][]string `yaml:"x-ladder-files,omitempty"`
}

type composeService struct {
	Image           string                `yaml:"image"`
	Entrypoint      []string              `yaml:"entrypoint,omitempty,flow"`
	Command         []string              `yaml:"command,omitempty,flow"`
	WorkingDir      string                `yaml:"working_dir,omitempty"`
	Environment     map[string]string     `yaml:"environment,omitempty"`
	Ports           []string              `yaml:"ports,omitempty"`
	Healthcheck     *composeHealth        `yaml:"healthcheck,omitempty"`
	Restart         string                `yaml:"restart,omitempty"`
	DependsOn       map[string]composeDep `yaml:"depends_on,omitempty"`
	Labels          map[string]string     `yaml:"labels,omitempty"`
	Networks        any                   `yaml:"networks,omitempty"`
	Volumes         []string              `yaml:"volumes,omitempty"`
	Scale           int                   `yaml:"scale,omitempty"`
	CPUs            float64               `yaml:"cpus,omitempty"`
	MemLimit        string                `yaml:"mem_limit,omitempty"`
	StopGracePeriod string                `yaml:"stop_grace_period,omitempty"`
	composeRuntime  `yaml:",inline"`
}

type composeHealth struct {
	Test        []string `yaml:"test,flow,omitempty"`
	Interval    string   `yaml:"interval,omitempty"`
	Timeout     string   `yaml:"timeout,omitempty"`
	Retries     int      `yaml:"retries,omitempty"`
	StartPeriod string   `yaml:"start_period,omitempty"`
	Disable     bool     `yaml:"disable,omitempty"`
}

type composeDep struct {
	Condition string `yaml:"condition"`
}

// literal escapes a value that is final (already interpolated when the
// stack was loaded) so docker-compose does not interpolate it again: a
// shell's "$VAR" in a command stays "$VAR" for the container.
func literal(v string) string { return strings.ReplaceAll(v, "$", "$$") }

func literals(vs []string) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = literal(v)
	}
	return out
}
