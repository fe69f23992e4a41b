package storage

import (
	"reflect"
	"testing"
)

func TestAPIKeyRecordRoundTrip(t *testing.T) {
	for _, k := range []APIKey{
		{},
		{Name: "ci", Description: "line one\nline two", Expires: 1893456000, Prefix: "gh_abcdefgh",
			SecretHash: "00ff", Permissions: []string{"auth:users:read", "print:*"}},
		{Name: "one", Prefix: "gh_x", Permissions: []string{"*"}},
	} {
		got, err := DecodeAPIKey(k.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, k) {
			t.Errorf("round trip: got %+v, want %+v", got, k)
		}
	}
	if _, err := DecodeAPIKey("\x09junk"); err == nil {
		t.Error("a record of another version decodes")
	}
}
