package test

// End-to-end tests of identity providers (SPEC §8, §8a):
// /accounts/{a}/providers[/{pv}] for LDAP directories and SAML IdPs —
// shapes and defaults, the write-only bind password sealed at rest,
// validation with problem documents that change nothing, the fixed type,
// permissions and tenancy, and the account document's link.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"gatehouse/storage"
	"gatehouse/test/harness"
)

const (
	pvBase = azV2 + "/accounts/pvco"
	pvPass = "pv-password-1"
)

// pvCA is a PEM certificate for the ca field.
func pvCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

const pvMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/metadata">` +
	`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
	`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>` +
	`</md:IDPSSODescriptor></md:EntityDescriptor>`

func pvEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestProviders(t *testing.T) {
	s := harness.Start(t)
	azCreateAccount(t, s, "pvco", "system")
	azCreateAccount(t, s, "pvother", "system")
	ca := pvCA(t)

	t.Run("ldap-create-and-show", func(t *testing.T) {
		body := "<provider><name>corp</name><type>ldap</type><description>Corporate directory</description>" +
			"<url>ldap://dir.example:389</url><start-tls>true</start-tls><ca>" + pvEscape(ca) + "</ca>" +
			"<bind-dn>cn=svc,dc=example,dc=org</bind-dn><bind-password>s3cret-bind</bind-password>" +
			"<user-base>ou=people,dc=example,dc=org</user-base><group-base>ou=groups,dc=example,dc=org</group-base>" +
			"<group-filter>(objectClass=groupOfNames)</group-filter></provider>"
		r := azAdmin(t, s, "POST", pvBase+"/providers", body, 201)
		if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/accounts/pvco/providers/corp") {
			t.Errorf("Location %q", loc)
		}
		if strings.Contains(r.Body, "s3cret-bind") {
			t.Fatalf("the 201 document shows the bind password:\n%s", r.Body)
		}
		got := azAdmin(t, s, "GET", pvBase+"/providers/corp", "", 200)
		want := `<provider identifier="corp" href="/auth/v2/accounts/pvco/providers/corp">
  <name>corp</name>
  <type>ldap</type>
  <description>Corporate directory</description>
  <url>ldap://dir.example:389</url>
  <start-tls>true</start-tls>
  <ca>` + pvEscape(ca) + `</ca>
  <bind-dn>cn=svc,dc=example,dc=org</bind-dn>
  <bind-password></bind-password>
  <user-base>ou=people,dc=example,dc=org</user-base>
  <user-filter>(objectClass=inetOrgPerson)</user-filter>
  <login-attribute>uid</login-attribute>
  <group-base>ou=groups,dc=example,dc=org</group-base>
  <group-filter>(objectClass=groupOfNames)</group-filter>
  <sync-interval></sync-interval>
  <attribute-mapping>
    <name>uid</name>
    <email>mail</email>
    <full-name>cn</full-name>
    <groups>memberOf</groups>
  </attribute-mapping>
  <sync>
    <state>idle</state>
    <progress>0</progress>
    <total>0</total>
    <users>0</users>
    <groups>0</groups>
    <disabled>0</disabled>
    <started></started>
    <finished></finished>
    <last-error></last-error>
  </sync>
