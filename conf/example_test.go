package conf

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The repository's gatehouse.example.yaml is exactly what ExampleYAML
// generates (regenerate with GATEHOUSE_WRITE_EXAMPLE=1 go test ./conf -run
// TestExampleYAML), and loading it gives the defaults.
func TestExampleYAML(t *testing.T) {
	const path = "../gatehouse.example.yaml"
	want := ExampleYAML()
	if os.Getenv("GATEHOUSE_WRITE_EXAMPLE") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is not conf.ExampleYAML's output; regenerate it with GATEHOUSE_WRITE_EXAMPLE=1 go test ./conf -run TestExampleYAML", path)
	}
	c, err := Load([]string{"--config", path}, nil)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	if d := Defaults(); !reflect.DeepEqual(c, d) {
		t.Fatalf("loading %s changed the configuration:\n got %+v\nwant %+v", path, c, d)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(got), " "+k.Name[strings.LastIndex(k.Name, ".")+1:]+": ") || !strings.Contains(string(got), k.Env) {
			t.Errorf("%s does not mention %s (%s)", path, k.Name, k.Env)
		}
	}
}
