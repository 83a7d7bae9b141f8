package discovery

import (
	"bytes"
	"context"
	"log/slog"
)

// memberlistLogWriter turns memberlist's "[LEVEL] memberlist: msg" lines
// into slog records at the matching level. Lines that report gossip
// refused for want of the right key (see gossipRejection) go to rejected
// instead, when it is set, with the sender's "host:port" if the line has
// one. (Debug lines are left alone: memberlist repeats our own failed joins
// at debug level, and Server.joined reports those.)
type memberlistLogWriter struct {
	log      *slog.Logger
	rejected func(from, reason string)
}

func (w memberlistLogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{
		"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError,
	} {
		if bytes.HasPrefix(line, []byte(prefix)) {
			level = l
			line = bytes.TrimSpace(line[len(prefix):])
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	if reason := gossipRejection(string(line)); reason != "" && w.rejected != nil && level > slog.LevelDebug {
		w.log.Debug(string(line))
		w.rejected(fromAddr(line), reason)
		return len(p), nil
	}
	w.log.Log(context.Background(), level, string(line))
	return len(p), nil
}

// fromAddr returns the value of memberlist's "from=host:port" in line, or
// "".
func fromAddr(line []byte) string {
	_, after, ok := bytes.Cut(line, []byte("from="))
	if !ok {
		return ""
	}
	if i := bytes.IndexByte(after, ' '); i >= 0 {
		after = after[:i]
	}
	return string(after)
}

// slogWriter logs each write as one record at a fixed level (for
// net/http's ErrorLog).
type slogWriter struct {
	log   *slog.Logger
	level slog.Level
}

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Log(context.Background(), w.level, string(bytes.TrimSpace(p)))
	return len(p), nil
}
