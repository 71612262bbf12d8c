package render

import (
	"strconv"
)

// composeRuntime is the part of a Compose file service (format 2.4) that
// Runtime maps to.
type composeRuntime struct {
	User           string            `yaml:"user,omitempty"`
	Hostname       string            `yaml:"hostname,omitempty"`
	Domainname     string            `yaml:"domainname,omitempty"`
	StopSignal     string            `yaml:"stop_signal,omitempty"`
	ReadOnly       bool              `yaml:"read_only,omitempty"`
	Init           bool              `yaml:"init,omitempty"`
	Privileged     bool              `yaml:"privileged,omitempty"`
	Tty            bool              `yaml:"tty,omitempty"`
	StdinOpen      bool              `yaml:"stdin_open,omitempty"`
	CapAdd         []string          `yaml:"cap_add,omitempty"`
	CapDrop        []string          `yaml:"cap_drop,omitempty"`
	SecurityOpt    []string          `yaml:"security_opt,omitempty"`
	Sysctls        map[string]string `yaml:"sysctls,omitempty"`
	Ulimits        map[string]any    `yaml:"ulimits,omitempty"`
	ExtraHosts     []string          `yaml:"extra_hosts,omitempty"`
	Tmpfs          []string          `yaml:"tmpfs,omitempty"`
	ShmSize        int64             `yaml:"shm_size,omitempty"`
	NetworkMode    string            `yaml:"network_mode,omitempty"`
	IPC            string            `yaml:"ipc,omitempty"`
	PID            string            `yaml:"pid,omitempty"`
	DNS            []string          `yaml:"dns,omitempty"`
	DNSSearch      []string          `yaml:"dns_search,omitempty"`
	DNSOpt         []string          `yaml:"dns_opt,omitempty"`
	GroupAdd       []string          `yaml:"group_add,omitempty"`
	Expose         []string          `yaml:"expose,omitempty"`
	Logging        *composeLogging   `yaml:"logging,omitempty"`
	MemReservation int64             `yaml:"mem_reservation,omitempty"`
	MemswapLimit   int64             `yaml:"memswap_limit,omitempty"`
	MemSwappiness  int64             `yaml:"mem_swappiness,omitempty"`
	CPUShares      int64             `yaml:"cpu_shares,omitempty"`
	CPUQuota       int64             `yaml:"cpu_quota,omitempty"`
	CPUPeriod      int64             `yaml:"cpu_period,omitempty"`
	CPUSet         string            `yaml:"cpuset,omitempty"`
	PidsLimit      int64             `yaml:"pids_limit,omitempty"`
	OOMKillDisable bool              `yaml:"oom_kill_disable,omitempty"`
	OOMScoreAdj    int64             `yaml:"oom_score_adj,omitempty"`
}

type composeLogging struct {
	Driver  string            `yaml:"driver,omitempty"`
	Options map[string]string `yaml:"options,omitempty"`
}

func healthTest(h *Health) []string {
	if h.Shell && len(h.Command) == 3 {
		// docker-compose interpolates the file it reads: keep $ literal.
		return []string{"CMD-SHELL", literal(h.Command[2])}
	}
	return append([]string{"CMD"}, literals(h.Command)...)
}

// applyRuntime writes svc's runtime settings into cs.
func applyRuntime(cs *composeService, svc Service) {
	if len(svc.Networks) > 0 {
		cs.Networks = svc.Networks
	}
	rt := svc.Runtime
	if rt == nil {
		return
	}
	for k, v := range rt.Labels {
		cs.Labels[k] = v
	}
	if len(rt.Aliases) > 0 {
		nets := map[string]any{}
		for _, n := range svc.Networks {
			nets[n] = nil
			if a := rt.Aliases[n]; len(a) > 0 {
				nets[n] = map[string][]string{"aliases": a}
			}
		}
		cs.Networks = nets
	}
	if rt.NetworkMode != "" {
		cs.Networks = nil
	}
	cs.composeRuntime = composeRuntime{
		User: rt.User, Hostname: rt.Hostname, Domainname: rt.Domainname, StopSignal: rt.StopSignal,
		ReadOnly: rt.ReadOnly, Init: rt.Init, Privileged: rt.Privileged, Tty: rt.Tty, StdinOpen: rt.StdinOpen,
		CapAdd: rt.CapAdd, CapDrop: rt.CapDrop, SecurityOpt: rt.SecurityOpt, Sysctls: rt.Sysctls,
		ExtraHosts: rt.ExtraHosts, Tmpfs: rt.Tmpfs, ShmSize: rt.ShmSize, NetworkMode: rt.NetworkMode,
		IPC: rt.IPC, PID: rt.PID, DNS: rt.DNS, DNSSearch: rt.DNSSearch, DNSOpt: rt.DNSOptions,
		GroupAdd: rt.GroupAdd, Expose: rt.Expose,
		MemReservation: rt.Limits.MemoryReservation, MemswapLimit: rt.Limits.MemorySwap,
		MemSwappiness: rt.Limits.MemorySwappiness, CPUShares: rt.Limits.CPUShares,
		CPUQuota: rt.Limits.CPUQuota, CPUPeriod: rt.Limits.CPUPeriod, CPUSet: rt.Limits.CPUSet,
		PidsLimit: rt.Limits.Pids, OOMKillDisable: rt.Limits.OOMKillDisable, OOMScoreAdj: rt.Limits.OOMScoreAdj,
	}
	if rt.Logging != nil {
		cs.Logging = &composeLogging{Driver: rt.Logging.Driver, Options: rt.Logging.Options}
	}
	if len(rt.Ulimits) > 0 {
		cs.Ulimits = map[string]any{}
		for _, u := range rt.Ulimits {
			cs.Ulimits[u.Name] = map[string]int64{"soft": u.Soft, "hard": u.Hard}
		}
	}
	// The environment's values (svc.Resources) win over the stack's.
	if rt.Limits.CPUs != 0 && cs.CPUs == 0 {
		cs.CPUs = rt.Limits.CPUs
	}
	if rt.Limits.Memory != 0 && cs.MemLimit == "" {
		cs.MemLimit = strconv.FormatInt(rt.Limits.Memory, 10)
	}
}
