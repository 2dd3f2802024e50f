#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "model/labels.h"
#include "util/utf8.h"

static int label_cmp(const struct label *a, const struct label *b)
{
	int c = slice_cmp(a->name, b->name);
	return c ? c : slice_cmp(a->value, b->value);
}

void labels_sort(struct labels *ls)
{
	/* Insertion sort: sets are small (<= 30 after validation) and often nearly
	 * sorted; it is stable and allocation-free. For a hostile, huge, unvalidated set it
	 * degrades to O(n^2), so fall back to qsort past a size where that matters. */
	if (ls->n > 64) {
		sort_n(ls->v, ls->n, sizeof(*ls->v),
		      (int (*)(const void *, const void *))label_cmp);
		return;
	}
	for (size_t i = 1; i < ls->n; i++) {
		struct label x = ls->v[i];
		size_t j = i;
		while (j > 0 && label_cmp(&ls->v[j - 1], &x) > 0) {
			ls->v[j] = ls->v[j - 1];
			j--;
		}
		ls->v[j] = x;
	}
}

bool labels_is_sorted_unique(const struct labels *ls)
{
	for (size_t i = 1; i < ls->n; i++)
		if (slice_cmp(ls->v[i - 1].name, ls->v[i].name) >= 0)
			return false;
	return true;
}

const struct label *labels_find(const struct labels *ls, struct slice name)
{
	for (size_t i = 0; i < ls->n; i++)
		if (slice_eq(ls->v[i].name, name))
			return &ls->v[i];
	return NULL;
}

struct slice labels_get_slice(const struct labels *ls, struct slice name)
{
	const struct label *l = labels_find(ls, name);
	return l ? l->value : slice_make(NULL, 0);
}

struct slice labels_get(const struct labels *ls, const char *name)
{
	return labels_get_slice(ls, slice_cstr(name));
}

void labels_set(struct labels *ls, struct arena *a, struct slice name, struct slice value)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (slice_eq(ls->v[i].name, name)) {
			ls->v[i].value = value;
			return;
		}
	}
	size_t pos = 0;
	while (pos < ls->n && slice_cmp(ls->v[pos].name, name) < 0)
		pos++;
	struct label *nv = arena_alloc(a, (ls->n + 1) * sizeof(*nv));
	if (pos)
		memcpy(nv, ls->v, pos * sizeof(*nv));
	nv[pos].name = name;
	nv[pos].value = value;
	if (ls->n > pos)
		memcpy(nv + pos + 1, ls->v + pos, (ls->n - pos) * sizeof(*nv));
	ls->v = nv;
	ls->n++;
}

bool labels_delete(struct labels *ls, struct slice name)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (slice_eq(ls->v[i].name, name)) {
			memmove(ls->v + i, ls->v + i + 1, (ls->n - i - 1) * sizeof(*ls->v));
			ls->n--;
			return true;
		}
	}
	return false;
}

static struct slice dup_slice(struct arena *a, struct slice s)
{
	char *p = arena_strndup(a, (const char *)s.p ? (const char *)s.p : "", s.n);
	return slice_make(p, s.n);
}

void labels_dup(struct labels *dst, struct arena *a, const struct labels *src)
{
	size_t n = src->n;
	struct label *v = n ? arena_alloc(a, n * sizeof(*v)) : NULL;
	for (size_t i = 0; i < n; i++) {
		v[i].name = dup_slice(a, src->v[i].name);
		v[i].value = dup_slice(a, src->v[i].value);
	}
	dst->v = v;
	dst->n = n;
}

uint64_t labels_hash(const struct labels *ls)
{
	static const uint8_t sep = 0xff;
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->v[i].name.n)
			XXH3_64bits_update(&st, ls->v[i].name.p, ls->v[i].name.n);
		XXH3_64bits_update(&st, &sep, 1);
		if (ls->v[i].value.n)
			XXH3_64bits_update(&st, ls->v[i].value.p, ls->v[i].value.n);
		XXH3_64bits_update(&st, &sep, 1);
	}
	return XXH3_64bits_digest(&st);
}

