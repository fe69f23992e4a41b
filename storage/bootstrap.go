package storage

import (
	"context"
	"time"
)

// Names created on first start.
const (
	SystemAccount = "system"
	AdminRole     = "administrator"
	AdminUser     = "admin"
)

// Bootstrap creates, on an empty store, account "system" with ceiling
// "*", role "administrator" holding "*", and user "admin" (password hash
// adminHash) holding that role — all in one transaction, so two instances
// starting together bootstrap once. It reports whether it did.
func (s *Store) Bootstrap(ctx context.Context, adminHash string, now time.Time) (bool, error) {
	created := false
	_, err := s.Update(ctx, func(v View, t *Txn) error {
		created = false
		if v.Has(AccountKey(SystemAccount)) {
			return nil
		}
		created = true
		a := SystemAccount
		t.Expect(AccountKey(a))
		t.Put(AccountKey(a), Account{}.Encode())
		t.Put(ItemKey(a, KindCeiling, "*"), "")
		t.Put(ItemKey(a, KindRole, AdminRole), Role{Description: "Holds every permission"}.Encode())
		t.Put(SubKey(a, KindRolePerm, AdminRole, "*"), "")
		t.Put(ItemKey(a, KindUser, AdminUser), User{PasswordHash: adminHash, Enabled: true, Created: now.Unix()}.Encode())
		t.Put(SubKey(a, KindUserRole, AdminUser, AdminRole), "")
		t.Put(SubKey(a, KindRoleUser, AdminRole, AdminUser), "")
		return nil
	})
	return created, err
}
