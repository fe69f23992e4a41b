package ldapdir_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"gatehouse/ldapdir"
	"gatehouse/ldapdir/slapdtest"
)

func newDirectory(t *testing.T, cfg ldapdir.Config) *ldapdir.Directory {
	t.Helper()
	d, err := ldapdir.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func TestAuthenticate(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{TLS: true})
	ctx := context.Background()
	d := newDirectory(t, s.Config()) // StartTLS, only the test CA trusted

	t.Run("sign-in", func(t *testing.T) {
		for _, u := range slapdtest.Users {
			e, err := d.Authenticate(ctx, u.UID, u.Password)
			if err != nil {
				t.Fatalf("Authenticate(%s): %v", u.UID, err)
			}
			if e.DN != u.DN() || e.Name != u.UID || e.Email != u.Mail || e.FullName != u.CN {
				t.Errorf("entry = %+v, want %s %s %s %s", e, u.DN(), u.UID, u.Mail, u.CN)
			}
			if !slices.Equal(sorted(e.Groups), u.Groups) {
				t.Errorf("%s groups (memberOf) = %v, want %v", u.UID, e.Groups, u.Groups)
			}
			if got := e.Attributes["dn"]; !slices.Equal(got, []string{u.DN()}) {
				t.Errorf("Attributes[dn] = %v", got)
			}
			if got := e.Attributes["memberOf"]; len(got) != len(u.Groups) || !strings.HasPrefix(got[0], "cn=") {
				t.Errorf("raw memberOf = %v, want %d DNs", got, len(u.Groups))
			}
			for name := range e.Attributes {
				if strings.EqualFold(name, "userPassword") {
					t.Errorf("userPassword kept in Attributes")
				}
			}
		}
	})

	refused := []struct{ name, login, password string }{
		{"wrong password", "alice", "bob-pw"},
		{"unknown user", "mallory", "alice-pw"},
		{"ambiguous login", "twin", "twin-pw"},
		{"wildcard login", "*", "alice-pw"},
		{"injection", "*)(uid=*", "alice-pw"},
		{"injection closing the AND", "alice)(|(uid=*", "alice-pw"},
		{"prefix wildcard", "al*", "alice-pw"},
		{"NUL", "alice\x00", "alice-pw"},
		{"service account by cn", "gatehouse", slapdtest.ServicePassword},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Authenticate(ctx, c.login, c.password)
			if !errors.Is(err, ldapdir.ErrInvalidCredentials) {
				t.Fatalf("Authenticate(%q) = %v, want ErrInvalidCredentials", c.login, err)
			}
			if errors.Is(err, ldapdir.ErrUnavailable) {
				t.Fatalf("refusal also reads as unavailable: %v", err)
			}
			if strings.Contains(err.Error(), c.password) {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}

	t.Run("filters are escaped on the wire", func(t *testing.T) {
		log := s.Log()
		for _, want := range []string{
			`filter="(&(objectClass=inetOrgPerson)(uid=\2A))"`,
			`filter="(&(objectClass=inetOrgPerson)(uid=\2A\29\28uid=\2A))"`,
		} {
			if !strings.Contains(log, want) {
				t.Errorf("slapd log has no %s", want)
			}
		}
	})

	t.Run("wrong service password is unavailable", func(t *testing.T) {
		cfg := s.Config()
		cfg.BindPassword = "not-the-service-password"
		_, err := newDirectory(t, cfg).Authenticate(ctx, "alice", "alice-pw")
		if !errors.Is(err, ldapdir.ErrUnavailable) || errors.Is(err, ldapdir.ErrInvalidCredentials) {
			t.Fatalf("err = %v, want ErrUnavailable only", err)
		}
		if strings.Contains(err.Error(), "not-the-service-password") {
			t.Fatalf("error %q contains the service password", err)
		}
	})

	t.Run("anonymous search is refused", func(t *testing.T) {
		// The fixture's ACLs hide people from anonymous searches (slapd
		// answers noSuchObject), so the sign-ins above prove the service
		// bind is used. A search the server refuses is a directory
		// problem, not a wrong password.
		cfg := s.Config()
		cfg.BindDN, cfg.BindPassword = "", ""
		_, err := newDirectory(t, cfg).Authenticate(ctx, "alice", "alice-pw")
		if !errors.Is(err, ldapdir.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

func TestEmptyPasswordNeverReachesTheServer(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{})
	ctx := context.Background()

	// An unreachable directory: a refusal that needed the network would
	// come back as ErrUnavailable.
	cfg := s.Config()
	cfg.URL = "ldap://192.0.2.1:389" // TEST-NET-1, never routed
	cfg.DialTimeout = 50 * time.Millisecond
	if _, err := newDirectory(t, cfg).Authenticate(ctx, "alice", ""); !errors.Is(err, ldapdir.ErrInvalidCredentials) || errors.Is(err, ldapdir.ErrUnavailable) {
		t.Fatalf("empty password against unreachable server = %v, want ErrInvalidCredentials", err)
	}

	// Through a counting proxy to the real server: no connection at all.
	p := startProxy(t, "127.0.0.1:0", strings.TrimPrefix(s.URL, "ldap://"))
	cfg = s.Config()
	cfg.URL = "ldap://" + p.addr
	d := newDirectory(t, cfg)
	for _, login := range []string{"alice", "gatehouse", "*", ""} {
		if _, err := d.Authenticate(ctx, login, ""); !errors.Is(err, ldapdir.ErrInvalidCredentials) {
			t.Fatalf("Authenticate(%q, \"\") = %v, want ErrInvalidCredentials", login, err)
		}
	}
	if n := p.accepted.Load(); n != 0 {
		t.Fatalf("empty passwords opened %d connections, want 0", n)
	}
	// The proxy itself works: a real sign-in goes through it.
	if _, err := d.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatalf("sign-in through proxy: %v", err)
	}
	if n := p.accepted.Load(); n != 1 {
		t.Fatalf("sign-in opened %d connections, want 1", n)
	}
	if strings.Contains(s.Log(), `BIND dn="" method=128`) {
		t.Fatalf("slapd saw an anonymous simple bind:\n%s", s.Log())
	}
	if n := strings.Count(s.Log(), `BIND dn="uid=alice,ou=people,dc=example,dc=org" method=128`); n != 1 {
		t.Fatalf("slapd saw %d binds as alice, want 1 (the real sign-in)", n)
	}
}

func TestTLS(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{TLS: true})
	ctx := context.Background()
	otherCA := string(slapdtest.NewCA(t).CertPEM)
	ldaps := s.Config()
	ldaps.URL, ldaps.StartTLS = s.LDAPSURL, false
	localhost := s.Config()
	localhost.URL = strings.Replace(s.URL, "127.0.0.1", "localhost", 1)

	cases := []struct {
		name string
		cfg  func() ldapdir.Config
		ok   bool
	}{
		{"StartTLS", func() ldapdir.Config { return s.Config() }, true},
		{"StartTLS by host name", func() ldapdir.Config { return localhost }, true},
		{"StartTLS, other CA", func() ldapdir.Config { c := s.Config(); c.CA = otherCA; return c }, false},
		{"StartTLS, system roots", func() ldapdir.Config { c := s.Config(); c.CA = ""; return c }, false},
		{"ldaps", func() ldapdir.Config { return ldaps }, true},
		{"ldaps, other CA", func() ldapdir.Config { c := ldaps; c.CA = otherCA; return c }, false},
		{"ldaps, name not in certificate", func() ldapdir.Config {
			p := startProxy(t, "127.0.0.2:0", strings.TrimPrefix(s.LDAPSURL, "ldaps://"))
			c := ldaps
			c.URL = "ldaps://" + p.addr
			return c
		}, false},
		{"StartTLS, name not in certificate", func() ldapdir.Config {
			p := startProxy(t, "127.0.0.2:0", strings.TrimPrefix(s.URL, "ldap://"))
			c := s.Config()
			c.URL = "ldap://" + p.addr
			return c
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := newDirectory(t, c.cfg()).Authenticate(ctx, "bob", "bob-pw")
			if c.ok {
				if err != nil || e.Name != "bob" {
					t.Fatalf("Authenticate = %+v, %v", e, err)
				}
				return
			}
			if !errors.Is(err, ldapdir.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
		})
	}
	// Each failing case stopped before its bind: bob's password was only
	// ever sent over a verified connection.
	if n := strings.Count(s.Log(), `BIND dn="uid=bob,ou=people,dc=example,dc=org" method=128`); n != 3 {
		t.Errorf("bob bound %d times, want 3 (the passing cases)", n)
	}
}

func TestGroups(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.Options{TLS: true})
	ctx := context.Background()
	bySearch := s.Config()
	bySearch.GroupBase = slapdtest.GroupsBase

	for _, way := range []struct {
		name string
		cfg  ldapdir.Config
	}{{"memberOf attribute", s.Config()}, {"group search", bySearch}} {
		t.Run(way.name, func(t *testing.T) {
			d := newDirectory(t, way.cfg)
			for _, u := range slapdtest.Users {
				e, err := d.Authenticate(ctx, u.UID, u.Password)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(sorted(e.Groups), u.Groups) {
					t.Errorf("%s groups = %v, want %v", u.UID, e.Groups, u.Groups)
				}
			}
		})
	}
	if !strings.Contains(s.Log(), `filter="(&(objectClass=groupOfNames)(member=uid=alice,ou=people,dc=example,dc=org))"`) {
		t.Errorf("slapd log has no member search for alice")
	}

	t.Run("stream", func(t *testing.T) {
		var names []string
		members := map[string]int{}
		err := newDirectory(t, bySearch).Groups(ctx, 2, func(e ldapdir.Entry) error {
			names = append(names, e.Name)
			members[e.Name] = len(e.Attributes["member"])
			if e.FullName != "The "+e.Name+" group" {
				t.Errorf("group %s FullName = %q", e.Name, e.FullName)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sorted(names), slapdtest.Groups) {
			t.Fatalf("groups = %v, want %v", names, slapdtest.Groups)
		}
		if members["staff"] != 3 || members["admins"] != 1 {
			t.Fatalf("member counts = %v", members)
		}
	})
	t.Run("no group base streams nothing", func(t *testing.T) {
		err := newDirectory(t, s.Config()).Groups(ctx, 0, func(e ldapdir.Entry) error {
			t.Errorf("unexpected group %s", e.DN)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestUsersPaging(t *testing.T) {
	const generated = 10_000
	start := time.Now()
	s := slapdtest.Start(t, slapdtest.Options{GeneratedUsers: generated})
	t.Logf("slapd with %d generated users ready in %v", generated, time.Since(start))
	ctx := context.Background()
	d := newDirectory(t, s.Config())

	t.Run("a plain search is capped", func(t *testing.T) {
		// Proves the paging below is needed: the service account may read
		// only 500 entries per search.
		c, err := ldap.DialURL(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(slapdtest.ServiceDN, slapdtest.ServicePassword); err != nil {
			t.Fatal(err)
		}
		_, err = c.Search(ldap.NewSearchRequest(slapdtest.PeopleBase, ldap.ScopeWholeSubtree, 0, 0, 0, false,
			"(objectClass=inetOrgPerson)", []string{"dn"}, nil))
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			t.Fatalf("unpaged search err = %v, want size limit exceeded", err)
		}
	})

	t.Run("every entry, in pages", func(t *testing.T) {
		// Page size 499: the unpaged search above stops at the size
		// limit with nentries=500, and slapd may log it late.
		const page = 499
		full := fmt.Sprintf("nentries=%d ", page)
		before := strings.Count(s.Log(), full)
		seen := map[string]bool{}
		start := time.Now()
		err := d.Users(ctx, page, func(e ldapdir.Entry) error {
			if seen[e.DN] {
				return fmt.Errorf("%s seen twice", e.DN)
			}
			seen[e.DN] = true
			if e.Name == "" || e.Email == "" || e.FullName == "" {
				return fmt.Errorf("bad entry %+v", e)
			}
			return nil
		})
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		want := generated + slapdtest.FixtureUserCount
		if len(seen) != want {
			t.Fatalf("saw %d users, want %d", len(seen), want)
		}
		for i := range generated {
			uid, _ := slapdtest.GeneratedUser(i)
			if !seen["uid="+uid+","+slapdtest.PeopleBase] {
				t.Fatalf("missed %s", uid)
			}
		}
		// slapd writes its log asynchronously: wait for the pages to show.
		pages := 0
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			pages = strings.Count(s.Log(), full) - before
			if pages >= want/page || time.Now().After(deadline) {
				break
			}
		}
		if pages != want/page {
			t.Fatalf("slapd answered %d full pages of %d, want %d", pages, page, want/page)
		}
		t.Logf("Users streamed %d entries in %d+1 pages of %d in %v", len(seen), pages, page, elapsed)
	})

	t.Run("callback error stops the stream", func(t *testing.T) {
		stop := errors.New("enough")
		n := 0
		err := d.Users(ctx, 100, func(ldapdir.Entry) error {
			n++
			if n == 150 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 150 {
			t.Fatalf("err = %v after %d entries, want %v after 150", err, n, stop)
		}
	})

	t.Run("cancelled context stops the stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n := 0
		err := d.Users(ctx, 100, func(ldapdir.Entry) error {
			n++
			if n == 250 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ldapdir.ErrUnavailable) {
			t.Fatalf("err = %v, want context.Canceled and ErrUnavailable", err)
		}
		if n >= generated {
			t.Fatalf("stream ran to the end (%d entries) despite cancel", n)
		}
	})

	t.Run("a generated user signs in", func(t *testing.T) {
		uid, pw := slapdtest.GeneratedUser(generated - 1)
		if e, err := d.Authenticate(ctx, uid, pw); err != nil || e.Name != uid {
			t.Fatalf("Authenticate(%s) = %+v, %v", uid, e, err)
		}
	})
}

func TestUnavailable(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := newDirectory(t, ldapdir.Config{URL: "ldap://" + addr, AllowInsecure: true, UserBase: "dc=example,dc=org"})
	_, err = d.Authenticate(context.Background(), "alice", "alice-pw")
	if !errors.Is(err, ldapdir.ErrUnavailable) || strings.Contains(err.Error(), "alice-pw") {
		t.Fatalf("err = %v, want ErrUnavailable without the password", err)
	}
	if err := d.Users(context.Background(), 0, func(ldapdir.Entry) error { return nil }); !errors.Is(err, ldapdir.ErrUnavailable) {
		t.Fatalf("Users err = %v, want ErrUnavailable", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// proxy forwards TCP connections to a target and counts them.
type proxy struct {
	addr     string
	accepted atomic.Int64
}

func startProxy(t *testing.T, listen, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &proxy{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			wg.Go(func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(u, c); done <- struct{}{} }()
				go func() { io.Copy(c, u); done <- struct{}{} }()
				<-done
			})
		}
	})
	return p
}

func TestContextBoundsASilentServer(t *testing.T) {
	// A server that accepts and never answers: every call must come back
	// when its context ends, as ErrUnavailable carrying the context's error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	base := ldapdir.Config{URL: "ldap://" + l.Addr().String(), UserBase: "dc=example,dc=org",
		BindDN: slapdtest.ServiceDN, BindPassword: slapdtest.ServicePassword}
	plain, startTLS, ldaps := base, base, base
	plain.AllowInsecure = true
	startTLS.StartTLS = true
	ldaps.URL = "ldaps://" + l.Addr().String()
	for name, cfg := range map[string]ldapdir.Config{"plain": plain, "StartTLS": startTLS, "ldaps": ldaps} {
		t.Run(name, func(t *testing.T) {
			d := newDirectory(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := d.Authenticate(ctx, "alice", "alice-pw")
			t.Logf("Authenticate returned after %v (context: 200ms)", time.Since(start))
			if !errors.Is(err, ldapdir.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Authenticate = %v, want ErrUnavailable and DeadlineExceeded", err)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err = d.Users(ctx, 0, func(ldapdir.Entry) error { return nil })
			if !errors.Is(err, ldapdir.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Users = %v, want ErrUnavailable and DeadlineExceeded", err)
			}
		})
	}
}
