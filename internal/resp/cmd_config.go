package resp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

func (m *Mux) configCommands() []Command {
	return []Command{
		{Name: "get", Arity: -3, Flags: FlagAdmin, Summary: "Reply the settings whose names match a glob-like pattern, with their values: GET pattern [pattern ...].", Run: m.cmdConfigGet},
		{Name: "set", Arity: -4, Flags: FlagAdmin, Summary: "Change settings, all or none: SET name value [name value ...].", Run: m.cmdConfigSet},
	}
}

// cmdConfigGet: CONFIG GET pattern [pattern ...], a flat array of name and
// value pairs, each setting once, matched as Redis does (glob, any case).
func (m *Mux) cmdConfigGet(_ context.Context, c *Conn, args [][]byte) []byte {
	var pairs []string
	all := m.settings(c)
	seen := make([]bool, len(all))
	for _, pattern := range args[2:] {
		for i, s := range all {
			if !seen[i] && globMatch(pattern, []byte(s.Name), true) {
				seen[i] = true
				pairs = append(pairs, s.Name, s.Get())
			}
		}
	}
	b := AppendArray(nil, len(pairs))
	for _, p := range pairs {
		b = AppendBulkString(b, p)
	}
	return b
}

// cmdConfigSet: CONFIG SET name value [name value ...], as Redis 7: every
// name is checked first (unknown, read-only, given twice), then the values
// are set in order; if one fails, those set before it are set back.
func (m *Mux) cmdConfigSet(_ context.Context, c *Conn, args [][]byte) []byte {
	if len(args)%2 != 0 {
		return syntaxErrReply
	}
	all := m.settings(c)
	n := (len(args) - 2) / 2
	settings := make([]*Setting, n)
	var invalid []byte
	for i := range n {
		name := args[2+2*i]
		s := findSetting(all, name)
		if s == nil {
			return AppendError(nil, "ERR Unknown option or number of arguments for CONFIG SET - '"+string(cString(name, maxQuoted))+"'")
		}
		switch {
		case invalid != nil:
		case s.Set == nil:
			invalid = configSetError(name, "can't set immutable config")
		case containsSetting(settings[:i], s):
			invalid = configSetError(name, "duplicate parameter")
		}
		settings[i] = s
	}
	if invalid != nil {
		return invalid
	}
	old := make([]string, n)
	for i, s := range settings {
		old[i] = s.Get()
	}
	for i, s := range settings {
		if err := s.Set(string(args[3+2*i])); err != nil {
			for j := i - 1; j >= 0; j-- {
				settings[j].Set(old[j]) // best effort, as Redis's restore
			}
			return configSetError(args[2+2*i], err.Error())
		}
	}
	return okReply
}

func containsSetting(settings []*Setting, s *Setting) bool {
	for _, t := range settings {
		if t == s {
			return true
		}
	}
	return false
}

func configSetError(name []byte, msg string) []byte {
	return AppendError(nil, fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", cString(name, maxQuoted), msg))
}

// settings returns the service's settings, then the Mux's own:
// requirepass, and maxclients and timeout of c's Server (if c has one).
func (m *Mux) settings(c *Conn) []Setting {
	all := append(make([]Setting, 0, len(m.cfg.Settings)+3), m.cfg.Settings...)
	all = append(all, Setting{Name: "requirepass", Get: m.Password, Set: func(v string) error {
		m.setPassword(v)
		return nil
	}})
	if c == nil || c.srv == nil {
		return all
	}
	srv := c.srv
	return append(all,
		Setting{Name: "maxclients", Get: func() string { return strconv.Itoa(srv.MaxClients()) }, Set: func(v string) error {
			n, err := parseConfigInt(v)
			if err != nil {
				return err
			}
			return srv.SetMaxClients(int(min(max(n, -1), maxMaxClients+1)))
		}},
		Setting{Name: "timeout", Get: func() string {
			d := srv.IdleTimeout()
			return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
		}, Set: func(v string) error {
			n, err := parseConfigInt(v)
			if err != nil {
				return err
			}
			if n < 0 || n > maxIdleTimeoutSecs {
				return errors.New("argument must be between 0 and 2147483647 inclusive")
			}
			return srv.SetIdleTimeout(time.Duration(n) * time.Second)
		}},
	)
}

// parseConfigInt parses an integer setting as Redis's CONFIG SET does.
func parseConfigInt(v string) (int64, error) {
	n, ok := parseRedisInt([]byte(v))
	if !ok {
		return 0, errors.New("argument couldn't be parsed into an integer")
	}
	return n, nil
}
