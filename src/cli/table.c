/* table: unit formatting picks the largest unit that keeps the value >= 1, as pprof does,
 * with at most two decimals. */
#include "cli/table.h"

enum unit_kind unit_from_name(const char *name)
{
	if (!name)
		return UNIT_COUNT;
	if (!strcmp(name, "nanoseconds") || !strcmp(name, "ns"))
		return UNIT_NANOS;
	if (!strcmp(name, "bytes") || !strcmp(name, "B"))
		return UNIT_BYTES;
	return UNIT_COUNT;
}

enum unit_kind unit_from_type_id(const char *type_id)
{
	/* name:sample_type:sample_unit:period_type:period_unit */
	const char *p = type_id ? strchr(type_id, ':') : NULL;
	p = p ? strchr(p + 1, ':') : NULL;
	if (!p)
		return UNIT_COUNT;
	p++;
	size_t n = strcspn(p, ":");
	char unit[32];
	if (n >= sizeof(unit))
		return UNIT_COUNT;
	memcpy(unit, p, n);
	unit[n] = 0;
	return unit_from_name(unit);
}

/* "%.2f" without trailing zeros: 10.13, 980, 1.5 (pprof prints 980ms, not 980.00ms). */
static void put_scaled(char *out, size_t n, double v, const char *unit)
{
	char num[48];
	snprintf(num, sizeof(num), "%.2f", v);
	size_t k = strlen(num);
	while (k > 0 && num[k - 1] == '0')
		k--;
	if (k > 0 && num[k - 1] == '.')
		k--;
	snprintf(out, n, "%.*s%s", (int)k, num, unit);
}

void unit_format(char *out, size_t n, double v, enum unit_kind u)
{
	double a = v < 0 ? -v : v;
	if (v == 0 || u == UNIT_COUNT) {
		snprintf(out, n, "%.0f", v);
		return;
	}
	if (u == UNIT_NANOS) {
		static const struct {
			double scale;
			const char *name;
		} units[] = {{3600e9, "h"}, {60e9, "min"}, {1e9, "s"}, {1e6, "ms"}, {1e3, "us"}};
		for (size_t i = 0; i < EMBER_ARRAY_LEN(units); i++) {
			if (a >= units[i].scale) {
				put_scaled(out, n, v / units[i].scale, units[i].name);
				return;
			}
		}
		snprintf(out, n, "%.0fns", v);
		return;
	}
	static const char *const bytes[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t i = 0;
	while (a >= 1024 && i + 1 < EMBER_ARRAY_LEN(bytes)) {
		a /= 1024;
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, n, "%.0fB", v);
	else
		put_scaled(out, n, v, bytes[i]);
}

void table_init(struct table *t, const char *align)
{
	memset(t, 0, sizeof(*t));
	t->ncols = EMBER_MIN(strlen(align), sizeof(t->align) - 1);
	memcpy(t->align, align, t->ncols);
}

void table_release(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int k = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (k < 0)
		abort(); /* out of memory on a small string, as xmalloc */
	XGROW(t->cells, t->cap, t->n + 1);
	t->cells[t->n++] = s;
}

size_t table_text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void table_print(const struct table *t, FILE *f)
{
	if (!t->ncols)
		return;
	size_t width[16] = {0};
	for (size_t i = 0; i < t->n; i++)
		width[i % t->ncols] = EMBER_MAX(width[i % t->ncols], table_text_width(t->cells[i]));
	for (size_t i = 0; i < t->n; i++) {
		size_t col = i % t->ncols;
		bool last = col + 1 == t->ncols || i + 1 == t->n;
		size_t pad = width[col] - table_text_width(t->cells[i]);
		if (t->align[col] == 'r')
			fprintf(f, "%*s%s", (int)pad, "", t->cells[i]);
		else if (last)
			fputs(t->cells[i], f);
		else
			fprintf(f, "%s%*s", t->cells[i], (int)pad, "");
		fputs(last ? "\n" : "  ", f);
	}
}
