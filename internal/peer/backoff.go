package peer

import (
	"fmt"
	"time"
)

// backoff is the failure window of one peer: after a transport failure at
// time t, the peer counts as down until t plus the window, and commands fail
// fast instead of dialling. When the window has passed, commands go to the
// peer again; the first success clears the backoff, another failure opens a
// new window.
type backoff struct {
	until time.Time // end of the window; zero when there was no failure since the last success
	cause error     // the failure that opened the window
}

// openBackoff returns the backoff after a failure with cause at now.
func openBackoff(now time.Time, window time.Duration, cause error) backoff {
	return backoff{until: now.Add(window), cause: cause}
}

// isSet reports whether a failure happened since the last success.
func (b backoff) isSet() bool { return !b.until.IsZero() }

// blocked returns the error to fail a command with at now, or nil when the
// command may go to the peer.
func (b backoff) blocked(now time.Time) error {
	if b.isSet() && now.Before(b.until) {
		return fmt.Errorf("%w: backing off until %s after: %w",
			ErrUnavailable, b.until.Format(time.StampMilli), b.cause)
	}
	return nil
}
