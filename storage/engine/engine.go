package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	lverrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"

	"planet/internal/hlc"
	"planet/storage/wal"
)

// Errors of the engine.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrClosed   = errors.New("storage: closed")
)

// Durability says when a write's WAL record counts as durable, i.e. when
// the write may be acknowledged.
type Durability int

const (
	// DurabilityAlways fsyncs before replying; concurrent writes share
	// one fsync (group commit).
	DurabilityAlways Durability = iota
	// DurabilityInterval replies once the record is written to the
	// operating system and fsyncs every SyncInterval: a process crash
	// loses nothing, a machine crash up to SyncInterval of writes.
	DurabilityInterval
	// DurabilityNever replies once the record is written to the operating
	// system and leaves fsync to it.
	DurabilityNever
)

// ParseDurability parses always, interval or never.
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "always":
		return DurabilityAlways, nil
	case "interval":
		return DurabilityInterval, nil
	case "never":
		return DurabilityNever, nil
	}
	return 0, fmt.Errorf("want always, interval or never")
}

func (d Durability) String() string {
	return [...]string{"always", "interval", "never"}[d]
}

// DefaultCacheBytes is the default bound of the row cache.
const DefaultCacheBytes = 64 << 20

// Config configures one replica's on-disk state.
type Config struct {
	// Dir holds the WAL generations, snapshots and the goleveldb state
	// (Dir/state). Required.
	Dir string
	// Durability of acknowledged writes. Zero is DurabilityAlways.
	Durability Durability
	// SyncInterval is the fsync period of DurabilityInterval. Zero is 100ms.
	SyncInterval time.Duration
	// CompactBytes is the WAL size that starts a new generation with a
	// snapshot. Zero is 64 MiB.
	CompactBytes int64
	// TombstoneGrace is how long a tombstone is kept before compaction may
	// purge it (Cassandra's gc_grace_seconds). Zero is 10 days.
	TombstoneGrace time.Duration
	// MaxBatch is the most writes committed by one fsync. Zero is 1024.
	MaxBatch int
	// CacheBytes bounds the row cache, which keeps recently written and
	// read entries in memory in front of goleveldb. Zero is 64 MiB;
	// negative turns the cache off.
	CacheBytes int64
	// Now is the clock for tombstone ages; nil is time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// OnFsync, if set, is called with the duration of every WAL fsync.
	OnFsync func(time.Duration)
	// FS is what the WAL is written through; nil is the operating
	// system's. Tests pass a storage/wal/errorfs to fail the i-th write or
	// fsync.
	FS wal.FS
}

func (c *Config) fillDefaults() {
	if c.SyncInterval == 0 {
		c.SyncInterval = 100 * time.Millisecond
	}
	if c.CompactBytes == 0 {
		c.CompactBytes = 64 << 20
	}
	if c.TombstoneGrace == 0 {
		c.TombstoneGrace = 10 * 24 * time.Hour
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	switch {
	case c.Dir == "":
		return errors.New("storage: no data directory")
	case c.Durability < DurabilityAlways || c.Durability > DurabilityNever:
		return fmt.Errorf("storage: unknown durability %d", c.Durability)
	case c.SyncInterval < 0, c.CompactBytes < 0, c.TombstoneGrace < 0, c.MaxBatch < 0:
		return errors.New("storage: negative engine setting")
	}
	return nil
}

// Engine is one replica's durable, versioned key-value state: a WAL (the
// source of truth) materialised in goleveldb. Writes go through one
// committer goroutine that appends them to the WAL, makes them durable with
// one fsync per batch, then applies them to goleveldb; reads go straight to
// goleveldb, so they never see a write that is not yet durable.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	db    *leveldb.DB
	cache *rowCache // nil: none

	queue   chan *op
	quit    chan struct{}
	done    chan struct{}
	closing sync.Once
	bg      sync.WaitGroup // compactions

	// Owned by the committer goroutine (and Open before it starts).
	wal     *wal.Writer
	gen     uint64
	digest  [NumBuckets]uint64
	live    int64
	maxTime uint64
	dirty   bool // written since the last fsync (DurabilityInterval)

	// Committed, not yet in goleveldb (see flush): the entries (absent:
	// purged), the digest buckets they changed, and the WAL position
	// they reach.
	unflushed        map[string]*Entry
	unflushedBuckets map[int]struct{}
	unflushedBytes   int64
	applied          wal.Position
	appliedChanged   bool

	// Read by anyone.
	stats struct {
		gen        atomic.Uint64
		walBytes   atomic.Int64
		live       atomic.Int64
		maxTime    atomic.Uint64
		compacting atomic.Bool
		purged     atomic.Int64
	}
	failedErr atomic.Pointer[error] // set once the committer refuses writes
	digestMu  sync.RWMutex
	digestPub [NumBuckets]uint64 // copy of digest, guarded by digestMu

	hintMu sync.Mutex // serialises PutHint against DeleteHint of the same hint
}

