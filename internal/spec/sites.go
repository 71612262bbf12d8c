package spec

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
)

// checkSite checks a site's target, engine connection and values. segs
// locate the site: environments, ENV, sites, INDEX.
func (doc *ladderDoc) checkSite(s Site, segs []string) Diagnostics {
	var ds Diagnostics
	add := func(msg string, field ...string) {
		loc := doc.locate(append(slices.Clone(segs), field...)...)
		ds = append(ds, at(doc.file, loc.Value, loc.Path, msg))
	}
	addKey := func(msg string, field ...string) {
		loc := doc.locate(append(slices.Clone(segs), field...)...)
		ds = append(ds, at(doc.file, loc.keyNode(), loc.Path, msg))
	}
	kindAt := []string{"target", "kind"}
	if loc := doc.locate(append(slices.Clone(segs), kindAt...)...); loc.Found != len(segs)+2 {
		kindAt = []string{"target"} // written as `target: KIND`
	}
	switch k := s.Target.Kind; {
	case k == "" || slices.Contains(SiteKinds, k):
	case k == KindKubernetes:
		add("the kubernetes target is not available yet: a site runs on compose, process or hybrid", kindAt...)
	default:
		add(fmt.Sprintf("unknown target kind %q: must be one of %s%s", k, strings.Join(SiteKinds, ", "), suggest(k, SiteKinds)), kindAt...)
	}
	if c := s.Target.Docker; c != nil {
		base := []string{"target", "docker"}
		scheme := ""
		if msg := CheckDockerHost(c.Host); msg != "" {
			if c.Host == "" {
				add(msg, base...)
			} else {
				add(msg, append(base, "host")...)
			}
		} else {
			scheme, _, _ = strings.Cut(c.Host, "://")
		}
		if c.TLS != nil {
			tls := append(slices.Clone(base), "tls")
			if scheme != "" && scheme != "tcp" {
				addKey(fmt.Sprintf("TLS applies to a tcp:// engine only, not %s://", scheme), tls...)
			}
			if (c.TLS.Cert == "") != (c.TLS.Key == "") {
				if c.TLS.Cert == "" {
					add("a client key needs its certificate: set cert too", append(tls, "key")...)
				} else {
					add("a client certificate needs its key: set key too", append(tls, "cert")...)
				}
			}
			if c.TLS.CA == "" && c.TLS.Cert == "" && c.TLS.Key == "" {
				addKey("tls needs at least one of ca, cert and key", tls...)
			}
		}
		if c.Insecure && c.TLS == nil && scheme == "tcp" {
			addKey("insecure skips verifying the engine's TLS certificate, and there is no tls: set tls (a plain tcp:// engine needs neither)", append(base, "insecure")...)
		}
	}
	v := s.Values
	if v.Region != "" && !dnsLabelish(v.Region) {
		add(fmt.Sprintf("region %q must be lowercase letters, digits and '-' (like \"eu-west-1\")", v.Region), "values", "region")
	}
	if v.Capacity < 0 {
		add(fmt.Sprintf("must be 0 or more, not %d", v.Capacity), "values", "capacity")
	}
	for _, name := range sortedKeys(v.Endpoints) {
		if msg := checkSiteEndpoint(v.Endpoints[name]); msg != "" {
			add(msg, "values", "endpoints", name)
		}
	}
	return ds
}

func dnsLabelish(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return len(s) <= 63
}

// checkSiteEndpoint accepts an absolute URL with a host.
func checkSiteEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Sprintf("endpoint %q must be an absolute URL, like \"https://db.eu-west.example.com:5432\"", s)
	}
	return ""
}

// CheckDockerHost accepts the engine addresses ladder can reach:
// unix:///absolute/path, tcp://host:port and ssh://[user@]host[:port].
// It returns what is wrong, or "".
func CheckDockerHost(host string) string {
	const want = "want unix:///path/to/docker.sock, tcp://host:port or ssh://[user@]host[:port]"
	if host == "" {
		return "docker host is required: " + want
	}
	u, err := url.Parse(host)
	if err != nil {
		return fmt.Sprintf("docker host %q is not an address: %s", host, want)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if u.Host != "" || !path.IsAbs(p) || p == "/" {
			return fmt.Sprintf("docker host %q: a unix socket needs an absolute path, like unix:///var/run/docker.sock", host)
		}
	case "tcp":
		h, port, err := net.SplitHostPort(u.Host)
		if err != nil || h == "" || port == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Sprintf("docker host %q: a tcp engine needs host:port and nothing else, like tcp://10.0.0.5:2376", host)
		}
		if msg := checkHostPort(u.Host); msg != "" {
			return fmt.Sprintf("docker host %q: %s", host, msg)
		}
	case "ssh":
		if u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Sprintf("docker host %q: an ssh engine needs a host, like ssh://deploy@build-1.example.com", host)
		}
	default:
		return fmt.Sprintf("docker host %q: unknown scheme %q: %s", host, u.Scheme, want)
	}
	return ""
}
