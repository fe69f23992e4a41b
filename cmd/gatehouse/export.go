package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gatehouse/resources"
	"gatehouse/storeadmin"
)

// export writes the export document of an account subtree (the same
// bytes GET /auth/v2/accounts/{a}/export answers) to stdout or --out FILE.
func export(args, environ []string, _ io.Reader, stdout, stderr io.Writer) int {
	out, args, ok := cutFlag(args, "out")
	if !ok {
		fmt.Fprintf(stderr, "gatehouse export: --out needs a file name\nusage: %s\n", lookup("export").synopsis)
		return 2
	}
	a, cfg, code, ok := operandAndSettings("export", args, environ, stdout, stderr)
	if !ok {
		return code
	}
	return withStore(cfg, stderr, func(ctx context.Context, h *storeadmin.Handle) int {
		doc, err := resources.ExportXML(ctx, h.Store, a)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse export: %s: %v\n", a, err)
			return 1
		}
		if out == "" {
			if _, err := stdout.Write(doc); err != nil {
				fmt.Fprintf(stderr, "gatehouse export: %v\n", err)
				return 1
			}
			return 0
		}
		if err := writeFile(out, doc); err != nil {
			fmt.Fprintf(stderr, "gatehouse export: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "gatehouse: exported account %s to %s (%d bytes)\n", a, out, len(doc))
		return 0
	})
}

// importDoc writes an export document (FILE, or standard input for "-")
// into the store, as POST /auth/v2/import does and audited like it, with
// actor "cli".
func importDoc(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	file, cfg, code, ok := operandAndSettings("import", args, environ, stdout, stderr)
	if !ok {
		return code
	}
	var doc []byte
	var err error
	if file == "-" {
		doc, err = io.ReadAll(stdin)
	} else {
		doc, err = os.ReadFile(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse import: %v\n", err)
		return 1
	}
	return withStore(cfg, stderr, func(ctx context.Context, h *storeadmin.Handle) int {
		ctx = storeadmin.WithImportAudit(ctx)
		top, rev, err := resources.ImportXML(ctx, h.Store, doc)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse import: %s: %v\n", file, err)
			return 1
		}
		fmt.Fprintf(stdout, "gatehouse: imported account %s (/auth/v2/accounts/%s) at revision %d\n", top, top, rev)
		return 0
	})
}

// cutFlag removes the command's own flag --name VALUE (or -name, or
// =VALUE) from args, before the serve settings are parsed; ok is false
// when the flag has no value.
func cutFlag(args []string, name string) (value string, rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--"+name || a == "-"+name:
			if i+1 >= len(args) || args[i+1] == "" {
				return "", nil, false
			}
			value = args[i+1]
			i++
		case strings.HasPrefix(a, "--"+name+"=") || strings.HasPrefix(a, "-"+name+"="):
			_, value, _ = strings.Cut(a, "=")
			if value == "" {
				return "", nil, false
			}
		default:
			rest = append(rest, a)
		}
	}
	return value, rest, true
}

// writeFile writes data to file readable by its owner only (an export
// holds password hashes), replacing it only once complete.
func writeFile(file string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return os.Rename(tmp.Name(), file)
}
