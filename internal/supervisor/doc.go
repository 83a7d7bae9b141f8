// Package supervisor runs a set of child processes on one machine — the
// whole three-region platform behind `planet dev` — and lets a demo script
// or test kill, pause, resume and restart any one of them.
//
// Each child is described by a [Spec] and named "region/service" (for
// example "sfo/discovery"). [Supervisor.Run] starts every child, copies
// their stdout and stderr line by line to one writer with a "sfo/discovery | "
// prefix, and on shutdown stops them all (SIGTERM, then SIGKILL after
// Config.StopTimeout) before returning.
//
// Invariants:
//
//   - A child that exits on its own stays down until [Supervisor.Start] is
//     called; the supervisor never restarts anything by itself.
//   - Every child runs in its own process group (so a Ctrl-C in the terminal
//     reaches only the supervisor) and, on Linux, gets SIGKILL if the
//     supervisor dies. Signals are sent to the child's whole process group.
//   - At most one instance of each child is alive at a time.
//   - Run does not return until every child has been reaped and its output
//     copied, so no goroutine it started outlives it.
//
// [Supervisor.Handler] serves a small JSON control API, and [Client] calls it.
package supervisor
