package planettest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// KVInput is one operation on a key-value store, as a linearizability
// check sees it: a GET of Key, or a SET of Key to Value.
type KVInput struct {
	Set   bool
	Key   string
	Value string // what a SET writes; unique per SET so that a read names its write
}

// KVOutput is what an operation returned.
type KVOutput struct {
	Value   string // the value a GET returned
	Found   bool   // false: the GET returned nil (the key is absent)
	Unknown bool   // a SET that got an error or no reply: it may have taken effect
}

// KVModel is the sequential specification of a key-value store for
// porcupine: one register per key, partitioned by key. A GET returns the
// value of the last SET linearized before it, or nil if there is none; a
// SET always succeeds (an unknown-outcome SET is in the history only if it
// may have taken effect). The state of a partition is the register's value,
// "" for absent, so SET values must not be empty.
func KVModel() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByKey,
		Init:      func() any { return "" },
		Step: func(state, input, output any) (bool, any) {
			in, out := input.(KVInput), output.(KVOutput)
			if in.Set {
				return true, in.Value
			}
			cur := state.(string)
			return out.Found == (cur != "") && out.Value == cur, state
		},
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			h.Write([]byte(state.(string)))
			return h.Sum64()
		},
		DescribeOperation: describeKVOperation,
		DescribeState: func(state any) string {
			if state.(string) == "" {
				return "nil"
			}
			return fmt.Sprintf("%q", state)
		},
		DescribeOperationMetadata: func(info any) string {
			if info == nil {
				return ""
			}
			return fmt.Sprint(info)
		},
	}
}

func describeKVOperation(input, output any) string {
	in, out := input.(KVInput), output.(KVOutput)
	switch {
	case in.Set && out.Unknown:
		return fmt.Sprintf("set(%q, %q) -> ?", in.Key, in.Value)
	case in.Set:
		return fmt.Sprintf("set(%q, %q)", in.Key, in.Value)
	case !out.Found:
		return fmt.Sprintf("get(%q) -> nil", in.Key)
	default:
		return fmt.Sprintf("get(%q) -> %q", in.Key, out.Value)
	}
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(KVInput).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	sort.Strings(keys)
	parts := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, byKey[k])
	}
	return parts
}

// KVHistory records the operations of concurrent clients, with call and
// return times on one monotonic clock, for a linearizability check.
//
// An operation that got a reply is recorded with its call and return times.
// A SET that got an error or no reply has an unknown outcome: it is recorded
// as returning at the end of the history, so that it may take effect at any
// point after its call. A GET that got an error, and a SET that was never
// sent (the connection could not be opened), have no effect and are only
// counted.
type KVHistory struct {
	start time.Time

	mu          sync.Mutex
	ops         []porcupine.Operation  // guarded by mu
	unknown     []int                  // guarded by mu; indexes in ops
	failedGets  int                    // guarded by mu
	unsentSets  int                    // guarded by mu
	annotations []porcupine.Annotation // guarded by mu
}

// NewKVHistory starts an empty history; its clock starts now.
func NewKVHistory() *KVHistory { return &KVHistory{start: time.Now()} }

// Now is the history's clock: nanoseconds since it started.
func (h *KVHistory) Now() int64 { return int64(time.Since(h.start)) }

// Add records an operation by client that returned out; call is Now()
// taken before the request was sent. meta is shown in the visualization.
func (h *KVHistory) Add(client int, in KVInput, out KVOutput, call int64, meta string) {
	ret := h.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out,
		Call: call, Return: ret, Metadata: meta})
}

// AddUnknown records a SET by client that got an error or no reply.
func (h *KVHistory) AddUnknown(client int, in KVInput, call int64, meta string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unknown = append(h.unknown, len(h.ops))
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: KVOutput{Unknown: true},
		Call: call, Metadata: meta})
}

// DropFailedGet counts a GET that got an error.
func (h *KVHistory) DropFailedGet() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failedGets++
}

// DropUnsentSet counts a SET that was never sent.
func (h *KVHistory) DropUnsentSet() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsentSets++
}

// Annotate marks an event of the test (a fault) from start to end (Now()
// values) on the visualization's timeline under tag.
func (h *KVHistory) Annotate(tag, description string, start, end int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.annotations = append(h.annotations, porcupine.Annotation{Tag: tag, Description: description,
		Start: start, End: end, BackgroundColor: "#ffd6d6"})
}

// KVStats counts what a history holds.
type KVStats struct {
	Operations int // in the history checked, unknown-outcome SETs included
	Gets, Sets int
	Unknown    int // SETs with an unknown outcome
	FailedGets int // GETs that got an error, left out
	UnsentSets int // SETs never sent, left out
}

func (s KVStats) String() string {
	return fmt.Sprintf("%d operations (%d GET, %d SET), %d unknown-outcome writes; left out: %d failed GETs, %d unsent SETs",
		s.Operations, s.Gets, s.Sets, s.Unknown, s.FailedGets, s.UnsentSets)
}

// Close ends the history: every unknown-outcome SET returns now, after
// every recorded operation. Call it once all clients have stopped; it
// returns the operations and their counts.
func (h *KVHistory) Close() ([]porcupine.Operation, KVStats) {
	end := h.Now() + 1
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, i := range h.unknown {
		h.ops[i].Return = end
	}
	st := KVStats{Operations: len(h.ops), Unknown: len(h.unknown), FailedGets: h.failedGets, UnsentSets: h.unsentSets}
	for _, op := range h.ops {
		if op.Input.(KVInput).Set {
			st.Sets++
		} else {
			st.Gets++
		}
	}
	return append([]porcupine.Operation(nil), h.ops...), st
}

// Annotations returns the annotations recorded so far.
func (h *KVHistory) Annotations() []porcupine.Annotation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Annotation(nil), h.annotations...)
}

// KVCheck is the outcome of CheckKV.
type KVCheck struct {
	Result        porcupine.CheckResult // Unknown: the check timed out
	Visualization string                // where the visualization was saved, if Result is Illegal
	Took          time.Duration
}

// CheckKV checks that ops are linearizable under KVModel, giving porcupine
// at most timeout. If they are not, it saves porcupine's visualization of
// the history (with annotations on its timeline) at ArtifactPath(prefix).
func CheckKV(prefix string, ops []porcupine.Operation, annotations []porcupine.Annotation, timeout time.Duration) (KVCheck, error) {
	model := KVModel()
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	chk := KVCheck{Result: res, Took: time.Since(start)}
	if res != porcupine.Illegal {
		return chk, nil
	}
	info.AddAnnotations(annotations)
	path, err := ArtifactPath(prefix)
	if err != nil {
		return chk, err
	}
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return chk, fmt.Errorf("saving the visualization: %w", err)
	}
	chk.Visualization = path
	return chk, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// ArtifactPath returns a path for a file a test leaves behind for people to
// read: prefix-<unix seconds>.html under $PLANET_ARTIFACTS if set (created
// if needed), else under os.TempDir(). An existing file is never reused.
func ArtifactPath(prefix string) (string, error) {
	dir := os.Getenv("PLANET_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := fmt.Sprintf("%s-%d", unsafeName.ReplaceAllString(prefix, "_"), time.Now().Unix())
	for i := 1; ; i++ {
		name := base + ".html"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.html", base, i)
		}
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		} else if err != nil {
			return "", err
		}
	}
}
