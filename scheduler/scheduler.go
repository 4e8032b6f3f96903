// Package scheduler runs danvan's timed jobs on its own Clock. robfig/cron
// parses the schedules and computes their next times, but its runner reads
// time.Now itself and forgets runs missed while the process was down, so
// the loop here waits on the Clock and keeps a watermark per job in the
// store: after a restart, a job whose time passed meanwhile runs once, late.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"danvan/clock"
	"danvan/store"
)

// Job is work done on a schedule. Run gets the time the run was due; like
// an update handler, it should change the store in one transaction and
// write outbox rows rather than talk to the messenger.
type Job struct {
	Name string
	// Spec is a cron expression ("*/5 * * * *") or a descriptor
	// ("@every 1m", "@daily"), read in the scheduler's time zone.
	Spec string
	Run  func(ctx context.Context, due time.Time) error
	// Retry, if not 0, runs a failed run again this long after it failed
	// (and again, until it succeeds or the next time comes): its
	// watermark stays, so a restart meanwhile runs it too. 0 leaves a
	// failed run to the next time.
	Retry time.Duration
}

type job struct {
	Job
	schedule cron.Schedule
	last     time.Time // the due time of the last completed run
	retryAt  time.Time // when a failed run is tried again (zero: none)
}

// nextRun is when the job runs next: its next time, or later when a
// failed run waits for its retry; zero: never.
func (j *job) nextRun() time.Time {
	due := j.schedule.Next(j.last)
	if !due.IsZero() && j.retryAt.After(due) {
		return j.retryAt
	}
	return due
}

// Scheduler runs jobs.
type Scheduler struct {
	store *store.Store
	clock clock.Clock
	loc   *time.Location
	log   *slog.Logger
	jobs  []*job
}

// parser reads standard five-field expressions and descriptors.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// New returns a scheduler whose schedules are read in loc.
func New(st *store.Store, clk clock.Clock, loc *time.Location, log *slog.Logger) *Scheduler {
	return &Scheduler{store: st, clock: clk, loc: loc, log: log}
}

// Add registers a job; a bad expression is an error.
func (s *Scheduler) Add(j Job) error {
	if j.Name == "" || j.Run == nil {
		return errors.New("scheduler: job needs a name and a function")
	}
	sched, err := Parse(j.Spec, s.loc)
	if err != nil {
		return fmt.Errorf("job %s: %w", j.Name, err)
	}
	if sched.Next(s.clock.Now()).IsZero() {
		return fmt.Errorf("job %s: schedule %q never comes (no such date)", j.Name, j.Spec)
	}
	s.jobs = append(s.jobs, &job{Job: j, schedule: sched})
	return nil
}

// Parse reads a cron expression or descriptor in loc. A schedule that
// parses may still never come ("0 2 30 2 *", 30 February): its Next is
// the zero time.
func Parse(spec string, loc *time.Location) (cron.Schedule, error) {
	if loc != nil {
		spec = "CRON_TZ=" + loc.String() + " " + spec
	}
	sched, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return sched, nil
}

// Run waits for due jobs and runs them until ctx is cancelled. A job that
// never ran starts counting from its first start, which is saved at once:
// a time that passes while the process is down afterwards is not lost. A
// job whose next time passed while the process was down runs once at
// start. A watermark ahead of the clock (the clock was set back) counts
// from now.
func (s *Scheduler) Run(ctx context.Context) error {
	now := s.clock.Now()
	for _, j := range s.jobs {
		err := s.store.Update(ctx, func(tx *store.Tx) error {
			st, err := tx.JobState(j.Name)
			if err != nil {
				return err
			}
			j.last = st.LastRun
			if j.last.IsZero() || j.last.After(now) {
				j.last = now
				return tx.PutJobState(store.JobState{Name: j.Name, LastRun: now})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for ctx.Err() == nil {
		now := s.clock.Now()
		var next time.Time
		for _, j := range s.jobs {
			due := j.nextRun()
			if due.IsZero() {
				continue // never comes
			}
			if !due.After(now) {
				s.run(ctx, j, now)
				if due = j.nextRun(); due.IsZero() {
					continue
				}
			}
			if next.IsZero() || due.Before(next) {
				next = due
			}
		}
		if next.IsZero() {
			<-ctx.Done()
			return nil
		}
		if !clock.Sleep(s.clock, next.Sub(s.clock.Now()), ctx.Done()) {
			return nil
		}
	}
	return nil
}

// run runs one job for its latest missed time and moves its watermark.
func (s *Scheduler) run(ctx context.Context, j *job, now time.Time) {
	// Catch up once: collapse every missed time into the latest one.
	due := j.schedule.Next(j.last)
	for n := j.schedule.Next(due); !n.IsZero() && !n.After(now); n = j.schedule.Next(n) {
		due = n
	}
	if err := j.Run(ctx, due); err != nil {
		if ctx.Err() != nil {
			return
		}
		if j.Retry > 0 {
			// Again Retry after it failed (a long run may fail late), or at
			// the next time if that comes first.
			failed := s.clock.Now()
			j.retryAt = failed.Add(j.Retry)
			if next := j.schedule.Next(failed); !next.IsZero() && next.Before(j.retryAt) {
				j.retryAt = next
			}
			s.log.Error("scheduled job failed; trying again later", "job", j.Name, "due", due, "retry_at", j.retryAt, "err", err)
			return
		}
		s.log.Error("scheduled job failed", "job", j.Name, "due", due, "err", err)
	}
	j.last, j.retryAt = due, time.Time{}
	err := s.store.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		return tx.PutJobState(store.JobState{Name: j.Name, LastRun: due})
	})
	if err != nil {
		s.log.Error("saving job watermark failed", "job", j.Name, "err", err)
	}
}
