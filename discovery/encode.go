package discovery

import (
	"encoding/json"
	"strconv"
	"time"

	"planet/discovery/api"
)

// appendInstances appends list as a JSON array, byte for byte what
// encoding/json would write (plus its trailing newline), without its
// reflection: listing is the API's hot path.
func appendInstances(b []byte, list []api.Instance) []byte {
	b = append(b, '[')
	for i, in := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, in.Name)
		b = append(b, `,"address":`...)
		b = appendString(b, in.Address)
		b = append(b, `,"region":`...)
		b = appendString(b, in.Region)
		b = append(b, `,"local":`...)
		b = strconv.AppendBool(b, in.Local)
		b = append(b, `,"last_seen":"`...)
		b = in.LastSeen.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `"}`...)
	}
	return append(b, "]\n"...)
}

// appendString appends s as a JSON string. Names, addresses and regions
// are validated to plain ASCII that needs no escaping; any string that does
// goes through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
