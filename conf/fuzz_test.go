package conf

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadYAML feeds arbitrary bytes to Load as the --config file. Load must
// never panic, and a configuration it accepts must validate.
func FuzzLoadYAML(f *testing.F) {
	f.Add([]byte(fullYAML))
	f.Add([]byte("a: &a [*a]\nhttp: &h {listen: *h}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load([]string{"--config", path}, nil)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Load accepted a configuration that does not validate: %v", verr)
			}
		}
	})
}
