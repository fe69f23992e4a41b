package storage

import "unsafe"

// The read side of permission decisions: View satisfies authz.Directory
// (authz never imports storage). Every method reads through the view, so
// on a tracking view the reads fold into the digest and on a
// transaction's guarded view they become guards.

// AccountExists reports whether account a exists.
//
// Every request asks it (the tenancy check, each link's account): unless
// the view keeps keys, the key is built in a pooled buffer.
func (v View) AccountExists(a string) bool {
	if v.keepsKeys() {
		return v.Has(AccountKey(a))
	}
	bp := keyBufs.Get().(*[]byte)
	b := append(append((*bp)[:0], AccountsRange...), a...)
	_, ok := v.read(unsafe.String(unsafe.SliceData(b), len(b)))
	*bp = b
	keyBufs.Put(bp)
	return ok
}

// UserState reports whether user u of account a exists and is enabled,
// without decoding the whole record.
func (v View) UserState(a, u string) (exists, enabled bool) {
	// Every request asks this: getItem allocates nothing on an untracked
	// view.
	val, ok := v.getItem(a, KindUser, u)
	if !ok {
		return false, false
	}
	f, ok := recordField(val, 3) // User: hash, email, full name, enabled, …
	return true, ok && f == "1"
}

// EachUserRole calls fn with each role user u holds directly.
func (v View) EachUserRole(a, u string, fn func(role string) bool) {
	v.eachName(SubRange(a, KindUserRole, u), fn)
}

// EachUserGroup calls fn with each group user u is in.
func (v View) EachUserGroup(a, u string, fn func(group string) bool) {
	v.eachName(SubRange(a, KindUserGrp, u), fn)
}

// EachGroupRole calls fn with each role group g holds.
func (v View) EachGroupRole(a, g string, fn func(role string) bool) {
	v.eachName(SubRange(a, KindGrpRole, g), fn)
}

// EachRolePermission calls fn with each permission of role r.
func (v View) EachRolePermission(a, r string, fn func(perm string) bool) {
	v.eachName(SubRange(a, KindRolePerm, r), fn)
}

// EachCeiling calls fn with each permission of account a's own ceiling.
func (v View) EachCeiling(a string, fn func(perm string) bool) {
	v.eachName(ItemRange(a, KindCeiling), fn)
}

func (v View) eachName(prefix string, fn func(string) bool) {
	v.EachRange(prefix, func(name, _ string) bool { return fn(name) })
}

// recordField returns field i of an encoded record without allocating.
func recordField(v string, i int) (string, bool) {
	if len(v) == 0 || v[0] != recordVersion {
		return "", false
	}
	p := 1
	for n := 0; ; n++ {
		var l uint64
		var shift uint
		for {
			if p >= len(v) || shift > 63 {
				return "", false
			}
			b := v[p]
			p++
			l |= uint64(b&0x7f) << shift
			if b < 0x80 {
				break
			}
			shift += 7
		}
		if uint64(len(v)-p) < l {
			return "", false
		}
		if n == i {
			return v[p : p+int(l)], true
		}
		p += int(l)
	}
}
