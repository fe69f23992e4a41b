package htmlpage

import (
	"net/http"
	"testing"
	"testing/fstest"
)

func TestSourceHash(t *testing.T) {
	// The CSP 3 example: the hash of "alert('Hello, world.');".
	if got, want := SourceHash("alert('Hello, world.');"), "sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng="; got != want {
		t.Errorf("SourceHash = %s, want %s", got, want)
	}
}

func TestMustRead(t *testing.T) {
	fsys := fstest.MapFS{"a.css": {Data: []byte("p{}")}}
	if got := MustRead(fsys, "a.css"); got != "p{}" {
		t.Errorf("MustRead = %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRead of a missing file did not panic")
		}
	}()
	MustRead(fsys, "missing.css")
}

func TestSetHeaders(t *testing.T) {
	h := http.Header{}
	SetHeaders(h, "default-src 'none'", "no-referrer")
	for k, want := range map[string]string{"Content-Security-Policy": "default-src 'none'", "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "Pragma": "no-cache"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
