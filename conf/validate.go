package conf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Validate checks every setting and returns all problems, joined with
// errors.Join, each starting with the setting's YAML key; nil means the
// configuration is usable. Secrets are never quoted in the messages.
func (c Config) Validate() error {
	var v validator

	// http.*
	v.hostPort("http.listen", c.HTTP.Listen)
	for i, p := range c.HTTP.TrustedProxies {
		if !validProxy(p) {
			v.add("http.trusted-proxies", "item %d %q is not an IP address or CIDR", i+1, p)
		}
	}
	v.durationMin("http.shutdown-timeout", c.HTTP.ShutdownTimeout, false)

	// storage.*
	if c.Embedded() && strings.TrimSpace(c.Storage.DataDir) == "" {
		v.add("storage.data-dir", "must not be empty when etcd is embedded (storage.etcd.endpoints is empty)")
	}
	if p := c.Storage.Prefix; !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		v.add("storage.prefix", "%q must start and end with /", p)
	}
	v.durationMin("storage.timeout", c.Storage.Timeout, true)
	v.durationMin("audit.retention", c.Audit.Retention, true)
	for i, e := range c.Storage.Etcd.Endpoints {
		if shown, err := checkEndpoint(e); err != nil {
			v.add("storage.etcd.endpoints", "item %d %q %v", i+1, shown, err)
		}
	}
	if c.Storage.Etcd.Password != "" && c.Storage.Etcd.Username == "" {
		v.add("storage.etcd.password", "is set but storage.etcd.username is empty")
	}
	tls := c.Storage.Etcd.TLS
	switch {
	case tls.Cert != "" && tls.Key == "":
		v.add("storage.etcd.tls.cert", "is set but storage.etcd.tls.key is empty; give both or neither")
	case tls.Key != "" && tls.Cert == "":
		v.add("storage.etcd.tls.key", "is set but storage.etcd.tls.cert is empty; give both or neither")
	}
	emb := c.Storage.Embedded
	v.intRange("storage.embedded.client-port", emb.ClientPort, 0, 65535)
	v.intRange("storage.embedded.peer-port", emb.PeerPort, 0, 65535)
	if emb.ClientPort != 0 && emb.ClientPort == emb.PeerPort {
		v.add("storage.embedded.peer-port", "%d is also storage.embedded.client-port; the ports must differ", emb.PeerPort)
	}

	// api.*
	api := c.API
	v.intRange("api.max-depth", api.MaxDepth, 1, 20)
	v.intRange("api.max-page-size", api.MaxPageSize, 1, 100000)
	if api.DefaultPageSize < 1 {
		v.add("api.default-page-size", "%d must be at least 1", api.DefaultPageSize)
	} else if api.DefaultPageSize > api.MaxPageSize {
		v.add("api.default-page-size", "%d is greater than api.max-page-size (%d)", api.DefaultPageSize, api.MaxPageSize)
	}

	// oauth.*
	if iss := c.OAuth.Issuer; iss != "" {
		u, err := url.Parse(iss)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			v.add("oauth.issuer", "%q is not an http:// or https:// URL without query, fragment or user", iss)
		}
	}
	lt := c.OAuth.Lifetimes
	v.durationMin("oauth.lifetimes.access", lt.Access, true)
	v.durationMin("oauth.lifetimes.refresh", lt.Refresh, true)
	v.durationMin("oauth.lifetimes.code", lt.Code, true)
	if lt.Code > 10*time.Minute {
		v.add("oauth.lifetimes.code", "%s is longer than 10m (RFC 6749 §4.1.2)", formatDuration(lt.Code))
	}
	v.durationMin("oauth.key-rotation", c.OAuth.KeyRotation, false)

	// auth.*
	v.durationMin("auth.basic.cache-ttl", c.Auth.Basic.CacheTTL, false)
	minLen := c.Auth.Password.MinLength
	v.intRange("auth.password.min-length", minLen, 1, 1024)
	maxLen := c.Auth.Password.MaxLength
	v.intRange("auth.password.max-length", maxLen, 64, 1024)
	if maxLen < minLen {
		v.add("auth.password.max-length", "%d is less than auth.password.min-length (%d)", maxLen, minLen)
	}
	v.intRange("auth.password.history", c.Auth.Password.History, 0, 24)
	v.durationMin("auth.password.max-age", c.Auth.Password.MaxAge, false)
	th := c.Auth.Throttle
	v.intRange("auth.throttle.user-failures", th.UserFailures, 1, -1)
	v.durationMin("auth.throttle.user-window", th.UserWindow, true)
	v.intRange("auth.throttle.address-failures", th.AddressFailures, 1, -1)
	v.durationMin("auth.throttle.address-window", th.AddressWindow, true)
	if d := th.UserDisableFailures; d != 0 && d <= th.UserFailures {
		v.add("auth.throttle.user-disable-failures", "%d must be 0 or more than auth.throttle.user-failures (%d)", d, th.UserFailures)
	}
	for _, o := range c.Auth.Passkeys.Origins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			v.add("auth.passkeys.origins", "%q is not an origin (scheme://host[:port])", o)
		}
	}
	if id := c.Auth.Passkeys.RPID; id != "" && (strings.ContainsAny(id, "/:@ ") || strings.Trim(id, ".") != id) {
		v.add("auth.passkeys.rp-id", "%q is not a domain name", id)
	}

	// admin.*
	if pw := c.Admin.Password; pw != "" && minLen >= 1 {
		if n := utf8.RuneCountInString(pw); n < minLen {
			v.add("admin.password", "has %d characters, fewer than auth.password.min-length (%d)", n, minLen)
		}
	}

	// log.*
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.intRange("runtime.gc-headroom-mib", c.Runtime.GCHeadroomMiB, 0, 65536)

	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// intRange checks lo <= n <= hi; hi < lo means no upper bound.
func (v *validator) intRange(key string, n, lo, hi int) {
	switch {
	case hi < lo && n < lo:
		v.add(key, "%d must be at least %d", n, lo)
	case hi >= lo && (n < lo || n > hi):
		v.add(key, "%d is outside %d..%d", n, lo, hi)
	}
}

// durationMin checks d > 0 when positive, else d >= 0.
func (v *validator) durationMin(key string, d time.Duration, positive bool) {
	switch {
	case positive && d <= 0:
		v.add(key, "%s must be greater than 0", formatDuration(d))
	case !positive && d < 0:
		v.add(key, "%s must not be negative", formatDuration(d))
	}
}

func (v *validator) oneOf(key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.add(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

func (v *validator) hostPort(key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(key, "%q is not host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(key, "%q has an invalid port %q", addr, port)
	}
}

func validProxy(s string) bool {
	if strings.Contains(s, "/") {
		_, err := netip.ParsePrefix(s)
		return err == nil
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// checkEndpoint checks one etcd endpoint URL. It returns the endpoint as it
// may be shown in a message (any password in it replaced by "xxxxx").
func checkEndpoint(e string) (shown string, err error) {
	u, err := url.Parse(e)
	if err != nil {
		return e, errors.New("is not a URL")
	}
	shown = u.Redacted()
	if u.Scheme != "http" && u.Scheme != "https" {
		return shown, errors.New("must use the http or https scheme")
	}
	if u.Host == "" {
		return shown, errors.New("has no host")
	}
	return shown, nil
}
