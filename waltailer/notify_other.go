//go:build !linux

package waltailer

import (
	"context"
	"errors"
)

// notifier is Linux's inotify; elsewhere the shippers poll.
type notifier struct{}

func newNotifier() (*notifier, error) { return nil, errors.New("inotify is Linux only") }

func (n *notifier) watch(string) error          { return nil }
func (n *notifier) run(context.Context, func()) {}
func (n *notifier) close()                      {}
