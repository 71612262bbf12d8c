package spec

import (
	"runtime"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Support says what a target does with a Compose field.
type Support string

const (
	// Applied: the target runs the service with the field in effect.
	Applied Support = "applied"
	// Warned: the stack loads and runs, and a positioned warning says the
	// field has no effect on that target (from validate and from up).
	Warned Support = "warned"
	// Refused: ladder cannot honour the field on any target; validate and
	// every other command report it as a configuration error (exit 2).
	Refused Support = "refused"
)

// FieldSupport is what each target does with one Compose field. Field is
// the field's path below a service ("cap_add", "deploy.resources.limits")
// or below a top-level section ("secrets.*.file"); "*" stands for a name
// the user chose.
type FieldSupport struct {
	Field   string
	Compose Support
	Process Support
	// Note says why, or how; it is the message of warnings and refusals.
	Note string
}

// On returns the support on a target kind ("compose" or "process").
func (f FieldSupport) On(kind string) Support {
	if kind == "process" {
		return f.Process
	}
	return f.Compose
}

// Reasons shared by many warnings.
const (
	noIsolation = "a process runs without container isolation"
	noLimits    = "processes run without resource limits"
	// dockerfileOnly: ladder builds a context without a Dockerfile as a
	// Go main package, which has no use for the field.
	dockerfileOnly = "a Dockerfile build's: a Go build (a context without a Dockerfile) refuses it"
	buildOnce      = "ladder builds once per inputs hash and keeps its own build cache: a build runs when its inputs change, and only then"
)

// Fields is every Compose field ladder knows, with what each target does
// with it. A field of the Compose specification that is not listed is
// refused, so nothing a user writes is silently dropped. docs/compose-fields.md
// is generated from this table (go test ./internal/spec -update).
var Fields = []FieldSupport{
	{"annotations", Refused, Refused, "container annotations need Docker API 1.43; use labels"},
	{"attach", Applied, Applied, "ladder never attaches to output; `ladder logs` reads it"},
	{"blkio_config", Refused, Refused, "block IO weights and limits are not supported"},
	{"build", Applied, Applied, "built once into a content-addressed artifact"},
	{"build.additional_contexts", Refused, Refused, "named build contexts are not supported; put what the build reads in its context"},
	{"build.args", Applied, Applied, "part of the inputs the artifact is cached by; " + dockerfileOnly},
	{"build.cache_from", Warned, Warned, buildOnce},
	{"build.cache_to", Warned, Warned, buildOnce},
	{"build.context", Applied, Applied, "a directory; never holds .ladder/"},
	{"build.dockerfile", Applied, Applied, ""},
	{"build.dockerfile_inline", Applied, Applied, ""},
	{"build.entitlements", Refused, Refused, "build entitlements (network.host, security.insecure) are not supported"},
	{"build.extra_hosts", Applied, Applied, "host entries for the build's RUN steps; " + dockerfileOnly},
	{"build.isolation", Warned, Warned, "Windows only"},
	{"build.labels", Applied, Applied, "labels of the built image"},
	{"build.network", Warned, Warned, "a build's RUN steps use the builder's default network"},
	{"build.no_cache", Warned, Warned, buildOnce},
	{"build.no_cache_filter", Warned, Warned, buildOnce},
	{"build.platforms", Applied, Applied, "the machine's own platform is built, and must be listed; another is a warning that it is not built"},
	{"build.privileged", Applied, Applied, "false only: privileged builds are refused"},
	{"build.provenance", Warned, Warned, "a snapshot records what each artifact was built from, with an SBOM per artifact"},
	{"build.pull", Warned, Warned, "base images are resolved to digests when a snapshot is made, and pinned in it"},
	{"build.sbom", Warned, Warned, "ladder records an SBOM per artifact itself"},
	{"build.secrets", Applied, Applied, "for RUN --mount=type=secret; needs BuildKit; " + dockerfileOnly},
	{"build.shm_size", Warned, Warned, "a build's RUN steps get the builder's default /dev/shm"},
	{"build.ssh", Applied, Applied, "for RUN --mount=type=ssh; needs BuildKit; " + dockerfileOnly},
	{"build.tags", Warned, Warned, "the image is kept by digest in ladder's artifact store and pushed by digest to a rung's registry"},
	{"build.target", Applied, Applied, "only the stages the target builds are checked and built; " + dockerfileOnly},
	{"build.ulimits", Warned, Warned, "a build's RUN steps get the builder's default limits"},
	{"cap_add", Applied, Warned, noIsolation},
	{"cap_drop", Applied, Warned, noIsolation},
	{"cgroup", Refused, Refused, "cgroup namespace mode is not supported"},
	{"cgroup_parent", Refused, Refused, "cgroup_parent is not supported"},
	{"command", Applied, Applied, ""},
	{"configs", Applied, Warned, "the process target cannot place files at absolute paths; configs are not mounted there"},
	{"container_name", Applied, Applied, "a name other services reach the service by, as they do its own (a network alias); the container itself is named after its release slot (PROJECT-SERVICE-SLOT) so a new one can start beside the old"},
	{"cpu_count", Refused, Refused, "Windows only; use cpus"},
	{"cpu_percent", Refused, Refused, "Windows only; use cpus"},
	{"cpu_period", Applied, Warned, noLimits},
	{"cpu_quota", Applied, Warned, noLimits},
	{"cpu_rt_period", Refused, Refused, "real-time CPU scheduling is not supported"},
	{"cpu_rt_runtime", Refused, Refused, "real-time CPU scheduling is not supported"},
	{"cpu_shares", Applied, Warned, noLimits},
	{"cpus", Applied, Warned, noLimits},
	{"cpuset", Applied, Warned, noLimits},
	{"credential_spec", Refused, Refused, "Windows only"},
	{"deploy", Applied, Applied, ""},
	{"deploy.endpoint_mode", Warned, Warned, "a Swarm setting: ladder's targets do not use it"},
	{"deploy.labels", Warned, Warned, "a Swarm service setting: put container labels in labels"},
	{"deploy.mode", Applied, Applied, "replicated only; global is refused"},
	{"deploy.placement", Warned, Warned, "a Swarm setting: a site is one engine, so there is nothing to place"},
	{"deploy.replicas", Applied, Applied, ""},
	{"deploy.resources", Applied, Applied, ""},
	{"deploy.resources.limits", Applied, Applied, ""},
	{"deploy.resources.limits.cpus", Applied, Warned, noLimits},
	{"deploy.resources.limits.memory", Applied, Warned, noLimits},
	{"deploy.resources.limits.pids", Applied, Warned, noLimits},
	{"deploy.resources.reservations", Applied, Applied, ""},
	{"deploy.resources.reservations.cpus", Warned, Warned, "a Swarm scheduling hint: Docker reserves no CPU for a container"},
	{"deploy.resources.reservations.memory", Applied, Warned, noLimits},
	{"deploy.resources.reservations.devices", Refused, Refused, "device reservations (GPUs) are not supported"},
	{"deploy.resources.reservations.generic_resources", Refused, Refused, "generic resources are not supported"},
	{"deploy.restart_policy", Applied, Applied, "used when restart is not set"},
	{"deploy.restart_policy.condition", Applied, Applied, ""},
	{"deploy.restart_policy.max_attempts", Applied, Applied, ""},
	{"deploy.restart_policy.delay", Warned, Warned, "the engine's own back-off applies"},
	{"deploy.restart_policy.window", Warned, Warned, "a Swarm setting"},
	{"deploy.rollback_config", Warned, Warned, "ladder's rollout decides how a release proceeds and rolls back"},
	{"deploy.update_config", Warned, Warned, "ladder's rollout decides how a release proceeds"},
	{"develop", Applied, Applied, "followed by `ladder up --watch`: sync, sync+restart, restart and rebuild (not sync+exec)"},
	{"device_cgroup_rules", Refused, Refused, "device cgroup rules are not supported"},
	{"devices", Refused, Refused, "host devices are not supported"},
	{"dns", Applied, Warned, noIsolation},
	{"dns_opt", Applied, Warned, noIsolation},
	{"dns_search", Applied, Warned, noIsolation},
	{"domainname", Applied, Warned, noIsolation},
	{"entrypoint", Applied, Applied, ""},
	{"env_file", Applied, Applied, "read when the stack is loaded"},
	{"environment", Applied, Applied, ""},
	{"expose", Applied, Applied, "a process listens where it listens"},
	{"extends", Applied, Applied, "resolved when the stack is loaded"},
	{"external_links", Refused, Refused, "links to containers outside the stack are not supported; put both on one network"},
	{"extra_hosts", Applied, Warned, "the process target uses the host's name resolution"},
	{"gpus", Refused, Refused, "GPUs are not supported"},
	{"group_add", Applied, Warned, noIsolation},
	{"depends_on", Applied, Applied, ""},
	{"depends_on.*", Applied, Applied, ""},
	{"depends_on.*.condition", Applied, Applied, ""},
	{"depends_on.*.required", Applied, Applied, "an optional dependency that does not run is not waited for"},
	{"depends_on.*.restart", Warned, Warned, "dependents are not restarted when a dependency is replaced: ladder keeps service names stable across releases"},
	{"healthcheck", Applied, Applied, "CMD-SHELL runs with /bin/sh -c in the service's environment on both targets"},
	{"healthcheck.disable", Applied, Applied, ""},
	{"healthcheck.interval", Applied, Applied, ""},
	{"healthcheck.retries", Applied, Applied, ""},
	{"healthcheck.start_interval", Warned, Warned, "needs Docker API 1.44; ladder checks often while a service starts on its own (on the compose target it runs the `test` command in the container every 100 ms until it first passes, instead of waiting out Docker's first `interval`)"},
	{"healthcheck.start_period", Applied, Applied, ""},
	{"healthcheck.test", Applied, Applied, ""},
	{"healthcheck.timeout", Applied, Applied, ""},
	{"logging.driver", Applied, Warned, "the process target writes each service's output to ladder's log files"},
	{"logging.options", Applied, Applied, "the process target rotates each service's log by max-size and max-file; other options have no effect there"},
	{"ports.app_protocol", Warned, Warned, "metadata only"},
	{"ports.host_ip", Applied, Warned, "the process target publishes on 127.0.0.1 only"},
	{"ports.mode", Applied, Applied, ""},
	{"ports.name", Warned, Warned, "metadata only"},
	{"ports.protocol", Applied, Applied, ""},
	{"ports.published", Applied, Applied, ""},
	{"ports.target", Applied, Applied, ""},
	{"volumes.bind", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.bind.create_host_path", Applied, Warned, "a missing host directory is created, as by docker compose"},
	{"volumes.bind.propagation", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.bind.recursive", Refused, Refused, "needs Docker API 1.44"},
	{"volumes.bind.selinux", Refused, Refused, "SELinux relabelling is not supported"},
	{"volumes.consistency", Warned, Warned, "has no effect on Linux"},
	{"volumes.image", Refused, Refused, "image mounts are not supported"},
	{"volumes.read_only", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.source", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.target", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.tmpfs", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.tmpfs.mode", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.tmpfs.size", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.type", Applied, Warned, "bind, volume or tmpfs; the process target does not mount volumes"},
	{"volumes.volume", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.volume.nocopy", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.volume.subpath", Refused, Refused, "needs Docker API 1.45"},
	{"hostname", Applied, Warned, "a process has the host's name"},
	{"image", Applied, Applied, ""},
	{"init", Applied, Warned, "processes run directly under ladder, which reaps them"},
	{"ipc", Applied, Warned, "host, private, shareable or none; service: and container: are refused"},
	{"isolation", Refused, Refused, "Windows only"},
	{"label_file", Applied, Warned, "merged into labels when the stack is loaded"},
	{"labels", Applied, Warned, "a process has no labels"},
	{"links", Applied, Applied, "service names resolve on every network; a link alias (service:alias) is a name of the linked service on each of its networks, for every service of the site"},
	{"logging", Applied, Applied, "the process target writes each service's output to ladder's rotated log files"},
	{"mac_address", Refused, Refused, "a new container starts beside the old one during a release, so two cannot share a MAC address"},
	{"mem_limit", Applied, Warned, noLimits},
	{"mem_reservation", Applied, Warned, noLimits},
	{"mem_swappiness", Applied, Warned, noLimits},
	{"memswap_limit", Applied, Warned, noLimits},
	{"models", Refused, Refused, "models are not supported"},
	{"network_mode", Applied, Warned, "bridge, host or none; service: and container: are refused. Processes share the host's network"},
	{"networks", Applied, Applied, ""},
	{"networks.*", Applied, Applied, ""},
	{"networks.*.aliases", Applied, Applied, "on the process target, for every service of the site: an alias in a process's environment is rewritten to the service's address as its name is"},
	{"networks.*.driver_opts", Refused, Refused, "per-endpoint driver options are not supported"},
	{"networks.*.gw_priority", Refused, Refused, "gateway priority is not supported"},
	{"networks.*.interface_name", Refused, Refused, "interface names are not supported"},
	{"networks.*.ipv4_address", Refused, Refused, "a new container starts beside the old one during a release, so two cannot share an address"},
	{"networks.*.ipv6_address", Refused, Refused, "a new container starts beside the old one during a release, so two cannot share an address"},
	{"networks.*.link_local_ips", Refused, Refused, "link-local addresses are not supported"},
	{"networks.*.mac_address", Refused, Refused, "a new container starts beside the old one during a release, so two cannot share a MAC address"},
	{"networks.*.priority", Applied, Applied, "the order networks are joined in"},
	{"oom_kill_disable", Applied, Warned, noLimits},
	{"oom_score_adj", Applied, Warned, noLimits},
	{"pid", Applied, Warned, "host or private; service: and container: are refused"},
	{"pids_limit", Applied, Warned, noLimits},
	{"platform", Applied, Applied, "the machine's own platform only (linux/ARCH); another is refused"},
	{"ports", Applied, Applied, "host port ranges (\"8000-8002:80-82\") included"},
	{"post_start", Refused, Refused, "lifecycle hooks are not supported"},
	{"pre_start", Refused, Refused, "lifecycle hooks are not supported"},
	{"pre_stop", Refused, Refused, "lifecycle hooks are not supported"},
	{"privileged", Applied, Warned, noIsolation},
	{"profiles", Applied, Applied, "--profile or COMPOSE_PROFILES; services of inactive profiles are listed, not run"},
	{"provider", Refused, Refused, "provider services are not supported"},
	{"pull_policy", Applied, Applied, ""},
	{"pull_refresh_after", Refused, Refused, "images are pinned by digest in a snapshot"},
	{"read_only", Applied, Warned, noIsolation},
	{"restart", Applied, Applied, ""},
	{"runtime", Refused, Refused, "alternative OCI runtimes are not supported"},
	{"scale", Applied, Applied, ""},
	{"secrets", Applied, Warned, "the process target cannot place files at /run/secrets; use values.services.NAME.secrets in ladder.yaml for environment variables"},
	{"security_opt", Applied, Warned, noIsolation},
	{"shm_size", Applied, Warned, noIsolation},
	{"stdin_open", Applied, Warned, "a process's input is not attached"},
	{"stop_grace_period", Applied, Applied, ""},
	{"stop_signal", Applied, Applied, ""},
	{"storage_opt", Refused, Refused, "storage driver options are not supported"},
	{"sysctls", Applied, Warned, noIsolation},
	{"tmpfs", Applied, Warned, noIsolation},
	{"tty", Applied, Warned, "a process's output goes to ladder's log files, not a terminal"},
	{"ulimits", Applied, Warned, noLimits},
	{"umask", Refused, Refused, "umask is not supported"},
	{"use_api_socket", Refused, Refused, "giving a container the engine's API socket is not supported"},
	{"user", Applied, Warned, "processes run as the user running ladder"},
	{"userns_mode", Refused, Refused, "user namespace modes are not supported"},
	{"uts", Refused, Refused, "UTS namespace modes are not supported"},
	{"volumes", Applied, Warned, "the process target does not mount volumes: a service sees the host's files"},
	{"volumes_from", Refused, Refused, "containers are replaced during releases, so their volumes cannot be shared this way; use a named volume"},
	{"working_dir", Applied, Applied, ""},
}

// TopFields is the same for the stack's top-level sections.
var TopFields = []FieldSupport{
	{"configs", Applied, Applied, ""},
	{"configs.*.labels", Warned, Warned, "labels of a config are not used: it is a file in the container"},
	{"include", Applied, Applied, "resolved when the stack is loaded"},
	{"jobs", Refused, Refused, "jobs are not supported: a service with x-ladder: {job: migration} runs to completion on every release"},
	{"models", Refused, Refused, "models are not supported"},
	{"name", Applied, Applied, "the Compose project name, with the environment and site appended"},
	{"networks", Applied, Applied, ""},
	{"secrets", Applied, Applied, ""},
	{"secrets.*.driver", Refused, Refused, "secret drivers are a Swarm feature"},
	{"secrets.*.driver_opts", Refused, Refused, "secret drivers are a Swarm feature"},
	{"secrets.*.labels", Warned, Warned, "labels of a secret are not used: it is a file in the container"},
	{"services", Applied, Applied, ""},
	{"version", Warned, Warned, "obsolete: compose-go ignores it"},
	{"volumes", Applied, Applied, ""},
	{"configs.*.content", Applied, Warned, "configs are not mounted on the process target"},
	{"configs.*.environment", Applied, Warned, "configs are not mounted on the process target"},
	{"configs.*.external", Refused, Refused, "external configs are a Swarm feature"},
	{"configs.*.file", Applied, Warned, "configs are not mounted on the process target"},
	{"configs.*.name", Warned, Warned, "the name is not used: the file is identified by its key"},
	{"configs.*.template_driver", Refused, Refused, "config templates are not supported"},
	{"networks.*.driver", Applied, Applied, "bridge only"},
	{"networks.*.internal", Applied, Warned, noIsolation},
	{"networks.*.labels", Applied, Warned, "a process has no networks"},
	{"networks.*.attachable", Applied, Applied, "project networks are attachable"},
	{"networks.*.driver_opts", Refused, Refused, "network driver options are not supported"},
	{"networks.*.enable_ipv4", Refused, Refused, "not supported"},
	{"networks.*.enable_ipv6", Refused, Refused, "IPv6 networks are not supported"},
	{"networks.*.external", Refused, Refused, "ladder creates every network of a site, so each rung is isolated; external networks are not supported"},
	{"networks.*.ipam", Refused, Refused, "custom address management is not supported"},
	{"networks.*.name", Warned, Warned, "ladder names networks per site (PROJECT_NETWORK) so rungs on one engine do not share them"},
	{"secrets.*.environment", Applied, Warned, "secrets are not mounted on the process target"},
	{"secrets.*.external", Refused, Refused, "external secrets are a Swarm feature; use `environment: NAME` and `ladder secret set ENV NAME`"},
	{"secrets.*.file", Applied, Warned, "secrets are not mounted on the process target"},
	{"secrets.*.name", Warned, Warned, "the name is not used: the file is identified by its key"},
	{"secrets.*.template_driver", Refused, Refused, "secret templates are not supported"},
	{"secrets.*.x-ladder-secret", Applied, Warned, "the environment's secret (ladder secret set ENV NAME); not mounted on the process target"},
	{"volumes.*.driver", Applied, Warned, "local only; the process target does not mount volumes"},
	{"volumes.*.driver_opts", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.*.external", Refused, Refused, "ladder creates every volume of a site, so each rung keeps its own data; external volumes are not supported"},
	{"volumes.*.labels", Applied, Warned, "the process target does not mount volumes"},
	{"volumes.*.name", Warned, Warned, "ladder names volumes per site (PROJECT_VOLUME) so rungs on one engine keep their own data; a volume of that name made by another tool is not used"},
}

func fieldTable(fs []FieldSupport) map[string]FieldSupport {
	m := make(map[string]FieldSupport, len(fs))
	for _, f := range fs {
		m[f.Field] = f
	}
	return m
}

var (
	serviceFieldTable = fieldTable(Fields)
	topFieldTable     = fieldTable(TopFields)
)

// fieldUse is one field written in the stack, with what targets do with it.
type fieldUse struct {
	pos   Pos
	field FieldSupport
}

// checkFields walks every service and the top-level sections of the raw
// stack file, and returns the refusals (errors) and the uses of fields
// some target only warns about. Keys starting with "x-" are extensions and
// are never checked here.
func checkFields(file string, root *yaml.Node) (Diagnostics, []fieldUse) {
	var ds Diagnostics
	var uses []fieldUse
	note := func(k *yaml.Node, path string, f, parent FieldSupport) {
		// A field below one a target already warns about adds nothing.
		if parent.Compose == Warned && f.Compose == Warned {
			f.Compose = Applied
		}
		if parent.Process == Warned && f.Process == Warned {
			f.Process = Applied
		}
		if f.Compose == Refused || f.Process == Refused {
			ds = append(ds, at(file, k, path, refusal(f)))
			return
		}
		if f.Compose == Warned || f.Process == Warned {
			uses = append(uses, fieldUse{pos: Pos{File: file, Line: k.Line, Col: max(k.Column, 1), Path: path}, field: f})
		}
	}
	var walk func(table map[string]FieldSupport, n *yaml.Node, pattern, path string, named bool, parent FieldSupport)
	walk = func(table map[string]FieldSupport, n *yaml.Node, pattern, path string, named bool, parent FieldSupport) {
		n = resolve(n)
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(table, c, pattern, indexPath(path, i), named, parent)
			}
		case yaml.MappingNode:
			eachKey(n, func(k, v *yaml.Node) {
				if strings.HasPrefix(k.Value, "x-") {
					return
				}
				p := joinPath(path, k.Value)
				child := joinPattern(pattern, k.Value)
				f, ok := table[child]
				if !ok && named {
					child = joinPattern(pattern, "*")
					f, ok = table[child]
				}
				if !ok {
					f = FieldSupport{Field: child, Compose: Refused, Process: Refused, Note: "ladder does not support this field"}
				}
				note(k, p, f, parent)
				if sub := hasChildren(table, child); sub != childNone {
					walk(table, v, child, p, sub == childNamed, f)
				}
			})
		}
	}
	if loc := locate(root, "services"); loc.Found == 1 {
		eachKey(resolve(loc.Value), func(k, v *yaml.Node) {
			walk(serviceFieldTable, v, "", joinPath("services", k.Value), false, FieldSupport{})
		})
	}
	eachKey(resolve(root), func(k, _ *yaml.Node) {
		if strings.HasPrefix(k.Value, "x-") {
			return
		}
		f, ok := topFieldTable[k.Value]
		if !ok {
			f = FieldSupport{Field: k.Value, Compose: Refused, Process: Refused, Note: "ladder does not support this field"}
		}
		// compose-go's own warning covers version.
		if k.Value != "version" {
			note(k, k.Value, f, FieldSupport{})
		}
	})
	for _, section := range []string{"secrets", "configs", "networks", "volumes"} {
		loc := locate(root, section)
		if loc.Found != 1 {
			continue
		}
		eachKey(resolve(loc.Value), func(k, v *yaml.Node) {
			walk(topFieldTable, v, section+".*", joinPath(section, k.Value), false, FieldSupport{})
		})
	}
	ds = append(ds, checkFieldValues(file, root)...)
	pds, puses := checkBuildPlatforms(file, root)
	return append(ds, pds...), append(uses, puses...)
}

// checkBuildPlatforms: a service's build.platforms must include the
// machine's own platform, which is the one ladder builds; each other one
// is a warning that it is not built.
func checkBuildPlatforms(file string, root *yaml.Node) (Diagnostics, []fieldUse) {
	var ds Diagnostics
	var uses []fieldUse
	for _, name := range serviceNames(root) {
		loc := locate(root, "services", name, "build", "platforms")
		l := resolve(loc.Value)
		if loc.Found != 4 || l == nil || l.Kind != yaml.SequenceNode || len(l.Content) == 0 {
			continue
		}
		own := slices.ContainsFunc(l.Content, func(e *yaml.Node) bool {
			e = resolve(e)
			return e != nil && e.Kind == yaml.ScalarNode && ownPlatform(e.Value)
		})
		if !own {
			ds = append(ds, at(file, l, loc.Path, "not supported by ladder: build platforms without linux/"+hostArch+
				": ladder builds and runs for this machine's own platform"))
			continue
		}
		for i, e := range l.Content {
			if e = resolve(e); e != nil && e.Kind == yaml.ScalarNode && !ownPlatform(e.Value) {
				note := "ladder builds for this machine's own platform (linux/" + hostArch + ") only: " + e.Value + " is not built"
				uses = append(uses, fieldUse{
					pos:   Pos{File: file, Line: e.Line, Col: max(e.Column, 1), Path: indexPath(loc.Path, i)},
					field: FieldSupport{Field: "build.platforms", Compose: Warned, Process: Warned, Note: note},
				})
			}
		}
	}
	return ds, uses
}

func refusal(f FieldSupport) string {
	msg := "not supported by ladder"
	if f.Note != "" {
		msg += ": " + f.Note
	}
	return msg
}

// eachKey calls fn for every key of a mapping, merged keys included (the
// mapping's own keys win).
func eachKey(m *yaml.Node, fn func(k, v *yaml.Node)) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	seen := map[string]bool{}
	var merged [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if isMergeKey(k) {
			src := resolve(v)
			srcs := []*yaml.Node{src}
			if src != nil && src.Kind == yaml.SequenceNode {
				srcs = src.Content
			}
			for _, s := range srcs {
				if s = resolve(s); s != nil && s.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(s.Content); j += 2 {
						merged = append(merged, [2]*yaml.Node{s.Content[j], s.Content[j+1]})
					}
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode || seen[k.Value] {
			continue
		}
		seen[k.Value] = true
		fn(k, v)
	}
	for _, kv := range merged {
		if kv[0].Kind == yaml.ScalarNode && !seen[kv[0].Value] {
			seen[kv[0].Value] = true
			fn(kv[0], kv[1])
		}
	}
}

func joinPattern(pattern, key string) string {
	if pattern == "" {
		return key
	}
	return pattern + "." + key
}

const (
	childNone = iota
	childFixed
	childNamed
)

// hasChildren says whether the table lists fields below pattern, and
// whether those are keyed by names the user chose ("networks.*").
func hasChildren(table map[string]FieldSupport, pattern string) int {
	if _, ok := table[pattern+".*"]; ok {
		return childNamed
	}
	for k := range table {
		if strings.HasPrefix(k, pattern+".") {
			return childFixed
		}
	}
	return childNone
}

// checkFieldValues refuses values of applied fields that ladder cannot
// honour.
func checkFieldValues(file string, root *yaml.Node) Diagnostics {
	var ds Diagnostics
	for _, name := range serviceNames(root) {
		svc := []string{"services", name}
		scalar := func(field string) (*yaml.Node, string) {
			loc := locate(root, append(slices.Clone(svc), strings.Split(field, ".")...)...)
			v := resolve(loc.Value)
			if loc.Found != len(svc)+len(strings.Split(field, ".")) || v == nil || v.Kind != yaml.ScalarNode {
				return nil, ""
			}
			return v, loc.Path
		}
		for _, field := range []string{"network_mode", "ipc", "pid"} {
			if v, p := scalar(field); v != nil && (strings.HasPrefix(v.Value, "service:") || strings.HasPrefix(v.Value, "container:")) {
				ds = append(ds, at(file, v, p, "not supported by ladder: "+field+" "+strings.SplitN(v.Value, ":", 2)[0]+
					": shares another container's namespace, and ladder replaces containers during releases"))
			}
		}
		if v, p := scalar("platform"); v != nil && !ownPlatform(v.Value) {
			ds = append(ds, at(file, v, p, "not supported by ladder: platform "+v.Value+": ladder builds and runs for this machine's own platform"))
		}
		if v, p := scalar("build.privileged"); v != nil && !strings.EqualFold(v.Value, "false") {
			ds = append(ds, at(file, v, p, "not supported by ladder: privileged builds are not supported"))
		}
		if v, p := scalar("deploy.mode"); v != nil && v.Value != "replicated" {
			ds = append(ds, at(file, v, p, "not supported by ladder: deploy mode "+v.Value+": a site is one engine; use replicas"))
		}
		loc := locate(root, "services", name, "links")
		if l := resolve(loc.Value); loc.Found == 3 && l != nil && l.Kind == yaml.SequenceNode {
			for i, e := range l.Content {
				e = resolve(e)
				if e == nil || e.Kind != yaml.ScalarNode {
					continue
				}
				// A link alias names the linked service for every service
				// of the site; a service's name cannot be one.
				if svc, alias, ok := strings.Cut(e.Value, ":"); ok && svc != alias && slices.Contains(serviceNames(root), alias) {
					ds = append(ds, at(file, e, indexPath(loc.Path, i), "not supported by ladder: link alias "+alias+" is the name of a service of the stack"))
				}
			}
		}
	}
	for _, section := range []string{"networks", "volumes"} {
		loc := locate(root, section)
		eachKey(resolve(loc.Value), func(k, v *yaml.Node) {
			dl := locate(root, section, k.Value, "driver")
			d := resolve(dl.Value)
			if dl.Found != 3 || d == nil || d.Kind != yaml.ScalarNode {
				return
			}
			want := map[string]string{"networks": "bridge", "volumes": "local"}[section]
			if d.Value != want {
				ds = append(ds, at(file, d, dl.Path, "not supported by ladder: driver "+d.Value+" (only "+want+")"))
			}
		})
	}
	return ds
}

// ownPlatform reports whether p ("linux/amd64", "linux/arm64/v8") names
// the machine's own platform.
func ownPlatform(p string) bool {
	parts := strings.Split(strings.ToLower(p), "/")
	if len(parts) < 2 || parts[0] != "linux" {
		return false
	}
	arch := parts[1]
	if arch == "x86_64" {
		arch = "amd64"
	}
	if arch == "aarch64" {
		arch = "arm64"
	}
	return arch == hostArch
}

// hostArch is the machine's own architecture, what ladder builds for. The
// golden tests set it, so that their expectations hold on every machine.
var hostArch = runtime.GOARCH
