package storage

import "errors"

// Sentinel errors. Callers test them with errors.Is; the HTTP layer maps
// them to status codes in one place.
var (
	ErrNotFound    = errors.New("not found")
	ErrNameTaken   = errors.New("name taken")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("storage unavailable")
	// ErrMember is returned when a membership to add already exists.
	ErrMember = errors.New("already a member")
)
