/* metrics: registry, lock-free sample updates, and the text exposition format.
 *
 * Values are doubles stored as their bit patterns in uint64_t so they can be updated with
 * __atomic compare-and-swap. Histogram buckets are kept per bucket (not cumulative) and
 * summed at scrape time, so _count always equals the +Inf bucket. Child lookup goes through
 * an open-addressing hash table under the family's mutex; hot paths keep the child handle. */
#include <math.h>
#include <pthread.h>

#include "util/buf.h"
#include "util/common.h"
#include "util/metrics.h"
#include "util/utf8.h"

const double metrics_default_buckets[METRICS_DEFAULT_BUCKETS_N] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
								     0.5,   1,    2.5,   5,    10};

enum metric_type { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM, MT_GAUGE_FUNC, MT_COUNTER_FUNC };

struct metric_child {
	struct metric *family;
	char **values;     /* one per label name */
	uint64_t hash;
	uint64_t value;    /* double bits: counter / gauge value, histogram sum */
	uint64_t *buckets; /* histogram: nbuckets + 1 counts (last is +Inf) */
};

struct metric {
	struct metrics *reg;
	enum metric_type type;
	char *name;
	char *help;
	char **labels;
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	double (*fn)(void *);
	void *fn_ctx;

	pthread_mutex_t mu; /* guards the child arrays below (not the values) */
	struct metric_child **children;
	size_t nchildren, children_cap;
	struct metric_child **table; /* hash table of children, size table_cap (power of 2) */
	size_t table_cap;
	struct metric_child *solo; /* the child of an unlabeled family */
};

struct metrics {
	pthread_mutex_t mu;
	struct metric **families;
	size_t n, cap;
};

static void die(const char *what, const char *name)
{
	fprintf(stderr, "ember: metrics: %s: \"%s\"\n", what, name ? name : "(null)");
	abort();
}

static inline double load_double(const uint64_t *p)
{
	uint64_t bits = __atomic_load_n(p, __ATOMIC_RELAXED);
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

static inline void store_double(uint64_t *p, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof(d));
	__atomic_store_n(p, bits, __ATOMIC_RELAXED);
}

static inline void add_double(uint64_t *p, double v)
{
	uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), next;
	do {
		double d;
		memcpy(&d, &old, sizeof(d));
		d += v;
		memcpy(&next, &d, sizeof(d));
	} while (!__atomic_compare_exchange_n(p, &old, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/* ---- registration -------------------------------------------------------------------- */

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void child_free(struct metric_child *c, size_t nlabels)
{
	for (size_t i = 0; i < nlabels; i++)
		free(c->values[i]);
	free(c->values);
	free(c->buckets);
	free(c);
}

static void family_free(struct metric *f)
{
	for (size_t i = 0; i < f->nchildren; i++)
		child_free(f->children[i], f->nlabels);
	free(f->children);
	free(f->table);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->labels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		family_free(m->families[i]);
	free(m->families);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
			  (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static struct metric_child *child_new(struct metric *f, const char *const *values, uint64_t hash);

static struct metric *family_add(struct metrics *m, enum metric_type type, const char *name, const char *help,
				 const char *const *label_names)
{
	if (!valid_name(name, true))
		die("invalid metric name", name);
	struct metric *f = xcalloc(1, sizeof(*f));
	f->reg = m;
	f->type = type;
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	pthread_mutex_init(&f->mu, NULL);
	for (size_t i = 0; label_names && label_names[i]; i++) {
		const char *l = label_names[i];
		if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
		    (type == MT_HISTOGRAM && strcmp(l, "le") == 0))
			die("invalid label name", l);
		for (size_t j = 0; j < i; j++)
			if (strcmp(label_names[j], l) == 0)
				die("duplicate label name", l);
		if (i >= METRICS_MAX_LABELS)
			die("too many labels", name);
		f->nlabels = i + 1;
	}
	if (f->nlabels) {
		f->labels = xcalloc(f->nlabels, sizeof(*f->labels));
		for (size_t i = 0; i < f->nlabels; i++)
			f->labels[i] = xstrdup(label_names[i]);
	}
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->families[i]->name, name) == 0)
			die("metric registered twice", name);
	XGROW(m->families, m->cap, m->n + 1);
	m->families[m->n++] = f;
	pthread_mutex_unlock(&m->mu);
	return f;
}

static struct metric *register_plain(struct metrics *m, enum metric_type type, const char *name,
				     const char *help, const char *const *label_names)
{
	struct metric *f = family_add(m, type, name, help, label_names);
	if (f->nlabels == 0) {
		pthread_mutex_lock(&f->mu);
		f->solo = child_new(f, NULL, 0);
		pthread_mutex_unlock(&f->mu);
	}
	return f;
}

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *const *label_names)
{
	return register_plain(m, MT_COUNTER, name, help, label_names);
}

struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
			     const char *const *label_names)
{
	return register_plain(m, MT_GAUGE, name, help, label_names);
}

struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *const *label_names, const double *buckets, size_t n)
{
	/* A trailing +Inf is implicit; accept it but do not store it twice. */
	if (n > 0 && isinf(buckets[n - 1]) && buckets[n - 1] > 0)
		n--;
	if (n == 0)
		die("histogram needs at least one bucket", name);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
			die("histogram buckets must be finite and strictly increasing", name);
	/* Bounds are set before the solo child is made: it sizes its bucket array from them. */
	struct metric *f = family_add(m, MT_HISTOGRAM, name, help, label_names);
	pthread_mutex_lock(&f->mu);
	f->bounds = xmalloc(n * sizeof(*f->bounds));
	memcpy(f->bounds, buckets, n * sizeof(*f->bounds));
	f->nbounds = n;
	if (f->nlabels == 0)
		f->solo = child_new(f, NULL, 0);
	pthread_mutex_unlock(&f->mu);
	return f;
}

struct metric *metrics_gauge_func(struct metrics *m, const char *name, const char *help, double (*fn)(void *ctx),
				  void *ctx)
{
	struct metric *f = family_add(m, MT_GAUGE_FUNC, name, help, NULL);
	f->fn = fn;
	f->fn_ctx = ctx;
	return f;
}

struct metric *metrics_counter_func(struct metrics *m, const char *name, const char *help,
				    double (*fn)(void *ctx), void *ctx)
{
	struct metric *f = family_add(m, MT_COUNTER_FUNC, name, help, NULL);
	f->fn = fn;
	f->fn_ctx = ctx;
	return f;
}

/* ---- children ------------------------------------------------------------------------ */

static uint64_t hash_values(const char *const *values, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a; a 0xff separator cannot occur in UTF-8 */
	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
			h = (h ^ *p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
	}
	return h;
}

static bool child_matches(const struct metric_child *c, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c->values[i], values[i]) != 0)
			return false;
	return true;
}

static void table_put(struct metric_child **table, size_t cap, struct metric_child *c)
{
	size_t i = (size_t)c->hash & (cap - 1);
	while (table[i])
		i = (i + 1) & (cap - 1);
	table[i] = c;
}

/* Called with f->mu held. */
static struct metric_child *child_new(struct metric *f, const char *const *values, uint64_t hash)
{
	struct metric_child *c = xcalloc(1, sizeof(*c));
	c->family = f;
	c->hash = hash;
	if (f->nlabels) {
		c->values = xcalloc(f->nlabels, sizeof(*c->values));
		for (size_t i = 0; i < f->nlabels; i++)
			c->values[i] = xstrdup(values[i] ? values[i] : "");
	}
	if (f->type == MT_HISTOGRAM)
		c->buckets = xcalloc(f->nbounds + 1, sizeof(*c->buckets));
	XGROW(f->children, f->children_cap, f->nchildren + 1);
	f->children[f->nchildren++] = c;
	if (f->nlabels) {
		if (f->nchildren * 2 > f->table_cap) {
			size_t cap = f->table_cap ? f->table_cap * 2 : 16;
			struct metric_child **t = xcalloc(cap, sizeof(*t));
			for (size_t i = 0; i + 1 < f->nchildren; i++)
				table_put(t, cap, f->children[i]);
			free(f->table);
			f->table = t;
			f->table_cap = cap;
		}
		table_put(f->table, f->table_cap, c);
	}
	return c;
}

