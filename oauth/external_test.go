package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse/api"
	"gatehouse/storage/storagetest"
)

// The external sign-in seam: a sealed pending request opens only
// unchanged and in time; CompleteExternal makes a single-use record that
// resumes only in the browser the request was sealed for.
func TestExternalSeam(t *testing.T) {
	st := storagetest.Store(t)
	ctx := storagetest.Ctx(t)
	clk := newClock()
	p, err := NewProvider(ctx, ProviderConfig{Store: st, Issuer: "https://gh.example", Now: clk.Now})
	mustOK(t, "NewProvider", err)
	nonce := strings.Repeat("n", 43)
	s := &signin{request: "client_id=c&response_type=code", nonce: nonce}
	sealed := p.sealPending(s, "saml:acme/idp")
	if key, ok := p.PendingKey(sealed); !ok || key != "saml:acme/idp" {
		t.Fatalf("PendingKey = %q, %v", key, ok)
	}
	payload, sum, _ := strings.Cut(sealed, ".")
	tail := "AA" // another MAC ending, whatever the real one ends with
	if strings.HasSuffix(sum, tail) {
		tail = "BB"
	}
	for name, bad := range map[string]string{"empty": "", "no mac": payload, "other mac": payload + "." + sum[:len(sum)-2] + tail,
		"other payload": b64.EncodeToString([]byte(`{"r":"x","k":"saml:acme/idp","e":99999999999}`)) + "." + sum} {
		if _, ok := p.PendingKey(bad); ok {
			t.Errorf("%s: a forged pending request opened", name)
		}
	}
	pd, _ := p.openPending(sealed)
	if pd.Binding != p.binding(nonce, s.request) || strings.Contains(sealed, nonce) {
		t.Error("the pending request is not bound to the nonce, or carries it")
	}

	next, err := p.CompleteExternal(ctx, sealed, "acme", "alice")
	mustOK(t, "CompleteExternal", err)
	id := externalID(strings.TrimPrefix(next, "/oauth2/authorize?"))
	if id == "" {
		t.Fatalf("CompleteExternal's URL %q is not an external resume", next)
	}
	b, err := st.GetToken(ctx, kindExternal, id)
	mustOK(t, "GetToken", err)
	var rec externalRecord
	if json.Unmarshal(b, &rec) != nil || rec.Account != "acme" || rec.User != "alice" || rec.Request != s.request {
		t.Errorf("record %s", b)
	}
	// Another browser (no or another nonce cookie): refused, and the
	// record is used up.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, next, nil)
	r.AddCookie(&http.Cookie{Name: nonceCookie, Value: strings.Repeat("o", 43)})
	mustOK(t, "resume", p.resumeExternal(&api.Request{W: w, R: r}, id))
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not started in this browser") {
		t.Errorf("resume in another browser: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	mustOK(t, "resume again", p.resumeExternal(&api.Request{W: w, R: r}, id))
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "already used") {
		t.Errorf("second resume: %d", w.Code)
	}

	clk.Advance(ticketLifetime + time.Second)
	if _, ok := p.PendingKey(sealed); ok {
		t.Error("an expired pending request opened")
	}
	if _, err := p.CompleteExternal(ctx, sealed, "acme", "alice"); !errors.Is(err, ErrPendingExpired) {
		t.Errorf("CompleteExternal of an expired request: %v", err)
	}
}

func TestExternalID(t *testing.T) {
	id := strings.Repeat("a", 43)
	if externalID("external="+id) != id {
		t.Error("a resume query refused")
	}
	for _, q := range []string{"", "external=short", "external=" + id + "&client_id=x", "client_id=x", "external=" + id + "&external=" + id} {
		if externalID(q) != "" {
			t.Errorf("externalID(%q) accepted", q)
		}
	}
}
