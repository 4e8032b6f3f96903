package clock

import (
	"testing"
	"time"
)

func TestFakeTimersFireWhenDue(t *testing.T) {
	start := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	f := NewFake(start)
	early, late, stopped := f.NewTimer(time.Minute), f.NewTimer(time.Hour), f.NewTimer(time.Minute)
	if !stopped.Stop() {
		t.Error("Stop of a pending timer returned false")
	}
	if got := f.Waiters(); got != 2 {
		t.Errorf("waiters %d, want 2", got)
	}
	f.Advance(59 * time.Second)
	select {
	case <-early.C():
		t.Fatal("timer fired before its time")
	default:
	}
	f.Advance(time.Second)
	select {
	case at := <-early.C():
		if !at.Equal(start.Add(time.Minute)) {
			t.Errorf("fired at %v, want %v", at, start.Add(time.Minute))
		}
	default:
		t.Fatal("timer did not fire when due")
	}
	select {
	case <-late.C():
		t.Fatal("the hour timer fired after a minute")
	case <-stopped.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	f.Set(start) // never backwards
	if !f.Now().Equal(start.Add(time.Minute)) {
		t.Errorf("Set moved the clock back to %v", f.Now())
	}
}

func TestSleepEndsEarlyWhenDone(t *testing.T) {
	f := NewFake(time.Now())
	done := make(chan struct{})
	close(done)
	if Sleep(f, time.Hour, done) {
		t.Error("Sleep reported the full duration although done was closed")
	}
	if !Sleep(f, 0, nil) {
		t.Error("Sleep(0) should return at once, reporting true")
	}
}
