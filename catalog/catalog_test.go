package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gatehouse/authz"
)

func mustShipped(t testing.TB) *Catalog {
	t.Helper()
	c, err := Shipped()
	if err != nil {
		t.Fatalf("Shipped: %v", err)
	}
	return c
}

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// gatehouseForm is the shape of shipped permissions: module, resource and
// action, each lower-case words joined by hyphens.
var gatehouseForm = regexp.MustCompile(`^[a-z]+(-[a-z]+)*:[a-z]+(-[a-z]+)*:[a-z]+(-[a-z]+)*$`)

func TestShipped(t *testing.T) {
	c := mustShipped(t)
	if c2 := mustShipped(t); c2 != c {
		t.Error("Shipped returned a different catalogue on the second call")
	}
	if got, want := c.Modules(), []string{"filtering", "print", "reporting"}; !slices.Equal(got, want) {
		t.Fatalf("Modules() = %v, want %v", got, want)
	}
	items := c.Items()
	if len(items) != c.Len() {
		t.Fatalf("Items() has %d items, Len() = %d", len(items), c.Len())
	}
	perModule := map[string]int{}
	seenDesc := map[string]string{}
	for i, it := range items {
		if err := authz.Validate(it.Permission); err != nil {
			t.Errorf("invalid shipped permission: %v", err)
		}
		if !gatehouseForm.MatchString(it.Permission) {
			t.Errorf("%q is not of the form module:resource:action in lower-case hyphenated words", it.Permission)
		}
		if first, _, _ := strings.Cut(it.Permission, ":"); first != it.Module {
			t.Errorf("%q: module %q, want its first part %q", it.Permission, it.Module, first)
		}
		if i > 0 && items[i-1].Permission >= it.Permission {
			t.Errorf("items not sorted or duplicated: %q then %q", items[i-1].Permission, it.Permission)
		}
		if got, ok := c.Get(it.Permission); !ok || got != it {
			t.Errorf("Get(%q) = %+v, %v; want %+v", it.Permission, got, ok, it)
		}
		d := it.Description
		if d == "" || strings.ContainsAny(d, "\n\r") || !strings.HasSuffix(d, ".") ||
			strings.Count(strings.TrimSuffix(d, "."), ". ") > 0 || d[0] < 'A' || d[0] > 'Z' {
			t.Errorf("%q: description %q is not one sentence", it.Permission, d)
		}
		if prev, dup := seenDesc[d]; dup {
			t.Errorf("%q and %q share the description %q", prev, it.Permission, d)
		}
		seenDesc[d] = it.Permission
		if !c.Known(it.Permission) {
			t.Errorf("Known(%q) = false for a catalogued permission", it.Permission)
		}
		perModule[it.Module]++
	}
	for _, m := range c.Modules() {
		t.Logf("module %s: %d permissions", m, perModule[m])
		if perModule[m] < 30 {
			t.Errorf("module %s has %d permissions, want at least 30", m, perModule[m])
		}
	}
	for _, p := range []string{
		"print:jobs:release", "print:jobs:read", "print:jobs:create", "print:jobs:delete",
		"print:output-ports:create", "print:output-ports:move", "print:input-ports:update",
		"print:locations:delete", "print:scan-workflows:read", "print:scan-connectors:create",
		"print:scan-access-rules:update", "print:certificates:delete", "print:cards:manage",
		"print:short-ids:generate", "print:users:import", "print:api-keys:create", "print:reports:read",
		"filtering:policies:update", "filtering:policies:read", "filtering:domains:import",
		"filtering:devices:read", "filtering:locations:create", "filtering:cloud-keys:delete",
		"filtering:reports:read", "filtering:logs:download", "filtering:customers:suspend",
		"filtering:customers:reinstate", "filtering:msps:read", "filtering:scheduled-reports:run",
		"reporting:hub-files:read", "reporting:hub-files:delete", "reporting:hub-folders:create",
		"reporting:tasks:run", "reporting:tasks:stop", "reporting:reports:download",
		"reporting:subscriptions:update", "reporting:conditions:create", "reporting:task-triggers:create",
		"reporting:roles:update", "reporting:users:import", "reporting:api-keys:create",
		"reporting:user-directories:sync", "reporting:apps:sync", "reporting:projects:export",
	} {
		if it, ok := c.Get(p); !ok {
			t.Errorf("Get(%q): not catalogued", p)
		} else if it.Description == "" {
			t.Errorf("Get(%q): no description", p)
		}
	}
	if _, ok := c.Get("print:jobs"); ok {
		t.Error(`Get("print:jobs") found an item; Get must be exact`)
	}
}

