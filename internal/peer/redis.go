package peer

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// generation is one go-redis client, with its pool of persistent
// connections. A Client uses one generation until a transport failure, then
// retires it and, after the backoff, dials a fresh one. That way this
// package's backoff is the only circuit: go-redis's pool has its own
// dial-failure latch, which it probes only once a second.
type generation struct {
	rdb *redis.Client

	// Guarded by Client.mu.
	users   int  // pipelines running on rdb
	retired bool // no longer Client.cur; closed when users drops to 0
}

// newGeneration returns a go-redis client for addr. It does no I/O:
// connections are dialled on first use and then kept.
func newGeneration(addr string, cfg Config) *generation {
	silenceGoRedis.Do(func() { redis.SetLogger(discardLogger{}) })
	rdb := redis.NewClient(&redis.Options{
		Addr:     addr,
		Username: cfg.Username,
		Password: cfg.Password,

		// Our peers speak RESP2 only: no HELLO (see noHello), no CLIENT
		// SETINFO, no CLIENT MAINT_NOTIFICATIONS.
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},

		// One connection per worker, kept open. PoolSize is one more than
		// needed so that the at most Conns dial failures a generation sees
		// never trip go-redis's own latch (it trips at PoolSize failures).
		// Pipelines use the main pool, not a separate pipeline pool.
		PoolSize:         cfg.Conns + 1,
		PipelinePoolSize: -1,
		ConnMaxIdleTime:  -1,

		// Retrying is the caller's decision, and one dial attempt per try:
		// Backoff paces the attempts.
		MaxRetries:    -1,
		DialerRetries: 1,

		DialTimeout:           cfg.DialTimeout,
		ReadTimeout:           cfg.IOTimeout,
		WriteTimeout:          cfg.IOTimeout,
		PoolTimeout:           cfg.IOTimeout,
		ContextTimeoutEnabled: true,
	})
	rdb.AddHook(noHello{})
	return &generation{rdb: rdb}
}

// silenceGoRedis turns off go-redis's process-wide logger, once. This
// package owns go-redis, and reports every failure in the errors it
// returns.
var silenceGoRedis sync.Once

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// noHello answers the HELLO that go-redis sends on every new connection
// with an error reply, without sending it, as a RESP2-only server would.
// go-redis then stays on RESP2. Commands sent through Do are pipelined and
// do not pass through ProcessHook.
type noHello struct{}

var _ redis.Hook = noHello{}

func (noHello) DialHook(next redis.DialHook) redis.DialHook { return next }

func (noHello) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "hello" {
			cmd.SetErr(helloNotSent{})
			return helloNotSent{}
		}
		return next(ctx, cmd)
	}
}

func (noHello) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// helloNotSent is the error reply noHello makes up. go-redis treats an
// error reply to HELLO as "server without HELLO" and carries on.
type helloNotSent struct{}

var _ redis.Error = helloNotSent{}

func (helloNotSent) Error() string { return "ERR unknown command 'HELLO' (not sent: RESP2 peer)" }
func (helloNotSent) RedisError()   {}
