package timerwheel_test

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/timerwheel"
)

// session shows the intended embedding: the Timer lives inside the
// connection's struct, so arming it allocates nothing, and the struct is
// found from the Timer at the Timer's field offset, so the Timer holds no
// pointer back to it.
type session struct {
	id     string
	wheel  *timerwheel.Wheel
	origin time.Time
	ping   timerwheel.Timer
	pings  int
}

// pingKind sends a ping (here: prints) and re-arms the timer for the next
// period from inside its own callback. One Kind serves every session.
var pingKind = timerwheel.NewOwnerKind(unsafe.Offsetof(session{}.ping), func(s *session, now time.Time) {
	s.pings++
	fmt.Printf("%s: ping %d at %v\n", s.id, s.pings, now.Sub(s.origin))
	if s.pings < 3 {
		s.wheel.Schedule(&s.ping, 30*time.Second)
	}
})

func Example() {
	// A fake clock makes the example deterministic; production code leaves
	// Now nil and calls Start and Stop instead of Advance.
	now := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	wheel, err := timerwheel.New(timerwheel.Config{
		Tick: 100 * time.Millisecond,
		Now:  func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	connection := &session{id: "conn-1", wheel: wheel, origin: now}
	connection.ping.Init(pingKind)
	wheel.Schedule(&connection.ping, 30*time.Second)

	idle := &session{id: "conn-2", wheel: wheel, origin: now}
	idle.ping.Init(pingKind)
	wheel.Schedule(&idle.ping, 30*time.Second)
	fmt.Println("pending:", wheel.Pending())
	fmt.Println("conn-2 closed, cancelled:", wheel.Cancel(&idle.ping))

	for range 1200 {
		now = now.Add(100 * time.Millisecond)
		wheel.Advance(now)
	}
	fmt.Println("pending:", wheel.Pending())
	// Output:
	// pending: 2
	// conn-2 closed, cancelled: true
	// conn-1: ping 1 at 30s
	// conn-1: ping 2 at 1m0s
	// conn-1: ping 3 at 1m30s
	// pending: 0
}