// TestPrintSeeds checks the visible mapping from the print module's own
// permission names to gatehouse permissions: every name its documentation
// uses is mapped exactly once, following Verb+Resource → resource:action.
func TestPrintSeeds(t *testing.T) {
	data, err := shippedFS.ReadFile("print.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, ents, err := parse("print.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	bySeed := map[string]string{}
	for _, e := range ents {
		if e.seed != "" {
			bySeed[e.seed] = e.Permission
		}
	}
	want := map[string]string{
		"ViewAccount":                  "print:accounts:read",
		"CreateAccount":                "print:accounts:create",
		"ModifyAccount":                "print:accounts:update",
		"DeleteAccount":                "print:accounts:delete",
		"ViewJob":                      "print:jobs:read",
		"AddJob":                       "print:jobs:create",
		"DeleteJob":                    "print:jobs:delete",
		"ReleaseJob":                   "print:jobs:release",
		"ViewReport":                   "print:reports:read",
		"ViewOutputPort":               "print:output-ports:read",
		"CreateOutputPort":             "print:output-ports:create",
		"ModifyOutputPort":             "print:output-ports:update",
		"DeleteOutputPort":             "print:output-ports:delete",
		"ViewInputPort":                "print:input-ports:read",
		"CreateInputPort":              "print:input-ports:create",
		"ModifyInputPort":              "print:input-ports:update",
		"DeleteInputPort":              "print:input-ports:delete",
		"ViewUser":                     "print:users:read",
		"CreateUser":                   "print:users:create",
		"ModifyUser":                   "print:users:update",
		"DeleteUser":                   "print:users:delete",
		"GenerateShortID":              "print:short-ids:generate",
		"GenerateOTP":                  "print:one-time-passwords:generate",
		"CardManagement":               "print:cards:manage",
		"ViewSecurity":                 "print:security:read",
		"ManageSecurity":               "print:security:manage",
		"ViewLocations":                "print:locations:read",
		"CreateLocations":              "print:locations:create",
		"ModifyLocations":              "print:locations:update",
		"DeleteLocations":              "print:locations:delete",
		"ViewTerminalConfig":           "print:terminal-configs:read",
		"CreateTerminalConfig":         "print:terminal-configs:create",
		"ViewScanWorkflow":             "print:scan-workflows:read",
		"CreateScanWorkflow":           "print:scan-workflows:create",
		"ModifyScanWorkflow":           "print:scan-workflows:update",
		"DeleteScanWorkflow":           "print:scan-workflows:delete",
		"ViewScanWorkflowAccessRule":   "print:scan-access-rules:read",
		"CreateScanWorkflowAccessRule": "print:scan-access-rules:create",
		"ModifyScanWorkflowAccessRule": "print:scan-access-rules:update",
		"DeleteScanWorkflowAccessRule": "print:scan-access-rules:delete",
		"ViewCertificate":              "print:certificates:read",
		"ModifyCertificate":            "print:certificates:update",
		"DeleteCertificate":            "print:certificates:delete",
	}
	for seed, p := range want {
		if got := bySeed[seed]; got != p {
			t.Errorf("seed %s → %q, want %q", seed, got, p)
		}
	}
	for seed, p := range bySeed {
		if _, ok := want[seed]; !ok {
			t.Errorf("unexpected seed %s → %q", seed, p)
		}
	}
	// The other shipped files carry no seed names.
	for _, name := range []string{"filtering.yaml", "reporting.yaml"} {
		data, _ := shippedFS.ReadFile(name)
		_, ents, err := parse(name, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.seed != "" {
				t.Errorf("%s: %q has seed %q", name, e.Permission, e.seed)
			}
		}
	}
}

var knownTable = []struct {
	p    string
	want bool
}{
	// Catalogued permissions.
	{"print:jobs:release", true},
	{"print:output-ports:create", true},
	{"filtering:policies:update", true},
	{"reporting:hub-files:read", true},
	// Wildcards and prefixes that imply catalogued permissions.
	{"*", true},
	{"*:*", true},
	{"*:jobs:release", true},
	{"*:*:release", true},
	{"*:hub-files", true},
	{"print", true},
	{"print:*", true},
	{"print:*:*", true},
	{"print:jobs", true},
	{"print:jobs:*", true},
	{"print:*:release", true},
	{"filtering:*:update", true},
	{"reporting:hub-files:*", true},
	// Subpart lists.
	{"print:jobs:read,release", true},
	{"print:jobs,output-ports:read", true},
	{"print,filtering:policies:update", true},
	{"print:jobs:read,bogus", true}, // implies print:jobs:read
	{"print,bogus:jobs:read", true},
	{"print:jobs,jobs:release", true},
	{"bogus,other:jobs:read", false},
	{"print:jbos,jobz:read", false},
	// Below a catalogued permission: the catalogued one implies it.
	{"print:jobs:release:extra", true},
	{"print:jobs:release:*", true},
	// Typos, unknown resources, actions and modules.
	{"print:jbos:release", false},
	{"print:jobs:relaese", false},
	{"print:jobs:release2", false},
	{"print:job*:release", false}, // '*' inside a subpart is literal
	{"print:*:frobnicate", false},
	{"*:*:frobnicate", false},
	{"*:nothing", false},
	{"foo:bar", false},
	{"foo", false},
	{"foo:*", false},
	{"auth:users:read", false}, // not in the shipped set
	{"Print:jobs:release", false},
	{"print:Jobs:release", false},
	{"printing:jobs:release", false},
	{"prin:jobs:release", false},
	{"print:jobs:release:extra,other:more", true},
	{"print:output-ports:create:x:y:z", true},
	// Invalid strings are never known.
	{"", false},
	{":", false},
	{"print::release", false},
	{"print:jobs:release:", false},
	{"print:jobs:read,", false},
	{"print:jobs:re lease", false},
	{"print:jobs:release\n", false},
	{strings.Repeat("a:", 20) + "a", false},
	{"print:jobs:" + strings.Repeat("x", 300), false},
}

func TestKnown(t *testing.T) {
	c := mustShipped(t)
	for _, tc := range knownTable {
		if got := c.Known(tc.p); got != tc.want {
			t.Errorf("Known(%q) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

// refKnown is Known without any index: compare p with every item.
func refKnown(c *Catalog, p string) bool {
	if authz.Validate(p) != nil {
		return false
	}
	for _, it := range c.Items() {
		if authz.Implies(p, it.Permission) || authz.Implies(it.Permission, p) {
			return true
		}
	}
	return false
}

// TestKnownMatchesReference checks the indexed Known against a linear scan
// for many permissions derived from the catalogue, including catalogues
// with wildcard items and short items, which take the index's other paths.
func TestKnownMatchesReference(t *testing.T) {
	sh := mustShipped(t)
	extra := []Item{
		{Permission: "auth:me:*:read", Module: "auth"},
		{Permission: "auth:users:read", Module: "auth"},
		{Permission: "auth:users,roles:update", Module: "auth"},
		{Permission: "auth", Module: "auth"},
		{Permission: "x:*", Module: "x"},
		{Permission: "y:a,b:c", Module: "y"},
	}
	withExtra, err := New(sh.Items(), extra)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	parts := map[int][]string{}
	for _, it := range withExtra.Items() {
		for i, part := range strings.Split(it.Permission, ":") {
			parts[i] = append(parts[i], part)
		}
	}
	for _, it := range withExtra.Items() {
		p := it.Permission
		ps := strings.Split(p, ":")
		inputs = append(inputs, p, p+":x", p+":*", p+",zz")
		for i := range ps {
			for _, alt := range []string{"*", "zz", ps[i] + ",zz", "zz," + ps[i], ps[i] + "x"} {
				q := slices.Clone(ps)
				q[i] = alt
				inputs = append(inputs, strings.Join(q, ":"))
			}
			inputs = append(inputs, strings.Join(ps[:i+1], ":"))
			if alts := parts[i]; len(alts) > 0 {
				q := slices.Clone(ps)
				q[i] = alts[(len(p)*7+i)%len(alts)]
				inputs = append(inputs, strings.Join(q, ":"))
			}
		}
	}
	for _, tc := range knownTable {
		inputs = append(inputs, tc.p)
	}
	inputs = append(inputs, "auth:me:attributes:read", "auth:me:x", "auth:roles:update",
		"auth:roles:read", "x:anything:at:all", "y:b:c", "y:a,b:c", "y:c:c", "y:*:d", "auth:*:*:read")
	for _, c := range []*Catalog{sh, withExtra} {
		for _, p := range inputs {
			if got, want := c.Known(p), refKnown(c, p); got != want {
				t.Errorf("Known(%q) = %v, reference %v", p, got, want)
			}
		}
	}
	t.Logf("compared %d inputs", len(inputs))
}

func TestKnownAllocs(t *testing.T) {
	c := mustShipped(t)
	for _, p := range []string{"print:jobs:release", "print:jbos:release", "*", "print:*",
		"print:jobs:read,release", "foo:bar", "*:jobs:release"} {
		if n := testing.AllocsPerRun(100, func() { c.Known(p) }); n != 0 {
			t.Errorf("Known(%q) allocates %v times per call", p, n)
		}
	}
}

func TestEmptyCatalog(t *testing.T) {
	var nilCat *Catalog
	var zero Catalog
	empty, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Catalog{nilCat, &zero, empty} {
		if c.Known("*") || c.Known("print:jobs:release") {
			t.Error("empty catalogue knows something")
		}
		if _, ok := c.Get("print:jobs:release"); ok {
			t.Error("empty catalogue has an item")
		}
		if len(c.Items()) != 0 || len(c.Modules()) != 0 || c.Len() != 0 {
			t.Error("empty catalogue is not empty")
		}
	}
}

func TestItemsIsACopy(t *testing.T) {
	c := mustShipped(t)
	items := c.Items()
	items[0].Description = "changed"
	mods := c.Modules()
	mods[0] = "changed"
	if c.Items()[0].Description == "changed" || c.Modules()[0] == "changed" {
		t.Error("Items or Modules exposes the catalogue's own slices")
	}
}

const scanFile = `# An extra module added by configuration.
module: scan
permissions:
  - permission: scan:jobs:read
    description: See scan jobs.
  - permission: scan:jobs:release
    seed: ReleaseScan
    description: Deliver a finished scan to its destination.
  - permission: scan:profiles:update
    description: "Change a scan profile: resolution, colour and format."
`

func TestLoad(t *testing.T) {
	path := writeFile(t, "scan.yaml", scanFile)
	items, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []Item{
		{"scan:jobs:read", "scan", "See scan jobs."},
		{"scan:jobs:release", "scan", "Deliver a finished scan to its destination."},
		{"scan:profiles:update", "scan", "Change a scan profile: resolution, colour and format."},
	}
	if !slices.Equal(items, want) {
		t.Fatalf("Load = %+v, want %+v", items, want)
	}
	sh := mustShipped(t)
	auth := []Item{{Permission: "auth:users:read", Module: "auth", Description: "List users."}}
	c, err := New(sh.Items(), auth, items)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := c.Modules(), []string{"auth", "filtering", "print", "reporting", "scan"}; !slices.Equal(got, want) {
		t.Errorf("Modules() = %v, want %v", got, want)
	}
	for p, want := range map[string]bool{
		"scan:*": true, "scan:jobs:release": true, "scan:jbos:release": false,
		"auth:users:read": true, "auth:*": true, "print:jobs:release": true, "scan": true,
	} {
		if got := c.Known(p); got != want {
			t.Errorf("Known(%q) = %v, want %v", p, got, want)
		}
	}
	if it, ok := c.Get("scan:jobs:release"); !ok || it.Module != "scan" {
		t.Errorf("Get(scan:jobs:release) = %+v, %v", it, ok)
	}
	if sh.Known("scan:*") {
		t.Error("loading a file changed the shipped catalogue")
	}
}

// TestLoadErrors checks that every refusal names the file and the line of
// the offending entry (and, for duplicates, the other place).
func TestLoadErrors(t *testing.T) {
	printLine := func(p string) int {
		data, _ := shippedFS.ReadFile("print.yaml")
		for i, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(l) == "- permission: "+p {
				return i + 1
			}
		}
		t.Fatalf("%s not in print.yaml", p)
		return 0
	}
	head := "module: scan\npermissions:\n  - permission: scan:jobs:read\n    description: See scan jobs.\n"
	for _, tc := range []struct {
		name, content string
		line          int
		want          []string
	}{
		{"invalid permission", head + "  - permission: scan:jobs::release\n    description: Bad.\n", 5, []string{"empty part 3"}},
		{"bad character", head + "  - permission: scan:jobs:re/lease\n    description: Bad.\n", 5, []string{"scan:jobs:re/lease"}},
		{"wrong module", head + "  - permission: print:jobs:scan\n    description: Not ours.\n", 5, []string{`does not belong to module "scan"`}},
		{"duplicate with shipped", "module: print\npermissions:\n  - permission: print:jobs:release\n    description: Again.\n", 3,
			[]string{"print:jobs:release", fmt.Sprintf("print.yaml:%d", printLine("print:jobs:release"))}},
		{"duplicate in file", head + "  - permission: scan:jobs:read\n    description: Again.\n", 5, []string{":3", "already defined"}},
		{"wildcard", head + "  - permission: scan:jobs:*\n    description: All.\n", 5, []string{"pattern"}},
		{"list", head + "  - permission: scan:jobs:read,release\n    description: Two.\n", 5, []string{"pattern"}},
		{"module only", head + "  - permission: scan\n    description: All.\n", 5, []string{"only the module"}},
		{"no description", head + "  - permission: scan:jobs:delete\n", 5, []string{"no description"}},
		{"empty description", head + "  - permission: scan:jobs:delete\n    description: \"  \"\n", 6, []string{"empty"}},
		{"two-line description", head + "  - permission: scan:jobs:delete\n    description: |\n      One.\n      Two.\n", 6, []string{"one line"}},
		{"unknown key", head + "  - permission: scan:jobs:delete\n    descripton: Typo.\n", 6, []string{`unknown key "descripton"`}},
		{"unknown top key", "module: scan\nversion: 2\npermissions: []\n", 2, []string{`unknown key "version"`}},
		{"duplicate key", head + "  - permission: scan:jobs:delete\n    description: One.\n    description: Two.\n", 7, []string{"duplicate key"}},
		{"bad seed", head + "  - permission: scan:jobs:delete\n    seed: Delete-Job\n    description: Remove.\n", 6, []string{"seed"}},
		{"duplicate seed", "module: scan\npermissions:\n  - permission: scan:a:read\n    seed: X\n    description: A.\n  - permission: scan:b:read\n    seed: X\n    description: B.\n", 7, []string{`seed "X"`, ":4"}},
		{"reserved module", "module: auth\npermissions:\n  - permission: auth:x:read\n    description: X.\n", 1, []string{"reserved"}},
		{"bad module", "module: scan,print\npermissions:\n  - permission: scan:x:read\n    description: X.\n", 1, []string{"module"}},
		{"wildcard module", "module: '*'\npermissions:\n  - permission: x:y\n    description: X.\n", 1, []string{"module"}},
		{"missing module", "permissions:\n  - permission: scan:x:read\n    description: X.\n", 1, []string{"missing module"}},
		{"missing permissions", "module: scan\n", 1, []string{"missing permissions"}},
		{"empty permissions", "module: scan\npermissions: []\n", 2, []string{"empty"}},
		{"permissions not a list", "module: scan\npermissions: scan:x:read\n", 2, []string{"list"}},
		{"entry not a mapping", "module: scan\npermissions:\n  - scan:x:read\n", 3, []string{"mapping"}},
		{"not a mapping", "- scan:x:read\n", 1, []string{"mapping"}},
		{"empty file", "", 1, []string{"empty"}},
		{"comments only", "# nothing\n", 1, []string{"empty"}},
		{"syntax error", "module: scan\npermissions:\n  - permission: [\n", 3, nil},
		{"bad indentation", "module: scan\n permissions: x\n", 2, nil},
		{"two documents", "module: scan\npermissions: []\n---\nmodule: x\n", 3, []string{"one YAML document"}},
		{"alias", "module: &m scan\npermissions:\n  - permission: scan:x:read\n    description: *m\n", 4, []string{"alias"}},
		{"control character", head + "  - permission: scan:jobs:delete\n    description: Bell\x07.\n", 6, []string{"U+0007"}},
		{"invalid UTF-8", head + "  - permission: scan:jobs:delete\n    description: \xff.\n", 6, []string{"UTF-8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "extra.yaml", tc.content)
			items, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded with %+v", items)
			}
			msg := err.Error()
			if prefix := fmt.Sprintf("%s:%d: ", path, tc.line); !strings.HasPrefix(msg, prefix) {
				t.Errorf("error %q does not start with %q", msg, prefix)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

func TestLoadFileProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load(missing) = %v, want an error naming the file", err)
	}
	big := writeFile(t, "big.yaml", "module: scan\n"+strings.Repeat("#", MaxFileSize))
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("Load(big) = %v, want a size error", err)
	}
}

func TestLoadFiles(t *testing.T) {
	a := writeFile(t, "scan.yaml", scanFile)
	b := writeFile(t, "fax.yaml", "module: fax\npermissions:\n  - permission: fax:jobs:send\n    description: Send a fax.\n")
	items, err := LoadFiles(a, b)
	if err != nil {
		t.Fatalf("LoadFiles: %v", err)
	}
	if len(items) != 4 || items[3].Permission != "fax:jobs:send" {
		t.Errorf("LoadFiles = %+v", items)
	}
	// A second file extending the scan module with an existing permission.
	c := writeFile(t, "scan2.yaml", "module: scan\npermissions:\n  - permission: scan:jobs:new\n    description: New.\n  - permission: scan:jobs:release\n    description: Again.\n")
	_, err = LoadFiles(a, c)
	if err == nil {
		t.Fatal("LoadFiles accepted a permission defined in two files")
	}
	for _, w := range []string{c + ":5:", a + ":6", "scan:jobs:release"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if _, err := LoadFiles(); err != nil {
		t.Errorf("LoadFiles() = %v", err)
	}
}

func TestNew(t *testing.T) {
	sh := mustShipped(t)
	_, err := New(sh.Items(), []Item{{Permission: "print:jobs:release", Module: "print", Description: "Again."}})
	if err == nil || !strings.Contains(err.Error(), `duplicate permission "print:jobs:release"`) {
		t.Errorf("New with a duplicate = %v", err)
	}
	if err != nil && !strings.Contains(err.Error(), "list 2 item 1") {
		t.Errorf("duplicate error %q does not name the second position", err)
	}
	_, err = New([]Item{{Permission: "a:b", Module: "a"}, {Permission: "a:b", Module: "a"}})
	if err == nil || !strings.Contains(err.Error(), "list 1 item 1 and list 1 item 2") {
		t.Errorf("New with a duplicate in one list = %v", err)
	}
	for _, it := range []Item{
		{Permission: "a::b", Module: "a"},
		{Permission: "", Module: ""},
		{Permission: "a:b", Module: "b"},
		{Permission: "a:b", Module: ""},
		{Permission: "a,b:c", Module: "a,b"},
		{Permission: "*:c", Module: "*"},
		{Permission: "a*:c", Module: "a*"},
	} {
		if _, err := New([]Item{it}); err == nil {
			t.Errorf("New accepted %+v", it)
		}
	}
	c, err := New([]Item{{Permission: "b:x", Module: "b"}}, nil, []Item{{Permission: "a:y", Module: "a", Description: "Y."}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Items(); len(got) != 2 || got[0].Permission != "a:y" || got[1].Permission != "b:x" {
		t.Errorf("Items() = %+v, want sorted a:y, b:x", got)
	}
	if got := c.Modules(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Modules() = %v", got)
	}
}

func BenchmarkKnown(b *testing.B) {
	c := mustShipped(b)
	for _, p := range []string{
		"print:jobs:release",        // catalogued
		"reporting:hub-files:read",  // catalogued, largest module
		"print:jbos:release",        // typo
		"print:*",                   // module wildcard
		"print:jobs:read,release",   // subpart list
		"*",                         // everything
		"*:jobs:frobnicate",         // worst case: wildcard module, nothing matches
		"foo:bar",                   // unknown module
		"filtering:policies:update", // catalogued
	} {
		want := refKnown(c, p)
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			got := false
			for b.Loop() {
				got = c.Known(p)
			}
			if got != want {
				b.Fatalf("Known(%q) = %v, want %v", p, got, want)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(scanFile))
	f.Add([]byte("module: print\npermissions:\n  - permission: print:jobs:release\n    description: Again.\n"))
	f.Add([]byte("module: &m scan\npermissions:\n  - permission: scan:x:read\n    description: *m\n"))
	f.Add([]byte("module: scan\npermissions: []\n---\nmodule: x\n"))
	f.Add([]byte("- [\n"))
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		items, err := Load(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("error %q does not name the file and line", err)
			}
			return
		}
		if len(items) == 0 {
			t.Fatal("Load succeeded with no items")
		}
		module := items[0].Module
		for _, it := range items {
			if err := authz.Validate(it.Permission); err != nil {
				t.Fatalf("Load returned an invalid permission: %v", err)
			}
			if first, _, _ := strings.Cut(it.Permission, ":"); first != module || it.Module != module {
				t.Fatalf("Load returned %+v in module %q", it, module)
			}
		}
		if _, err := New(items); err != nil {
			t.Fatalf("New(Load(...)) failed: %v", err)
		}
	})
}
