// Package slapdtest runs a real OpenLDAP slapd for tests: its own config in
// a temporary directory, an mdb database loaded with a small fixture (and,
// on request, many generated users), on free ports on 127.0.0.1, optionally
// with TLS (StartTLS and ldaps) from a CA generated for the test.
//
// It needs Debian's slapd and ldap-utils; when they are missing the test
// fails saying how to install them. It never skips.
package slapdtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"gatehouse/ldapdir"
)

// The fixture's names and secrets.
const (
	Suffix          = "dc=example,dc=org"
	RootDN          = "cn=admin," + Suffix
	RootPassword    = "root-secret"
	PeopleBase      = "ou=people," + Suffix
	GroupsBase      = "ou=groups," + Suffix
	ServiceDN       = "cn=gatehouse,ou=services," + Suffix
	ServicePassword = "service-secret"
)

// User is a fixture user, a member of the groups named in Groups (by cn).
type User struct {
	UID, Password, CN, Mail string
	Groups                  []string
}

// DN is the user's entry.
func (u User) DN() string { return "uid=" + u.UID + "," + PeopleBase }

// Users are the fixture's people under PeopleBase. Besides them the
// directory holds two entries with uid "twin" (one under
// ou=contractors,ou=people), which a sign-in must refuse as ambiguous.
var Users = []User{
	{UID: "alice", Password: "alice-pw", CN: "Alice Liddell", Mail: "alice@example.org", Groups: []string{"admins", "printadmins", "staff"}},
	{UID: "bob", Password: "bob-pw", CN: "Bob Builder", Mail: "bob@example.org", Groups: []string{"printadmins", "staff"}},
	{UID: "carol", Password: "carol-pw", CN: "Carol Danvers", Mail: "carol@example.org", Groups: []string{"staff"}},
}

// Groups are the fixture's group cns, all groupOfNames under GroupsBase.
var Groups = []string{"admins", "printadmins", "staff"}

// FixtureUserCount is how many entries under PeopleBase match
// (objectClass=inetOrgPerson) before generated users: Users plus the twins.
const FixtureUserCount = 5

// GeneratedUser returns the uid and password of generated user i.
func GeneratedUser(i int) (uid, password string) {
	return fmt.Sprintf("user%06d", i), fmt.Sprintf("pw-%06d", i)
}

// Options says what to start.
type Options struct {
	// TLS gives the server a certificate for 127.0.0.1/localhost from a
	// fresh CA, and an ldaps:// listener besides ldap:// (where StartTLS
	// then works).
	TLS bool
	// GeneratedUsers adds that many inetOrgPerson entries
	// (GeneratedUser(0…n-1)) under PeopleBase, loaded offline with slapadd
	// before the server starts, so tens of thousands cost seconds.
	GeneratedUsers int
}

// Server is a running slapd.
type Server struct {
	URL      string // ldap://127.0.0.1:port
	LDAPSURL string // ldaps://127.0.0.1:port, "" without TLS
	CAPEM    string // the CA that signed the server certificate, "" without TLS
	Dir      string // config, database and log

	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncBuffer
}

// Start starts slapd and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bins := map[string]string{}
	for _, b := range []string{"slapd", "slapadd", "ldapadd"} {
		p, err := exec.LookPath(b)
		if err != nil {
			p = "/usr/sbin/" + b
			if _, serr := os.Stat(p); serr != nil {
				t.Fatalf("slapdtest: %s not found; install OpenLDAP with: apt-get install slapd ldap-utils", b)
			}
		}
		bins[b] = p
	}

	dir := t.TempDir()
	s := &Server{Dir: dir, log: &syncBuffer{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("slapdtest: %v", err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "db"), 0o700))

	var tlsConf string
	if opts.TLS {
		ca := NewCA(t)
		certPEM, keyPEM := ca.serverCert(t)
		must(os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM, 0o600))
		must(os.WriteFile(filepath.Join(dir, "server.pem"), certPEM, 0o600))
		must(os.WriteFile(filepath.Join(dir, "server.key"), keyPEM, 0o600))
		s.CAPEM = string(ca.CertPEM)
		tlsConf = fmt.Sprintf("TLSCACertificateFile %[1]s/ca.pem\nTLSCertificateFile %[1]s/server.pem\nTLSCertificateKeyFile %[1]s/server.key\nTLSProtocolMin 3.3\n", dir)
	}
	conf := filepath.Join(dir, "slapd.conf")
	must(os.WriteFile(conf, []byte(fmt.Sprintf(slapdConf, dir, tlsConf)), 0o600))

	// Offline load: base entries and generated users (fast, no overlays).
	base := filepath.Join(dir, "base.ldif")
	must(os.WriteFile(base, baseLDIF(opts.GeneratedUsers), 0o600))
	if out, err := exec.Command(bins["slapadd"], "-f", conf, "-q", "-l", base).CombinedOutput(); err != nil {
		t.Fatalf("slapdtest: slapadd: %v\n%s", err, out)
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		lastErr = s.start(t, bins["slapd"], conf, opts.TLS)
		if lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("slapdtest: slapd did not start: %v\nlog:\n%s", lastErr, s.log.String())
	}
	t.Cleanup(s.stop)

	// Groups through the protocol, so the memberof overlay fills memberOf.
	s.ldapadd(t, bins["ldapadd"], groupsLDIF())
	return s
}

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
%[2]s
database mdb
maxsize 1073741824
suffix "` + Suffix + `"
rootdn "` + RootDN + `"
rootpw ` + RootPassword + `
directory %[1]s/db
index objectClass eq
index uid eq
index member eq
# Searches by anyone but the root are capped at 500 entries, as in a
# default install: only a paged search can read more.
limits * size.soft=500 size.hard=500 size.prtotal=unlimited
overlay memberof
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact="` + ServiceDN + `" read
  by self read
  by * none
