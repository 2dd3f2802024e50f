/* wal: the write-ahead log. A profile is acknowledged only once its record is durable here.
 *
 * A WAL is a directory of segment files <dir>/00000001.wal, 00000002.wal, ... Each segment
 * is a 16-byte header followed by records `u32 len | u32 crc32c(len bytes, payload) | payload`
 * (little endian). docs/internals/wal.md describes the format byte by byte and the recovery
 * rules.
 *
 * Life cycle: wal_open -> wal_replay (exactly once) -> wal_append* / wal_cut /
 * wal_remove_through -> wal_close. wal_append, wal_append_vec, wal_cut, wal_remove_through
 * and wal_stats may be called from any number of threads at once; wal_open, wal_replay and
 * wal_close may not run concurrently with anything else on the same handle.
 *
 * LSN: a record's log sequence number is (segment << 40) | byte offset of the record in
 * its segment. LSNs grow strictly with append order, survive restarts, and say which
 * segment holds a record (wal_lsn_segment). */
#ifndef EMBER_STORE_WAL_H
#define EMBER_STORE_WAL_H

#include <sys/uio.h>

#include "util/common.h"

/** Largest record payload accepted on append; a bigger length on read is corruption. */
#define WAL_MAX_RECORD (256u << 20)
/** Bytes of framing before each payload (length + CRC). */
#define WAL_RECORD_HEADER 8u
/** Bytes of the segment header. */
#define WAL_SEGMENT_HEADER 16u
/** Magic at the start of every segment. */
#define WAL_MAGIC "EMBERWAL"
#define WAL_VERSION 1u
/** Segment size used when wal_options.segment_size is 0. */
#define WAL_DEFAULT_SEGMENT_SIZE (64u << 20)

#define WAL_LSN_OFFSET_BITS 40
static inline uint64_t wal_lsn_segment(uint64_t lsn)
{
	return lsn >> WAL_LSN_OFFSET_BITS;
}
static inline uint64_t wal_lsn_offset(uint64_t lsn)
{
	return lsn & ((UINT64_C(1) << WAL_LSN_OFFSET_BITS) - 1);
}

struct wal_options {
	/** A new segment is started once the current one reaches this many bytes (0: 64 MiB). */
	uint64_t segment_size;
	/** fdatasync every group commit and fsync the directory on segment changes. Only
	 * benchmarks and tests turn this off; then nothing survives a power loss. */
	bool sync;
};

/** Defaults: 64 MiB segments, sync on. */
struct wal_options wal_options_default(void);

struct wal;

/** Called once per intact record during replay or scan, in log order. rec[0..n) is
 * borrowed and valid only during the call. Return 0 to continue; any other value (use a
 * negative EMBER_E* code) stops the walk, and the caller gets that value back. */
typedef int (*wal_replay_fn)(void *ctx, const uint8_t *rec, size_t n, uint64_t lsn);

/** What wal_segment_scan found. */
struct wal_scan_result {
	size_t valid_len;   /* bytes from the start of the segment that are intact */
	uint64_t records;   /* intact records seen (those passed to fn) */
	const char *reason; /* static text saying why the scan stopped early, or NULL */
	int fn_rc;          /* non-zero if fn stopped the scan (then equal to the return value) */
};

/** Walks one segment's bytes data[0..n) (header included) and calls fn (may be NULL) for
 * each intact record, passing LSNs built from `segment`. Never reads outside data[0..n).
 * Returns 0 when all n bytes are intact (n == 0, an empty file, counts as intact);
 * EMBER_ECORRUPT when a torn or corrupt part starts at res->valid_len (short header, short
 * payload, absurd length, CRC mismatch, bad segment header; res->reason says which);
 * EMBER_EUNSUP for a well-formed header of an unknown version; or fn's non-zero value.
 * res may be NULL. */
int wal_segment_scan(const uint8_t *data, size_t n, uint64_t segment, wal_replay_fn fn, void *ctx,
		     struct wal_scan_result *res) EMBER_WUR;

/** Opens (creating if needed, mode 0755) the WAL directory `dir` and takes an exclusive
 * lock on it (<dir>/wal.lock; EMBER_ESTATE if another handle holds it). opts may be NULL
 * for the defaults. Nothing is read until wal_replay. On success *out is a new handle the
 * caller frees with wal_close. */
int wal_open(const char *dir, const struct wal_options *opts, struct wal **out) EMBER_WUR;

/** Replays the log: calls fn (may be NULL) for every intact record in LSN order. Must be
 * called exactly once, after wal_open and before any append (else EMBER_ESTATE).
 * A torn or corrupt tail of the last segment is truncated away (ftruncate + fsync) with a
 * warning; corruption inside an older segment is logged as an error and the rest of that
 * segment is skipped. Neither is an error for the caller. Returns 0, fn's non-zero value
 * (the log then stays read-only: appends fail with EMBER_ESTATE), EMBER_EUNSUP for a
 * segment of a newer format, or EMBER_EIO. */
int wal_replay(struct wal *w, wal_replay_fn fn, void *ctx) EMBER_WUR;

/** Appends one record of n bytes (0 < n <= WAL_MAX_RECORD, else EMBER_ETOOBIG or
 * EMBER_EINVAL) and returns once it is durable (written and, with sync on, fdatasync'd).
 * Concurrent callers are committed together: one write and one fdatasync cover the whole
 * group. rec is only read during the call. *lsn (may be NULL) gets the record's LSN.
 * Returns EMBER_EIO if the write or sync failed (the record must be treated as lost;
 * after a failed sync every later append fails too), EMBER_ESTATE before wal_replay. */
int wal_append(struct wal *w, const void *rec, size_t n, uint64_t *lsn) EMBER_WUR;

/** Like wal_append with the payload given as the concatenation of nparts buffers (e.g. a
 * small header and a big body); nothing is copied. */
int wal_append_vec(struct wal *w, const struct iovec *parts, size_t nparts, uint64_t *lsn) EMBER_WUR;

/** Closes the current segment (if it holds any record) and starts a new one. Afterwards
 * every record appended before the call lies in a segment <= *segment_out and every later
 * one in a segment > *segment_out. *segment_out is 0 if no segment holds records yet. */
int wal_cut(struct wal *w, uint64_t *segment_out) EMBER_WUR;

/** Deletes every segment numbered <= segment (used once the block covering them is
 * durable). The segment being appended to cannot be removed: segment must be below it
 * (call wal_cut first), else EMBER_EINVAL. */
int wal_remove_through(struct wal *w, uint64_t segment) EMBER_WUR;

struct wal_stats {
	uint64_t bytes_appended;  /* record bytes (framing included) written since open */
	uint64_t records;         /* records appended since open */
	uint64_t syncs;           /* fdatasync calls issued by group commits since open */
	uint64_t segments;        /* segment files currently in the directory */
	uint64_t current_segment; /* number of the segment being appended to */
	uint64_t current_size;    /* bytes in the current segment */
	uint64_t total_size;      /* bytes in all segments (replayed + appended - removed) */
	uint64_t replayed;        /* records delivered by wal_replay */
};

/** Copies counters (each read atomically; the set is not one snapshot). */
void wal_stats(const struct wal *w, struct wal_stats *out);

/** Syncs the current segment and frees everything. NULL-safe. No other call on w may be
 * running or follow. */
void wal_close(struct wal *w);

#endif