</provider>`
		e2eMustShape(t, "GET ldap provider", want, got)
		if strings.Contains(got.Body, "s3cret-bind") {
			t.Fatal("GET shows the bind password")
		}
		// The password is sealed at rest and opens to what was sent.
		sealed := pvStoredSecret(t, s, "pvco", "corp")
		if sealed == "" || strings.Contains(sealed, "s3cret-bind") {
			t.Fatalf("stored bind password %q: want sealed", sealed)
		}
		key, err := s.Store.ServerKey(context.Background(), storage.ProviderSecretKeyName)
		if err != nil {
			t.Fatal(err)
		}
		if pw, err := storage.OpenProviderSecret(key, "pvco", "corp", sealed); err != nil || pw != "s3cret-bind" {
			t.Errorf("sealed bind password opens to %q, %v", pw, err)
		}
		if _, err := storage.OpenProviderSecret(key, "pvco", "other", sealed); err == nil {
			t.Error("the sealed password opens for another provider")
		}
		// A PUT back of what GET showed (empty bind-password) keeps it.
		azAdmin(t, s, "PUT", pvBase+"/providers/corp", got.Body, 204)
		if now := pvStoredSecret(t, s, "pvco", "corp"); now != sealed {
			t.Error("PUT of the GET document changed the stored bind password")
		}
		// A new one replaces it; clearing bind-dn drops it.
		azAdmin(t, s, "PUT", pvBase+"/providers/corp", "<provider><bind-password>n3w-bind</bind-password></provider>", 204)
		if now := pvStoredSecret(t, s, "pvco", "corp"); now == sealed || now == "" {
			t.Error("a new bind password was not stored")
		}
		azAdmin(t, s, "PUT", pvBase+"/providers/corp", "<provider><bind-dn></bind-dn></provider>", 204)
		if now := pvStoredSecret(t, s, "pvco", "corp"); now != "" {
			t.Error("clearing bind-dn kept the bind password")
		}
		// A schedule is kept as given.
		azAdmin(t, s, "PUT", pvBase+"/providers/corp", "<provider><sync-interval>6h</sync-interval></provider>", 204)
		if got := azAdmin(t, s, "GET", pvBase+"/providers/corp", "", 200).Root().SelectElement("sync-interval"); got == nil || got.Text() != "6h" {
			t.Errorf("sync-interval after PUT: %v", got)
		}
		// Mapping fields are updated one by one.
		azAdmin(t, s, "PUT", pvBase+"/providers/corp",
			"<provider><attribute-mapping><groups>isMemberOf</groups></attribute-mapping></provider>", 204)
		m := azAdmin(t, s, "GET", pvBase+"/providers/corp", "", 200).Root().SelectElement("attribute-mapping")
		if m == nil || m.SelectElement("groups").Text() != "isMemberOf" || m.SelectElement("name").Text() != "uid" {
			t.Errorf("mapping after a partial PUT: %v", m)
		}
	})

	t.Run("saml", func(t *testing.T) {
		azAdmin(t, s, "POST", pvBase+"/providers", "<provider><name>idp</name><type>saml</type>"+
			"<metadata>"+pvEscape(pvMetadata)+"</metadata><entity-id>https://idp.example/metadata</entity-id>"+
			"<attribute-mapping><email>mail</email></attribute-mapping></provider>", 201)
		got := azAdmin(t, s, "GET", pvBase+"/providers/idp", "", 200)
		want := `<provider identifier="idp" href="/auth/v2/accounts/pvco/providers/idp">
  <name>idp</name>
  <type>saml</type>
  <description></description>
  <metadata>` + pvEscape(pvMetadata) + `</metadata>
  <entity-id>https://idp.example/metadata</entity-id>
  <sign-requests>true</sign-requests>
  <allow-idp-initiated>false</allow-idp-initiated>
  <landing-url></landing-url>
  <attribute-mapping>
    <name></name>
    <email>mail</email>
    <full-name></full-name>
    <groups></groups>
  </attribute-mapping>
