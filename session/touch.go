package session

// touchAhead is how many sessions a fan-out or a flush round loads ahead of the ones
// it works on (see touch).
const touchAhead = 8

// touch loads the cache lines a delivery needs of every session of sessions (the
// first 32 bytes of a Session through the queue's unsent count, the next 32 through
// its state; atomically, so without a race with their writers). A fan-out to 15,000 sessions finds none of them in the
// cache, and the queue's mutex is a locked instruction, which waits for every
// earlier load: one session at a time, each of its cache misses (and page walks) is
// waited for alone. Loaded eight at a time beforehand, the misses overlap, and the
// locks that follow find their lines in the cache.
func touch(sessions []*Session) {
	for _, s := range sessions {
		_ = s.out.unsent.Load()
		_ = s.state.Load()
	}
}
