package engine

import "github.com/lesismal/nbio/mempool"

// nbhttp builds every HTTP answer (its head, its body, each chunk) in buffers of
// nbio's process-wide pool, mempool.DefaultMemPool, which no engine setting
// replaces. Its chunked writer (Response.writeChunk, v1.6.12 and nbio's master
// still) frees its buffer each time an answer crosses 64 KiB and then goes on
// appending to it, keeps it for the next piece and frees it again: while the
// handler still writes, the pool hands that same buffer to another answer on
// another connection, so one client received another's answer. It showed as
// pprof's profiles (chunked, over 64 KiB with memprofilerate=1) replaced by the
// load generator's /metrics and stats answers, and is reproduced by
// TestEveryClientGetsItsOwnAnswer.
//
// So the engine replaces the process-wide pool, once, before any engine runs, with
// its heapAllocator: Free then returns nothing to any pool, and a buffer freed too
// early stays its answer's alone until the garbage collector takes it. The cost is
// an allocation per answer head and per buffered body or chunk run (about 1 KiB for
// a small answer), on the API's path only: the WebSocket upgrade hijacks its
// connection before nbhttp encodes anything, and frames never use this pool.
func init() {
	mempool.DefaultMemPool = heapAllocator
}