// Open opens (or creates) the replica's state in cfg.Dir and recovers it:
// it replays the WAL past the last point applied to goleveldb, cutting a
// torn or corrupt tail at the last good record.
func Open(cfg Config) (*Engine, error) {
	cfg.fillDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	e := &Engine{
		cfg:   cfg,
		log:   cfg.Logger,
		queue: make(chan *op, 4*cfg.MaxBatch),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		cache: newRowCache(cfg.CacheBytes),

		unflushed:        make(map[string]*Entry),
		unflushedBuckets: make(map[int]struct{}),
	}
	db, err := openDB(filepath.Join(cfg.Dir, "state"), cfg.Logger)
	if err != nil {
		return nil, err
	}
	e.db = db
	if err := e.recover(); err != nil {
		db.Close()
		if e.wal != nil {
			e.wal.Close()
		}
		return nil, err
	}
	e.publish()
	go e.commitLoop()
	return e, nil
}

func openDB(path string, log *slog.Logger) (*leveldb.DB, error) {
	o := &opt.Options{
		NoSync:             true, // the WAL is the source of truth
		WriteBuffer:        16 << 20,
		BlockCacheCapacity: 32 << 20,
		// A key's first write and a quorum's version query look up keys
		// the state does not hold: a Bloom filter per table (10 bits a
		// key, about 1% false positives) keeps those from reading blocks.
		Filter: filter.NewBloomFilter(10),
	}
	db, err := leveldb.OpenFile(path, o)
	if lverrors.IsCorrupted(err) {
		log.Warn("state database corrupt, recovering it", "path", path, "err", err)
		db, err = leveldb.RecoverFile(path, o)
	}
	if err != nil {
		// The state is derived from the WAL: start it over.
		log.Warn("state database unusable, rebuilding it from the WAL", "path", path, "err", err)
		if rmErr := os.RemoveAll(path); rmErr != nil {
			return nil, fmt.Errorf("storage: remove state: %w", rmErr)
		}
		db, err = leveldb.OpenFile(path, o)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open state: %w", err)
	}
	return db, nil
}

// Get returns the entry of key: a value, or a tombstone (Deleted), or
// ErrNotFound if the replica holds neither. Value must not be modified.
func (e *Engine) Get(key []byte) (Entry, error) {
	if e.cache == nil {
		return e.getState(key)
	}
	cached, stamp := e.cache.get(key)
	switch {
	case cached == absent:
		return Entry{}, ErrNotFound
	case cached != nil:
		return *cached, nil
	}
	ent, err := e.getState(key)
	switch {
	case err == nil:
		e.cache.fill(key, &ent, stamp)
	case errors.Is(err, ErrNotFound):
		e.cache.fill(key, absent, stamp)
	}
	return ent, err
}

// getState reads key's entry from goleveldb.
func (e *Engine) getState(key []byte) (Entry, error) {
	b, err := e.db.Get(dataKey(nil, key), nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		if errors.Is(err, leveldb.ErrClosed) {
			return Entry{}, ErrClosed
		}
		return Entry{}, fmt.Errorf("storage: read: %w", err)
	}
	return decodeEntry(b)
}

// Mutation is a versioned write: a value, or a tombstone if Delete.
type Mutation struct {
	Key     []byte
	Value   []byte
	Version hlc.Version
	Origin  string
	Delete  bool
}

