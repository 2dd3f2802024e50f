/* replay: feeds the WAL back through the write path at start-up, on several threads. The
 * WAL is read in order by one thread; records are applied by `threads` workers, since
 * decoding dominates and records are independent (the head accepts any order). */
#ifndef EMBER_SERVER_REPLAY_H
#define EMBER_SERVER_REPLAY_H

#include "ingest/ingest.h"

struct replay_stats {
	uint64_t applied;   /* records whose profiles went into the head */
	uint64_t in_blocks; /* records a block already holds (skipped) */
	uint64_t skipped;   /* records that could not be applied (logged) */
};

/** Replays every WAL record into ing with `threads` workers (0: one per CPU). Returns
 * wal_replay's result; stats are filled either way. */
int replay_wal(struct wal *wal, struct ingest *ing, int threads, struct replay_stats *stats) EMBER_WUR;

#endif
