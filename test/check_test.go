package test

// End-to-end tests of POST /auth/v2/check (SPEC §3a, §4, §5): batches of
// decision questions answered in order from the watch-fed view.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"gatehouse/test/harness"
)

const (
	ckPath     = azV2 + "/check"
	ckPassword = "check-password-1"
	ckChecker  = `chk\checker`
)

// ckQ is one question; account "" leaves <account> out.
type ckQ struct{ principal, permission, account string }

func ckBody(qs []ckQ) string {
	var b strings.Builder
	b.WriteString("<check>")
	for _, q := range qs {
		b.WriteString("<question><principal>" + q.principal + "</principal><permission>" + q.permission + "</permission>")
		if q.account != "" {
			b.WriteString("<account>" + q.account + "</account>")
		}
		b.WriteString("</question>")
	}
	b.WriteString("</check>")
	return b.String()
}

// ckAnswers returns the <answer> elements of a 200 /check response.
func ckAnswers(t *testing.T, r *harness.Response, n int) []*etree.Element {
	t.Helper()
	r.Must(t, 200)
	root := r.Root()
	if root == nil || root.Tag != "check" {
		t.Fatalf("the answer is not a <check> document:\n%s", r.Body)
	}
	if c := root.SelectAttrValue("count", ""); c != fmt.Sprint(n) {
		t.Errorf("<check count=%q>, want %d", c, n)
	}
	as := root.ChildElements()
	if len(as) != n {
		t.Fatalf("%d answers, want %d", len(as), n)
	}
	for i, a := range as {
		if a.Tag != "answer" {
			t.Fatalf("child %d is <%s>, want <answer>", i, a.Tag)
		}
	}
	return as
}

// ckSetup builds the fixture:
//
//	chk (ceiling print:*, auth:*)      roles printing {print:jobs:*}, reader {auth:users:read},
//	                                   wide {filtering:*}, checker {auth:check:read}
//	                                   group ops (role reader)
//	                                   users alice (printing, wide), bob (in ops), carol (printing,
//	                                   disabled), dave (no roles), checker (checker)
//	  chk-eu (child of chk)            role eu-print {print:*}; user frank (eu-print)
//	other (sibling tenant)             role all {*}; user eve (all)
func ckSetup(t *testing.T, s *harness.Server) {
	t.Helper()
	azCreateAccount(t, s, "chk", "system")
	azAdmin(t, s, "PUT", azV2+"/accounts/chk/permissions", azPermsBody("print:*", "auth:*"), 204)
	azCreateAccount(t, s, "chk-eu", "chk")
	azCreateAccount(t, s, "other", "system")
	azUserWithRole(t, s, "chk", "alice", "", "printing", "print:jobs:*")
	azAdmin(t, s, "POST", azV2+"/accounts/chk/roles", azRole("wide", "filtering:*"), 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/users/alice/roles", `<role identifier="wide"/>`, 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/roles", azRole("reader", "auth:users:read"), 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/groups", "<group><name>ops</name></group>", 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/groups/ops/roles", `<role identifier="reader"/>`, 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/users", "<user><name>bob</name></user>", 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/users/bob/groups", `<group identifier="ops"/>`, 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/users", "<user><name>carol</name><enabled>false</enabled></user>", 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/users/carol/roles", `<role identifier="printing"/>`, 201)
	azAdmin(t, s, "POST", azV2+"/accounts/chk/users", "<user><name>dave</name><password>"+ckPassword+"</password></user>", 201)
	azUserWithRole(t, s, "chk", "checker", ckPassword, "checker", "auth:check:read")
	azUserWithRole(t, s, "chk-eu", "frank", "", "eu-print", "print:*")
	azUserWithRole(t, s, "other", "eve", "", "all", "*")
}

// ckCase is a kind of question with the decision it must get when
// chk\checker asks, and why.
type ckCase struct {
	q       ckQ
	granted bool
	why     string
}

