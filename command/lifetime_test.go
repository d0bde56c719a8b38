package command_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/shianfood/shian/command"
)

// TestCloseWaitsForTheLoops: Close stops ListenAndServe and the committer
// and engine loops it started, and returns only after they have (the
// loops write to the store Close then closes). A closed service refuses
// to run again.
func TestCloseWaitsForTheLoops(t *testing.T) {
	svc, err := command.Open(command.Config{DataDir: t.TempDir(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- svc.ListenAndServe(context.Background(), "127.0.0.1:0", ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ListenAndServe: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("ListenAndServe (and the loops it runs) did not stop when the service was closed")
	}
	if err := svc.Run(context.Background()); !errors.Is(err, command.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if err := svc.ListenAndServe(context.Background(), "127.0.0.1:0", nil); !errors.Is(err, command.ErrClosed) {
		t.Errorf("ListenAndServe after Close: %v, want ErrClosed", err)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
