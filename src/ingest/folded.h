/* ingest/folded: the collapsed-stack text formats of /ingest (pyroscope-api.md §1):
 *   folded (`format=folded`, `collapsed`, or no format): `root;child;leaf 123` per line;
 *   lines (`format=lines`): `root;child;leaf` per line, each line counts 1.
 * A streaming, zero-copy parser: each stack is handed to a callback with its frames
 * borrowed from the input. See docs/internals/model.md. */
#ifndef EMBER_INGEST_FOLDED_H
#define EMBER_INGEST_FOLDED_H

#include "util/buf.h"
#include "util/common.h"

/** Called once per stack, root frame first. frames[0..n_frames) are borrowed for the
 * duration of the call only. value > 0. A non-zero return stops the parse and is
 * returned by folded_feed / folded_finish / folded_parse. */
typedef int (*folded_fn)(void *ctx, const struct slice *frames, size_t n_frames, int64_t value);

enum folded_format {
	FOLDED_FORMAT_FOLDED = 0,
	FOLDED_FORMAT_LINES,
};

struct folded_opts {
	enum folded_format format;
	size_t max_frames; /* deeper stacks are TRUNCATED to their root-most max_frames frames */
	size_t max_line;   /* longer lines are an error (EMBER_ETOOBIG) */
};

/** Pyroscope's stack depth limit (1000, truncating, keeping the root side) and a 1 MiB
 * line cap (Go's bufio.Scanner in Pyroscope fails past 64 KiB; we are more lenient). */
#define FOLDED_OPTS_DEFAULT {FOLDED_FORMAT_FOLDED, 1000, 1024 * 1024}

struct folded_stats {
	uint64_t lines;     /* lines read, blank ones included */
	uint64_t stacks;    /* callbacks made */
	uint64_t truncated; /* stacks cut to max_frames */
	uint64_t zero;      /* folded lines with value 0, skipped */
	int64_t total;      /* sum of the values passed to the callback */
};

struct folded_parser {
	struct folded_opts opts;
	folded_fn fn;
	void *ctx;
	struct slice *frames; /* max_frames entries */
	struct buf carry;     /* a line split across feeds */
	struct folded_stats stats;
	int failed;           /* sticky error */
};

/** Initialises p (allocates the frame array). Release with folded_release. */
void folded_init(struct folded_parser *p, const struct folded_opts *opts, folded_fn fn, void *ctx);
/** Frees what p holds; NULL-safe contents. */
void folded_release(struct folded_parser *p);

/** Feeds the next chunk; complete lines are parsed straight from chunk (zero-copy), a
 * trailing partial line is kept until the next feed. Lines end in LF or CRLF; blank lines
 * are skipped. Folded lines split at the LAST space: the left part is the stack (frames
 * split on ';', kept verbatim, empty frames included), the right an integer (optional
 * '+'; negative, non-numeric or over INT64_MAX → error); value 0 lines are skipped; a
 * non-blank line without a space, or an empty stack, is an error. Trailing spaces, tabs
 * and CR are trimmed first. Errors: EMBER_EINVAL / EMBER_ETOOBIG with "line N: reason"
 * in err; after an error every call fails again. */
int folded_feed(struct folded_parser *p, struct slice chunk, char *err, size_t errlen) EMBER_WUR;

/** Parses the last line if it had no newline. Call once after the last feed. */
int folded_finish(struct folded_parser *p, char *err, size_t errlen) EMBER_WUR;

/** One-shot: init + feed(body) + finish + release. stats may be NULL. */
int folded_parse(struct slice body, const struct folded_opts *opts, folded_fn fn, void *ctx,
		 struct folded_stats *stats, char *err, size_t errlen) EMBER_WUR;

#endif
