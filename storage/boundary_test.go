package storage_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Only storage builds storage keys: the rest of gatehouse names what it
// reads and writes by domain (Coll, HasItem, Link.Of, CreatedIn …), so the
// key layout can change in one package. Tests and the load tool (under
// test/) may inspect etcd through the key helpers; product code may not.

// keyHelpers are the exported key and range builders of storage.
var keyHelpers = map[string]bool{
	"ItemKey": true, "SubKey": true, "ItemRange": true, "SubRange": true,
	"AccountKey": true, "AccountsRange": true, "TenantRange": true,
	"APIKeyIndexKey": true, "APIKeyIndexRange": true,
	"AuditKey": true, "AuditRange": true, "TokenKey": true, "TokenRange": true,
	"MarkerKey": true, "MarkerRange": true,
	"RootRulesRange": true,
}

// rangeReads are the View methods that take a raw key prefix.
var rangeReads = map[string]bool{
	"CountRange": true, "EachRange": true, "NamesRange": true, "PageRange": true, "FilterPageRange": true,
}

// keyLiterals are the first segments of the key layout (storage/doc.go).
var keyLiterals = []string{"t/", "acct/", "apikeyidx/", "audit/", "tok/", "mark/", "rules/"}

// productDirs must each hold product code the check read, so that it
// cannot pass by reading nothing.
var productDirs = []string{"api", "audit", "authn", "authz", "catalog", "cmd", "conf", "federation", "instance", "resources"}

// keyBuilding lists where file builds storage keys, as "file:line: what".
func keyBuilding(fset *token.FileSet, f *ast.File) []string {
	storageName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "gatehouse/storage" {
			storageName = "storage"
			if imp.Name != nil {
				storageName = imp.Name.Name
			}
		}
	}
	var out []string
	report := func(n ast.Node, what string) {
		out = append(out, fset.Position(n.Pos()).String()+": "+what)
	}
	if storageName == "." {
		report(f.Name, "dot-imports storage")
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && storageName != "" && x.Name == storageName && keyHelpers[n.Sel.Name] {
				report(n, "storage."+n.Sel.Name)
			} else if rangeReads[n.Sel.Name] {
				report(n, "."+n.Sel.Name+" (a raw key-range read)")
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				break
			}
			s, err := strconv.Unquote(n.Value)
			if err != nil {
				break
			}
			for _, p := range keyLiterals {
				if strings.HasPrefix(s, p) {
					report(n, "string literal "+n.Value)
				}
			}
		}
		return true
	})
	return out
}

func TestNoKeysOutsideStorage(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := map[string]bool{}
	var found []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == ".":
			case rel == "storage", rel == "test", d.Name() == "testdata", strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		top, _, _ := strings.Cut(rel, "/")
		seen[top] = true
		for _, v := range keyBuilding(fset, f) {
			found = append(found, strings.TrimPrefix(v, root+string(filepath.Separator)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range productDirs {
		if !seen[d] {
			t.Errorf("read no product code in %s/", d)
		}
	}
	for _, v := range found {
		t.Errorf("%s: only storage builds keys; name the collection or item instead", v)
	}
}

// TestKeyBuildingDetected checks the check: every way of building a key
// it knows is found, under any import name.
func TestKeyBuildingDetected(t *testing.T) {
	const src = `package p

import st "gatehouse/storage"

func f(v st.View, a string) {
	_ = st.ItemKey(a, st.KindUser, "u")
	_ = st.SubRange(a, st.KindAttr, "u")
	_ = st.AccountsRange
	_ = "t/" + a + "/user/"
	_ = ` + "`acct/x`" + `
	_ = v.CountRange("apikeyidx/")
	_ = st.KindUser
	_ = "/auth/v2/accounts/"
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	got := keyBuilding(fset, f)
	var lines []int
	for _, g := range got {
		n, _ := strconv.Atoi(strings.Split(g, ":")[1])
		lines = append(lines, n)
	}
	if want := []int{6, 7, 8, 9, 10, 11, 11}; !slices.Equal(lines, want) {
		t.Errorf("found %q; want one report on each of lines %v", got, want)
	}
}
