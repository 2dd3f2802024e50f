/* marks: deletion marks of blocks, in Pyroscope's (Thanos's) format: a file
 * `deletion-mark.json` in the block's directory (and, with S3, the object
 * `blocks/<tenant>/<ULID>/deletion-mark.json`):
 *
 *   {"id": "<ULID>", "version": 1, "details": "<why>", "deletion_time": <unix seconds>}
 *
 * A marked block is no longer read (store_open and the store skip it) and is deleted once
 * it has been marked for -compactor.deletion-delay. Design: docs/internals/compaction.md. */
#ifndef EMBER_STORE_MARKS_H
#define EMBER_STORE_MARKS_H

#include "util/buf.h"
#include "util/common.h"

#define MARK_FILE "deletion-mark.json"
#define MARK_MAX_BYTES 4096

/** Appends the mark's JSON for block ulid, marked at unix time deletion_time_s, to out. */
void mark_format(const char *ulid, int64_t deletion_time_s, const char *details, struct buf *out);

/** Parses a mark: 0 and the deletion time, or EMBER_ECORRUPT (not JSON, missing or
 * ill-typed "id" or "deletion_time", version other than 1, over MARK_MAX_BYTES). */
int mark_parse(struct slice json, int64_t *deletion_time_s) EMBER_WUR;

/** Writes block_dir/deletion-mark.json durably (temporary file, fsync, rename, fsync of
 * the directory). 0 or EMBER_EIO (errno kept). */
int mark_write_local(const char *block_dir, const char *ulid, int64_t deletion_time_s, const char *details) EMBER_WUR;

/** True if block_dir holds a deletion mark (whatever its content: a damaged mark still
 * means the block was being retired). */
bool mark_exists_local(const char *block_dir);

/** Reads block_dir's mark: 0 and its time, EMBER_ENOTFOUND, EMBER_ECORRUPT or EMBER_EIO. */
int mark_read_local(const char *block_dir, int64_t *deletion_time_s) EMBER_WUR;

/** Removes a directory tree (rm -rf); first renames it to `<parent>/.deleting-<name>`
 * so that a crash midway never leaves a half-deleted block under its ULID. 0 or EMBER_EIO. */
int mark_remove_dir(const char *path) EMBER_WUR;

/** Removes a directory tree in place (rm -rf). 0 or EMBER_EIO. */
int mark_rm_rf(const char *path) EMBER_WUR;

#endif
