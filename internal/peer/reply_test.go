package peer

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"
)

func TestParseReply(t *testing.T) {
	str := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name    string
		raw     string
		want    Reply
		wantErr error // errProtocol, or a *ReplyError to compare
	}{
		{name: "status", raw: "+OK\r\n", want: Reply{Kind: KindStatus, Str: str("OK")}},
		{name: "empty status", raw: "+\r\n", want: Reply{Kind: KindStatus, Str: str("")}},
		{name: "int", raw: ":-42\r\n", want: Reply{Kind: KindInt, Int: -42}},
		{name: "bulk", raw: "$5\r\nhe\r\no\r\n", want: Reply{Kind: KindBulk, Str: str("he\r\no")}},
		{name: "empty bulk", raw: "$0\r\n\r\n", want: Reply{Kind: KindBulk, Str: str("")}},
		{name: "nil bulk", raw: "$-1\r\n", want: Reply{Kind: KindNil}},
		{name: "nil array", raw: "*-1\r\n", want: Reply{Kind: KindNil}},
		{name: "empty array", raw: "*0\r\n", want: Reply{Kind: KindArray, Array: []Reply{}}},
		{
			name: "nested array",
			raw:  "*4\r\n$1\r\na\r\n$-1\r\n:7\r\n*1\r\n+x\r\n",
			want: Reply{Kind: KindArray, Array: []Reply{
				{Kind: KindBulk, Str: str("a")},
				{Kind: KindNil},
				{Kind: KindInt, Int: 7},
				{Kind: KindArray, Array: []Reply{{Kind: KindStatus, Str: str("x")}}},
			}},
		},
		{name: "error", raw: "-ERR wrong\r\n", wantErr: &ReplyError{Msg: "ERR wrong"}},
		{name: "error in array", raw: "*2\r\n:1\r\n-ERR inner\r\n", wantErr: &ReplyError{Msg: "ERR inner"}},
		{name: "empty", raw: "", wantErr: errProtocol},
		{name: "no CRLF", raw: "+OK", wantErr: errProtocol},
		{name: "bare LF", raw: "+OK\n", wantErr: errProtocol},
		{name: "unknown type", raw: "%1\r\n", wantErr: errProtocol},
		{name: "bad int", raw: ":x\r\n", wantErr: errProtocol},
		{name: "short bulk", raw: "$5\r\nab\r\n", wantErr: errProtocol},
		{name: "bulk without CRLF", raw: "$2\r\nabcd", wantErr: errProtocol},
		{name: "bad length", raw: "$-2\r\n", wantErr: errProtocol},
		{name: "huge array", raw: "*1000000\r\n:1\r\n", wantErr: errProtocol},
		{name: "short array", raw: "*2\r\n:1\r\n", wantErr: errProtocol},
		{name: "trailing bytes", raw: ":1\r\n:2\r\n", wantErr: errProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReply([]byte(tt.raw))
			var wantReply *ReplyError
			switch {
			case errors.As(tt.wantErr, &wantReply):
				var gotReply *ReplyError
				if !errors.As(err, &gotReply) || *gotReply != *wantReply {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case !reflect.DeepEqual(got, tt.want):
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseReplyStrCapacity checks that a Str aliasing the raw reply cannot
// be appended to over the bytes that follow it.
func TestParseReplyStrCapacity(t *testing.T) {
	got, err := parseReply([]byte("*2\r\n$1\r\na\r\n$1\r\nb\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got.Array[0].Str, 'X')
	if s := string(got.Array[1].Str); s != "b" {
		t.Fatalf("second element = %q after append to the first", s)
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*-1\r\n",
		"*0\r\n", "*2\r\n$1\r\na\r\n*1\r\n:2\r\n", "*1\r\n-ERR in\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The split of a merged command's reply agrees with the parse of
		// the whole: an array of n elements, each one's reply or error.
		for _, n := range []int{0, 1, 2, 3} {
			items := splitArray(raw, n)
			whole, werr := parseReply(raw)
			var replyErr *ReplyError
			if items == nil {
				if werr == nil && whole.Kind == KindArray && len(whole.Array) == n {
					t.Fatalf("splitArray(%q, %d) failed on an array of %d", raw, n, n)
				}
				continue
			}
			if werr != nil && !errors.As(werr, &replyErr) {
				t.Fatalf("splitArray(%q, %d) split what parseReply rejects: %v", raw, n, werr)
			}
			if werr == nil {
				for i, it := range items {
					if it.err != nil || !reflect.DeepEqual(it.reply, whole.Array[i]) {
						t.Fatalf("item %d = %+v, want %+v", i, it, whole.Array[i])
					}
				}
			}
		}
		got, err := parseReply(raw)
		if err != nil {
			var replyErr *ReplyError
			if !errors.Is(err, errProtocol) && !errors.As(err, &replyErr) {
				t.Fatalf("error %v is neither a protocol error nor a reply error", err)
			}
			return
		}
		again, err := parseReply(encodeReply(nil, got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("re-encoding %+v gave %+v, %v", got, again, err)
		}
	})
}

// encodeReply appends r to b in RESP2 (nil as a nil bulk string).
func encodeReply(b []byte, r Reply) []byte {
	switch r.Kind {
	case KindNil:
		return append(b, "$-1\r\n"...)
	case KindStatus:
		return append(append(append(b, '+'), r.Str...), "\r\n"...)
	case KindInt:
		return append(strconv.AppendInt(append(b, ':'), r.Int, 10), "\r\n"...)
	case KindBulk:
		b = fmt.Appendf(b, "$%d\r\n", len(r.Str))
		return append(append(b, r.Str...), "\r\n"...)
	case KindArray:
		b = fmt.Appendf(b, "*%d\r\n", len(r.Array))
		for _, el := range r.Array {
			b = encodeReply(b, el)
		}
		return b
	}
	panic("bad kind " + r.Kind.String())
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindNil: "nil", KindStatus: "status", KindInt: "int", KindBulk: "bulk", KindArray: "array", 9: "Kind(9)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

func TestToResult(t *testing.T) {
	refused := errors.New("connection refused")
	tests := []struct {
		name    string
		raw     string
		err     error
		want    Reply
		wantErr []error // all must match with errors.Is; nil for success
		isReply bool    // want a *ReplyError
	}{
		{name: "reply", raw: "+OK\r\n", want: Reply{Kind: KindStatus, Str: []byte("OK")}},
		{name: "error reply", raw: "-ERR no\r\n", isReply: true},
		{name: "transport error", err: refused, wantErr: []error{ErrUnavailable, refused}},
		{name: "garbled", raw: "%1\r\n", wantErr: []error{ErrUnavailable, errProtocol}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toResult([]byte(tt.raw), tt.err)
			var re *ReplyError
			switch {
			case tt.isReply:
				if !errors.As(got.err, &re) {
					t.Fatalf("err = %v, want a *ReplyError", got.err)
				}
			case tt.wantErr != nil:
				for _, want := range tt.wantErr {
					if !errors.Is(got.err, want) {
						t.Fatalf("err = %v, want it to wrap %v", got.err, want)
					}
				}
			case got.err != nil || !reflect.DeepEqual(got.reply, tt.want):
				t.Fatalf("got %+v, %v; want %+v", got.reply, got.err, tt.want)
			}
		})
	}
}
