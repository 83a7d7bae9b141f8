package caching

import (
	"math"

	"planet/internal/resp"
)

// Options of SET and GETEX (Redis's OBJ_* flags of
// parseExtendedStringArgumentsOrReply).
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT
)

const optExpire = optEX | optPX | optEXAT | optPXAT

// setOptions are the parsed options of SET or GETEX.
type setOptions struct {
	flags  int
	expire []byte // the argument of EX, PX, EXAT or PXAT; nil if none
}

// parseSetOptions parses opts as Redis does for SET (forSet) or GETEX:
// each option is accepted only if it does not conflict with one before
// it, else the reply is a syntax error.
func parseSetOptions(opts [][]byte, forSet bool) (setOptions, bool) {
	var o setOptions
	for j := 0; j < len(opts); j++ {
		opt, hasNext := opts[j], j+1 < len(opts)
		f := o.flags
		switch {
		case forSet && is(opt, "nx") && f&optXX == 0:
			o.flags |= optNX
		case forSet && is(opt, "xx") && f&optNX == 0:
			o.flags |= optXX
		case forSet && is(opt, "get"):
			o.flags |= optGet
		case forSet && is(opt, "keepttl") && f&(optPersist|optExpire) == 0:
			o.flags |= optKeepTTL
		case !forSet && is(opt, "persist") && f&(optExpire|optKeepTTL) == 0:
			o.flags |= optPersist
		case is(opt, "ex") && f&(optKeepTTL|optPersist|optEXAT|optPX|optPXAT) == 0 && hasNext:
			o.flags, o.expire = o.flags|optEX, opts[j+1]
			j++
		case is(opt, "px") && f&(optKeepTTL|optPersist|optEX|optEXAT|optPXAT) == 0 && hasNext:
			o.flags, o.expire = o.flags|optPX, opts[j+1]
			j++
		case is(opt, "exat") && f&(optKeepTTL|optPersist|optEX|optPX|optPXAT) == 0 && hasNext:
			o.flags, o.expire = o.flags|optEXAT, opts[j+1]
			j++
		case is(opt, "pxat") && f&(optKeepTTL|optPersist|optEX|optEXAT|optPX) == 0 && hasNext:
			o.flags, o.expire = o.flags|optPXAT, opts[j+1]
			j++
		default:
			return o, false
		}
	}
	return o, true
}

// expireAt converts the expiry argument of SET-like commands to Unix
// milliseconds, as Redis's getExpireMillisecondsOrReply: positive, in
// range, relative for EX and PX.
func (tx *Tx) expireAt(o setOptions, cmd string) (int64, []byte) {
	ms, ok := parseInt(o.expire)
	if !ok {
		return 0, notIntegerErr
	}
	seconds := o.flags&(optEX|optEXAT) != 0
	if ms <= 0 || (seconds && ms > math.MaxInt64/1000) {
		return 0, invalidExpireErr(cmd)
	}
	if seconds {
		ms *= 1000
	}
	if o.flags&(optEX|optPX) != 0 {
		ms += tx.now // wraps on overflow, caught below as in Redis
	}
	if ms <= 0 {
		return 0, invalidExpireErr(cmd)
	}
	return ms, nil
}

// setGeneric is Redis's setGenericCommand: SET and its variants. ok and
// aborted are the replies when the value is set and when NX or XX
// prevents it, unless the GET option makes the old value the reply.
func (tx *Tx) setGeneric(cmd string, key, value []byte, o setOptions, ok, aborted []byte) []byte {
	var at int64
	if o.expire != nil {
		var errReply []byte
		if at, errReply = tx.expireAt(o, cmd); errReply != nil {
			return errReply
		}
	}
	var old []byte
	var e *entry
	if o.flags&optGet != 0 {
		e = tx.read(key)
		old = bulkOrNull(e)
	} else {
		e = tx.find(key)
	}
	if (o.flags&optNX != 0 && e != nil) || (o.flags&optXX != 0 && e == nil) {
		if old != nil {
			return old
		}
		return aborted
	}
	tx.setFound(e, key, value, at, o.flags&optKeepTTL != 0)
	if old != nil {
		return old
	}
	return ok
}

// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
func cmdSet(tx *Tx, args [][]byte) []byte {
	o, ok := parseSetOptions(args[3:], true)
	if !ok {
		return syntaxErr
	}
	return tx.setGeneric("set", args[1], args[2], o, okReply, nullReply)
}

// SETNX key value
func cmdSetNX(tx *Tx, args [][]byte) []byte {
	return tx.setGeneric("setnx", args[1], args[2], setOptions{flags: optNX}, oneReply, zeroReply)
}

// SETEX key seconds value
func cmdSetEX(tx *Tx, args [][]byte) []byte {
	return tx.setGeneric("setex", args[1], args[3], setOptions{flags: optEX, expire: args[2]}, okReply, nil)
}

// PSETEX key milliseconds value
func cmdPSetEX(tx *Tx, args [][]byte) []byte {
	return tx.setGeneric("psetex", args[1], args[3], setOptions{flags: optPX, expire: args[2]}, okReply, nil)
}

// GETSET key value: SET key value GET, without the options.
func cmdGetSet(tx *Tx, args [][]byte) []byte {
	old := bulkOrNull(tx.read(args[1]))
	tx.set(args[1], args[2], 0, false)
	return old
}

// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
func cmdGetEX(tx *Tx, args [][]byte) []byte {
	o, ok := parseSetOptions(args[2:], false)
	if !ok {
		return syntaxErr
	}
	e := tx.read(args[1])
	if e == nil {
		return nullReply
	}
	var at int64
	if o.expire != nil {
		var errReply []byte
		if at, errReply = tx.expireAt(o, "getex"); errReply != nil {
			return errReply
		}
	}
	reply := resp.AppendBulk(nil, e.value)
	switch {
	case o.flags&(optEXAT|optPXAT) != 0 && at <= tx.now:
		tx.deleteEntry(e)
	case o.expire != nil:
		tx.setExpire(e, at)
	case o.flags&optPersist != 0 && e.expireAt != 0:
		tx.setExpire(e, 0)
	}
	return reply
}

// MSET key value [key value ...]
func cmdMSet(tx *Tx, args [][]byte) []byte {
	if len(args)%2 == 0 {
		return resp.ErrWrongArity(args[0])
	}
	for i := 1; i < len(args); i += 2 {
		tx.set(args[i], args[i+1], 0, false)
	}
	return okReply
}

// MSETNX key value [key value ...]: all or none, if none exists.
func cmdMSetNX(tx *Tx, args [][]byte) []byte {
	if len(args)%2 == 0 {
		return resp.ErrWrongArity(args[0])
	}
	for i := 1; i < len(args); i += 2 {
		if tx.find(args[i]) != nil {
			return zeroReply
		}
	}
	for i := 1; i < len(args); i += 2 {
		tx.set(args[i], args[i+1], 0, false)
	}
	return oneReply
}
