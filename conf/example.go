package conf

import (
	"strconv"
	"strings"
)

// ExampleYAML returns the example configuration file (the repository's
// gatehouse.example.yaml): every setting of the key table, in table order,
// nested by its dotted key, set to its default and preceded by comments
// giving its meaning (the help text of Keys, which starts with the type) and
// its environment variable. Loading it with Load changes nothing, so an
// operator can copy it and edit only what they need.
func ExampleYAML() []byte {
	d := Defaults()
	keys := Keys()
	var b strings.Builder
	b.WriteString("# gatehouse.example.yaml: every gatehouse setting with its default.\n")
	b.WriteString("# Generated from the settings table (conf.ExampleYAML); do not edit by hand.\n")
	b.WriteString("# Load it with `gatehouse --config FILE`. Later sources win: defaults, this\n")
	b.WriteString("# file, GATEHOUSE_* environment variables, then the flags --listen and\n")
	b.WriteString("# --data-dir. Unknown keys and invalid values stop start-up.\n")
	var open []string // the sections currently open, outermost first
	for i, s := range table() {
		parts := strings.Split(s.name, ".")
		sections, leaf := parts[:len(parts)-1], parts[len(parts)-1]
		common := 0
		for common < len(open) && common < len(sections) && open[common] == sections[common] {
			common++
		}
		open = open[:common]
		header := false
		for _, sec := range sections[common:] {
			b.WriteString("\n" + strings.Repeat("  ", len(open)) + sec + ":\n")
			open = append(open, sec)
			header = true
		}
		indent := strings.Repeat("  ", len(open))
		if !header {
			b.WriteString("\n")
		}
		for _, line := range wrapComment(keys[i].Help+" (environment "+keys[i].Env+")", 76-len(indent)) {
			b.WriteString(indent + "# " + line + "\n")
		}
		b.WriteString(indent + leaf + ": " + exampleValue(s.field(&d)) + "\n")
	}
	return []byte(b.String())
}

// exampleValue writes a default as a YAML value the file loader reads back
// unchanged: strings and durations double-quoted, lists as flow sequences.
func exampleValue(p any) string {
	switch p := p.(type) {
	case *[]string:
		quoted := make([]string, len(*p))
		for i, item := range *p {
			quoted[i] = strconv.Quote(item)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	case *int, *bool:
		return formatValue(p)
	default:
		return strconv.Quote(formatValue(p))
	}
}

// wrapComment breaks text into lines of at most width characters at spaces
// (a longer word stays whole on its own line).
func wrapComment(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
