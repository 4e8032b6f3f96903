package bot

import (
	"strings"
	"testing"
	"time"
)

// A getUpdates that hangs (a network that drops packets) shows in
// /healthz once polling has been silent longer than a long poll can be,
// not only when the HTTP client's own timeout ends it minutes later.
func TestHungPollIsUnhealthy(t *testing.T) {
	m := &fakeMessenger{} // no pages: every getUpdates hangs
	h := newRunHarness(t, m, RunOptions{PollTimeout: 50 * time.Second})
	waitFor(t, "the first poll", func() bool { var n int; m.with(func(f *fakeMessenger) { n = f.polls }); return n == 1 })
	if err := h.bot.PollHealth(); err != nil {
		t.Fatalf("PollHealth right after connecting: %v", err)
	}
	h.clock.Advance(2*50*time.Second + time.Minute - time.Second)
	if err := h.bot.PollHealth(); err != nil {
		t.Errorf("PollHealth within the long poll's allowance: %v", err)
	}
	h.clock.Advance(2 * time.Second)
	if err := h.bot.PollHealth(); err == nil || !strings.Contains(err.Error(), "getUpdates has not answered since 2026-11-30T01:00:00Z") {
		t.Errorf("PollHealth after 2m41s without an answer: %v", err)
	}
}
