package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"planet/internal/peer"
)

// cachingCmdCommand is `planet caching cmd`: one command to a cache, as
// redis-cli sends it, optionally in a replication mode and followed by
// PLANET.ACKS on the same connection. For scripts and the demo on
// machines without redis-cli.
func cachingCmdCommand() *cli.Command {
	return &cli.Command{
		Name:      "cmd",
		Usage:     "send one command to a cache and print the reply (as redis-cli)",
		ArgsUsage: "COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:10300", Usage: "the cache's `host:port`"},
			&cli.StringFlag{Name: "password", EnvVars: []string{"CACHE_PASSWORD"}, Usage: "the applications' password (AUTH), if the cache has one"},
			&cli.StringFlag{Name: "mode", Usage: "send PLANET.MODE `MODE` (eventual, quorum, strong) first: the mode of this write"},
			&cli.BoolFlag{Name: "acks", Usage: "then print the regions that acknowledged the write (PLANET.ACKS)"},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "give up after this long"},
		},
		Action: cachingCmd,
	}
}

func cachingCmd(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("planet caching cmd: no command given")
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	// One connection, so that PLANET.MODE and PLANET.ACKS apply to the
	// command; each Do returns before the next is sent.
	cl := peer.New(c.String("addr"), peer.Config{Conns: 1, MaxBatch: 1, Password: c.String("password"), IOTimeout: c.Duration("timeout")})
	defer cl.Close()
	if m := c.String("mode"); m != "" {
		if _, err := cl.Do(ctx, []byte("PLANET.MODE"), []byte(m)); err != nil {
			return fmt.Errorf("PLANET.MODE %s: %w", m, replyError(err))
		}
	}
	var args [][]byte
	for _, a := range c.Args().Slice() {
		args = append(args, []byte(a))
	}
	reply, err := cl.Do(ctx, args...)
	if err != nil {
		return replyError(err)
	}
	printReply(c.App.Writer, reply)
	if c.Bool("acks") {
		acks, err := cl.Do(ctx, []byte("PLANET.ACKS"))
		if err != nil {
			return fmt.Errorf("PLANET.ACKS: %w", replyError(err))
		}
		var names []string
		for _, a := range acks.Array {
			names = append(names, string(a.Str))
		}
		fmt.Fprintf(c.App.Writer, "acknowledged by: %s\n", strings.Join(names, " "))
	}
	return nil
}

// replyError shows an error reply as redis-cli does: "(error) MSG".
func replyError(err error) error {
	var re *peer.ReplyError
	if errors.As(err, &re) {
		return fmt.Errorf("(error) %s", re.Msg)
	}
	return err
}

// printReply prints a reply as redis-cli does when its output is not a
// terminal: values bare, nil as an empty line, one array element per line.
func printReply(w io.Writer, r peer.Reply) {
	switch r.Kind {
	case peer.KindNil:
		fmt.Fprintln(w)
	case peer.KindInt:
		fmt.Fprintln(w, r.Int)
	case peer.KindArray:
		for _, e := range r.Array {
			printReply(w, e)
		}
	default:
		fmt.Fprintln(w, string(r.Str))
	}
}
