package test

import (
	"os"
	"strings"
	"testing"

	"gatehouse/conf"
	"gatehouse/instance"
)

// The README's route and settings tables are generated from the code; this
// test keeps the copies in step.
func TestREADMETables(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if !strings.Contains(readme, instance.Routes().Markdown()) {
		t.Errorf("README.md's route table differs from instance.Routes().Markdown(); paste the generated table")
	}
	for _, k := range conf.Keys() {
		if !strings.Contains(readme, "| `"+k.Name+"` | `"+k.Env+"` |") {
			t.Errorf("README.md does not document setting %s (%s)", k.Name, k.Env)
		}
	}
	first := strings.Index(readme, "go run ./cmd/gatehouse")
	second := strings.Index(readme, "go test ")
	if first < 0 || second < 0 || first > 400 || second > 600 {
		t.Errorf("README.md must open with the run command and the test command")
	}
}