int labels_cmp(const struct labels *a, const struct labels *b)
{
	size_t n = EMBER_MIN(a->n, b->n);
	for (size_t i = 0; i < n; i++) {
		int c = label_cmp(&a->v[i], &b->v[i]);
		if (c)
			return c < 0 ? -1 : 1;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

bool labels_equal(const struct labels *a, const struct labels *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!slice_eq(a->v[i].name, b->v[i].name) || !slice_eq(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

bool labels_name_is_legacy(struct slice s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		uint8_t c = s.p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

void labels_append_quoted(struct buf *out, struct slice s)
{
	static const char hex[] = "0123456789abcdef";
	buf_append_byte(out, '"');
	size_t i = 0;
	while (i < s.n) {
		uint8_t c = s.p[i];
		if (c >= 0x80) {
			size_t k = utf8_seq_len(s.p + i, s.n - i);
			if (k) {
				buf_append(out, s.p + i, k);
				i += k;
				continue;
			}
		}
		switch (c) {
		case '"': buf_append_cstr(out, "\\\""); break;
		case '\\': buf_append_cstr(out, "\\\\"); break;
		case '\n': buf_append_cstr(out, "\\n"); break;
		case '\t': buf_append_cstr(out, "\\t"); break;
		case '\r': buf_append_cstr(out, "\\r"); break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				uint8_t e[4] = {'\\', 'x', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
				buf_append(out, e, 4);
			} else {
				buf_append_byte(out, c);
			}
		}
		i++;
	}
	buf_append_byte(out, '"');
}

void labels_format(const struct labels *ls, struct buf *out)
{
	buf_append_byte(out, '{');
	for (size_t i = 0; i < ls->n; i++) {
		if (i)
			buf_append_cstr(out, ", ");
		if (labels_name_is_legacy(ls->v[i].name))
			buf_append(out, ls->v[i].name.p, ls->v[i].name.n);
		else
			labels_append_quoted(out, ls->v[i].name);
		buf_append_byte(out, '=');
		labels_append_quoted(out, ls->v[i].value);
	}
	buf_append_byte(out, '}');
}

/* ---- validation ------------------------------------------------------------------ */

/* Writes "<what> "<name, at most 64 bytes shown>"<rest>" into err. */
static void err_name(char *err, size_t errlen, const char *what, struct slice name, const char *rest)
{
	if (!err || !errlen)
		return;
	int shown = (int)EMBER_MIN(name.n, (size_t)64);
	snprintf(err, errlen, "%s \"%.*s%s\"%s", what, shown, (const char *)name.p,
		 name.n > 64 ? "..." : "", rest);
}

/* Legacy-with-dots check as Pyroscope's SanitizeLegacyLabelName: a leading '.' is
 * allowed, a leading digit is not. Sets *dots when a '.' was seen. */
static bool name_ok_dotted(struct slice s, bool *dots)
{
	*dots = false;
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		uint8_t c = s.p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		    (i > 0 && c >= '0' && c <= '9'))
			continue;
		if (c != '.')
			return false;
		*dots = true;
	}
	return true;
}

static bool has_dup_names(const struct labels *ls, struct slice *dup)
{
	for (size_t i = 1; i < ls->n; i++) {
		if (slice_eq(ls->v[i - 1].name, ls->v[i].name)) {
			*dup = ls->v[i].name;
			return true;
		}
	}
	return false;
}

int labels_validate(struct labels *ls, struct arena *a, const struct labels_limits *lim,
		    char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = 0;
	if (ls->n == 0) {
		snprintf(err, errlen, "at least one label pair is required per profile");
		return EMBER_EINVAL;
	}
	if (ls->n > lim->max_names) {
		snprintf(err, errlen, "series has %zu label names; limit %zu", ls->n, lim->max_names);
		return EMBER_ETOOBIG;
	}
	size_t dotted = 0;
	for (size_t i = 0; i < ls->n; i++) {
		const struct label *l = &ls->v[i];
		if (l->name.n > lim->max_name_len) {
			err_name(err, errlen, "label name too long:", l->name, "");
			return EMBER_ETOOBIG;
		}
		if (l->value.n > lim->max_value_len) {
			err_name(err, errlen, "label value too long for", l->name, "");
			return EMBER_ETOOBIG;
		}
		bool ok, dots = false;
		switch (lim->names) {
		case LABELS_NAMES_LEGACY:
			ok = labels_name_is_legacy(l->name);
			break;
		case LABELS_NAMES_UTF8:
			ok = l->name.n > 0 && utf8_valid(l->name.p, l->name.n);
			break;
		default:
			ok = name_ok_dotted(l->name, &dots);
			break;
		}
		if (!ok) {
			if (l->name.n == 0)
				snprintf(err, errlen, "empty label name");
			else if (!utf8_valid(l->name.p, l->name.n))
				snprintf(err, errlen, "label name is not valid UTF-8");
			else
				err_name(err, errlen, "invalid label name", l->name, "");
			return EMBER_EINVAL;
		}
		dotted += dots;
		if (!utf8_valid(l->value.p, l->value.n)) {
			err_name(err, errlen, "label value of", l->name, " is not valid UTF-8");
			return EMBER_EINVAL;
		}
	}
	/* Duplicates among the names as sent are an error... */
	labels_sort(ls);
	struct slice dup;
	if (has_dup_names(ls, &dup)) {
		err_name(err, errlen, "duplicate label name", dup, "");
		return EMBER_EINVAL;
	}
	if (dotted) {
		if (!a) {
			snprintf(err, errlen, "internal: label sanitization needs an arena");
			return EMBER_EINVAL;
		}
		for (size_t i = 0; i < ls->n; i++) {
			struct label *l = &ls->v[i];
			if (!memchr(l->name.p, '.', l->name.n))
				continue;
			char *p = arena_strndup(a, (const char *)l->name.p, l->name.n);
			for (size_t k = 0; k < l->name.n; k++)
				if (p[k] == '.')
					p[k] = '_';
			l->name = slice_make(p, l->name.n);
		}
		labels_sort(ls);
		/* ...while a name that only collides after '.'->'_' collapses when the values
		 * agree, as Pyroscope's handleSanitizedLabel does. */
		size_t w = 0;
		for (size_t i = 0; i < ls->n; i++) {
			if (w > 0 && slice_eq(ls->v[w - 1].name, ls->v[i].name)) {
				if (slice_eq(ls->v[w - 1].value, ls->v[i].value))
					continue;
				err_name(err, errlen, "duplicate label name", ls->v[i].name,
					 " after label name sanitization");
				return EMBER_EINVAL;
			}
			ls->v[w++] = ls->v[i];
		}
		ls->n = w;
	}
	if (labels_get(ls, LABEL_NAME).n == 0) {
		snprintf(err, errlen, "invalid metric name: __name__ is missing or empty");
		return EMBER_EINVAL;
	}
	if (labels_get(ls, LABEL_SERVICE_NAME).n == 0) {
		snprintf(err, errlen, "service name is not provided");
		return EMBER_EINVAL;
	}
	return 0;
}
