package waltailer

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"
)

// notifier wakes the shippers when a storage replica writes to its WAL
// directory (inotify: IN_MODIFY of a log, IN_CREATE of a new generation),
// so that a record is read within a few milliseconds of its write without
// polling fast. Shippers still poll every PollMax as a backstop.
type notifier struct {
	fd   int
	once sync.Once
}

func newNotifier() (*notifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &notifier{fd: fd}, nil
}

func (n *notifier) watch(dir string) error {
	_, err := unix.InotifyAddWatch(n.fd, dir, unix.IN_MODIFY|unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE)
	return err
}

// run calls wake after every burst of events until ctx ends.
func (n *notifier) run(ctx context.Context, wake func()) {
	var buf [8192]byte
	for ctx.Err() == nil {
		pfd := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}}
		k, err := unix.Poll(pfd, 100) // ms: notice ctx
		if err != nil && err != unix.EINTR {
			return
		}
		if k <= 0 {
			continue
		}
		for {
			r, err := unix.Read(n.fd, buf[:])
			if r <= 0 || err != nil {
				break
			}
		}
		wake()
	}
}

func (n *notifier) close() {
	n.once.Do(func() { unix.Close(n.fd) })
}
