package ldapdir

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalidCredentials: the login matches no entry, more than one
	// entry, or the password is wrong or empty. The cases are deliberately
	// not told apart.
	ErrInvalidCredentials = errors.New("ldapdir: invalid credentials")
	// ErrUnavailable: the directory could not be asked (network, TLS,
	// timeout, service-account bind, a search the server refused).
	ErrUnavailable = errors.New("ldapdir: directory unavailable")
	// ErrInvalidConfig: New was given a Config that does not validate.
	ErrInvalidConfig = errors.New("ldapdir: invalid configuration")
)

// DefaultPageSize is used by Users and Groups when pageSize <= 0.
const DefaultPageSize = 500

// Entry is a user or group read from the directory.
//
// For a user, Name, Email and FullName come from the mapped attributes and
// Groups holds group names (see Directory.Authenticate). For a group (from
// Directory.Groups), Name is its cn, FullName its description, and its
// member DNs are in Attributes["member"].
//
// Attributes keeps every attribute returned, as sent by the server, plus
// "dn"; userPassword is never kept.
type Entry struct {
	DN         string
	Name       string
	Email      string
	FullName   string
	Groups     []string
	Attributes map[string][]string
}

// Directory is an LDAP directory described by a Config. It holds no
// connection: each call dials, works and closes, so a Directory is safe for
// concurrent use.
type Directory struct {
	cfg      Config
	hostport string
	ldaps    bool
	tls      *tls.Config
}

// New validates cfg (with defaults applied) and returns its Directory. It
// does not contact the server.
func New(cfg Config) (*Directory, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	hostport, ldaps, _ := cfg.endpoint()
	host, _, _ := net.SplitHostPort(hostport)
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if cfg.CA != "" {
		pool, _ := ParseCA(cfg.CA)
		tc.RootCAs = pool
	}
	return &Directory{cfg: cfg, hostport: hostport, ldaps: ldaps, tls: tc}, nil
}

// Config returns the directory's configuration with defaults applied.
func (d *Directory) Config() Config { return d.cfg }

// Authenticate signs a user in by search-then-bind: search as the service
// account for exactly one entry matching LoginFilter(login), bind as that
// entry's DN with password, then read its groups. An empty password is
// refused before any network I/O, so no unauthenticated bind can ever be
// sent. Groups come from a search under GroupBase when it is set (names are
// the groups' cn), else from the Mapping.Groups attribute (a value that is a
// DN is reduced to its first RDN's value, e.g. cn=admins,ou=groups,… →
// admins; raw values stay in Attributes).
//
// Errors wrap ErrInvalidCredentials or ErrUnavailable; neither carries the
// password.
func (d *Directory) Authenticate(ctx context.Context, login, password string) (Entry, error) {
	if password == "" || login == "" {
		return Entry{}, ErrInvalidCredentials
	}
	conn, done, err := d.connect(ctx)
	if err != nil {
		return Entry{}, err
	}
	defer done()
	if err := d.serviceBind(ctx, conn); err != nil {
		return Entry{}, err
	}
	res, err := conn.Search(d.userSearch(d.cfg.UserBase, d.cfg.LoginFilter(login), 2))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return Entry{}, unavailable(ctx, "user search", err)
	}
	if res == nil || len(res.Entries) != 1 {
		// Zero or several matches look exactly like a wrong password.
		return Entry{}, ErrInvalidCredentials
	}
	raw := res.Entries[0]
	if err := conn.Bind(raw.DN, password); err != nil {
		if isCredentialFailure(err) {
			return Entry{}, ErrInvalidCredentials
		}
		return Entry{}, unavailable(ctx, "user bind", err)
	}
	e := d.entry(raw)
	if d.cfg.GroupBase != "" {
		// Back to the service account: the user may not read groups.
		if err := d.serviceBind(ctx, conn); err != nil {
			return Entry{}, err
		}
		e.Groups = nil
		err := d.page(ctx, conn, d.groupSearch(d.cfg.memberFilter(raw.DN)), DefaultPageSize, func(g *ldap.Entry) error {
			if cn := g.GetAttributeValue("cn"); cn != "" {
				e.Groups = append(e.Groups, cn)
			}
			return nil
		})
		if err != nil {
			return Entry{}, err
		}
	}
	return e, nil
}

// Users calls fn for every entry under UserBase matching UserFilter, as the
// service account, fetching pageSize entries at a time with the RFC 2696
// paged-results control (DefaultPageSize when pageSize <= 0). The total is
// only known when Users returns: LDAP has no cheap count. When GroupBase is
// set, Groups of each entry is left empty (one group search per user would
// not scale); use Directory.Groups and their member lists instead. An error
// from fn stops the search and is returned as is.
func (d *Directory) Users(ctx context.Context, pageSize int, fn func(Entry) error) error {
	return d.stream(ctx, d.userSearch(d.cfg.UserBase, d.cfg.UserFilter, 0), pageSize, fn, d.entry)
}

// Groups calls fn for every entry under GroupBase matching GroupFilter,
// paged like Users. Without a GroupBase it returns nil at once: groups are
// then only known as users' Mapping.Groups values.
func (d *Directory) Groups(ctx context.Context, pageSize int, fn func(Entry) error) error {
	if d.cfg.GroupBase == "" {
		return nil
	}
	return d.stream(ctx, d.groupSearch(d.cfg.GroupFilter), pageSize, fn, groupEntry)
}

