package catalog

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"gatehouse/authz"
)

// shippedFS holds the shipped catalogues, one module per file.
//
//go:embed print.yaml filtering.yaml reporting.yaml
var shippedFS embed.FS

// shippedFiles lists the shipped catalogue files in the order Shipped reads
// them.
var shippedFiles = []string{"print.yaml", "filtering.yaml", "reporting.yaml"}

// MaxFileSize is the largest catalogue file Load accepts, in bytes.
const MaxFileSize = 1 << 20

// ReservedModule is the module of gatehouse's own permissions, generated
// from its route table; a catalogue file may not declare it.
const ReservedModule = "auth"

const (
	maxDescription = 512 // bytes
	maxSeed        = 64  // bytes
)

// entry is one parsed item with where it came from.
type entry struct {
	Item
	seed string
	file string
	line int
}

func (e entry) where() string { return fmt.Sprintf("%s:%d", e.file, e.line) }

// shipped is the parsed, indexed shipped catalogue, built once.
var shipped = sync.OnceValues(func() (*shippedSet, error) {
	s := &shippedSet{byPerm: make(map[string]entry)}
	var lists [][]Item
	for _, name := range shippedFiles {
		data, err := shippedFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("catalog: shipped %s: %w", name, err)
		}
		_, ents, err := parse(name, data)
		if err != nil {
			return nil, fmt.Errorf("catalog: shipped %w", err)
		}
		items := make([]Item, len(ents))
		for i, e := range ents {
			if prev, dup := s.byPerm[e.Permission]; dup {
				return nil, fmt.Errorf("catalog: shipped %s: permission %q is already defined at %s", e.where(), e.Permission, prev.where())
			}
			s.byPerm[e.Permission] = e
			items[i] = e.Item
		}
		lists = append(lists, items)
	}
	c, err := New(lists...)
	if err != nil {
		return nil, fmt.Errorf("catalog: shipped: %w", err)
	}
	s.cat = c
	return s, nil
})

type shippedSet struct {
	cat    *Catalog
	byPerm map[string]entry
}

// Shipped returns the catalogues shipped with gatehouse: the print,
// filtering and reporting modules, read from the embedded print.yaml,
// filtering.yaml and reporting.yaml. The files are parsed once; every call
// returns the same immutable *Catalog. An error means a broken build.
func Shipped() (*Catalog, error) {
	s, err := shipped()
	if err != nil {
		return nil, err
	}
	return s.cat, nil
}

// Load reads an extra catalogue file in the same YAML format as the shipped
// ones; it is how further modules are added by configuration, without code.
// The file declares one module (not ReservedModule) and at least one
// permission; every permission must be valid (authz.Validate), concrete (no
// "*" subpart and no ',' list), have at least two parts and belong to the
// file's module (first part == module); a description is required, one line
// of at most 512 bytes; seed names, if given, are unique. A permission that
// appears twice in the file or that a shipped catalogue already defines is an
// error naming both places. Every error about the content names the file and
// line ("path:line: ..."); a file that cannot be read or is over MaxFileSize
// is refused with an error naming the file. The items are returned in file
// order. A file may also extend a shipped module with new permissions.
func Load(path string) ([]Item, error) {
	ents, err := loadEntries(path)
	if err != nil {
		return nil, err
	}
	items := make([]Item, len(ents))
	for i, e := range ents {
		items[i] = e.Item
	}
	return items, nil
}

// LoadFiles loads several extra catalogue files with Load and also refuses a
// permission defined by two of them, naming both files and lines. The items
// are returned in file order, ready for New.
func LoadFiles(paths ...string) ([]Item, error) {
	var items []Item
	seen := make(map[string]entry)
	for _, path := range paths {
		ents, err := loadEntries(path)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if prev, dup := seen[e.Permission]; dup {
				return nil, fmt.Errorf("%s: permission %q is already defined at %s", e.where(), e.Permission, prev.where())
			}
			seen[e.Permission] = e
			items = append(items, e.Item)
		}
	}
	return items, nil
}

