package main

import "syscall"

// diskSpace is the free (to an unprivileged user) and total bytes of the
// file system holding dir.
func diskSpace(dir string) (free, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	// Block counts are in fragment-size units.
	return int64(st.Bavail) * st.Frsize, int64(st.Blocks) * st.Frsize, nil
}
