/* table: terminal output of `ember query`: values in human units and aligned columns. */
#ifndef EMBER_CLI_TABLE_H
#define EMBER_CLI_TABLE_H

#include "util/common.h"

enum unit_kind {
	UNIT_COUNT, /* printed as a plain integer */
	UNIT_NANOS, /* ns, us, ms, s, then min and h */
	UNIT_BYTES, /* B, KiB, MiB, GiB, TiB (powers of 1024) */
};

/** The kind of a unit name as profile types spell it ("nanoseconds", "bytes", "count", ...);
 * anything unknown is UNIT_COUNT. name may be NULL. */
enum unit_kind unit_from_name(const char *name);

/** The kind of the sample unit of a profile type ID `name:sample_type:sample_unit:...`. */
enum unit_kind unit_from_type_id(const char *type_id);

/** Writes v in its unit into out (always NUL-terminated), with at most two decimals and no
 * trailing zeros: 0 as "0", nanoseconds as "12.35ms" / "1.2s" / "2.5min" / "980ms", bytes
 * as "1.5MiB" / "1023B", counts as "1234". */
void unit_format(char *out, size_t n, double v, enum unit_kind u);

/** A table of text cells, printed with each column padded to its widest cell (widths
 * count UTF-8 code points, so box-drawing characters align). Cells are copied. */
struct table {
	size_t ncols;
	char align[16]; /* per column 'l' or 'r' */
	char **cells;   /* row-major */
	size_t n, cap;  /* cells */
};

/** Initialises a table of strlen(align) columns (at most 15); align[i] is 'l' or 'r'. */
void table_init(struct table *t, const char *align);
/** Frees every cell. */
void table_release(struct table *t);
/** Appends the next cell (rows fill left to right, then wrap). */
void table_cell(struct table *t, const char *fmt, ...) EMBER_PRINTF(2, 3);
/** Prints the rows with two spaces between columns; the last column is not padded. */
void table_print(const struct table *t, FILE *f);

/** Display width of a UTF-8 string: its number of code points. */
size_t table_text_width(const char *s);

#endif