var ckCases = []ckCase{
	{ckQ{`chk\alice`, "print:jobs:release", ""}, true, "a direct role"},
	{ckQ{`chk\bob`, "auth:users:read", ""}, true, "a group's role"},
	{ckQ{`chk\alice`, "filtering:policies:read", ""}, false, "the ceiling cuts role wide"},
	{ckQ{`chk\dave`, "print:jobs:read", ""}, false, "no role"},
	{ckQ{`chk\bob`, "print:jobs:read", ""}, false, "no role grants it"},
	{ckQ{`chk\nobody`, "print:jobs:read", ""}, false, "unknown user"},
	{ckQ{`chk-missing\alice`, "print:jobs:read", ""}, false, "unknown account"},
	{ckQ{`chk\carol`, "print:jobs:read", ""}, false, "disabled user"},
	{ckQ{`chk\alice`, "print:jobs:read", "chk-eu"}, true, "a descendant target"},
	{ckQ{`chk\alice`, "print:jobs:read", "chk"}, true, "the own account named"},
	{ckQ{`chk-eu\frank`, "print:ports:read", ""}, true, "a principal of a descendant, own target"},
	{ckQ{`chk-eu\frank`, "print:jobs:read", "chk"}, false, "the target is the principal's parent"},
	{ckQ{`chk\alice`, "print:jobs:read", "other"}, false, "the target is outside the principal's subtree"},
	{ckQ{`chk\alice`, "print:jobs:read", "no-such-account"}, false, "a missing target"},
	{ckQ{`other\eve`, "print:jobs:read", ""}, false, "a foreign tenant's principal"},
	{ckQ{`system\admin`, "print:jobs:read", ""}, false, "the system account is outside chk's tenancy"},
	{ckQ{`api-key:abc123`, "print:jobs:read", ""}, false, "API keys do not exist yet"},
	{ckQ{`client:my-app`, "print:jobs:read", "chk"}, false, "OAuth clients do not exist yet"},
}

