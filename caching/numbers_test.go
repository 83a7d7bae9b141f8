package caching

import (
	"math"
	"testing"
)

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true}, {"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false}, {"", 0, false}, {"-", 0, false}, {"-0", 0, false},
		{"01", 0, false}, {"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1.0", 0, false},
		{"99999999999999999999", 0, false}, {"000000000000000000001", 0, false},
	} {
		got, ok := parseInt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFloatsAsRedis(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.5", "10.5"}, {"0.1", "0.1"}, {"-0", "0"}, {"3.0", "3"}, {"1e2", "100"}, {"5.", "5"},
		{".5", "0.5"}, {"0x10", "16"}, {"1.23456789012345678", "1.23456789012345678"},
		{"3e-5", "0.00003"},
	} {
		f, ok := parseFloat([]byte(tc.in))
		if !ok {
			t.Errorf("parseFloat(%q) failed", tc.in)
			continue
		}
		if got := formatFloat(f); got != tc.want {
			t.Errorf("formatFloat(parseFloat(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", " 1", "abc", "nan", "1_0", "1e99999", "0b101", "1x"} {
		if _, ok := parseFloat([]byte(bad)); ok {
			t.Errorf("parseFloat(%q) succeeded", bad)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"100", 100, true}, {"1k", 1000, true}, {"1kb", 1024, true}, {"2MB", 2 << 20, true},
		{"1g", 1e9, true}, {"1gb", 1 << 30, true}, {"5b", 5, true}, {"-1", 0, false}, {"x", 0, false}, {"1tb", 0, false},
	} {
		got, err := ParseMemory(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseSetOptions(t *testing.T) {
	for _, tc := range []struct {
		opts   []string
		forSet bool
		flags  int
		ok     bool
	}{
		{nil, true, 0, true},
		{[]string{"nx", "GET"}, true, optNX | optGet, true},
		{[]string{"NX", "XX"}, true, 0, false},
		{[]string{"EX", "1", "EX", "2"}, true, optEX, true},
		{[]string{"EX", "1", "PX", "2"}, true, 0, false},
		{[]string{"KEEPTTL", "PXAT", "2"}, true, 0, false},
		{[]string{"EX"}, true, 0, false},
		{[]string{"PERSIST"}, true, 0, false},
		{[]string{"PERSIST"}, false, optPersist, true},
		{[]string{"NX"}, false, 0, false},
		{[]string{"EXAT", "5", "PERSIST"}, false, 0, false},
	} {
		var args [][]byte
		for _, o := range tc.opts {
			args = append(args, []byte(o))
		}
		got, ok := parseSetOptions(args, tc.forSet)
		if ok != tc.ok || (ok && got.flags != tc.flags) {
			t.Errorf("parseSetOptions(%q, %v) = %b, %v; want %b, %v", tc.opts, tc.forSet, got.flags, ok, tc.flags, tc.ok)
		}
	}
}
