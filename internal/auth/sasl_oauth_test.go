package auth

import (
	"errors"
	"testing"
)

func TestXOAuth2Server(t *testing.T) {
	refused := errors.New("refused")
	for _, tc := range []struct {
		name, resp, user, token string
		ok                      bool
	}{
		{"good", "user=a@b.test\x01auth=Bearer tok\x01\x01", "a@b.test", "tok", true},
		{"type is case-insensitive", "user=a@b.test\x01auth=bearer tok\x01\x01", "a@b.test", "tok", true},
		{"not bearer", "user=a@b.test\x01auth=Basic tok\x01\x01", "a@b.test", "", false},
		{"unterminated", "user=a@b.test\x01auth=Bearer tok", "a@b.test", "", false},
		{"garbage", "garbage", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotUser, gotToken string
			s := NewXOAuth2Server(func(user, token string) error {
				gotUser, gotToken = user, token
				if token == "tok" {
					return nil
				}
				return refused
			})
			ch, done, err := s.Next([]byte(tc.resp))
			if gotUser != tc.user || gotToken != tc.token {
				t.Fatalf("auth called with %q %q, want %q %q", gotUser, gotToken, tc.user, tc.token)
			}
			if tc.ok {
				if !done || err != nil {
					t.Fatalf("Next = %q %v %v, want done", ch, done, err)
				}
				return
			}
			if done || err != nil || len(ch) == 0 {
				t.Fatalf("Next = %q %v %v, want an error challenge", ch, done, err)
			}
			if _, done, err := s.Next([]byte{}); !done || err != refused {
				t.Fatalf("after dummy response: %v %v, want the auth error", done, err)
			}
		})
	}
}

func TestOAuthBearerServerEmptyDummyResponse(t *testing.T) {
	refused := errors.New("refused")
	var calls int
	s := NewOAuthBearerServer(func(user, token string) error { calls++; return refused })
	if ch, done, err := s.Next([]byte("n,a=a@b.test,\x01auth=Bearer x\x01\x01")); done || err != nil || len(ch) == 0 {
		t.Fatalf("Next = %q %v %v, want an error challenge", ch, done, err)
	}
	// go-sasl alone would index an empty response; the wrapper fails cleanly.
	if _, done, err := s.Next([]byte{}); !done || err != refused {
		t.Fatalf("after empty response: %v %v", done, err)
	}
	m := NewOAuthBearerServer(func(user, token string) error {
		calls++
		if token == "" {
			return refused
		}
		return nil
	})
	if ch, done, err := m.Next([]byte("x")); done || err != nil || len(ch) == 0 {
		t.Fatalf("malformed: %q %v %v", ch, done, err)
	}
	if _, done, err := m.Next([]byte{1}); !done || err != refused || calls != 2 {
		t.Fatalf("malformed, after %%x01: %v %v (calls %d)", done, err, calls)
	}
}