func (d *Directory) stream(ctx context.Context, req *ldap.SearchRequest, pageSize int, fn func(Entry) error, conv func(*ldap.Entry) Entry) error {
	conn, done, err := d.connect(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := d.serviceBind(ctx, conn); err != nil {
		return err
	}
	return d.page(ctx, conn, req, pageSize, func(e *ldap.Entry) error { return fn(conv(e)) })
}

// page runs req with the paged-results control, calling fn per entry; an
// error from fn is returned as is.
func (d *Directory) page(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) error {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	paging := ldap.NewControlPaging(uint32(pageSize))
	req.Controls = append(req.Controls, paging)
	for {
		if err := ctx.Err(); err != nil {
			return unavailable(ctx, "search", err)
		}
		res, err := conn.Search(req)
		if err != nil {
			return unavailable(ctx, "search under "+req.BaseDN, err)
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		resp, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if resp == nil || len(resp.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(resp.Cookie)
	}
}

func (d *Directory) userSearch(base, filter string, sizeLimit int) *ldap.SearchRequest {
	attrs := []string{"*"}
	if d.cfg.GroupBase == "" {
		// memberOf is operational: only sent when asked for by name.
		attrs = append(attrs, d.cfg.Mapping.Groups)
	}
	return ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		sizeLimit, 0, false, filter, attrs, nil)
}

func (d *Directory) groupSearch(filter string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(d.cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, filter, []string{"*"}, nil)
}

// entry maps a user entry.
func (d *Directory) entry(raw *ldap.Entry) Entry {
	m := d.cfg.Mapping
	e := Entry{
		DN:         raw.DN,
		Name:       raw.GetEqualFoldAttributeValue(m.Name),
		Email:      raw.GetEqualFoldAttributeValue(m.Email),
		FullName:   raw.GetEqualFoldAttributeValue(m.FullName),
		Attributes: attributes(raw),
	}
	if d.cfg.GroupBase == "" {
		for _, v := range raw.GetEqualFoldAttributeValues(m.Groups) {
			e.Groups = append(e.Groups, groupName(v))
		}
	}
	return e
}

func groupEntry(raw *ldap.Entry) Entry {
	return Entry{
		DN:         raw.DN,
		Name:       raw.GetEqualFoldAttributeValue("cn"),
		FullName:   raw.GetEqualFoldAttributeValue("description"),
		Attributes: attributes(raw),
	}
}

func attributes(raw *ldap.Entry) map[string][]string {
	out := make(map[string][]string, len(raw.Attributes)+1)
	for _, a := range raw.Attributes {
		if strings.EqualFold(a.Name, "userPassword") {
			continue
		}
		out[a.Name] = append([]string(nil), a.Values...)
	}
	out["dn"] = []string{raw.DN}
	return out
}

// groupName reduces a DN-valued group reference to its first RDN's value;
// any other value is a name already.
func groupName(v string) string {
	if !strings.Contains(v, "=") {
		return v
	}
	dn, err := ldap.ParseDN(v)
	if err != nil || len(dn.RDNs) == 0 || len(dn.RDNs[0].Attributes) == 0 {
		return v
	}
	return dn.RDNs[0].Attributes[0].Value
}

// connect dials the server honouring ctx and the dial timeout, does the TLS
// handshake (ldaps) or StartTLS, and returns the connection and a function
// that closes it. Cancelling ctx closes the connection, which fails any
// request in flight.
func (d *Directory) connect(ctx context.Context) (*ldap.Conn, func(), error) {
	dctx, cancel := context.WithTimeout(ctx, d.cfg.DialTimeout)
	defer cancel()
	var dialer net.Dialer
	raw, err := dialer.DialContext(dctx, "tcp", d.hostport)
	if err != nil {
		return nil, nil, unavailable(ctx, "dial", err)
	}
	if d.ldaps {
		tc := tls.Client(raw, d.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, nil, unavailable(ctx, "TLS handshake", err)
		}
		raw = tc
	}
	conn := ldap.NewConn(raw, d.ldaps)
	conn.Start()
	conn.SetTimeout(d.cfg.RequestTimeout)
	// Closing the socket (not the ldap.Conn, whose Close waits for its
	// reader) fails the request in flight at once.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	done := func() {
		stop()
		conn.Unbind() // says goodbye and closes; fails only on a dead connection
		conn.Close()  // then this frees it (a no-op after Unbind)
	}
	if d.cfg.StartTLS {
		// The handshake counts as dialling.
		conn.SetTimeout(d.cfg.DialTimeout)
		if err := conn.StartTLS(d.tls); err != nil {
			done()
			return nil, nil, unavailable(ctx, "StartTLS", err)
		}
		conn.SetTimeout(d.cfg.RequestTimeout)
	}
	return conn, done, nil
}

// serviceBind binds as the service account, or does nothing when none is
// configured (searches are then anonymous).
func (d *Directory) serviceBind(ctx context.Context, conn *ldap.Conn) error {
	if d.cfg.BindDN == "" {
		return nil
	}
	if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
		return unavailable(ctx, "service bind as "+d.cfg.BindDN, err)
	}
	return nil
}

// isCredentialFailure tells a refused user bind (a normal "no") from a
// server or network failure.
func isCredentialFailure(err error) bool {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return false
	}
	switch le.ResultCode {
	case ldap.ErrorNetwork, ldap.LDAPResultBusy, ldap.LDAPResultUnavailable,
		ldap.LDAPResultOther, ldap.LDAPResultTimeout, ldap.ErrorUnexpectedResponse,
		ldap.ErrorUnexpectedMessage, ldap.ErrorEmptyPassword, ldap.LDAPResultOperationsError,
		ldap.LDAPResultProtocolError, ldap.LDAPResultUnwillingToPerform:
		return false
	}
	return true
}

// unavailable wraps err in ErrUnavailable (and ctx's error when it is done).
// go-ldap's errors never contain the bind password.
func unavailable(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %s: %w (%v)", ErrUnavailable, what, cerr, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}
