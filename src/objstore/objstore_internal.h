/* objstore internals shared by objstore.c (dispatch, key rules, errors) and the backends. */
#ifndef EMBER_OBJSTORE_INTERNAL_H
#define EMBER_OBJSTORE_INTERNAL_H

#include "objstore/objstore.h"

/* Prefix of the filesystem backend's temporary files; no key segment may start with it. */
#define OBJSTORE_TMP_PREFIX ".ember-tmp"

/* What a backend implements. Keys reach it already checked. get_range with whole=true
 * reads the whole object (off and len ignored); out is restored by the caller on failure. */
struct objstore_ops {
	const char *name;
	int (*put)(struct objstore *os, const char *key, struct slice data);
	int (*put_file)(struct objstore *os, const char *key, const char *path);
	int (*get_range)(struct objstore *os, const char *key, bool whole, uint64_t off, uint64_t len,
			 struct buf *out);
	int (*stat)(struct objstore *os, const char *key, uint64_t *size);
	int (*list)(struct objstore *os, const char *prefix, objstore_list_fn fn, void *ctx);
	int (*del)(struct objstore *os, const char *key);
	void (*close)(struct objstore *os);
};

/* Each backend's handle starts with this. */
struct objstore {
	const struct objstore_ops *ops;
	uint64_t max_get_bytes;
};

/* Sets this thread's error message (what objstore_errmsg returns) and returns rc. */
int objstore__fail(int rc, const char *fmt, ...) EMBER_PRINTF(2, 3);

/* ---- the few XML bits S3 answers need (s3_xml.c); zero-copy over the response body ---- */

/* Finds the first <tag>...</tag> at or after *pos in body (tag without attributes). On
 * success *inner is the text between the tags and *pos moves past the closing tag. */
bool objstore__xml_next(struct slice body, size_t *pos, const char *tag, struct slice *inner);
/* Like objstore__xml_next from the start of body. */
bool objstore__xml_find(struct slice body, const char *tag, struct slice *inner);
/* Appends the text with XML character and entity references decoded (&amp; &lt; &gt;
 * &quot; &apos; &#N; &#xH;); a malformed reference is copied as is. */
void objstore__xml_unescape(struct slice text, struct buf *out);
/* Appends s with & < > " escaped. */
void objstore__xml_escape(const char *s, struct buf *out);

/* Reads one ListObjectsV2 answer: calls fn for each <Contents> (Key, Size), using key as
 * scratch; sets *truncated and, when truncated, token to NextContinuationToken. Returns 0,
 * fn's nonzero value, or EMBER_EIO for an answer that makes no sense (message set). */
int objstore__s3_list_page(struct slice body, objstore_list_fn fn, void *ctx, struct buf *key, struct buf *token,
			   bool *truncated);

int objstore__fs_open(const struct objstore_config *cfg, struct objstore **out, char *err, size_t errlen);
int objstore__s3_open(const struct objstore_config *cfg, struct objstore **out, char *err, size_t errlen);
int objstore__s3_check(const struct objstore_config *cfg, char *err, size_t errlen);

#endif
