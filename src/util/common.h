/* Things every Ember .c file needs: error codes, checked allocation, slices.
 * Include it after any other system header; it pulls in banned.h last. */
#ifndef EMBER_UTIL_COMMON_H
#define EMBER_UTIL_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EMBER_WUR __attribute__((warn_unused_result))
#define EMBER_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define EMBER_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define EMBER_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EMBER_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Error codes: functions that can fail return 0 or one of these (negative). */
enum ember_err {
	EMBER_OK = 0,
	EMBER_EINVAL = -1,    /* malformed input */
	EMBER_ENOMEM = -2,    /* allocation of an outside-controlled size failed */
	EMBER_EIO = -3,       /* a system call failed; errno tells more */
	EMBER_ETOOBIG = -4,   /* a size limit was exceeded */
	EMBER_ENOTFOUND = -5, /* the thing asked for does not exist */
	EMBER_EUNSUP = -6,    /* valid but not supported */
	EMBER_ECORRUPT = -7,  /* stored data failed a checksum or bounds check */
	EMBER_ELIMIT = -8,    /* a rate or count limit was hit */
	EMBER_EAUTH = -9,     /* missing or bad tenant / credentials */
	EMBER_ESTATE = -10,   /* the object is not in a state that allows this */
};

/** Static string describing an EMBER_E* code. */
const char *ember_strerror(int err);

/* Allocation of small, internally sized objects: aborts on out of memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/** printf into a new heap string (caller frees). */
char *xasprintf(const char *fmt, ...) EMBER_PRINTF(1, 2);
/** Grows *array (of *cap elements of elem_size bytes) to hold at least need elements. */
void xgrow(void **array, size_t *cap, size_t need, size_t elem_size);
#define XGROW(arr, cap, need) xgrow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/** qsort / qsort_r that accept an empty array with a NULL base (qsort itself must not be
 * given NULL, even for zero elements). */
static inline void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}
static inline void sort_r_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *, void *),
			    void *ctx)
{
	if (n > 1)
		qsort_r(base, n, size, cmp, ctx);
}

/** A borrowed byte range. Does not own its bytes. */
struct slice {
	const uint8_t *p;
	size_t n;
};

static inline struct slice slice_make(const void *p, size_t n)
{
	struct slice s = {(const uint8_t *)p, n};
	return s;
}
static inline struct slice slice_cstr(const char *s)
{
	return slice_make(s, s ? strlen(s) : 0);
}
static inline bool slice_eq(struct slice a, struct slice b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}
static inline bool slice_eq_cstr(struct slice a, const char *b)
{
	return slice_eq(a, slice_cstr(b));
}
/** Three-way byte comparison (shorter prefix first). */
int slice_cmp(struct slice a, struct slice b);

#include "util/banned.h"

#endif
