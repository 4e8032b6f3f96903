package store

import (
	"errors"
	"fmt"
	"time"
)

// JobState is the scheduler's watermark for one job: the scheduled time of
// its last run, so runs missed while the process was down can be found.
type JobState struct {
	Name    string    `json:"name"`
	LastRun time.Time `json:"last_run"`
}

// JobState returns the job's watermark; a job that never ran has a zero
// LastRun and no error.
func (tx *Tx) JobState(name string) (JobState, error) {
	var s JobState
	err := getJSON(tx.bucket(bucketJobs), []byte(name), &s)
	if errors.Is(err, ErrNotFound) {
		return JobState{Name: name}, nil
	}
	if err != nil {
		return s, fmt.Errorf("job %s: %w", name, err)
	}
	return s, nil
}

// PutJobState saves the job's watermark.
func (tx *Tx) PutJobState(s JobState) error {
	if err := putJSON(tx.bucket(bucketJobs), []byte(s.Name), s); err != nil {
		return fmt.Errorf("save job %s: %w", s.Name, err)
	}
	return nil
}