func (m *Mutation) validate() error {
	if err := wal.ValidOrigin(m.Origin); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := hlc.ValidNode(m.Version.Node); err != nil {
		return fmt.Errorf("storage: version: %w", err)
	}
	return nil
}

// Result of a mutation.
type Result struct {
	// Applied: the mutation was newer than what the replica held and is
	// now durable. If false (and Err is nil) the replica already held the
	// same or a newer version, which is just as durable.
	Applied bool
	// WasLive: before the mutation, the key had a value (not a tombstone).
	WasLive bool
	Err     error
}

// Apply writes m if its version is newer than the key's current one, and
// returns once it is durable (as the Durability setting defines it).
func (e *Engine) Apply(ctx context.Context, m Mutation) Result {
	if err := m.validate(); err != nil {
		return Result{Err: err}
	}
	o := &op{m: m, done: make(chan Result, 1)}
	select {
	case e.queue <- o:
	case <-e.quit:
		return Result{Err: ErrClosed}
	case <-ctx.Done():
		return Result{Err: ctx.Err()}
	}
	// Once queued, the write happens: wait for it even if ctx ends, so
	// that the caller never reports failure for a durable write.
	return e.wait(o)
}

// wait returns the Result of the queued op o, or ErrClosed if the
// committer stopped without answering it.
func (e *Engine) wait(o *op) Result {
	select {
	case r := <-o.done:
		return r
	case <-e.done:
		select {
		case r := <-o.done:
			return r
		default:
			return Result{Err: ErrClosed}
		}
	}
}

// ApplyFunc queues m and calls done with its Result once the write is
// durable (see Apply), from the committer goroutine: done must not block.
// It waits only for room in the queue.
func (e *Engine) ApplyFunc(m Mutation, done func(Result)) {
	if err := m.validate(); err != nil {
		done(Result{Err: err})
		return
	}
	select {
	case e.queue <- &op{m: m, cb: done}:
	case <-e.quit:
		done(Result{Err: ErrClosed})
	}
}

// Digest returns a copy of the anti-entropy digest: one hash per bucket of
// every (key, version) held, tombstones included.
func (e *Engine) Digest() [NumBuckets]uint64 {
	e.digestMu.RLock()
	defer e.digestMu.RUnlock()
	return e.digestPub
}

// Err is the error that made the engine refuse writes (a failed WAL write
// or fsync, or state database write), or nil while it is healthy.
func (e *Engine) Err() error {
	if p := e.failedErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats is a point-in-time view for metrics and INFO.
type Stats struct {
	Generation uint64
	WALBytes   int64
	Keys       int64
	Compacting bool
	Purged     int64
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{
		Generation: e.stats.gen.Load(),
		WALBytes:   e.stats.walBytes.Load(),
		Keys:       e.stats.live.Load(),
		Compacting: e.stats.compacting.Load(),
		Purged:     e.stats.purged.Load(),
	}
}

// MaxVersionTime is the highest version time the replica has applied; the
// replica's clock starts past it.
func (e *Engine) MaxVersionTime() uint64 { return e.stats.maxTime.Load() }

// Close stops the committer (pending writes are completed first), waits for
// a running compaction and closes the files. Idempotent.
func (e *Engine) Close() error {
	var err error
	e.closing.Do(func() {
		close(e.quit)
		<-e.done
		e.bg.Wait()
		if e.wal != nil {
			if serr := e.wal.Sync(); serr != nil {
				err = serr
			}
			if cerr := e.wal.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
		if cerr := e.db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	})
	return err
}

// publish copies the committer's state for readers.
func (e *Engine) publish() {
	e.stats.gen.Store(e.gen)
	if e.wal != nil {
		e.stats.walBytes.Store(e.wal.Size())
	}
	e.stats.live.Store(e.live)
	e.stats.maxTime.Store(e.maxTime)
	e.digestMu.Lock()
	e.digestPub = e.digest
	e.digestMu.Unlock()
}

// iterRange is the goleveldb range of the data entries of layout buckets
// [from, to).
func (e *Engine) iterRange(from, to int) *util.Range {
	return &util.Range{Start: bucketStart(from), Limit: bucketStart(to)}
}
