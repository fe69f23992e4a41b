package resources

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"gatehouse/authn"
	"gatehouse/authz"
	"gatehouse/storage"
)

// POST /check answers a batch of decision questions for other services
// (SPEC §3a): "may this principal do that, here?".
//
// A question is granted iff
//   - the principal is an account\user inside the caller's tenancy
//     (authz.Within(caller's account, principal's account)),
//   - the user exists and is enabled,
//   - the target account (the principal's own when not given) exists and
//     is the principal's account or a descendant of it (authz.Within),
//   - and the user's holding grants the permission (Holding.Decide: by
//     implication, cut by the account's effective ceiling) — the same
//     rule and the same role as GET /accounts/{a}/users/{u}/permissions/{p}.
//
// Everything else is denied, with no href and no hint why: a principal
// or account outside the caller's tenancy answers exactly like a missing
// one. All questions are answered from one storage view (one Store.Read,
// no etcd round trip), in the order asked.

// maxQuestions bounds one /check batch; more is 413.
const maxQuestions = 1000

var questionSchema = Schema{Root: "question", Text: []string{"principal", "permission", "account"}}

// question is one decoded question. The strings point into the parsed
// body; nothing is copied.
type question struct {
	principal  string // as asked, echoed in the answer
	permission string
	account    string // the target as asked; "" for the principal's own
	// pa, pu: the account\user form, or an API key's owner; pa is "" for
	// principal forms that cannot be granted yet (client:).
	pa, pu string
	key    string // the API key prefix of an api-key: principal
}

// target is the account the question is about, "" when unknown.
func (q *question) target() string {
	if q.account != "" {
		return q.account
	}
	return q.pa
}

