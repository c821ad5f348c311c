package timerwheel

import "time"

// Start starts the wheel's single owner goroutine, which calls
// Advance(now) every Tick from a time.Ticker, so all handlers run on it. If
// the ticker drops ticks because the goroutine was starved, the next Advance
// catches up. Start is safe for concurrent use; calls after the first, and
// calls after Stop, do nothing. Do not call Advance yourself once started.
func (w *Wheel) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.stopped {
		return
	}
	w.started = true
	w.stopSignal = make(chan struct{})
	w.ownerDone = make(chan struct{})
	go w.own(w.stopSignal, w.ownerDone)
}

// Stop stops the owner goroutine and waits until it has exited, including any
// Advance in progress. Timers still pending never fire afterwards (unless the
// caller drives Advance itself); they stay pending and can still be
// cancelled. Stop is idempotent and safe for concurrent use, but must not be
// called from a handler, which runs on the goroutine Stop waits for.
func (w *Wheel) Stop() {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		if w.stopSignal != nil {
			close(w.stopSignal)
		}
	}
	done := w.ownerDone
	w.mu.Unlock()
	if done != nil {
		<-done
	}
}

// own is the owner goroutine's loop.
func (w *Wheel) own(stopSignal <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(w.tick)
	defer ticker.Stop()
	for {
		select {
		case <-stopSignal:
			return
		case <-ticker.C:
			w.Advance(w.now())
		}
	}
}
