package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/test/harness"
)

// /auth/v2/permissions lists the auth: set from the route table and the
// shipped module catalogues; assigned permissions no catalogue knows are
// flagged known="false"; extra catalogue files add modules.
func TestPermissionCatalogue(t *testing.T) {
	cfg := harness.Config(t)
	extra := filepath.Join(t.TempDir(), "scan.yaml")
	if err := os.WriteFile(extra, []byte("module: scan\npermissions:\n  - permission: scan:jobs:release\n    description: Deliver a finished scan.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Permissions.Catalogues = []string{extra}
	s := harness.StartWith(t, cfg)

	all := s.Admin("GET", "/auth/v2/permissions?page-size=1000", "").Must(t, 200)
	modules := map[string]int{}
	for _, el := range all.Root().ChildElements() {
		id := el.SelectAttrValue("identifier", "")
		if el.SelectAttrValue("href", "") != "/auth/v2/permissions/"+id {
			t.Errorf("item %s has href %q", id, el.SelectAttrValue("href", ""))
		}
		modules[strings.SplitN(id, ":", 2)[0]]++
	}
	for _, m := range []string{"auth", "print", "filtering", "reporting", "scan"} {
		if modules[m] == 0 {
			t.Errorf("no %s: permissions in the catalogue (%v)", m, modules)
		}
	}
	one := s.Admin("GET", "/auth/v2/permissions/print:jobs:release", "").Must(t, 200)
	if one.Root().SelectAttrValue("identifier", "") != "print:jobs:release" ||
		one.Root().SelectElement("module").Text() != "print" || one.Root().SelectElement("description").Text() == "" {
		t.Errorf("catalogue item:\n%s", one.Body)
	}
	users := s.Admin("GET", "/auth/v2/permissions/auth:users:read", "").Must(t, 200)
	if users.Root().SelectElement("module").Text() != "auth" {
		t.Errorf("auth item:\n%s", users.Body)
	}
	s.Admin("GET", "/auth/v2/permissions/print:jbos:release", "").Must(t, 404)
	s.Admin("GET", "/auth/v2/permissions/scan:jobs:release", "").Must(t, 200)

	// A typo is stored but flagged; a known permission is not.
	s.Admin("POST", "/auth/v2/accounts/system/roles", "<role><name>typo</name><permissions><permission>print:jbos:release</permission><permission>print:jobs:release</permission></permissions></role>").Must(t, 201)
	set := s.Admin("GET", "/auth/v2/accounts/system/roles/typo/permissions?depth=2", "").Must(t, 200)
	flags := map[string]string{}
	for _, el := range set.Root().ChildElements() {
		flags[el.Text()] = el.SelectAttrValue("known", "")
	}
	if flags["print:jbos:release"] != "false" || flags["print:jobs:release"] != "" {
		t.Errorf("known flags %v, want print:jbos:release known=false and print:jobs:release unflagged", flags)
	}
	put := s.Admin("PUT", "/auth/v2/accounts/system/permissions/nosuchmodule:x", "").Must(t, 201)
	if put.Root().SelectAttrValue("known", "") != "false" {
		t.Errorf("201 document of an unknown ceiling permission lacks known=\"false\":\n%s", put.Body)
	}
}

// A catalogue file that does not load stops start-up with its name.
func TestPermissionCatalogueBadFile(t *testing.T) {
	cfg := harness.Config(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("module: scan\npermissions:\n  - permission: print:jobs:release\n    description: wrong module\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Permissions.Catalogues = []string{bad}
	if _, err := harness.TryStart(t, cfg); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("start with a bad catalogue: err %v, want an error naming bad.yaml", err)
	}
}
