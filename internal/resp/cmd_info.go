package resp

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// isMuxSection reports whether name is a section of the Mux's own, to
// which a service's section of that name adds its fields.
func isMuxSection(name string) bool {
	return name == "server" || name == "clients" || name == "stats"
}

// isInfoGroup reports whether name selects several INFO sections.
func isInfoGroup(name string) bool {
	return name == "default" || name == "all" || name == "everything"
}

// cmdInfo: INFO [section ...]. Without a section, or with "default", the
// Mux's server, clients and stats sections and the service's sections; "all"
// and "everything" add commandstats. Unknown sections are left out, so
// INFO of nothing known is an empty string, as in Redis.
func (m *Mux) cmdInfo(_ context.Context, c *Conn, args [][]byte) []byte {
	want, stats := infoSelection(args[1:])
	var w infoWriter
	if want("server") {
		w.section("server")
		m.serverInfo(&w, c)
		m.serviceFields(&w, "server")
	}
	if want("clients") {
		w.section("clients")
		if c != nil && c.srv != nil {
			w.field("connected_clients", c.srv.Connections())
			w.field("maxclients", c.srv.MaxClients())
		}
		m.serviceFields(&w, "clients")
	}
	if want("stats") {
		w.section("stats")
		if c != nil && c.srv != nil {
			w.field("total_connections_received", c.srv.TotalConnections())
			w.field("rejected_connections", c.srv.RejectedConnections())
		}
		w.field("acl_access_denied_auth", m.AuthFailures())
		w.field("acl_access_denied_cmd", m.DeniedCommands())
		m.serviceFields(&w, "stats")
	}
	for _, sec := range m.cfg.Info {
		if !isMuxSection(sec.Name) && want(sec.Name) {
			w.section(sec.Name)
			sec.Fields(w.field)
		}
	}
	if stats {
		w.section("commandstats")
		m.commandStatsInfo(&w)
	}
	return AppendBulk(nil, w.b)
}

// infoSelection returns which of the default sections INFO's arguments
// select, and whether they select commandstats.
func infoSelection(args [][]byte) (want func(section string) bool, stats bool) {
	if len(args) == 0 {
		return func(string) bool { return true }, false
	}
	names := make(map[string]bool)
	for _, a := range args {
		names[strings.ToLower(string(a))] = true
	}
	all := names["all"] || names["everything"]
	dflt := all || names["default"]
	return func(name string) bool { return dflt || names[name] }, all || names["commandstats"]
}

func (m *Mux) serverInfo(w *infoWriter, c *Conn) {
	now := time.Now()
	uptime := int64(now.Sub(m.created) / time.Second)
	port := 0
	if c != nil && c.srv != nil {
		if a, ok := c.srv.Addr().(*net.TCPAddr); ok {
			port = a.Port
		}
	}
	w.field("redis_version", RedisVersion)
	w.field("redis_mode", "standalone")
	w.field("os", runtime.GOOS+" "+runtime.GOARCH)
	w.field("arch_bits", strconv.IntSize)
	w.field("go_version", runtime.Version())
	w.field("process_id", os.Getpid())
	w.field("tcp_port", port)
	w.field("server_time_usec", now.UnixMicro())
	w.field("uptime_in_seconds", uptime)
	w.field("uptime_in_days", uptime/(24*3600))
	if m.cfg.Service != "" {
		w.field("planet_service", m.cfg.Service)
	}
}

// serviceFields adds the fields of the service's section name, if any.
func (m *Mux) serviceFields(w *infoWriter, name string) {
	for _, sec := range m.cfg.Info {
		if sec.Name == name {
			sec.Fields(w.field)
		}
	}
}

// commandStatsInfo writes Redis's commandstats lines for the commands
// called at least once.
func (m *Mux) commandStatsInfo(w *infoWriter) {
	for name, st := range m.Stats() {
		if st.Calls() == 0 && st.Rejected == 0 {
			continue
		}
		perCall := 0.0
		if st.Calls() > 0 {
			perCall = float64(st.Usec) / float64(st.Calls())
		}
		w.field("cmdstat_"+name, fmt.Sprintf("calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d",
			st.Calls(), st.Usec, perCall, st.Rejected, st.Failed))
	}
}

// infoWriter builds INFO's text: sections "# Name" of "key:value" lines,
// separated by an empty line, every line ended by \r\n.
type infoWriter struct {
	b        []byte
	sections int
}

func (w *infoWriter) section(name string) {
	if w.sections > 0 {
		w.b = append(w.b, "\r\n"...)
	}
	w.sections++
	w.b = append(w.b, "# "...)
	w.b = append(w.b, strings.ToUpper(name[:1])...)
	w.b = append(w.b, name[1:]...)
	w.b = append(w.b, "\r\n"...)
}

func (w *infoWriter) field(key string, value any) {
	w.b = append(w.b, key...)
	w.b = append(w.b, ':')
	w.b = fmt.Append(w.b, value)
	w.b = append(w.b, "\r\n"...)
}
