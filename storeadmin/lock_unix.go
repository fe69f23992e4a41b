//go:build unix

package storeadmin

import (
	"errors"
	"os"
	"syscall"
)

// heldByOther reports whether another open file description holds the
// exclusive lock etcd's database takes (flock), without waiting; a lock
// taken here is released at once.
func heldByOther(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