// ckExpect works out, from GET …/users/{u}/permissions/{p} as the
// system admin, the answer chk\checker must get: granted with the
// granted-by href iff that GET answers 200 and the case is not denied
// for a reason the GET does not see.
func ckExpect(t *testing.T, s *harness.Server, c ckCase) string {
	t.Helper()
	a, u, ok := strings.Cut(c.q.principal, `\`)
	if !ok {
		if c.granted {
			t.Fatalf("case %q: only account\\user principals can be granted", c.why)
		}
		return ""
	}
	r := s.Admin("GET", azV2+"/accounts/"+a+"/users/"+u+"/permissions/"+c.q.permission, "")
	href := ""
	if r.Status == 200 {
		href = r.Root().SelectAttrValue("granted-by", "")
		if href == "" {
			t.Fatalf("case %q: GET effective permission has no granted-by:\n%s", c.why, r.Body)
		}
	} else if r.Status != 404 {
		t.Fatalf("case %q: GET effective permission: status %d\n%s", c.why, r.Status, r.Body)
	}
	if c.granted && href == "" {
		t.Fatalf("case %q: the fixture is wrong: GET says %s\\%s does not hold %s", c.why, a, u, c.q.permission)
	}
	if !c.granted {
		return ""
	}
	return href
}

func TestCheckBatch(t *testing.T) {
	s := harness.Start(t)
	ckSetup(t, s)
	checker := func(body string) *harness.Response {
		return s.Do(harness.Request{Method: "POST", Path: ckPath, User: ckChecker, Pass: ckPassword, Body: body})
	}
	want := make([]string, len(ckCases))
	for i, c := range ckCases {
		want[i] = ckExpect(t, s, c)
	}

	t.Run("1000-questions-answer-in-order", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		var qs []ckQ
		var which []int
		for i := range 1000 {
			k := i % len(ckCases) // every case appears …
			if i >= len(ckCases) {
				k = rng.IntN(len(ckCases)) // … then in a random order
			}
			which = append(which, k)
			qs = append(qs, ckCases[k].q)
		}
		body := ckBody(qs)
		start := time.Now()
		r := checker(body)
		took := time.Since(start)
		as := ckAnswers(t, r, 1000)
		t.Logf("1,000 questions (%d bytes) answered in %v", len(body), took)
		for i, a := range as {
			c := ckCases[which[i]]
			if p := a.SelectAttrValue("principal", ""); p != c.q.principal {
				t.Fatalf("answer %d: principal %q, want %q (answers out of order?)", i, p, c.q.principal)
			}
			if p := a.SelectAttrValue("permission", ""); p != c.q.permission {
				t.Fatalf("answer %d: permission %q, want %q", i, p, c.q.permission)
			}
			wantAcct := c.q.account
			if wantAcct == "" {
				wantAcct, _, _ = strings.Cut(c.q.principal, `\`)
				if strings.Contains(c.q.principal, ":") {
					wantAcct = ""
				}
			}
			if acct := a.SelectAttrValue("account", ""); acct != wantAcct {
				t.Errorf("answer %d (%s): account %q, want %q", i, c.why, acct, wantAcct)
			}
			d, href := a.SelectAttrValue("decision", ""), a.SelectAttr("href")
			switch {
			case want[which[i]] != "":
				if d != "granted" || href == nil || href.Value != want[which[i]] {
					t.Errorf("answer %d (%s): decision %q, want granted by %s:\n%s", i, c.why, d, want[which[i]], ckShow(a))
				}
			default:
				if d != "denied" || href != nil {
					t.Errorf("answer %d (%s): want denied without href:\n%s", i, c.why, ckShow(a))
				}
			}
		}
		if !strings.Contains(r.Body, `<answer principal="chk\alice" permission="print:jobs:release" account="chk" decision="granted" href="/auth/v2/accounts/chk/roles/printing"/>`) {
			t.Errorf("the answer does not have the pinned shape:\n%.600s", r.Body)
		}
	})

	t.Run("tenancy-is-the-caller's", func(t *testing.T) {
		// The system admin may ask about every tenant: other\eve is granted.
		r := s.Admin("POST", ckPath, ckBody([]ckQ{{`other\eve`, "print:jobs:read", ""}, {`chk\alice`, "print:jobs:read", "other"}}))
		as := ckAnswers(t, r, 2)
		if d := as[0].SelectAttrValue("decision", ""); d != "granted" {
			t.Errorf("system admin asks about other\\eve: %q, want granted", d)
		}
		if d := as[1].SelectAttrValue("decision", ""); d != "denied" {
			t.Errorf("system admin asks about chk\\alice in other: %q, want denied", d)
		}
		// Denied for a foreign principal looks exactly like denied for a
		// missing one.
		r = checker(ckBody([]ckQ{{`other\eve`, "print:jobs:read", ""}, {`other\nobody`, "print:jobs:read", ""}}))
		as = ckAnswers(t, r, 2)
		strip := func(e *etree.Element) string {
			d := etree.NewDocument()
			d.SetRoot(e.Copy())
			d.Root().RemoveAttr("principal")
			out, _ := d.WriteToString()
			return out
		}
		if strip(as[0]) != strip(as[1]) {
			t.Errorf("a foreign principal's answer differs from a missing one's: %s vs %s", strip(as[0]), strip(as[1]))
		}
	})

	t.Run("over-1000-is-413", func(t *testing.T) {
		qs := make([]ckQ, 1001)
		for i := range qs {
			qs[i] = ckQ{`chk\alice`, "print:jobs:read", ""}
		}
		azProblem(t, "1,001 questions", checker(ckBody(qs)), 413)
	})

	t.Run("malformed-is-400", func(t *testing.T) {
		ok := `<question><principal>chk\alice</principal><permission>print:jobs:read</permission></question>`
		for _, c := range []struct{ what, body, detail string }{
			{"wrong root", `<checks>` + ok + `</checks>`, "root element"},
			{"stray element", `<check>` + ok + `<answer/></check>`, "question 2"},
			{"stray text", `<check>hello` + ok + `</check>`, "stray text"},
			{"unknown field", `<check>` + ok + `<question><principal>chk\alice</principal><permission>print:jobs:read</permission><why>x</why></question></check>`, "question 2"},
			{"duplicated field", `<check><question><principal>chk\alice</principal><principal>chk\bob</principal><permission>print:jobs:read</permission></question></check>`, "question 1"},
			{"missing permission", `<check>` + ok + ok + `<question><principal>chk\alice</principal></question></check>`, "question 3"},
			{"missing principal", `<check><question><permission>print:jobs:read</permission></question></check>`, "question 1"},
			{"invalid permission", `<check>` + ok + `<question><principal>chk\alice</principal><permission>print::read</permission></question></check>`, "question 2"},
			{"permission with space", `<check><question><principal>chk\alice</principal><permission>print:jobs read</permission></question></check>`, "question 1"},
			{"principal without account", `<check>` + ok + `<question><principal>alice</principal><permission>print:jobs:read</permission></question></check>`, "question 2"},
			{"invalid user name", `<check><question><principal>chk\al/ice</principal><permission>print:jobs:read</permission></question></check>`, "question 1"},
			{"invalid account name", `<check><question><principal>chk\alice</principal><permission>print:jobs:read</permission><account>a b</account></question></check>`, "question 1"},
			{"empty api key", `<check><question><principal>api-key:</principal><permission>print:jobs:read</permission></question></check>`, "question 1"},
			{"attribute on check", `<check count="1">` + ok + `</check>`, "count"},
			{"DOCTYPE", `<!DOCTYPE check [<!ENTITY x "y">]><check>` + ok + `</check>`, "DOCTYPE"},
			{"not XML", `<check><question>`, "well-formed"},
		} {
			r := checker(c.body)
			if azProblem(t, c.what, r, 400) && !strings.Contains(r.Body, c.detail) {
				t.Errorf("%s: the problem's detail does not say %q:\n%s", c.what, c.detail, r.Body)
			}
		}
		r := s.Do(harness.Request{Method: "POST", Path: ckPath, User: ckChecker, Pass: ckPassword, Body: "{}", ContentType: "application/json"})
		azProblem(t, "a JSON body", r, 415)
	})

	t.Run("empty-batch", func(t *testing.T) {
		ckAnswers(t, checker("<check/>"), 0)
	})

	t.Run("caller-needs-auth:check:read", func(t *testing.T) {
		r := s.As(`chk\dave`, ckPassword, "POST", ckPath, ckBody([]ckQ{{`chk\alice`, "print:jobs:read", ""}}))
		azProblem(t, "chk\\dave without auth:check:read", r, 403)
		r = s.Do(harness.Request{Method: "POST", Path: ckPath, Body: ckBody([]ckQ{{`chk\alice`, "print:jobs:read", ""}})})
		azProblem(t, "no credentials", r, 401)
		r = s.Do(harness.Request{Method: "GET", Path: ckPath, User: ckChecker, Pass: ckPassword})
		azProblem(t, "GET /check", r, 405)
	})

	t.Run("changes-show-in-the-next-check", func(t *testing.T) {
		ask := func() (string, string) {
			t.Helper()
			as := ckAnswers(t, checker(ckBody([]ckQ{{`chk\dave`, "print:jobs:release", ""}})), 1)
			return as[0].SelectAttrValue("decision", ""), as[0].SelectAttrValue("href", "")
		}
		step := func(what, wantD, wantHref string) {
			t.Helper()
			if d, h := ask(); d != wantD || h != wantHref {
				t.Errorf("%s: decision %q href %q, want %q %q", what, d, h, wantD, wantHref)
			}
		}
		step("before", "denied", "")
		azAdmin(t, s, "POST", azV2+"/accounts/chk/users/dave/roles", `<role identifier="printing"/>`, 201)
		step("after giving dave role printing", "granted", azV2+"/accounts/chk/roles/printing")
		azAdmin(t, s, "DELETE", azV2+"/accounts/chk/roles/printing/permissions/print:jobs:*", "", 204)
		step("after removing the role's permission", "denied", "")
		azAdmin(t, s, "PUT", azV2+"/accounts/chk/roles/printing/permissions/print:jobs:*", "", 201)
		step("after adding it back", "granted", azV2+"/accounts/chk/roles/printing")
		azAdmin(t, s, "PUT", azV2+"/accounts/chk/permissions", azPermsBody("auth:*"), 204)
		step("after the ceiling lost print:*", "denied", "")
		azAdmin(t, s, "PUT", azV2+"/accounts/chk/permissions", azPermsBody("print:*", "auth:*"), 204)
		step("after the ceiling got it back", "granted", azV2+"/accounts/chk/roles/printing")
		azAdmin(t, s, "PUT", azV2+"/accounts/chk/users/dave", "<user><enabled>false</enabled></user>", 204)
		step("after disabling dave", "denied", "")
		azAdmin(t, s, "PUT", azV2+"/accounts/chk/users/dave", "<user><enabled>true</enabled></user>", 204)
		azAdmin(t, s, "DELETE", azV2+"/accounts/chk/users/dave/roles/printing", "", 204)
		step("after taking the role away", "denied", "")
	})
}

// ckShow renders one answer element for a message.
func ckShow(e *etree.Element) string {
	d := etree.NewDocument()
	d.SetRoot(e.Copy())
	out, _ := d.WriteToString()
	return out
}