// loadEntries reads and parses one extra file and checks it against the
// shipped catalogues.
func loadEntries(path string) ([]entry, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	module, ents, err := parse(path, data)
	if err != nil {
		return nil, err
	}
	if module.Value == ReservedModule {
		return nil, fmt.Errorf("%s:%d: module %q is reserved for gatehouse's own permissions", path, module.Line, module.Value)
	}
	s, err := shipped()
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if prev, dup := s.byPerm[e.Permission]; dup {
			return nil, fmt.Errorf("%s: permission %q is already defined at %s (shipped)", e.where(), e.Permission, prev.where())
		}
	}
	return ents, nil
}

// readFile reads at most MaxFileSize bytes of path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("catalog: %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: file larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// parse decodes one catalogue file. It returns the module node (for its
// line) and the entries in file order. Errors are "file:line: message".
func parse(file string, data []byte) (module *yaml.Node, ents []entry, err error) {
	errAt := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", file, n.Line, fmt.Sprintf(format, args...))
	}
	if off, msg := badText(data); msg != "" {
		return nil, nil, fmt.Errorf("%s:%d: %s", file, 1+bytes.Count(data[:off], []byte("\n")), msg)
	}
	doc, err := decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s:%s", file, err)
	}
	if doc == nil || doc.Kind == 0 || doc.Kind == yaml.DocumentNode && len(doc.Content) == 0 {
		return nil, nil, fmt.Errorf("%s:1: empty file: want a mapping with module and permissions", file)
	}
	if err := noAliases(doc, errAt); err != nil {
		return nil, nil, err
	}
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) != 1 {
			return nil, nil, errAt(root, "want one YAML document")
		}
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, errAt(root, "want a mapping with module and permissions")
	}
	fields, err := mapping(root, errAt, "module", "permissions")
	if err != nil {
		return nil, nil, err
	}
	module, perms := fields["module"], fields["permissions"]
	if module == nil {
		return nil, nil, errAt(root, "missing module")
	}
	if perms == nil {
		return nil, nil, errAt(root, "missing permissions")
	}
	if module.Kind != yaml.ScalarNode {
		return nil, nil, errAt(module, "module must be a string")
	}
	if err := checkModule(module.Value); err != nil {
		return nil, nil, errAt(module, "%v", err)
	}
	if perms.Kind != yaml.SequenceNode {
		return nil, nil, errAt(perms, "permissions must be a list")
	}
	if len(perms.Content) == 0 {
		return nil, nil, errAt(perms, "permissions is empty")
	}
	seenPerm := make(map[string]int)
	seenSeed := make(map[string]int)
	for _, n := range perms.Content {
		if n.Kind != yaml.MappingNode {
			return nil, nil, errAt(n, "a permissions entry must be a mapping with permission and description")
		}
		f, err := mapping(n, errAt, "permission", "description", "seed")
		if err != nil {
			return nil, nil, err
		}
		pn, dn, sn := f["permission"], f["description"], f["seed"]
		if pn == nil {
			return nil, nil, errAt(n, "entry has no permission")
		}
		if pn.Kind != yaml.ScalarNode {
			return nil, nil, errAt(pn, "permission must be a string")
		}
		p := pn.Value
		if err := authz.Validate(p); err != nil {
			return nil, nil, errAt(pn, "invalid %v", err)
		}
		first, rest, _ := strings.Cut(p, ":")
		if first != module.Value {
			return nil, nil, errAt(pn, "permission %q does not belong to module %q (line %d)", p, module.Value, module.Line)
		}
		if rest == "" {
			return nil, nil, errAt(pn, "permission %q names only the module; want module:resource:action", p)
		}
		if !concrete(p) {
			return nil, nil, errAt(pn, "permission %q is a pattern; a catalogue entry names one permission, without '*' or ','", p)
		}
		if prev, dup := seenPerm[p]; dup {
			return nil, nil, errAt(pn, "permission %q is already defined at %s:%d", p, file, prev)
		}
		seenPerm[p] = pn.Line
		if dn == nil {
			return nil, nil, errAt(n, "permission %q has no description", p)
		}
		if dn.Kind != yaml.ScalarNode {
			return nil, nil, errAt(dn, "description must be a string")
		}
		d := strings.TrimSpace(dn.Value)
		if err := checkDescription(d); err != nil {
			return nil, nil, errAt(dn, "description of %q: %v", p, err)
		}
		seed := ""
		if sn != nil {
			if sn.Kind != yaml.ScalarNode {
				return nil, nil, errAt(sn, "seed must be a string")
			}
			seed = sn.Value
			if err := checkSeed(seed); err != nil {
				return nil, nil, errAt(sn, "seed of %q: %v", p, err)
			}
			if prev, dup := seenSeed[seed]; dup {
				return nil, nil, errAt(sn, "seed %q is already mapped at %s:%d", seed, file, prev)
			}
			seenSeed[seed] = sn.Line
		}
		ents = append(ents, entry{
			Item: Item{Permission: p, Module: module.Value, Description: d},
			seed: seed, file: file, line: pn.Line,
		})
	}
	return module, ents, nil
}