struct metric_child *metric_with(struct metric *f, const char *const *label_values)
{
	if (!f || f->type == MT_GAUGE_FUNC || f->type == MT_COUNTER_FUNC)
		return NULL;
	if (f->nlabels == 0)
		return f->solo;
	if (!label_values)
		return NULL;
	/* Values with a missing entry are treated as empty strings by child_new; hash the
	 * same way so lookups agree. */
	const char *vals[METRICS_MAX_LABELS];
	for (size_t i = 0; i < f->nlabels; i++)
		vals[i] = label_values[i] ? label_values[i] : "";
	uint64_t h = hash_values(vals, f->nlabels);
	struct metric_child *c = NULL;
	pthread_mutex_lock(&f->mu);
	if (f->table_cap) {
		size_t mask = f->table_cap - 1;
		for (size_t i = (size_t)h & mask; f->table[i]; i = (i + 1) & mask) {
			if (f->table[i]->hash == h && child_matches(f->table[i], vals, f->nlabels)) {
				c = f->table[i];
				break;
			}
		}
	}
	if (!c && f->nchildren < METRICS_MAX_CHILDREN)
		c = child_new(f, vals, h);
	pthread_mutex_unlock(&f->mu);
	return c;
}

void metric_child_add(struct metric_child *c, double v)
{
	if (!c)
		return;
	if (c->family->type == MT_COUNTER) {
		if (!(v >= 0))
			return;
	} else if (c->family->type != MT_GAUGE) {
		return;
	}
	add_double(&c->value, v);
}

void metric_child_set(struct metric_child *c, double v)
{
	if (c && c->family->type == MT_GAUGE)
		store_double(&c->value, v);
}

void metric_child_observe(struct metric_child *c, double v)
{
	if (!c || c->family->type != MT_HISTOGRAM)
		return;
	const struct metric *f = c->family;
	/* First bound >= v (a NaN lands in +Inf, as in the Go client). */
	size_t lo = 0, hi = f->nbounds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->bounds[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (isnan(v))
		lo = f->nbounds;
	__atomic_add_fetch(&c->buckets[lo], 1, __ATOMIC_RELAXED);
	add_double(&c->value, v);
}

double metric_child_value(const struct metric_child *c)
{
	if (!c || c->family->type == MT_HISTOGRAM)
		return NAN;
	return load_double(&c->value);
}

void metric_add(struct metric *f, const char *const *label_values, double v)
{
	metric_child_add(metric_with(f, label_values), v);
}

void metric_inc(struct metric *f, const char *const *label_values)
{
	metric_child_add(metric_with(f, label_values), 1.0);
}

void metric_set(struct metric *f, const char *const *label_values, double v)
{
	metric_child_set(metric_with(f, label_values), v);
}

void metric_observe(struct metric *f, const char *const *label_values, double v)
{
	metric_child_observe(metric_with(f, label_values), v);
}

/* ---- exposition ---------------------------------------------------------------------- */

/* Shortest text that reads back as the same double (Go's strconv 'g' -1 in spirit). */
static void put_double(struct buf *out, double v)
{
	if (isnan(v)) {
		buf_append_cstr(out, "NaN");
		return;
	}
	if (isinf(v)) {
		buf_append_cstr(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char tmp[40];
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(tmp, sizeof(tmp), "%.0f", v);
	} else {
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
			if (strtod(tmp, NULL) == v)
				break;
		}
	}
	buf_append_cstr(out, tmp);
}

/* Escapes for HELP (backslash, newline) or, with quote, label values (also '"'). Invalid
 * UTF-8 becomes U+FFFD: the format requires UTF-8. */
static void put_escaped(struct buf *out, const char *s, bool quote)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		if (c == '\\') {
			buf_append(out, "\\\\", 2);
		} else if (c == '\n') {
			buf_append(out, "\\n", 2);
		} else if (c == '"' && quote) {
			buf_append(out, "\\\"", 2);
		} else if (c < 0x80) {
			buf_append_byte(out, c);
		} else {
			size_t k = utf8_seq_len(p + i, n - i);
			if (k == 0) {
				buf_append(out, "\xef\xbf\xbd", 3);
				k = 1;
			} else {
				buf_append(out, p + i, k);
			}
			i += k;
			continue;
		}
		i++;
	}
}

