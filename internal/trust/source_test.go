package trust

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const oneDomain = `<L xmlns="https://listeblanche.mssante.fr/schema"><Domaine><Nom>new.example</Nom></Domaine></L>`

// loopbackServer starts an httptest server bound to 127.0.0.1 only.
func loopbackServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestSourceEmptyLocation(t *testing.T) {
	s := NewSource("", []string{"Local.Example.", "not valid!"}, nil)
	if err := s.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.Current() == nil || s.Current().Len() != 0 {
		t.Fatal("Current should be an empty whitelist")
	}
	if !s.IsTrusted("LOCAL.example") {
		t.Error("extra domain not trusted")
	}
	if s.IsTrusted("not valid!") || s.IsTrusted("medecin.operateur-a.mssante.fr") {
		t.Error("unexpected trusted domain")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Run(ctx, time.Millisecond) // returns at once
}

func TestSourceFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lb.xml")
	if err := os.WriteFile(path, readSample(t), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := NewSource(path, []string{"hygie.example"}, slog.New(slog.NewTextHandler(&logs, nil)))
	if s.Current() == nil || s.Current().Len() != 0 {
		t.Fatal("Current before Load should be empty, not nil")
	}
	if s.IsTrusted("chu-exemple.mssante.fr") {
		t.Error("trusted before Load")
	}
	if err := s.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	st := s.Status()
	if st.Domains != 2 || st.LastLoad.IsZero() || st.LastError != nil || st.Location != path {
		t.Errorf("Status = %+v", st)
	}
	for _, d := range []string{"CHU-Exemple.mssante.fr", "medecin.operateur-a.mssante.fr", "HYGIE.example"} {
		if !s.IsTrusted(d) {
			t.Errorf("IsTrusted(%q) = false", d)
		}
	}
	if s.IsTrusted("evil.example") {
		t.Error("IsTrusted(evil.example) = true")
	}

	// A broken file keeps the previous copy.
	if err := os.WriteFile(path, []byte("<L><Domaine>"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load(broken) = %v, want error naming the file", err)
	}
	st = s.Status()
	if st.LastError == nil || st.Domains != 2 || !s.IsTrusted("chu-exemple.mssante.fr") {
		t.Errorf("after failure: Status = %+v, trusted = %v", st, s.IsTrusted("chu-exemple.mssante.fr"))
	}
	// So does an empty whitelist.
	if err := os.WriteFile(path, []byte(`<L xmlns="https://listeblanche.mssante.fr/schema"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "no Domaine") {
		t.Fatalf("Load(empty) = %v", err)
	}
	// And a missing file.
	os.Remove(path)
	if err := s.Load(context.Background()); err == nil {
		t.Fatal("Load(missing) succeeded")
	}
	if s.Current().Len() != 2 {
		t.Errorf("old copy lost: %d domains", s.Current().Len())
	}

	// A good file replaces it; file:// URLs work too.
	if err := os.WriteFile(path, []byte(oneDomain), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := NewSource("file://"+filepath.ToSlash(path), nil, nil)
	for _, src := range []*Source{s, s2} {
		if err := src.Load(context.Background()); err != nil {
			t.Fatalf("Load: %v", err)
		}
		if !src.IsTrusted("new.example") || src.IsTrusted("chu-exemple.mssante.fr") {
			t.Errorf("not replaced: %v", src.Current().Domains)
		}
		if src.Status().LastError != nil {
			t.Errorf("LastError = %v after success", src.Status().LastError)
		}
	}
}

func TestSourceHTTPRefresh(t *testing.T) {
	var (
		mu       sync.Mutex
		body     = string(readSample(t))
		status   = http.StatusOK
		version  = 1
		requests atomic.Int32
		lastINM  atomic.Value
	)
	srv := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		lastINM.Store(r.Header.Get("If-None-Match"))
		mu.Lock()
		b, st, etag := body, status, fmt.Sprintf(`"v%d"`, version)
		mu.Unlock()
		if st == http.StatusOK && r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.WriteHeader(st)
		_, _ = w.Write([]byte(b))
	}))
	set := func(b string, st int) {
		mu.Lock()
		body, status = b, st
		version++
		mu.Unlock()
	}

	var logs syncBuffer
	s := NewSource(srv.URL+"/listeblanche.xml", nil, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Run(ctx, 20*time.Millisecond)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()

	waitFor(t, "initial load", func() bool { return s.Current().Len() == 2 })
	waitFor(t, "conditional request", func() bool { v, _ := lastINM.Load().(string); return v != "" })
	if !s.IsTrusted("medecin.operateur-a.mssante.fr") {
		t.Fatal("sample domain not trusted")
	}

	// Failures keep the old copy and are logged.
	set("oops", http.StatusInternalServerError)
	waitFor(t, "HTTP error recorded", func() bool { return s.Status().LastError != nil })
	if s.Current().Len() != 2 {
		t.Fatal("old copy lost after HTTP error")
	}
	set("<html><body>maintenance</body></html>", http.StatusOK)
	waitFor(t, "empty list refused", func() bool {
		err := s.Status().LastError
		return err != nil && strings.Contains(err.Error(), "no Domaine")
	})
	set("<L><Domaine>", http.StatusOK)
	waitFor(t, "malformed list refused", func() bool {
		err := s.Status().LastError
		return err != nil && strings.Contains(err.Error(), "malformed")
	})
	if !s.IsTrusted("chu-exemple.mssante.fr") {
		t.Fatal("old copy lost after bad content")
	}
	if !strings.Contains(logs.String(), "refresh failed") {
		t.Errorf("failure not logged:\n%s", logs.String())
	}

	// A new good copy replaces it.
	set(oneDomain, http.StatusOK)
	waitFor(t, "new copy", func() bool { return s.IsTrusted("new.example") })
	if s.IsTrusted("chu-exemple.mssante.fr") || s.Status().LastError != nil {
		t.Errorf("after refresh: %+v", s.Status())
	}
	// Not-modified answers keep it and count as success.
	n := requests.Load()
	waitFor(t, "more requests", func() bool { return requests.Load() > n+2 })
	if !s.IsTrusted("new.example") || s.Status().LastError != nil || s.Status().Domains != 1 {
		t.Errorf("after 304: %+v", s.Status())
	}
}

func TestSourceHTTPLoadErrors(t *testing.T) {
	srv := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	s := NewSource(srv.URL, nil, nil)
	err := s.Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Load = %v, want 404 error", err)
	}
	// Cancelled context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Load(ctx); err == nil {
		t.Fatal("Load with cancelled context succeeded")
	}
	if s.Current().Len() != 0 || !s.Status().LastLoad.IsZero() {
		t.Errorf("unexpected state %+v", s.Status())
	}
}

func TestRedactLocation(t *testing.T) {
	s := NewSource("https://user:secret@127.0.0.1:1/lb.xml", nil, nil)
	if strings.Contains(s.Status().Location, "secret") {
		t.Errorf("password in Status: %s", s.Status().Location)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