// parseQuestion decodes and validates question i (0-based) strictly.
func parseQuestion(i int, el *etree.Element) (question, *Problem) {
	var q question
	bad := func(format string, args ...any) *Problem {
		return problem(http.StatusBadRequest, "question %d: "+format, append([]any{i + 1}, args...)...)
	}
	if el.Tag != "question" {
		return q, bad("element <%s> is misplaced in <check>; expected <question>", el.Tag)
	}
	f, p := decodeEntity(el, questionSchema)
	if p != nil {
		return q, bad("%s", p.Detail)
	}
	var ok bool
	if q.principal, ok = f.Text["principal"]; !ok {
		return q, bad("<principal> is missing")
	}
	if q.permission, ok = f.Text["permission"]; !ok {
		return q, bad("<permission> is missing")
	}
	if err := authz.Validate(q.permission); err != nil {
		return q, bad("invalid permission: %v", err)
	}
	if q.account, ok = f.Text["account"]; ok {
		if err := storage.ValidName(q.account); err != nil {
			return q, bad("invalid account name: %v", err)
		}
	}
	// OAuth clients come later (SPEC §7): their form is accepted now so
	// that callers can be written against the final shape, and it
	// answers denied until clients exist.
	switch {
	case strings.HasPrefix(q.principal, "api-key:"):
		q.key = q.principal[len("api-key:"):]
		if err := storage.ValidName(q.key); err != nil {
			return q, bad("invalid API key prefix in principal %q: %v", q.principal, err)
		}
	case strings.HasPrefix(q.principal, "client:"):
		if err := storage.ValidName(q.principal[len("client:"):]); err != nil {
			return q, bad("invalid client id in principal %q: %v", q.principal, err)
		}
	default:
		a, u, split := strings.Cut(q.principal, `\`)
		if !split {
			return q, bad(`principal %q is not account\user, api-key:<prefix> or client:<client-id>`, q.principal)
		}
		if err := storage.ValidName(a); err != nil {
			return q, bad("invalid account name in principal %q: %v", q.principal, err)
		}
		if err := storage.ValidName(u); err != nil {
			return q, bad("invalid user name in principal %q: %v", q.principal, err)
		}
		q.pa, q.pu = a, u
	}
	return q, nil
}

// decider answers questions from one view for one caller through one
// authz.Batch (the rule of Authority.Decide, memoised per request), adding
// what is /check's own: the principal must be inside the caller's
// tenancy, and api-key: principals are resolved to their owner with the
// key's permissions as scopes.
type decider struct {
	v      storage.View
	b      *authz.Batch
	caller authn.Principal
	now    time.Time            // for API key expiry
	inside map[string]bool      // principal's account → inside the caller's tenancy
	hrefs  map[[2]string]string // (account, role) → the role's href
}

func (d *decider) roleHref(a, role string) string {
	k := [2]string{a, role}
	h, ok := d.hrefs[k]
	if !ok {
		h = path("accounts", a, "roles", role)
		d.hrefs[k] = h
	}
	return h
}

// decide returns the href of the role that grants q, or "" when q is
// denied.
func (d *decider) decide(q *question) string {
	p := authn.Principal{Account: q.pa, User: q.pu}
	if q.key != "" {
		a, u, k, ok := d.v.APIKeyOwner(q.key)
		if !ok || (k.Expires != 0 && !d.now.Before(time.Unix(k.Expires, 0))) {
			return ""
		}
		q.pa, q.pu = a, u
		p = authn.Principal{Account: a, User: u, Method: authn.MethodAPIKey, KeyID: q.key, Scopes: k.Permissions}
		if p.Scopes == nil {
			p.Scopes = []string{}
		}
	}
	if p.Account == "" {
		return "" // client: principals do not exist yet
	}
	in, seen := d.inside[p.Account]
	if !seen {
		in = authz.Within(d.caller.Account, p.Account, d.v.Parent)
		d.inside[p.Account] = in
	}
	if !in {
		return ""
	}
	dec := d.b.Decide(p, q.permission, q.target())
	if !dec.Granted() {
		return ""
	}
	return d.roleHref(p.Account, dec.Role)
}

func postCheck(c *call) error {
	el, err := c.body("check")
	if err != nil {
		return err
	}
	if p := onlyAttrs(el); p != nil {
		return p
	}
	if p := noText(el); p != nil {
		return p
	}
	kids := el.ChildElements()
	if len(kids) > maxQuestions {
		return problem(http.StatusRequestEntityTooLarge, "the batch holds %d questions; the limit is %d a request", len(kids), maxQuestions)
	}
	qs := make([]question, len(kids))
	for i, k := range kids {
		var p *Problem
		if qs[i], p = parseQuestion(i, k); p != nil {
			return p
		}
	}

	// One answer entity each, their attributes in one backing array.
	answers := make([]Entity, len(qs))
	attrs := make([][2]string, 0, 5*len(qs))
	err = c.s.Store.Read(c.r.Context(), 0, func(v storage.View) error {
		d := decider{v: v, b: c.s.Authority.NewBatch(v), caller: c.p, now: c.s.Now(),
			inside: map[string]bool{}, hrefs: map[[2]string]string{}}
		for i := range qs {
			q := &qs[i]
			start := len(attrs)
			attrs = append(attrs, [2]string{"principal", q.principal}, [2]string{"permission", q.permission})
			if t := q.target(); t != "" {
				attrs = append(attrs, [2]string{"account", t})
			}
			if href := d.decide(q); href != "" {
				attrs = append(attrs, [2]string{"decision", "granted"}, [2]string{"href", href})
			} else {
				attrs = append(attrs, [2]string{"decision", "denied"})
			}
			answers[i] = Entity{Element: "answer", Attrs: attrs[start:len(attrs):len(attrs)]}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c.s.CheckDecisions != nil {
		granted := 0 // a granted answer ends with its href
		for i := range answers {
			if a := answers[i].Attrs; len(a) > 0 && a[len(a)-1][0] == "href" {
				granted++
			}
		}
		c.s.CheckDecisions(granted, len(answers)-granted)
	}
	root := &Entity{Element: "check", Attrs: [][2]string{{"count", strconv.Itoa(len(answers))}},
		Fields: func(f []Field) []Field {
			for i := range answers {
				f = append(f, Field{Node: &answers[i]})
			}
			return f
		}}
	// The answer is not a paged or expandable resource: depth is fixed.
	body := renderer{q: query{Depth: 1}}.document(root)
	defer body.release()
	h := c.w.Header()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body.Bytes())))
	h.Set("Cache-Control", "no-store")
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body.Bytes())
	return nil
}
