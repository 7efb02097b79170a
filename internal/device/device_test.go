package device_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/device"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// clock is a controllable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	st       *store.Store
	accts    *account.Service
	svc      *device.Service
	clk      *clock
	jean     *account.Account
	marie    *account.Account
	password string
}

func setup(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accts := account.NewService(st)
	if _, err := accts.CreateStructure(ctx, "Cabinet", ""); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, accts: accts, svc: device.New(st), clk: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		password: "correct horse battery staple"}
	f.svc.Now = f.clk.Now
	for i, p := range []struct{ login, first, last string }{{"jean@dev.test", "Jean", "Dupont"}, {"marie@dev.test", "Marie", "Curie"}} {
		a, err := accts.Create(ctx, account.NewAccount{Structure: "Cabinet", Kind: account.PER, Login: p.login, FirstName: p.first, LastName: p.last})
		if err != nil {
			t.Fatal(err)
		}
		if err := accts.SetPassword(ctx, p.login, f.password); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			f.jean = a
		} else {
			f.marie = a
		}
	}
	return f
}

func TestPairingSingleUseAndExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := setup(t, dsn)
		ctx := context.Background()

		if _, err := f.svc.StartPairing(ctx, f.jean.ID, "   "); !errors.Is(err, device.ErrInvalid) {
			t.Fatalf("empty name: %v, want ErrInvalid", err)
		}
		if _, err := f.svc.StartPairing(ctx, f.jean.ID, strings.Repeat("x", device.MaxNameLen+1)); !errors.Is(err, device.ErrInvalid) {
			t.Fatalf("long name: %v, want ErrInvalid", err)
		}

		p, err := f.svc.StartPairing(ctx, f.jean.ID, "  iPhone de Jean ")
		if err != nil {
			t.Fatal(err)
		}
		if !p.Expires.Equal(f.clk.Now().Add(5 * time.Minute)) {
			t.Errorf("expires %v, want five minutes from now", p.Expires)
		}
		// Stored hashed: the secret is nowhere in the table.
		var n int
		f.st.QueryRow(ctx, `SELECT COUNT(*) FROM device_pairings WHERE id_hash = ?`, p.Secret).Scan(&n)
		if n != 0 {
			t.Fatal("pairing secret stored in clear")
		}

		f.clk.Add(4*time.Minute + 59*time.Second)
		paired, err := f.svc.Pair(ctx, p.Secret, "ignored: the page named it")
		if err != nil {
			t.Fatalf("pair within five minutes: %v", err)
		}
		if paired.Device.Name != "iPhone de Jean" || paired.Device.AccountID != f.jean.ID {
			t.Errorf("device %+v", paired.Device)
		}
		if !strings.HasPrefix(paired.Credential, device.CredentialPrefix) || len(paired.Credential) < 40 {
			t.Errorf("credential %q", paired.Credential)
		}
		// Single use.
		if _, err := f.svc.Pair(ctx, p.Secret, "again"); !errors.Is(err, device.ErrBadSecret) {
			t.Fatalf("second use: %v, want ErrBadSecret", err)
		}

		// Expiry: exactly five minutes later the secret is dead.
		p2, err := f.svc.StartPairing(ctx, f.jean.ID, "Tablette")
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Add(5 * time.Minute)
		if _, err := f.svc.Pair(ctx, p2.Secret, "Tablette"); !errors.Is(err, device.ErrBadSecret) {
			t.Fatalf("expired secret: %v, want ErrBadSecret", err)
		}
		for _, bad := range []string{"", "nope", paired.Credential} {
			if _, err := f.svc.Pair(ctx, bad, "x"); !errors.Is(err, device.ErrBadSecret) {
				t.Fatalf("pair %q: %v, want ErrBadSecret", bad, err)
			}
		}
	})
}

func TestPairingConcurrentSingleUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := setup(t, dsn)
		ctx := context.Background()
		p, err := f.svc.StartPairing(ctx, f.jean.ID, "Téléphone")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.svc.Pair(ctx, p.Secret, "x"); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d pairings succeeded with one secret, want 1", ok)
		}
	})
}

func TestCredentialsRevokeAndLastUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := setup(t, dsn)
		ctx := context.Background()
		pair := func(acct int64, name string) *device.Paired {
			t.Helper()
			p, err := f.svc.StartPairing(ctx, acct, name)
			if err != nil {
				t.Fatal(err)
			}
			d, err := f.svc.Pair(ctx, p.Secret, "")
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		phone := pair(f.jean.ID, "Téléphone")
		f.clk.Add(time.Hour)
		tablet := pair(f.jean.ID, "Tablette")
		other := pair(f.marie.ID, "Téléphone de Marie")

		// Stored hashed.
		var n int
		f.st.QueryRow(ctx, `SELECT COUNT(*) FROM devices WHERE secret_hash = ?`, phone.Credential).Scan(&n)
		if n != 0 {
			t.Fatal("credential stored in clear")
		}

		list, err := f.svc.List(ctx, f.jean.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Name != "Tablette" || list[1].Name != "Téléphone" || !list[1].LastUsed.IsZero() {
			t.Fatalf("list %+v", list)
		}

		f.clk.Add(time.Minute)
		d, err := f.svc.Authenticate(ctx, phone.Credential)
		if err != nil || d.ID != phone.Device.ID || d.AccountID != f.jean.ID {
			t.Fatalf("authenticate: %+v %v", d, err)
		}
		list, _ = f.svc.List(ctx, f.jean.ID)
		if !list[1].LastUsed.Equal(time.Unix(f.clk.Now().Unix(), 0)) {
			t.Errorf("last use %v, want %v", list[1].LastUsed, f.clk.Now())
		}
		// Check binds the credential to its account.
		if _, err := f.svc.Check(ctx, f.marie.ID, phone.Credential); !errors.Is(err, device.ErrBadCredential) {
			t.Errorf("Jean's credential for Marie: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, device.CredentialPrefix+"forged"); !errors.Is(err, device.ErrBadCredential) {
			t.Errorf("forged: %v", err)
		}

		// The account's login accepts the credential as its password
		// (IMAP, SMTP), not the web login.
		if _, err := f.accts.Authenticate(ctx, "jean@dev.test", phone.Credential); err != nil {
			t.Fatalf("login with device credential: %v", err)
		}
		if _, err := f.accts.Authenticate(ctx, "marie@dev.test", phone.Credential); !errors.Is(err, account.ErrBadLogin) {
			t.Fatalf("Jean's credential as Marie's password: %v", err)
		}
		if _, err := f.accts.AuthenticatePassword(ctx, "jean@dev.test", phone.Credential); !errors.Is(err, account.ErrBadLogin) {
			t.Fatalf("web login with device credential: %v", err)
		}
		if _, err := f.accts.Authenticate(ctx, "jean@dev.test", f.password); err != nil {
			t.Fatalf("password still works: %v", err)
		}

		// Revoke: another account cannot; the owner can, once; the
		// credential fails at once everywhere, the others keep working.
		if err := f.svc.Revoke(ctx, f.marie.ID, phone.Device.ID); !errors.Is(err, device.ErrNotFound) {
			t.Fatalf("revoke another's device: %v", err)
		}
		if err := f.svc.Revoke(ctx, f.jean.ID, phone.Device.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Revoke(ctx, f.jean.ID, phone.Device.ID); !errors.Is(err, device.ErrNotFound) {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := f.svc.Authenticate(ctx, phone.Credential); !errors.Is(err, device.ErrBadCredential) {
			t.Fatalf("revoked credential: %v", err)
		}
		if _, err := f.accts.Authenticate(ctx, "jean@dev.test", phone.Credential); !errors.Is(err, account.ErrBadLogin) {
			t.Fatalf("login with revoked credential: %v", err)
		}
		for _, c := range []string{tablet.Credential, other.Credential} {
			if _, err := f.svc.Authenticate(ctx, c); err != nil {
				t.Fatalf("other credential after revoke: %v", err)
			}
		}
		list, _ = f.svc.List(ctx, f.jean.ID)
		if len(list) != 1 || list[0].Name != "Tablette" {
			t.Fatalf("list after revoke %+v", list)
		}
	})
}

// limiter is what both device limiters offer.
type limiter interface {
	Allow(ctx context.Context, id int64) (bool, time.Duration, error)
}

// checkLimiter checks a burst of 3 and 2 requests a second, on a and b
// (two nodes, or a itself), both on clk.
func checkLimiter(t *testing.T, a, b limiter, clk *clock) {
	t.Helper()
	ctx := context.Background()
	allow := func(l limiter, id int64) (bool, time.Duration) {
		ok, wait, err := l.Allow(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	for i := range 3 {
		l := a
		if i == 1 {
			l = b
		}
		if ok, _ := allow(l, 1); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	for _, l := range []limiter{a, b} {
		ok, wait := allow(l, 1)
		if ok || wait <= 0 || wait > time.Second {
			t.Fatalf("over the burst: ok=%v wait=%v", ok, wait)
		}
	}
	if ok, _ := allow(b, 2); !ok {
		t.Fatal("another device is throttled too")
	}
	clk.Add(500 * time.Millisecond)
	if ok, _ := allow(b, 1); !ok {
		t.Fatal("refilled token refused")
	}
	if ok, _ := allow(a, 1); ok {
		t.Fatal("second token after half a second")
	}
	clk.Add(10 * time.Second)
	for i := range 3 {
		if ok, _ := allow(a, 1); !ok {
			t.Fatalf("request %d of a new burst refused", i+1)
		}
	}
}

func TestLimiter(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	l := device.NewLimiter(2, 3)
	l.Now = clk.Now
	checkLimiter(t, l, l, clk)
}

// TestSharedLimiter: two nodes' limiters on one database share each
// device's bucket.
func TestSharedLimiter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		clk := &clock{t: time.Unix(1000, 0)}
		var ls []limiter
		for range 2 {
			st, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			l := device.NewSharedLimiter(st, 2, 3)
			l.Now = clk.Now
			ls = append(ls, l)
		}
		checkLimiter(t, ls[0], ls[1], clk)
	})
}
