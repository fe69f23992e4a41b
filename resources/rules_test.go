package resources

// Tests of the rule body decoder (rules.go). FuzzDecodeRule's seed
// corpus is testdata/fuzz/FuzzDecodeRule (valid root and account rules,
// GET documents, misplaced and duplicated fields, bad conditions). Run
// with
//
//	go test ./resources/ -run '^$' -fuzz '^FuzzDecodeRule$' -fuzztime 15s -fuzzminimizetime 1s

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gatehouse/federation"
	"gatehouse/storage"
)

// fzCheckRule checks what an accepted rule body must satisfy, and that
// the rule it makes survives storage's encoding.
func fzCheckRule(t *testing.T, b ruleBody, root bool) {
	t.Helper()
	// The name is validated by the handlers (PUT takes it from the path).
	if root && (b.hasGroups || b.hasRoles) {
		t.Fatalf("a root rule accepted <groups> or <roles>")
	}
	if !root && b.hasAccount {
		t.Fatalf("an account rule accepted <account>")
	}
	if b.hasAccount && validAccountName(b.account) != nil {
		t.Fatalf("accepted account %q", b.account)
	}
	if len(b.conditions) > maxRuleConditions || len(b.groups) > maxRuleRefs || len(b.roles) > maxRuleRefs {
		t.Fatalf("accepted more than the limits: %d conditions, %d groups, %d roles", len(b.conditions), len(b.groups), len(b.roles))
	}
	for _, c := range b.conditions {
		if !federation.ValidType(c.Type) || c.Attribute == "" || c.Pattern == "" ||
			strings.ContainsAny(c.Attribute+c.Pattern, "\n\r\t\x00") {
			t.Fatalf("accepted condition %+v", c)
		}
	}
	for _, n := range append(slices.Clone(b.groups), b.roles...) {
		if storage.ValidName(n) != nil {
			t.Fatalf("accepted reference %q", n)
		}
	}
	if !slices.IsSorted(b.groups) || !slices.IsSorted(b.roles) {
		t.Fatalf("references not sorted: %v %v", b.groups, b.roles)
	}
	if b.priority < -maxRulePriority || b.priority > maxRulePriority {
		t.Fatalf("accepted priority %d", b.priority)
	}
	var r storage.Rule
	if err := b.apply(&r, root, false); err != nil {
		t.Fatalf("apply: %v", err)
	}
	got, err := storage.DecodeRule(r.Encode())
	if err != nil {
		t.Fatalf("DecodeRule(Encode(%+v)): %v", r, err)
	}
	if !reflect.DeepEqual(norm(got), norm(r)) {
		t.Fatalf("round trip: got %+v, want %+v", got, r)
	}
}

// norm makes empty lists nil, as the encoding does.
func norm(r storage.Rule) storage.Rule {
	if len(r.Conditions) == 0 {
		r.Conditions = nil
	}
	if len(r.Groups) == 0 {
		r.Groups = nil
	}
	if len(r.Roles) == 0 {
		r.Roles = nil
	}
	return r
}

func FuzzDecodeRule(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, root bool) {
		el, p := parseXML(b, "rule")
		if p != nil {
			fzCheckProblem(t, "parseXML", p)
			return
		}
		body, p := decodeRule(el, root)
		if p != nil {
			fzCheckProblem(t, "decodeRule", p)
			return
		}
		fzCheckRule(t, body, root)
	})
}

func TestDecodeRule(t *testing.T) {
	for _, c := range []struct {
		body   string
		root   bool
		detail string // "" when accepted
	}{
		{`<rule><name>a</name><priority>-3</priority><account identifier="acme" href="/x"/></rule>`, true, ""},
		{`<rule identifier="a" href="/x"><name>a</name><priority>1</priority><conditions><condition><type>saml</type><attribute>http://x/y</attribute><pattern>*a?*</pattern></condition></conditions><groups><group identifier="g2"/><group identifier="g1"/><group identifier="g1"/></groups><roles/></rule>`, false, ""},
		{`<rule><account>rules</account></rule>`, true, "rules"},
		{`<rule><priority>99999999999</priority></rule>`, false, "priority"},
		{`<rule><conditions><condition><type>ldap</type><attribute>a</attribute><pattern>b</pattern><pattern>c</pattern></condition></conditions></rule>`, false, "more than once"},
		{`<rule><conditions><condition x="1"><type>ldap</type></condition></conditions></rule>`, false, "x"},
		{`<rule><conditions>text</conditions></rule>`, false, "text"},
		{`<rule><groups><group>g</group></groups></rule>`, false, "group"},
		{`<rule><groups><group identifier="a b"/></groups></rule>`, false, "group"},
		{`<rule><name><b/></name></rule>`, false, "name"},
	} {
		el, p := parseXML([]byte(c.body), "rule")
		if p != nil {
			t.Fatalf("parseXML(%s): %v", c.body, p)
		}
		b, p := decodeRule(el, c.root)
		switch {
		case c.detail == "" && p != nil:
			t.Errorf("decodeRule(%s) refused: %s", c.body, p.Detail)
		case c.detail == "":
			fzCheckRule(t, b, c.root)
		case p == nil:
			t.Errorf("decodeRule(%s) accepted %+v; want a refusal naming %q", c.body, b, c.detail)
		case p.Status != http.StatusBadRequest || !strings.Contains(p.Detail, c.detail):
			t.Errorf("decodeRule(%s) = %d %q; want 400 naming %q", c.body, p.Status, p.Detail, c.detail)
		}
	}
	el, _ := parseXML([]byte(`<rule><groups><group identifier="g2"/><group identifier="g1"/><group identifier="g1"/></groups></rule>`), "rule")
	if b, _ := decodeRule(el, false); !slices.Equal(b.groups, []string{"g1", "g2"}) {
		t.Errorf("groups %v, want sorted without duplicates", b.groups)
	}
}
