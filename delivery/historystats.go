package delivery

import "sync/atomic"

// historyCounters are the Publisher's history counters, maintained as events
// happen.
type historyCounters struct {
	appended, appendFailures, appendsRejected      atomic.Uint64
	joinFailures, joinsRejected                    atomic.Uint64
	recovered, notRecovered, recoveredPublications atomic.Uint64
	bufferOverflows                                atomic.Uint64
}

// countRecovery counts one answered recovery and the publications it sent.
func (c *historyCounters) countRecovery(recovered bool, publications int) {
	if recovered {
		c.recovered.Add(1)
		c.recoveredPublications.Add(uint64(publications))
		return
	}
	c.notRecovered.Add(1)
}

// HistoryStats are the history figures of this node's Publisher, for metrics;
// every one a counter maintained as events happen. The store's own figures (a
// single node's memory, history.MemoryStats) are read from the store.
type HistoryStats struct {
	// Appended counts the publications this node appended to a stream;
	// AppendFailures those the store refused or did not answer in time, and
	// AppendsRejected the client publications that found the history workers' queue
	// full (cluster only): both were delivered on this node without an offset.
	Appended, AppendFailures, AppendsRejected uint64
	// JoinFailures counts the subscribes to history channels answered without a
	// position because the store could not be read, JoinsRejected those that found
	// the history workers' queue full (cluster only).
	JoinFailures, JoinsRejected uint64
	// Recovered and NotRecovered count the subscribes that asked to recover, by
	// answer; RecoveredPublications the missed publications the former sent.
	Recovered, NotRecovered, RecoveredPublications uint64
	// BufferOverflows counts the connections closed as slow consumers because the
	// live publications held for them while they joined passed the hub's
	// MaxPendingBytes.
	BufferOverflows uint64
}

// HistoryStats returns this node's history figures. Safe for concurrent use, O(1).
func (p *Publisher) HistoryStats() HistoryStats {
	c := &p.historyCounts
	return HistoryStats{
		Appended: c.appended.Load(), AppendFailures: c.appendFailures.Load(), AppendsRejected: c.appendsRejected.Load(),
		JoinFailures: c.joinFailures.Load(), JoinsRejected: c.joinsRejected.Load(),
		Recovered: c.recovered.Load(), NotRecovered: c.notRecovered.Load(),
		RecoveredPublications: c.recoveredPublications.Load(), BufferOverflows: c.bufferOverflows.Load(),
	}
}
