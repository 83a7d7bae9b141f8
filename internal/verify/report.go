package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Absent is a sample's version for a replica that holds no entry (value
// or tombstone) of the key.
const Absent = "absent"

// maxTableBuckets bounds the differing buckets WriteTable names.
const maxTableBuckets = 32

// Report is the outcome of one comparison. In JSON it also has "agree"
// (Agree) and "summary" (Summary).
type Report struct {
	// Reference is the short form of the digest the most replicas hold
	// (16 hex digits of its FNV-1a hash); empty if no replica answered.
	Reference string `json:"reference_digest"`
	// Replicas are every storage replica listed, by region then address.
	Replicas []Replica `json:"replicas"`
	// DifferingBuckets are the digest buckets in which some replica
	// differs from the reference, ascending.
	DifferingBuckets []int `json:"differing_buckets"`
	// Samples are keys of the differing buckets whose versions differ
	// between replicas, by bucket then key; at most Config.Sample.
	Samples []Sample `json:"samples"`
}

// Replica is one storage replica in a Report.
type Replica struct {
	Region  string `json:"region"`
	Address string `json:"address"`
	// Keys is the replica's live keys (DBSIZE); 0 if it did not answer.
	Keys int64 `json:"keys"`
	// Digest is the short form of the replica's digest, as Reference;
	// empty if it did not answer.
	Digest string `json:"digest,omitempty"`
	// Agrees says that the replica answered and holds the reference.
	Agrees bool `json:"agrees"`
	// DifferingBuckets are the buckets in which the replica's digest
	// differs from the reference.
	DifferingBuckets []int `json:"differing_buckets,omitempty"`
	// Error says why the replica could not be compared (unreachable, or
	// a failed command); the replica then does not agree.
	Error string `json:"error,omitempty"`
}

// fail records that the replica could not be read.
func (r *Replica) fail(err error) {
	r.Agrees = false
	if r.Error == "" {
		r.Error = err.Error()
	}
}

// Sample is one key whose versions differ between replicas.
type Sample struct {
	Bucket int    `json:"bucket"`
	Key    string `json:"key"`
	// Versions is each replica's version of the key (hlc text form) or
	// Absent, by replica address; replicas that could not be read are
	// left out.
	Versions map[string]string `json:"versions"`
}

// Agree reports whether there is at least one replica and every replica
// answered and holds the same digest.
func (r Report) Agree() bool {
	if len(r.Replicas) == 0 {
		return false
	}
	for _, rep := range r.Replicas {
		if !rep.Agrees {
			return false
		}
	}
	return true
}

// Summary says in one line whether the replicas agree: "all 9 replicas
// agree (digest 1f2e3d4c5b6a7988)", or "2 of 9 replicas differ (12
// buckets; 1 unreachable)".
func (r Report) Summary() string {
	n := len(r.Replicas)
	switch {
	case n == 0:
		return "no storage replicas registered"
	case r.Reference == "":
		return fmt.Sprintf("no replica answered (%d unreachable)", n)
	case r.Agree() && n == 1:
		return fmt.Sprintf("the only replica answered (digest %s)", r.Reference)
	case r.Agree():
		return fmt.Sprintf("all %d replicas agree (digest %s)", n, r.Reference)
	}
	differ, failed := 0, 0
	for _, rep := range r.Replicas {
		if !rep.Agrees {
			differ++
		}
		if rep.Error != "" {
			failed++
		}
	}
	var detail []string
	if len(r.DifferingBuckets) > 0 {
		detail = append(detail, plural(len(r.DifferingBuckets), "bucket"))
	}
	if failed > 0 {
		detail = append(detail, fmt.Sprintf("%d unreachable", failed))
	}
	return fmt.Sprintf("%d of %d replicas differ (%s)", differ, n, strings.Join(detail, "; "))
}

// MarshalJSON encodes the report with "agree" and "summary" first.
func (r Report) MarshalJSON() ([]byte, error) {
	type fields Report // without this method
	return json.Marshal(struct {
		Agree   bool   `json:"agree"`
		Summary string `json:"summary"`
		fields
	}{r.Agree(), r.Summary(), fields(r)})
}

// WriteTable writes the report for people: one line per replica, then
// the differing buckets and the sampled keys with each replica's version.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tREPLICA\tKEYS\tDIGEST\tAGREES")
	for _, rep := range r.Replicas {
		keys, digest := strconv.FormatInt(rep.Keys, 10), rep.Digest
		if digest == "" {
			keys, digest = "-", "-"
		}
		agrees := "yes"
		switch {
		case rep.Error != "":
			agrees = "no: " + rep.Error
		case !rep.Agrees:
			agrees = "no: " + plural(len(rep.DifferingBuckets), "bucket") + " differ"
			if len(rep.DifferingBuckets) == 1 {
				agrees += "s"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", rep.Region, rep.Address, keys, digest, agrees)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.DifferingBuckets) > 0 {
		fmt.Fprintf(tw, "\ndiffering buckets (%d): %s\n", len(r.DifferingBuckets), bucketList(r.DifferingBuckets))
	}
	if len(r.Samples) > 0 {
		fmt.Fprintln(tw, "\nBUCKET\tKEY\tREGION\tREPLICA\tVERSION")
		for _, s := range r.Samples {
			bucket, key := strconv.Itoa(s.Bucket), displayKey(s.Key)
			for _, rep := range r.Replicas {
				v, ok := s.Versions[rep.Address]
				if !ok {
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", bucket, key, rep.Region, rep.Address, v)
				bucket, key = "", ""
			}
		}
	}
	return tw.Flush()
}

// bucketList lists buckets separated by spaces, the first
// maxTableBuckets only.
func bucketList(buckets []int) string {
	var b strings.Builder
	for i, n := range buckets {
		if i == maxTableBuckets {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// displayKey returns key as is if it is printable ASCII without spaces,
// else quoted as a Go string.
func displayKey(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' || key[i] == '"' {
			return strconv.Quote(key)
		}
	}
	if key == "" {
		return `""`
	}
	return key
}

// plural returns "1 bucket", "2 buckets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