</provider>`
		e2eMustShape(t, "GET saml provider", want, got)
		// Switching to a metadata URL drops the inline metadata.
		azAdmin(t, s, "PUT", pvBase+"/providers/idp", "<provider><metadata-url>https://idp.example/metadata</metadata-url>"+
			"<allow-idp-initiated>true</allow-idp-initiated><landing-url>https://app.example/</landing-url></provider>", 204)
		root := azAdmin(t, s, "GET", pvBase+"/providers/idp", "", 200).Root()
		if root.SelectElement("metadata") != nil || root.SelectElement("metadata-url").Text() != "https://idp.example/metadata" ||
			root.SelectElement("allow-idp-initiated").Text() != "true" {
			t.Errorf("after switching to a metadata URL:\n%v", root)
		}
	})

	t.Run("refused", func(t *testing.T) {
		okLDAP := "<url>ldap://dir.example</url><user-base>dc=example,dc=org</user-base>"
		cases := []struct{ name, body, mention string }{
			{"no type", "<provider><name>x</name>" + okLDAP + "</provider>", "type"},
			{"bad type", "<provider><name>x</name><type>oidc</type></provider>", "type"},
			{"no url", "<provider><name>x</name><type>ldap</type><user-base>dc=x</user-base></provider>", "url"},
			{"http url", "<provider><name>x</name><type>ldap</type><url>http://dir.example</url><user-base>dc=x</user-base></provider>", "url"},
			{"url with user", "<provider><name>x</name><type>ldap</type><url>ldap://u:p@dir.example</url><user-base>dc=x</user-base></provider>", "url"},
			{"starttls on ldaps", "<provider><name>x</name><type>ldap</type><url>ldaps://dir.example</url><start-tls>true</start-tls><user-base>dc=x</user-base></provider>", "start-tls"},
			{"no user base", "<provider><name>x</name><type>ldap</type><url>ldap://dir.example</url></provider>", "user-base"},
			{"bad filter", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<user-filter>(uid=*</user-filter></provider>", "user-filter"},
			{"two filters", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<user-filter>(a=b)(c=d)</user-filter></provider>", "user-filter"},
			{"bad attribute", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<login-attribute>u id</login-attribute></provider>", "login-attribute"},
			{"bad dn", "<provider><name>x</name><type>ldap</type><url>ldap://dir.example</url><user-base>people</user-base></provider>", "user-base"},
			{"private key as ca", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<ca>-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----</ca></provider>", "ca"},
			{"garbage ca", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<ca>not pem</ca></provider>", "ca"},
			{"saml field on ldap", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<metadata-url>https://idp.example/m</metadata-url></provider>", "metadata-url"},
			{"ldap field on saml", "<provider><name>x</name><type>saml</type><metadata-url>https://idp.example/m</metadata-url><url>ldap://x</url></provider>", "url"},
			{"no metadata", "<provider><name>x</name><type>saml</type></provider>", "metadata"},
			{"both metadata", "<provider><name>x</name><type>saml</type><metadata-url>https://idp.example/m</metadata-url><metadata>" + pvEscape(pvMetadata) + "</metadata></provider>", "metadata"},
			{"metadata not metadata", "<provider><name>x</name><type>saml</type><metadata>&lt;html/&gt;</metadata></provider>", "metadata"},
			{"metadata doctype", "<provider><name>x</name><type>saml</type><metadata>" + pvEscape(`<!DOCTYPE x [<!ENTITY e "e">]><EntityDescriptor/>`) + "</metadata></provider>", "DOCTYPE"},
			{"relative metadata url", "<provider><name>x</name><type>saml</type><metadata-url>/metadata</metadata-url></provider>", "metadata-url"},
			{"unknown mapping field", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<attribute-mapping><phone>tel</phone></attribute-mapping></provider>", "phone"},
			{"bad sync interval", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<sync-interval>soon</sync-interval></provider>", "sync-interval"},
			{"too short sync interval", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<sync-interval>1m</sync-interval></provider>", "sync-interval"},
			{"sync interval on saml", "<provider><name>x</name><type>saml</type><metadata-url>https://idp.example/m</metadata-url><sync-interval>1h</sync-interval></provider>", "sync-interval"},
			{"bad bool", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<start-tls>yes</start-tls></provider>", "start-tls"},
			{"unknown field", "<provider><name>x</name><type>ldap</type>" + okLDAP + "<colour>red</colour></provider>", "colour"},
			{"bad name", "<provider><name>a/b</name><type>ldap</type>" + okLDAP + "</provider>", "name"},
		}
		for _, c := range cases {
			r := s.Admin("POST", pvBase+"/providers", c.body)
			detail := e2eCheckProblem(t, c.name, r, 400)
			if !strings.Contains(strings.ToLower(detail), strings.ToLower(c.mention)) {
				t.Errorf("%s: detail %q does not mention %q", c.name, detail, c.mention)
			}
		}
		// None of them was stored.
		if r := azAdmin(t, s, "GET", pvBase+"/providers", "", 200); r.Root().SelectAttrValue("count", "") != "2" {
			t.Errorf("providers after refused writes:\n%s", r.Body)
		}
		// The type is fixed.
		r := s.Admin("PUT", pvBase+"/providers/corp", "<provider><type>saml</type></provider>")
		e2eCheckProblem(t, "type change", r, 400)
		r = s.Admin("POST", pvBase+"/providers", "<provider><name>corp</name><type>ldap</type>"+okLDAP+"</provider>")
		e2eCheckProblem(t, "name taken", r, 409)
		r = s.Admin("GET", pvBase+"/providers/nope", "")
		e2eCheckProblem(t, "unknown provider", r, 404)
	})

	t.Run("permissions-and-tenancy", func(t *testing.T) {
		azUserWithRole(t, s, "pvco", "reader", pvPass, "pvread", "auth:providers:read")
		if r := s.As(`pvco\reader`, pvPass, "GET", pvBase+"/providers/corp", ""); r.Status != 200 || strings.Contains(r.Body, "bind-password>n") {
			t.Errorf("reader GET: %d", r.Status)
		}
		r := s.As(`pvco\reader`, pvPass, "POST", pvBase+"/providers",
			"<provider><name>y</name><type>ldap</type><url>ldap://d</url><user-base>dc=x</user-base></provider>")
		e2eCheckProblem(t, "create without auth:providers:create", r, 403)
		r = s.As(`pvco\reader`, pvPass, "DELETE", pvBase+"/providers/corp", "")
		e2eCheckProblem(t, "delete without auth:providers:delete", r, 403)
		// An administrator of another account sees nothing of pvco's.
		azUserWithRole(t, s, "pvother", "admin2", pvPass, "padm", "auth:*")
		r = s.As(`pvother\admin2`, pvPass, "GET", pvBase+"/providers/corp", "")
		e2eCheckProblem(t, "another account's provider", r, 404)
		r = s.As(`pvother\admin2`, pvPass, "PUT", pvBase+"/providers/corp", "<provider><description>x</description></provider>")
		e2eCheckProblem(t, "writing another account's provider", r, 404)
	})

	t.Run("account-links-providers", func(t *testing.T) {
		acc := azAdmin(t, s, "GET", pvBase, "", 200).Root()
		el := acc.SelectElement("providers")
		if el == nil || el.SelectAttrValue("href", "") != pvBase+"/providers" || el.SelectAttrValue("count", "") != "2" {
			t.Errorf("the account document's providers link: %v", el)
		}
	})

	t.Run("delete", func(t *testing.T) {
		azAdmin(t, s, "DELETE", pvBase+"/providers/idp", "", 204)
		e2eCheckProblem(t, "deleted provider", s.Admin("GET", pvBase+"/providers/idp", ""), 404)
		e2eCheckProblem(t, "deleting twice", s.Admin("DELETE", pvBase+"/providers/idp", ""), 404)
	})
}

// pvStoredSecret is the stored (sealed) bind password of provider p.
func pvStoredSecret(t *testing.T, s *harness.Server, a, p string) string {
	t.Helper()
	var sealed string
	if err := s.Store.Read(context.Background(), 0, func(v storage.View) error {
		rec, ok := v.Provider(a, p)
		if !ok {
			t.Fatalf("provider %s of %s is not stored", p, a)
		}
		sealed = rec.BindPassword
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return sealed
}
