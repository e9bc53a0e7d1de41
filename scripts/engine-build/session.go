// Command dagger-session serves a Dagger API session for SDK clients, like `dagger session`:
// it connects to the engine named by _EXPERIMENTAL_DAGGER_RUNNER_HOST, listens on 127.0.0.1,
// prints {"port":…,"session_token":…} on stdout and serves until stdin closes or it is signalled.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/dagger/dagger/engine/client"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "session" {
		fmt.Fprintln(os.Stderr, "usage: dagger session [--label K:V]... (this build serves SDK sessions only)")
		os.Exit(2)
	}
	if err := serve(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "dagger session:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context) error {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)

	token := uuid.NewString()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { <-stop; l.Close() }()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); l.Close() }()

	sess, err := client.Connect(ctx, client.Params{
		SecretToken: token,
		RunnerHost:  os.Getenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST"),
	})
	if err != nil {
		return fmt.Errorf("connect to engine: %w", err)
	}
	defer sess.Close()

	params, err := json.Marshal(map[string]any{"port": l.Addr().(*net.TCPAddr).Port, "session_token": token})
	if err != nil {
		return err
	}
	if _, err := os.Stdout.Write(append(params, '\n')); err != nil {
		return err
	}
	srv := http.Server{Handler: sess, ReadHeaderTimeout: 30 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	if err := srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
