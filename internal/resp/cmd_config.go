package resp

import (
	"context"
	"fmt"
)

func (m *Mux) configCommands() []Command {
	return []Command{
		{Name: "get", Arity: -3, Flags: FlagAdmin, Summary: "Reply the settings whose names match a glob-like pattern, with their values: GET pattern [pattern ...].", Run: m.cmdConfigGet},
		{Name: "set", Arity: -4, Flags: FlagAdmin, Summary: "Change settings, all or none: SET name value [name value ...].", Run: m.cmdConfigSet},
	}
}

// cmdConfigGet: CONFIG GET pattern [pattern ...], a flat array of name and
// value pairs, each setting once, matched as Redis does (glob, any case).
func (m *Mux) cmdConfigGet(_ context.Context, _ *Conn, args [][]byte) []byte {
	var pairs []string
	seen := make([]bool, len(m.cfg.Settings))
	for _, pattern := range args[2:] {
		for i, s := range m.cfg.Settings {
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
func (m *Mux) cmdConfigSet(_ context.Context, _ *Conn, args [][]byte) []byte {
	if len(args)%2 != 0 {
		return syntaxErrReply
	}
	n := (len(args) - 2) / 2
	settings := make([]*Setting, n)
	var invalid []byte
	for i := range n {
		name := args[2+2*i]
		s := m.cfg.setting(name)
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
