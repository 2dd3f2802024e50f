/* objstore: where blocks live. One interface, two backends chosen by configuration:
 *
 *   filesystem  keys are files under a root directory (the default, ./data)
 *   s3          keys are objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...),
 *               signed with SigV4 through libcurl
 *
 * Keys are '/'-separated relative paths ("anonymous/01HQ.../index"): at most 1024 bytes,
 * no leading or trailing '/', no empty, "." or ".." segment, no control characters, and no
 * segment starting with ".ember-tmp" (the filesystem backend's temporary files). Anything
 * else gives EMBER_EINVAL.
 *
 * Every function is thread-safe: several threads may use one objstore at once. A failed
 * call leaves a readable reason in objstore_errmsg() (per thread), e.g.
 *   "GET profiles/a/b: HTTP 403 SignatureDoesNotMatch: The request signature we calculated..."
 * The S3 backend retries 5xx, 429, timeouts and connection errors with exponential backoff
 * (bounded number of tries); 4xx answers are final. The design is docs/internals/objstore.md. */
#ifndef EMBER_OBJSTORE_OBJSTORE_H
#define EMBER_OBJSTORE_OBJSTORE_H

#include "util/buf.h"
#include "util/common.h"

#define OBJSTORE_MAX_KEY 1024

/** S3 settings. Strings are borrowed for the objstore_open call only (copied inside). */
struct objstore_s3_config {
	/** "host", "host:port", or a URL "http(s)://host[:port]" (the scheme then overrides
	 * insecure). Required. */
	const char *endpoint;
	const char *bucket;            /**< required */
	const char *region;            /**< NULL/empty: "us-east-1" */
	const char *access_key_id;     /**< NULL/empty: $AWS_ACCESS_KEY_ID */
	const char *secret_access_key; /**< NULL/empty: $AWS_SECRET_ACCESS_KEY */
	const char *session_token;     /**< NULL/empty: $AWS_SESSION_TOKEN (may stay unset) */
	bool insecure;                 /**< http:// instead of https:// */
	/** "auto" (NULL/empty; virtual-hosted for *.amazonaws.com, path style otherwise),
	 * "path-style" or "virtual-hosted-style" (Pyroscope's -storage.s3.bucket-lookup-type). */
	const char *bucket_lookup;
	/* Knobs; 0 means the default in parentheses. */
	uint64_t part_size;            /**< multipart part size and threshold (16 MiB; min 5 MiB on AWS) */
	uint32_t max_keys;             /**< keys per ListObjectsV2 page (1000) */
	uint32_t max_tries;            /**< attempts per request, retries included (5) */
	uint32_t backoff_min_ms;       /**< first retry delay, doubled each time (100) */
	uint32_t backoff_max_ms;       /**< retry delay cap (2000) */
	uint32_t connect_timeout_ms;   /**< TCP+TLS connect timeout (10000) */
	uint32_t stall_timeout_ms;     /**< abort a transfer slower than 1 KiB/s for this long (30000) */
};

struct objstore_config {
	/** "filesystem" (NULL/empty means filesystem) or "s3". */
	const char *backend;
	/** Filesystem root directory (created if missing). Required for filesystem. */
	const char *fs_dir;
	struct objstore_s3_config s3;
	/** Largest object objstore_get / get_range will read into memory (0: 4 GiB). */
	uint64_t max_get_bytes;
};

struct objstore;

/** Opens the backend cfg->backend names. Checks the settings (missing endpoint, bucket,
 * credentials; unknown backend) but does not contact the server. On success *out is
 * owned by the caller (objstore_close). Returns 0 or EMBER_EINVAL / EMBER_EIO with a
 * message in err. */
int objstore_open(const struct objstore_config *cfg, struct objstore **out, char *err, size_t errlen) EMBER_WUR;

/** Checks cfg as objstore_open would (backend name, required settings, their syntax;
 * credentials may come from the environment) without opening anything or touching the
 * disk or network: 0, or EMBER_EINVAL with the reason in err. For configuration checks at
 * startup. */
int objstore_config_check(const struct objstore_config *cfg, char *err, size_t errlen) EMBER_WUR;

/** Closes the store (NULL-safe). No call may be running on it. */
void objstore_close(struct objstore *os);

/** "filesystem" or "s3". */
const char *objstore_backend(const struct objstore *os);

/** The reason of the last failed objstore call on this thread (static storage, valid until
 * the next objstore call on this thread; "" if none). */
const char *objstore_errmsg(void);

/** Checks a key against the rules above: 0 or EMBER_EINVAL (reason in objstore_errmsg). */
int objstore_key_check(const char *key) EMBER_WUR;

/** Stores data under key, replacing any previous object, atomically from a reader's view:
 * readers see the old object or the new one, never a part. Filesystem: temporary file,
 * fsync, rename, fsync of the directory. S3: one PUT, or a multipart upload when data is
 * larger than part_size. data is borrowed for the call. */
int objstore_put(struct objstore *os, const char *key, struct slice data) EMBER_WUR;

/** Like objstore_put with the contents of the local file at path, read part by part
 * (memory use is bounded by part_size, whatever the file's size). */
int objstore_put_file(struct objstore *os, const char *key, const char *path) EMBER_WUR;

/** Appends the whole object to out. EMBER_ENOTFOUND if absent, EMBER_ETOOBIG above
 * max_get_bytes. On failure out keeps its previous length. */
int objstore_get(struct objstore *os, const char *key, struct buf *out) EMBER_WUR;

/** Appends bytes [off, off+len) of the object to out; fewer when the object ends first.
 * len 0 appends nothing (the object must still exist). EMBER_ENOTFOUND if absent,
 * EMBER_EINVAL if off is at or past the end (so any range of an empty object, as S3
 * answers 416 there). On failure out keeps its previous length. */
int objstore_get_range(struct objstore *os, const char *key, uint64_t off, uint64_t len, struct buf *out) EMBER_WUR;

/** The object's size in *size: 0, or EMBER_ENOTFOUND if absent. */
int objstore_stat(struct objstore *os, const char *key, uint64_t *size) EMBER_WUR;

/** Called once per listed object. key is valid during the call only. Return 0 to go on;
 * anything else stops the listing and objstore_list returns that value. */
typedef int (*objstore_list_fn)(void *ctx, const char *key, uint64_t size);

/** Calls fn for every object whose key starts with prefix (a plain string prefix: "a/b"
 * matches "a/b/c" and "a/bc"; "" lists everything), in ascending byte order of the keys.
 * Returns 0, fn's nonzero value, or a negative EMBER_E* code. */
int objstore_list(struct objstore *os, const char *prefix, objstore_list_fn fn, void *ctx) EMBER_WUR;

/** Removes the object. An absent object is not an error (returns 0). */
int objstore_delete(struct objstore *os, const char *key) EMBER_WUR;

#endif