`

func (s *Server) start(t testing.TB, slapd, conf string, withTLS bool) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", ports[0])
	urls := s.URL + "/"
	if withTLS {
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", ports[1])
		urls += " " + s.LDAPSURL + "/"
	}
	// -d stats keeps slapd in the foreground and logs every operation.
	cmd := exec.Command(slapd, "-f", conf, "-h", urls, "-d", "stats")
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("slapd exited: %v", cmd.ProcessState)
		default:
		}
		if s.ready(withTLS) {
			return nil
		}
		select {
		case <-exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.stop()
	return errors.New("not ready after 30s")
}

// ready is true once the root can bind on every listener.
func (s *Server) ready(withTLS bool) bool {
	urls := []string{s.URL}
	if withTLS {
		urls = append(urls, s.LDAPSURL)
	}
	for _, u := range urls {
		hostport := strings.TrimPrefix(strings.TrimPrefix(u, "ldaps://"), "ldap://")
		raw, err := net.DialTimeout("tcp", hostport, time.Second)
		if err != nil {
			return false
		}
		raw.Close()
	}
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetTimeout(2 * time.Second)
	return c.Bind(RootDN, RootPassword) == nil
}

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// Log is everything slapd logged (one line per operation with -d stats).
func (s *Server) Log() string { return s.log.String() }

// AddLDIF adds entries through the protocol with ldapadd, as the root.
func (s *Server) AddLDIF(t testing.TB, ldif string) {
	t.Helper()
	p, err := exec.LookPath("ldapadd")
	if err != nil {
		t.Fatalf("slapdtest: ldapadd not found; install with: apt-get install slapd ldap-utils")
	}
	s.ldapadd(t, p, []byte(ldif))
}

func (s *Server) ldapadd(t testing.TB, bin string, ldif []byte) {
	t.Helper()
	f := filepath.Join(s.Dir, fmt.Sprintf("add-%d.ldif", time.Now().UnixNano()))
	if err := os.WriteFile(f, ldif, 0o600); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	out, err := exec.Command(bin, "-x", "-H", s.URL, "-D", RootDN, "-w", RootPassword, "-f", f).CombinedOutput()
	if err != nil {
		t.Fatalf("slapdtest: ldapadd: %v\n%s", err, out)
	}
}

// Config is an ldapdir.Config for this server: the service account, users
// under PeopleBase, groups from the memberOf attribute. With TLS it uses
// StartTLS and trusts only the server's CA; without, it allows plaintext.
func (s *Server) Config() ldapdir.Config {
	c := ldapdir.Config{
		URL:          s.URL,
		BindDN:       ServiceDN,
		BindPassword: ServicePassword,
		UserBase:     PeopleBase,
	}
	if s.CAPEM != "" {
		c.StartTLS = true
		c.CA = s.CAPEM
	} else {
		c.AllowInsecure = true
	}
	return c
}

func baseLDIF(generated int) []byte {
	var b bytes.Buffer
	b.Grow(200 * (generated + 20))
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", Suffix)
	for _, ou := range []string{"people", "groups", "services"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, Suffix, ou)
	}
	fmt.Fprintf(&b, "dn: ou=contractors,%s\nobjectClass: organizationalUnit\nou: contractors\n\n", PeopleBase)
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: gatehouse\nuserPassword: %s\n\n", ServiceDN, ServicePassword)
	person := func(dn, uid, pw, cn, mail string) {
		sn := cn
		if i := strings.LastIndexByte(cn, ' '); i >= 0 {
			sn = cn[i+1:]
		}
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nmail: %s\nuserPassword: %s\n\n", dn, uid, cn, sn, mail, pw)
	}
	for _, u := range Users {
		person(u.DN(), u.UID, u.Password, u.CN, u.Mail)
	}
	person("uid=twin,"+PeopleBase, "twin", "twin-pw", "Twin One", "twin1@example.org")
	person("uid=twin,ou=contractors,"+PeopleBase, "twin", "twin-pw", "Twin Two", "twin2@example.org")
	for i := range generated {
		uid, pw := GeneratedUser(i)
		person("uid="+uid+","+PeopleBase, uid, pw, "Generated "+uid, uid+"@example.org")
	}
	return b.Bytes()
}

func groupsLDIF() []byte {
	var b bytes.Buffer
	for _, g := range Groups {
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\ndescription: The %s group\n", g, GroupsBase, g, g)
		for _, u := range Users {
			for _, ug := range u.Groups {
				if ug == g {
					fmt.Fprintf(&b, "member: %s\n", u.DN())
				}
			}
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
