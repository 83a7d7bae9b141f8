package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
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
	rdb := redis.NewClient(&redis.Options{Addr: c.String("addr"), Password: c.String("password"), Protocol: 2,
		DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
	defer rdb.Close()
	conn := rdb.Conn()
	defer conn.Close()
	if m := c.String("mode"); m != "" {
		if err := conn.Do(ctx, "PLANET.MODE", m).Err(); err != nil {
			return fmt.Errorf("PLANET.MODE %s: %w", m, err)
		}
	}
	args := make([]any, c.NArg())
	for i, a := range c.Args().Slice() {
		args[i] = a
	}
	reply, err := conn.Do(ctx, args...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			return fmt.Errorf("(error) %w", err) // as redis-cli shows it; exit status 1
		}
		return err
	}
	printReply(c.App.Writer, reply, err)
	if c.Bool("acks") {
		acks, err := conn.Do(ctx, "PLANET.ACKS").StringSlice()
		if err != nil {
			return fmt.Errorf("PLANET.ACKS: %w", err)
		}
		fmt.Fprintf(c.App.Writer, "acknowledged by: %s\n", strings.Join(acks, " "))
	}
	return nil
}

// printReply prints a reply as redis-cli does when its output is not a
// terminal: values bare, one array element per line.
func printReply(w io.Writer, v any, err error) {
	switch v := v.(type) {
	case nil:
		if errors.Is(err, redis.Nil) {
			fmt.Fprintln(w)
		}
	case []any:
		for _, e := range v {
			printReply(w, e, nil)
		}
	default:
		fmt.Fprintln(w, v)
	}
}
