package xmltext

import "testing"

func TestAppend(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"plain":                  "plain",
		`a "b" & <c> 'd'`:        "a &quot;b&quot; &amp; &lt;c&gt; &apos;d&apos;",
		"tab\tnl\ncr\r":          "tab\tnl\ncr\r",
		"nul\x00bell\x07":        "nul\uFFFDbell\uFFFD",
		"bad \xff\xfe utf8":      "bad \uFFFD\uFFFD utf8",
		"not allowed \uFFFE":     "not allowed \uFFFD",
		"é ü 漢字 😀":               "é ü 漢字 😀",
		"surrogate \xed\xa0\x80": "surrogate \uFFFD\uFFFD\uFFFD",
	} {
		if got := string(Append([]byte("x"), in)); got != "x"+want {
			t.Errorf("Append(%q) = %q, want %q", in, got[1:], want)
		}
	}
}
