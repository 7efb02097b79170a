package auth

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := NewThrottle(3, time.Minute)
	th.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if !th.Allow("a") {
			t.Fatalf("attempt %d refused", i)
		}
		th.Fail("a")
	}
	if th.Allow("a") {
		t.Fatal("4th attempt allowed after 3 failures")
	}
	if !th.Allow("b") {
		t.Fatal("other key throttled")
	}
	now = now.Add(61 * time.Second)
	if !th.Allow("a") {
		t.Fatal("still throttled after the window")
	}
	th.Fail("a")
	th.Succeed("a")
	if len(th.recent("a")) != 0 {
		t.Fatal("success did not clear failures")
	}
}
