package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// loadFile applies the YAML file at path to c. The file is decoded into a
// yaml.Node and walked against the key table, rather than decoded into
// tagged structs with KnownFields(true), so that an unknown key is reported
// by its full dotted name ("storage.etcd.endpoint") and every problem in the
// file is reported, not just the first. A null value (`key:` or `key: ~`)
// leaves the setting as it was.
func loadFile(path string, c *Config, tab []setting) []error {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return []error{fmt.Errorf("config file %s: %w", path, err)}
	}
	root, err := parseYAML(data)
	if err != nil {
		return []error{fmt.Errorf("config file %s: %w", path, err)}
	}
	if root == nil {
		return nil
	}
	w := walker{path: path, c: c, byName: make(map[string]setting), sections: make(map[string]bool)}
	for _, s := range tab {
		w.byName[s.name] = s
		for i := range len(s.name) {
			if s.name[i] == '.' {
				w.sections[s.name[:i]] = true
			}
		}
	}
	w.mapping(root, "")
	return w.errs
}

// parseYAML returns the top-level node of the single YAML document in data,
// or nil when there is nothing (an empty file, only comments, or null).
func parseYAML(data []byte) (root *yaml.Node, err error) {
	// yaml.v3 turns its own failures into errors; a panic from anything
	// else in the parser is still just a bad file to us.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("invalid YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid YAML: more than one document")
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the top level must be a mapping of keys", n.Line)
	}
	return n, nil
}

type walker struct {
	path     string
	c        *Config
	byName   map[string]setting
	sections map[string]bool // dotted prefixes of keys: "storage", "storage.etcd", ...
	errs     []error
}

func (w *walker) errorf(n *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, fmt.Errorf("config file %s: %s (line %d)", w.path, fmt.Sprintf(format, args...), n.Line))
}

// mapping walks the mapping node n whose dotted key is prefix ("" at the
// top). Recursion only enters known sections, so its depth is bounded by
// the key table even for self-referencing aliases.
func (w *walker) mapping(n *yaml.Node, prefix string) {
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			w.errorf(k, "a key under %s is not a plain name", displaySection(prefix))
			continue
		}
		name := k.Value
		if prefix != "" {
			name = prefix + "." + k.Value
		}
		if seen[name] {
			w.errorf(k, "key %q given twice", name)
			continue
		}
		seen[name] = true
		if strings.Contains(k.Value, ".") {
			// Dotted names are not a shorthand for nesting.
			w.errorf(k, "unknown key %q", name)
			continue
		}
		if s, ok := w.byName[name]; ok {
			w.value(v, s)
			continue
		}
		if w.sections[name] {
			switch {
			case isNull(v):
			case v.Kind == yaml.MappingNode:
				w.mapping(v, name)
			default:
				w.errorf(v, "key %q must be a mapping of keys, got %s", name, describe(v))
			}
			continue
		}
		w.errorf(k, "unknown key %q", name)
	}
}

// value applies the YAML value v to the setting s.
func (w *walker) value(v *yaml.Node, s setting) {
	if isNull(v) {
		return
	}
	p := s.field(w.c)
	if list, ok := p.(*[]string); ok {
		if v.Kind != yaml.SequenceNode {
			w.errorf(v, "key %q: want a list (YAML sequence), got %s", s.name, describe(v))
			return
		}
		var items []string // nil when empty, like the defaults and the environment
		for _, item := range v.Content {
			item = deref(item)
			if item.Kind != yaml.ScalarNode || isNull(item) {
				w.errorf(item, "key %q: list items must be plain values, got %s", s.name, describe(item))
				return
			}
			if t := strings.TrimSpace(item.Value); t != "" {
				items = append(items, t)
			}
		}
		*list = items
		return
	}
	if v.Kind != yaml.ScalarNode {
		w.errorf(v, "key %q: want a single %s, got %s", s.name, typeName(p), describe(v))
		return
	}
	if err := setValue(p, v.Value); err != nil {
		w.errorf(v, "key %q: %v", s.name, err)
	}
}

// deref follows alias nodes (bounded, in case of a cycle).
func deref(n *yaml.Node) *yaml.Node {
	for range 100 {
		if n.Kind != yaml.AliasNode || n.Alias == nil {
			return n
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	default:
		return "a document"
	}
}

func displaySection(prefix string) string {
	if prefix == "" {
		return "the top level"
	}
	return strconv.Quote(prefix)
}
