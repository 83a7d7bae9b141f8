package resp

import (
	"fmt"
	"slices"
	"strings"
)

// RedisVersion is the version of Redis whose replies the housekeeping
// commands give, as HELLO and INFO report it: clients that check the
// server's version see this one.
const RedisVersion = "7.2.0"

// MuxConfig configures the housekeeping commands of a Mux.
type MuxConfig struct {
	// Service names the service in INFO server ("planet_service:storage");
	// empty leaves the line out.
	Service string
	// Settings are what CONFIG GET reports, in this order, and CONFIG SET
	// changes, besides the Mux's own, reported after them: requirepass
	// (Password) and, from the Server of the connection, maxclients and
	// timeout (in seconds, rounded up), which are reserved names.
	Settings []Setting
	// Info holds the service's INFO sections, reported after the Mux's
	// "server", "clients" and "stats" sections in this order, and
	// included in INFO without arguments. A section named "server",
	// "clients" or "stats" adds its fields to the Mux's section of that
	// name.
	Info []InfoSection
	// Timing measures every call: CommandStats.Usec (and INFO
	// commandstats' usec) and CLIENT LIST's idle. It costs three clock
	// reads per command, about 200ns on a KVM guest (kvm-clock). Without
	// it Usec stays 0 and idle is 0 once a connection ran a command.
	Timing bool
	// Password is the default user's password (Redis's requirepass): a
	// connection must then authenticate (AUTH password, AUTH default
	// password, HELLO 2 AUTH default password) before it runs any
	// command not flagged FlagNoAuth. Empty: no password, and every
	// connection runs as the default user from the start. CONFIG SET
	// requirepass changes it at run time; connections keep their
	// authentication.
	Password string
	// PlatformPassword is the password of the platform's user,
	// secret.PlatformUser (secret.Secret.RESPPassword): commands flagged
	// FlagInternal then run only on a connection that authenticated as
	// that user (AUTH planet password), which may also run everything
	// else. Empty: no platform user (AUTH planet fails) and internal
	// commands are open to every connection.
	PlatformPassword string
}

// The Mux's own settings (see MuxConfig.Settings).
var reservedSettings = []string{"requirepass", "maxclients", "timeout"}

// Setting is a configuration parameter of a service, for CONFIG GET and
// CONFIG SET.
type Setting struct {
	// Name is unique, in lower case ("maxmemory"). CONFIG matches it in
	// any case.
	Name string
	// Get returns the current value.
	Get func() string
	// Set changes the value, or returns why it cannot: CONFIG SET replies
	// "ERR CONFIG SET failed (possibly related to argument 'name') - "
	// followed by the error's text. Nil marks the setting read-only
	// (Redis's immutable configs).
	Set func(value string) error
}

// InfoSection is a section of INFO that a service provides.
type InfoSection struct {
	// Name is the section's name in lower case ("replication",
	// "keyspace"); INFO shows it capitalised ("# Replication").
	Name string
	// Fields adds the section's fields, in order, each as "key:value"
	// (value formatted as by fmt.Sprint).
	Fields func(add func(key string, value any))
}

// withDefaults validates c and returns a copy that owns its slices.
func (c MuxConfig) withDefaults() (MuxConfig, error) {
	seen := make(map[string]bool)
	for _, s := range c.Settings {
		switch {
		case s.Name == "" || s.Name != strings.ToLower(s.Name) || strings.ContainsAny(s.Name, " \r\n"):
			return c, fmt.Errorf("resp: MuxConfig.Settings: name %q is not a lower-case word", s.Name)
		case seen[s.Name]:
			return c, fmt.Errorf("resp: MuxConfig.Settings: %q given twice", s.Name)
		case slices.Contains(reservedSettings, s.Name):
			return c, fmt.Errorf("resp: MuxConfig.Settings: %q is the Mux's own", s.Name)
		case s.Get == nil:
			return c, fmt.Errorf("resp: MuxConfig.Settings: %q has no Get", s.Name)
		}
		seen[s.Name] = true
	}
	sections := make(map[string]bool)
	for _, sec := range c.Info {
		switch {
		case sec.Name == "" || sec.Name != strings.ToLower(sec.Name) || strings.ContainsAny(sec.Name, " \r\n"):
			return c, fmt.Errorf("resp: MuxConfig.Info: name %q is not a lower-case word", sec.Name)
		case sec.Name == "commandstats" || isInfoGroup(sec.Name):
			return c, fmt.Errorf("resp: MuxConfig.Info: %q is reserved", sec.Name)
		case sections[sec.Name]:
			return c, fmt.Errorf("resp: MuxConfig.Info: %q given twice", sec.Name)
		case sec.Fields == nil:
			return c, fmt.Errorf("resp: MuxConfig.Info: %q has no Fields", sec.Name)
		}
		sections[sec.Name] = true
	}
	c.Settings = append([]Setting(nil), c.Settings...)
	c.Info = append([]InfoSection(nil), c.Info...)
	return c, nil
}

// findSetting returns the setting name (any case) of settings, or nil.
func findSetting(settings []Setting, name []byte) *Setting {
	for i := range settings {
		if equalFold(settings[i].Name, string(name)) {
			return &settings[i]
		}
	}
	return nil
}
