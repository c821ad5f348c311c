package dashboard

import (
	"math"
	"slices"
	"strconv"
	"sync"
)

// absent marks a second without a value: before the node started, a second the
// sampler skipped, or a latency series in a second without any event.
const absent = math.MaxUint32

// ring holds the last size seconds of a fixed number of series, one uint32 per
// series and second in one flat array allocated once: with 20 series and an hour
// (3,600 seconds) that is 288,000 bytes, whatever the load. The sampler puts one
// second at a time; a viewer that opens the page reads every second held. Safe for
// concurrent use: put takes the write lock for a copy of one value per series,
// appendJSON the read lock for an encoding without I/O.
type ring struct {
	mutex  sync.RWMutex
	series int
	size   int
	// values holds series after series, each size seconds long; the value of a
	// second sits at slot second % size.
	values []uint32
	// newest is the Unix second of the newest sample; held is how many seconds up
	// to it the ring holds, gaps included (0 when empty, at most size).
	newest int64
	held   int
}

func newRing(series, size int) *ring {
	return &ring{series: series, size: size, values: make([]uint32, series*size)}
}

// bytes returns the size of the ring's values in bytes.
func (r *ring) bytes() int { return len(r.values) * 4 }

// put stores one second's values, one per series. A second after the newest
// leaves the seconds in between absent (a sampler that fell behind); a second at or
// before the newest (a clock set back) replaces the newest, so the ring's seconds
// stay in order.
func (r *ring) put(second int64, values []uint32) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	switch {
	case r.held == 0:
		r.held = 1
	case second <= r.newest:
		second = r.newest
	default:
		skipped := int(min(second-r.newest-1, int64(r.size)))
		for step := 1; step <= skipped; step++ {
			r.setLocked(r.newest+int64(step), nil)
		}
		r.held = min(r.held+skipped+1, r.size)
	}
	r.newest = second
	r.setLocked(second, values)
}

// setLocked writes values (absent for every series when nil) at second's slot.
func (r *ring) setLocked(second int64, values []uint32) {
	slot := int(second % int64(r.size))
	for series := range r.series {
		value := uint32(absent)
		if values != nil {
			value = values[series]
		}
		r.values[series*r.size+slot] = value
	}
}

// newestSecond returns the Unix second of the newest value, 0 when empty.
func (r *ring) newestSecond() int64 {
	r.mutex.RLock()
	defer r.mutex.RUnlock()
	return r.newest
}

// appendJSON appends {"start":S,"values":[[...],...]}: the Unix second of the
// oldest value held and, per series, every second held from it, oldest first, null
// where absent; format writes one present value of a series. It also returns the
// newest second written (0 when empty).
func (r *ring) appendJSON(buffer []byte, format func(buffer []byte, series int, value uint32) []byte) ([]byte, int64) {
	r.mutex.RLock()
	defer r.mutex.RUnlock()
	start := r.newest - int64(r.held) + 1
	// About six bytes a value: a few digits or "null", and a comma.
	buffer = slices.Grow(buffer, 32+r.series*(r.held*6+2))
	buffer = append(buffer, `{"start":`...)
	buffer = strconv.AppendInt(buffer, start, 10)
	buffer = append(buffer, `,"values":[`...)
	startSlot := int(start % int64(r.size))
	for series := range r.series {
		if series > 0 {
			buffer = append(buffer, ',')
		}
		buffer = append(buffer, '[')
		values := r.values[series*r.size : (series+1)*r.size]
		slot := startSlot
		for step := range r.held {
			if step > 0 {
				buffer = append(buffer, ',')
			}
			if value := values[slot]; value == absent {
				buffer = append(buffer, "null"...)
			} else {
				buffer = format(buffer, series, value)
			}
			if slot++; slot == r.size {
				slot = 0
			}
		}
		buffer = append(buffer, ']')
	}
	return append(buffer, "]}"...), r.newest
}
