package store

import "testing"

// Every bucket is either erased by an eraser or declared free of personal
// data, and by only one of them: a new bucket must be thought about.
func TestErasersCoverEveryBucket(t *testing.T) {
	owner := map[string]string{}
	claim := func(b []byte, by string) {
		if prev, ok := owner[string(b)]; ok {
			t.Errorf("bucket %q is claimed by %s and %s", b, prev, by)
		}
		owner[string(b)] = by
	}
	for i, er := range erasers {
		if len(er.buckets) == 0 {
			t.Errorf("eraser %d names no bucket", i)
		}
		for _, b := range er.buckets {
			claim(b, "an eraser")
		}
	}
	for _, b := range noPersonalData {
		claim(b, "noPersonalData")
	}
	for _, b := range allBuckets {
		if _, ok := owner[string(b)]; !ok {
			t.Errorf("bucket %q is neither erased nor declared free of personal data", b)
		}
		delete(owner, string(b))
	}
	for b := range owner {
		t.Errorf("bucket %q is listed for erasure but not created by Open", b)
	}
}