/* Writes `{a="x",b="y"` plus an optional extra label, and the closing brace; nothing when
 * there are no labels at all. */
static void put_labels(struct buf *out, const struct metric *f, const struct metric_child *c, const char *extra_name,
		       const char *extra_value)
{
	if (f->nlabels == 0 && !extra_name)
		return;
	buf_append_byte(out, '{');
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i)
			buf_append_byte(out, ',');
		buf_append_cstr(out, f->labels[i]);
		buf_append(out, "=\"", 2);
		put_escaped(out, c->values[i], true);
		buf_append_byte(out, '"');
	}
	if (extra_name) {
		if (f->nlabels)
			buf_append_byte(out, ',');
		buf_append_cstr(out, extra_name);
		buf_append(out, "=\"", 2);
		buf_append_cstr(out, extra_value);
		buf_append_byte(out, '"');
	}
	buf_append_byte(out, '}');
}

static void put_sample(struct buf *out, const char *name, const char *suffix, const struct metric *f,
		       const struct metric_child *c, const char *extra_name, const char *extra_value, double v)
{
	buf_append_cstr(out, name);
	buf_append_cstr(out, suffix);
	put_labels(out, f, c, extra_name, extra_value);
	buf_append_byte(out, ' ');
	put_double(out, v);
	buf_append_byte(out, '\n');
}

static void write_histogram_child(struct buf *out, const struct metric *f, const struct metric_child *c)
{
	uint64_t cum = 0;
	struct buf le = BUF_INIT;
	for (size_t i = 0; i <= f->nbounds; i++) {
		cum += __atomic_load_n(&c->buckets[i], __ATOMIC_RELAXED);
		le.n = 0;
		put_double(&le, i < f->nbounds ? f->bounds[i] : INFINITY);
		put_sample(out, f->name, "_bucket", f, c, "le", buf_cstr(&le), (double)cum);
	}
	buf_release(&le);
	put_sample(out, f->name, "_sum", f, c, NULL, NULL, load_double(&c->value));
	put_sample(out, f->name, "_count", f, c, NULL, NULL, (double)cum);
}

void metrics_write(struct metrics *m, struct buf *out)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram", "gauge", "counter"};
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		struct metric *f = m->families[i];
		buf_printf(out, "# HELP %s ", f->name);
		put_escaped(out, f->help, false);
		buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
		if (f->type == MT_GAUGE_FUNC || f->type == MT_COUNTER_FUNC) {
			put_sample(out, f->name, "", f, NULL, NULL, NULL, f->fn(f->fn_ctx));
			continue;
		}
		pthread_mutex_lock(&f->mu);
		for (size_t j = 0; j < f->nchildren; j++) {
			const struct metric_child *c = f->children[j];
			if (f->type == MT_HISTOGRAM)
				write_histogram_child(out, f, c);
			else
				put_sample(out, f->name, "", f, c, NULL, NULL, load_double(&c->value));
		}
		pthread_mutex_unlock(&f->mu);
	}
	pthread_mutex_unlock(&m->mu);
}
