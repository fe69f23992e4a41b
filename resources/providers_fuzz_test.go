package resources

import (
	"strings"
	"testing"
)

// FuzzProviderChecks: the provider field checks (outside input from
// provider bodies) never panic, and what they accept has the shape they
// promise.
func FuzzProviderChecks(f *testing.F) {
	f.Add("(objectClass=inetOrgPerson)", "cn=svc,dc=example,dc=org", "memberOf", `<EntityDescriptor entityID="x"/>`)
	f.Add("(&(a=b)(c=\\29))", `cn=a\,b,dc=x`, "1.2.840.113556.1.4.221", `<!DOCTYPE x><EntityDescriptor/>`)
	f.Add("(a=b)(c=d)", "people", "u id", "<html/>")
	f.Add("((", "=", "-x", "<md:EntitiesDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata'/>")
	f.Fuzz(func(t *testing.T, filter, dn, attr, metadata string) {
		if balancedFilter(filter) && (!strings.HasPrefix(filter, "(") || !strings.HasSuffix(filter, ")") ||
			strings.Count(filter, "(") != strings.Count(filter, ")")) {
			t.Errorf("balancedFilter accepted %q", filter)
		}
		if plausibleDN(dn) && (!strings.Contains(dn, "=") || strings.ContainsAny(dn, "\x00\n\r")) {
			t.Errorf("plausibleDN accepted %q", dn)
		}
		if ldapAttribute(attr) && (attr == "" || len(attr) > 64 || strings.ContainsAny(attr, " =,()")) {
			t.Errorf("ldapAttribute accepted %q", attr)
		}
		if checkMetadata(metadata) == nil && (strings.Contains(metadata, "<!DOCTYPE") || !strings.Contains(metadata, "Descriptor")) {
			t.Errorf("checkMetadata accepted %q", metadata)
		}
		_ = checkCAPEM(metadata)
	})
}
