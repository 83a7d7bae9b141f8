package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// verifyReport is the JSON of `planet verify --json`, decoded on its own
// (not with internal/verify's types) to pin the format scripts read.
type verifyReport struct {
	Agree     bool   `json:"agree"`
	Summary   string `json:"summary"`
	Reference string `json:"reference_digest"`
	Replicas  []struct {
		Region           string `json:"region"`
		Address          string `json:"address"`
		Keys             int64  `json:"keys"`
		Digest           string `json:"digest"`
		Agrees           bool   `json:"agrees"`
		DifferingBuckets []int  `json:"differing_buckets"`
		Error            string `json:"error"`
	} `json:"replicas"`
	DifferingBuckets []int `json:"differing_buckets"`
	Samples          []struct {
		Bucket   int               `json:"bucket"`
		Key      string            `json:"key"`
		Versions map[string]string `json:"versions"`
	} `json:"samples"`
}

// planetVerify runs `planet verify` with args and returns its stdout,
// stderr and exit code.
func planetVerify(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(pt.Binary(t), append([]string{"verify"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("planet verify %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// verifyJSON runs `planet verify --json` with args and decodes its report.
func verifyJSON(t *testing.T, args ...string) (verifyReport, string, int) {
	t.Helper()
	out, stderr, code := planetVerify(t, append(args, "--json")...)
	var r verifyReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("planet verify %v: exit %d, %v\nstdout: %s\nstderr: %s", args, code, err, out, stderr)
	}
	return r, stderr, code
}

// TestVerify drives `planet verify` against a region of three replicas:
// they agree once the writes are everywhere; a key written straight into
// one replica, which anti-entropy is too slow to repair, makes verify exit
// 1 and name the bucket, the key and each replica's version; a quorum
// write of the key brings the replicas together again.
func TestVerify(t *testing.T) {
	region, rs := storageRegion(t, 3, "STORAGE_ANTI_ENTROPY_INTERVAL=1h")
	disc := region.Addr()
	ctx := context.Background()
	a := rdb(t, rs[0])
	for i := range 50 {
		mustOK(t, a.Set(ctx, fmt.Sprint("key:", i), "v", 0).Err())
	}

	r, stderr, code := verifyJSON(t, "--discovery", disc, "--wait", "20s")
	if code != 0 || !r.Agree || len(r.Replicas) != 3 {
		t.Fatalf("after writes: exit %d, %+v\nstderr: %s", code, r, stderr)
	}
	for _, rep := range r.Replicas {
		if !rep.Agrees || rep.Keys != 50 || rep.Digest != r.Reference || rep.Region != "sfo" {
			t.Errorf("replica %+v, want agreeing with 50 keys", rep)
		}
	}

	// Diverge one replica: REPL.PUT applies there and goes nowhere else.
	odd := rs[1]
	version := fmt.Sprintf("%d.0.sfo-1", time.Now().UnixMilli())
	b := rdb(t, odd)
	if n, err := b.Do(ctx, "REPL.PUT", "diverged", "x", version).Int(); err != nil || n != 1 {
		t.Fatalf("REPL.PUT into %s: %d, %v", odd.Addr(), n, err)
	}
	r, stderr, code = verifyJSON(t, "--discovery", disc)
	if code != 1 || r.Agree {
		t.Fatalf("after divergence: exit %d, agree %v, want exit 1\nstderr: %s", code, r.Agree, stderr)
	}
	if want := "1 of 3 replicas differ (1 bucket)"; !strings.Contains(stderr, want) || r.Summary != want {
		t.Errorf("summary %q, stderr %q, want %q", r.Summary, stderr, want)
	}
	if len(r.Samples) != 1 || r.Samples[0].Key != "diverged" || !slices.Equal(r.DifferingBuckets, []int{r.Samples[0].Bucket}) {
		t.Fatalf("differing buckets %v, samples %+v: want the key diverged and its bucket", r.DifferingBuckets, r.Samples)
	}
	for _, rep := range r.Replicas {
		want, agrees := "absent", true
		if rep.Address == odd.Addr() {
			want, agrees = version, false
		}
		if got := r.Samples[0].Versions[rep.Address]; got != want || rep.Agrees != agrees {
			t.Errorf("replica %s: version %q agrees %v, want %q %v", rep.Address, got, rep.Agrees, want, agrees)
		}
	}

	// The table names them too.
	out, _, code := planetVerify(t, "--discovery", disc)
	t.Logf("planet verify:\n%s", out)
	if code != 1 || !strings.Contains(out, "diverged") || !strings.Contains(out, version) || !strings.Contains(out, "absent") {
		t.Fatalf("table: exit %d\n%s", code, out)
	}

	// A quorum write through the odd replica, whose clock has seen the
	// injected version, is newer everywhere.
	mustOK(t, b.Set(ctx, "diverged", "y", 0).Err())
	r, stderr, code = verifyJSON(t, "--discovery", disc, "--wait", "20s")
	if code != 0 || !r.Agree {
		t.Fatalf("after repair: exit %d, %+v\nstderr: %s", code, r, stderr)
	}
	for _, rep := range r.Replicas {
		if rep.Keys != 51 {
			t.Errorf("replica %s holds %d keys, want 51", rep.Address, rep.Keys)
		}
	}
}