// decode parses data into a node tree, turning a parser panic into an error
// (catalogue files come from configuration and must never crash start-up).
// Errors begin with the line number followed by ": ".
func decode(data []byte) (doc *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("1: YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return &n, nil
	case err != nil:
		return nil, yamlError(err)
	default:
		return nil, fmt.Errorf("%d: want exactly one YAML document", max(extra.Line, 1))
	}
}

// yamlError rewrites a parser error "yaml: line N: msg" as "N: msg"; an
// error without a line is put on line 1.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 && strings.Trim(rest[:i], "0123456789") == "" {
			return fmt.Errorf("%s: %s", rest[:i], rest[i+2:])
		}
	}
	return fmt.Errorf("1: %s", msg)
}

// noAliases refuses anchors' aliases anywhere in the tree: they are never
// needed in a catalogue and would let a small file describe a huge one.
func noAliases(n *yaml.Node, errAt func(*yaml.Node, string, ...any) error) error {
	if n.Kind == yaml.AliasNode {
		return errAt(n, "YAML aliases are not allowed")
	}
	for _, c := range n.Content {
		if err := noAliases(c, errAt); err != nil {
			return err
		}
	}
	return nil
}

// mapping returns a mapping node's values by key, refusing keys other than
// allowed, non-string keys and repeated keys.
func mapping(n *yaml.Node, errAt func(*yaml.Node, string, ...any) error, allowed ...string) (map[string]*yaml.Node, error) {
	out := make(map[string]*yaml.Node, len(allowed))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errAt(k, "keys must be strings")
		}
		known := false
		for _, a := range allowed {
			known = known || k.Value == a
		}
		if !known {
			return nil, errAt(k, "unknown key %q (want %s)", k.Value, strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, errAt(k, "duplicate key %q", k.Value)
		}
		out[k.Value] = v
	}
	return out, nil
}

// concrete reports whether a valid permission has no "*" subpart and no
// subpart list.
func concrete(p string) bool {
	if strings.IndexByte(p, ',') >= 0 {
		return false
	}
	for part := range strings.SplitSeq(p, ":") {
		if part == "*" {
			return false
		}
	}
	return true
}

// checkDescription checks a (trimmed) description: one non-empty line of
// printable text.
func checkDescription(d string) error {
	if d == "" {
		return errors.New("empty")
	}
	if len(d) > maxDescription {
		return fmt.Errorf("longer than %d bytes", maxDescription)
	}
	for _, r := range d {
		if r == '\n' || r == '\r' {
			return errors.New("must be one line")
		}
		if !unicode.IsGraphic(r) && r != '\t' {
			return fmt.Errorf("contains the control or non-printable character %U", r)
		}
	}
	return nil
}

// checkSeed checks a seed name: the module's own identifier for the
// permission, ASCII letters, digits and '_' only.
func checkSeed(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > maxSeed {
		return fmt.Errorf("longer than %d bytes", maxSeed)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("%q: only ASCII letters, digits and '_' are allowed", s)
		}
	}
	return nil
}

// badText returns the offset of the first byte of data that is not valid
// UTF-8 or is a character YAML does not allow in a document (control
// characters other than tab, line feed and carriage return, non-characters,
// a byte order mark after the start), with a message; msg is "" when the
// text is fine.
func badText(data []byte) (off int, msg string) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return i, "not valid UTF-8"
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			0x7f <= r && r <= 0x9f && r != 0x85,
			r == 0xfffe || r == 0xffff,
			r == 0xfeff && i > 0:
			return i, fmt.Sprintf("character %U is not allowed", r)
		}
		i += size
	}
	return 0, ""
}
