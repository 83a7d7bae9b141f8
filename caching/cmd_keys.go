package caching

import (
	"math"

	"planet/internal/resp"
)

// DEL key [key ...] (and UNLINK): the number of keys deleted.
func cmdDel(tx *Tx, args [][]byte) []byte {
	n := int64(0)
	for _, k := range args[1:] {
		if tx.remove(k) {
			n++
		}
	}
	return resp.AppendInt(nil, n)
}

// EXISTS key [key ...]: how many of the keys exist, repeats counted.
func cmdExists(tx *Tx, args [][]byte) []byte {
	n := int64(0)
	for _, k := range args[1:] {
		if tx.find(k) != nil {
			n++
		}
	}
	return resp.AppendInt(nil, n)
}

var (
	typeString = resp.AppendSimple(nil, "string")
	typeNone   = resp.AppendSimple(nil, "none")
)

// TYPE key
func cmdType(tx *Tx, args [][]byte) []byte {
	if tx.find(args[1]) == nil {
		return typeNone
	}
	return typeString
}

// Options of the EXPIRE family.
const (
	expireNX = 1 << iota
	expireXX
	expireGT
	expireLT
)

// expireCommand returns EXPIRE, PEXPIRE, EXPIREAT or PEXPIREAT: key
// time [NX | XX | GT | LT], time in seconds if seconds, relative if
// relative. Redis's expireGenericCommand.
func expireCommand(name string, seconds, relative bool) func(tx *Tx, args [][]byte) []byte {
	return func(tx *Tx, args [][]byte) []byte {
		flags := 0
		for _, opt := range args[3:] {
			switch {
			case is(opt, "nx"):
				flags |= expireNX
			case is(opt, "xx"):
				flags |= expireXX
			case is(opt, "gt"):
				flags |= expireGT
			case is(opt, "lt"):
				flags |= expireLT
			default:
				return resp.AppendError(nil, "ERR Unsupported option "+cString(opt))
			}
		}
		if flags&expireNX != 0 && flags&(expireXX|expireGT|expireLT) != 0 {
			return resp.AppendError(nil, "ERR NX and XX, GT or LT options at the same time are not compatible")
		}
		if flags&expireGT != 0 && flags&expireLT != 0 {
			return resp.AppendError(nil, "ERR GT and LT options at the same time are not compatible")
		}
		when, ok := parseInt(args[2])
		if !ok {
			return notIntegerErr
		}
		if seconds {
			if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
				return invalidExpireErr(name)
			}
			when *= 1000
		}
		var base int64
		if relative {
			base = tx.now
		}
		if when > math.MaxInt64-base {
			return invalidExpireErr(name)
		}
		return tx.expire(args[1], when+base, flags)
	}
}

// expire sets key's TTL to when (Unix milliseconds) subject to flags, and
// deletes the key if when has passed.
func (tx *Tx) expire(key []byte, when int64, flags int) []byte {
	e := tx.find(key)
	if e == nil {
		return zeroReply
	}
	cur, has := e.expireAt, e.expireAt != 0
	switch {
	case flags&expireNX != 0 && has,
		flags&expireXX != 0 && !has,
		flags&expireGT != 0 && (!has || when <= cur),
		flags&expireLT != 0 && has && when >= cur:
		return zeroReply
	}
	if when <= tx.now {
		tx.deleteEntry(e)
		return oneReply
	}
	tx.setExpire(e, when)
	return oneReply
}

// ttlCommand returns TTL, PTTL, EXPIRETIME or PEXPIRETIME: -2 if the key
// does not exist, -1 if it has no TTL, else the time left (or the expiry
// if absolute), in seconds (rounded) or milliseconds.
func ttlCommand(millis, absolute bool) func(tx *Tx, args [][]byte) []byte {
	return func(tx *Tx, args [][]byte) []byte {
		e := tx.find(args[1])
		switch {
		case e == nil:
			return resp.AppendInt(nil, -2)
		case e.expireAt == 0:
			return resp.AppendInt(nil, -1)
		}
		t := e.expireAt
		if !absolute {
			t = max(t-tx.now, 0)
		}
		if !millis {
			t = (t + 500) / 1000
		}
		return resp.AppendInt(nil, t)
	}
}

// PERSIST key: 1 if a TTL was removed.
func cmdPersist(tx *Tx, args [][]byte) []byte {
	e := tx.find(args[1])
	if e == nil || e.expireAt == 0 {
		return zeroReply
	}
	tx.setExpire(e, 0)
	return oneReply
}

// RENAME key newkey
func cmdRename(tx *Tx, args [][]byte) []byte { return tx.rename(args[1], args[2], false) }

// RENAMENX key newkey
func cmdRenameNX(tx *Tx, args [][]byte) []byte { return tx.rename(args[1], args[2], true) }

// rename moves key's value and TTL to newKey (Redis's
// renameGenericCommand); with nx only if newKey does not exist.
func (tx *Tx) rename(key, newKey []byte, nx bool) []byte {
	e := tx.find(key)
	switch {
	case e == nil:
		return noSuchKeyErr
	case string(key) == string(newKey):
		return pick(nx, zeroReply, okReply)
	}
	if tx.find(newKey) != nil {
		if nx {
			return zeroReply
		}
		tx.remove(newKey)
	}
	tx.deleteEntry(e)
	tx.set(newKey, e.value, e.expireAt, false)
	return pick(nx, oneReply, okReply)
}

// pick returns a if cond, else b.
func pick(cond bool, a, b []byte) []byte {
	if cond {
		return a
	}
	return b
}

// DBSIZE: the number of keys, expired ones not yet deleted included.
func cmdDBSize(tx *Tx, _ [][]byte) []byte { return resp.AppendInt(nil, int64(tx.size())) }

// FLUSHDB [ASYNC | SYNC] and FLUSHALL: delete every key of this cache
// (only this one: flushes are local, not replicated).
func cmdFlush(tx *Tx, args [][]byte) []byte {
	if len(args) > 2 || (len(args) == 2 && !is(args[1], "sync") && !is(args[1], "async")) {
		return syntaxErr
	}
	tx.flush()
	return okReply
}

// cString is b as C's string functions see it: up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
