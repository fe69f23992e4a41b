package samlsp

import (
	"errors"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// The 2-minute skew is applied on top of crewjam's own (wider) checks.
func TestCheckTimes(t *testing.T) {
	idp := newTestIdP(t)
	sp, _ := newSP(t, idp, "plain", nil)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	assertion := func() *saml.Assertion {
		return &saml.Assertion{
			IssueInstant: base,
			Conditions:   &saml.Conditions{NotBefore: base, NotOnOrAfter: base.Add(5 * time.Minute)},
			Subject: &saml.Subject{SubjectConfirmations: []saml.SubjectConfirmation{{
				Method: bearerMethod,
				SubjectConfirmationData: &saml.SubjectConfirmationData{
					Recipient:    sp.acsURL.String(),
					NotOnOrAfter: base.Add(90 * time.Second),
				},
			}}},
		}
	}
	cases := []struct {
		name string
		now  time.Time
		edit func(*saml.Assertion)
		want error
	}{
		{"inside", base.Add(time.Minute), nil, nil},
		{"skew before NotBefore", base.Add(-ClockSkew), nil, nil},
		{"past skew before NotBefore", base.Add(-ClockSkew - time.Second), nil, saml.ErrNotYetValid},
		{"last instant of confirmation skew", base.Add(90*time.Second + ClockSkew - time.Millisecond), nil, nil},
		{"confirmation expired", base.Add(90*time.Second + ClockSkew), nil, saml.ErrExpired},
		{"conditions expired", base.Add(time.Minute), func(a *saml.Assertion) {
			a.Conditions.NotOnOrAfter = base.Add(-ClockSkew + time.Minute)
		}, saml.ErrExpired},
		{"confirmation for another recipient", base.Add(time.Minute), func(a *saml.Assertion) {
			a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = "https://elsewhere.example/acs"
		}, saml.ErrExpired},
		{"issued in the future", base.Add(-ClockSkew - time.Second), func(a *saml.Assertion) {
			a.Conditions.NotBefore = time.Time{}
		}, saml.ErrNotYetValid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := assertion()
			if tc.edit != nil {
				tc.edit(a)
			}
			err := sp.checkTimes(a, tc.now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if got, want := replayUntil(assertion()), base.Add(5*time.Minute+ClockSkew); !got.Equal(want) {
		t.Errorf("replayUntil = %v, want %v (latest NotOnOrAfter + skew)", got, want)
	}
}
