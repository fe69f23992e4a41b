package passkey

import (
	"context"
	"errors"

	"gatehouse/authn"
	"gatehouse/totp"
)

// Step is the passkey as a method of the second-factor step (authn.Step
// and authn.StepMethod): a user with a passkey must pass the step
// totp.StepName, with a passkey or with any other method the user has
// (TOTP). The answer is the browser's assertion JSON under AnswerField,
// for a ceremony begun with BeginLogin(account, user, "") (the sign-in
// page's options route). HTTP Basic and the password grant have no way
// to run a ceremony: a user whose only second factor is a passkey is
// refused there, as a user with TOTP is without the code.
type Step struct{ Service *Service }

var (
	_ authn.Step       = Step{}
	_ authn.StepMethod = Step{}
)

// AnswerField is the answers key the step reads.
const AnswerField = "passkey"

// MethodName is the step's method.
const MethodName = "passkey"

// Name implements authn.Step: passkeys are a method of the second
// factor.
func (Step) Name() string { return totp.StepName }

// Method implements authn.StepMethod.
func (Step) Method() string { return MethodName }

// Required implements authn.Step: the user has a passkey.
func (s Step) Required(ctx context.Context, account, user string) (bool, error) {
	if s.Service == nil {
		return false, nil
	}
	return s.Service.HasPasskey(ctx, account, user)
}

// Verify implements authn.Step: answers[AnswerField] is an assertion by
// one of the user's passkeys for a second-factor ceremony begun for the
// user. A missing or wrong answer is (false, nil).
func (s Step) Verify(ctx context.Context, account, user string, answers map[string]string) (bool, error) {
	body := answers[AnswerField]
	if body == "" || s.Service == nil {
		return false, nil
	}
	_, err := s.Service.FinishLogin(ctx, account, user, "", []byte(body))
	if errors.Is(err, ErrRefused) {
		return false, nil
	}
	return err == nil, err
}
