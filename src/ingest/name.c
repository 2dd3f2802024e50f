#include "ingest/name.h"
#include "util/utf8.h"

bool ingest_name_key_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

bool ingest_name_app_char_ok(uint8_t c)
{
	return ingest_name_key_char_ok(c) || c == '-' || c == '/';
}

/* Length of the Unicode White_Space character (Go's unicode.IsSpace) at p, else 0. */
static size_t space_at(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c == 0xc2 && n >= 2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (c == 0xe1 && n >= 3 && p[1] == 0x9a && p[2] == 0x80) /* U+1680 */
		return 3;
	if (c == 0xe2 && n >= 3 && p[1] == 0x80 &&
	    (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf)) /* U+2000-200A, 2028, 2029, 202F */
		return p[2] >= 0x80 ? 3 : 0;
	if (c == 0xe2 && n >= 3 && p[1] == 0x81 && p[2] == 0x9f) /* U+205F */
		return 3;
	if (c == 0xe3 && n >= 3 && p[1] == 0x80 && p[2] == 0x80) /* U+3000 */
		return 3;
	return 0;
}

/* Length of the white space character ending at p[n-1], else 0. */
static size_t space_before(const uint8_t *p, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		size_t l = space_at(p + n - k, k);
		if (l == k)
			return k;
	}
	return 0;
}

static struct slice trim(struct slice s)
{
	size_t k;
	while (s.n && (k = space_at(s.p, s.n)) != 0) {
		s.p += k;
		s.n -= k;
	}
	while (s.n && (k = space_before(s.p, s.n)) != 0)
		s.n -= k;
	return s;
}

static void err_text(char *err, size_t errlen, const char *what, struct slice s, const char *extra)
{
	int shown = (int)EMBER_MIN(s.n, (size_t)64);
	snprintf(err, errlen, "%s: \"%.*s%s\"%s", what, shown, s.p ? (const char *)s.p : "",
		 s.n > 64 ? "..." : "", extra);
}

static int check_chars(struct slice s, bool app, char *err, size_t errlen)
{
	if (s.n == 0) {
		snprintf(err, errlen, app ? "service name is required" : "label name is required");
		return EMBER_EINVAL;
	}
	for (size_t i = 0; i < s.n; i++) {
		bool ok = app ? ingest_name_app_char_ok(s.p[i]) : ingest_name_key_char_ok(s.p[i]);
		if (!ok) {
			char extra[48];
			if (s.p[i] >= 0x20 && s.p[i] < 0x7f)
				snprintf(extra, sizeof(extra), ": character is not allowed: '%c'", s.p[i]);
			else
				snprintf(extra, sizeof(extra), ": character is not allowed: byte 0x%02x", s.p[i]);
			err_text(err, errlen, app ? "invalid service name" : "invalid label name", s, extra);
			return EMBER_EINVAL;
		}
	}
	return 0;
}

int ingest_name_parse(struct slice s, struct arena *a, struct ingest_name *out, char *err,
		      size_t errlen)
{
	enum { ST_NAME, ST_KEY, ST_VALUE, ST_DONE } st = ST_NAME;
	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	if (!utf8_valid(s.p, s.n)) {
		snprintf(err, errlen, "name is not valid UTF-8");
		return EMBER_EINVAL;
	}
	/* Every committed pair ends at an '=' seen earlier: bounds the array. */
	size_t cap = 0;
	for (size_t i = 0; i < s.n; i++)
		cap += s.p[i] == '=';
	if (cap > INGEST_NAME_MAX_PAIRS)
		cap = INGEST_NAME_MAX_PAIRS + 1;
	struct label *v = NULL;
	if (cap) {
		v = arena_try_alloc(a, cap * sizeof(*v));
		if (!v) {
			snprintf(err, errlen, "out of memory for the name labels");
			return EMBER_ENOMEM;
		}
	}
	size_t nv = 0;
	struct slice app = s;
	size_t key0 = 0, val0 = 0, key_end = 0;
	/* Pyroscope parses name + "{": i == s.n stands for that extra '{'. */
	for (size_t i = 0; i <= s.n && st != ST_DONE; i++) {
		uint8_t c = i < s.n ? s.p[i] : '{';
		switch (st) {
		case ST_NAME:
			if (c == '{') {
				app = trim(slice_make(s.p, i));
				int rc = check_chars(app, true, err, errlen);
				if (rc)
					return rc;
				st = ST_KEY;
				key0 = i + 1;
			}
			break;
		case ST_KEY:
			if (c == '}') {
				st = ST_DONE;
			} else if (c == '=') {
				key_end = i;
				val0 = i + 1;
				st = ST_VALUE;
			}
			break;
		case ST_VALUE:
			if (c == ',' || c == '}') {
				struct slice key = trim(slice_make(s.p + key0, key_end - key0));
				struct slice val = trim(slice_make(s.p + val0, i - val0));
				bool reserved = slice_eq_cstr(key, LABEL_NAME);
				if (!reserved) {
					int rc = check_chars(key, false, err, errlen);
					if (rc)
						return rc;
				}
				if (reserved) {
					/* Go stores it unchecked; we hold it to the app rules. */
					int rc = check_chars(val, true, err, errlen);
					if (rc)
						return rc;
					app = val;
				} else {
					size_t k = 0;
					while (k < nv && !slice_eq(v[k].name, key))
						k++;
					if (k == nv) {
						if (nv == INGEST_NAME_MAX_PAIRS || nv == cap) {
							snprintf(err, errlen, "name has more than %d labels",
								 INGEST_NAME_MAX_PAIRS);
							return EMBER_ETOOBIG;
						}
						v[nv++].name = key;
					}
					v[k].value = val;
				}
				key0 = i + 1;
				st = ST_KEY;
			}
			break;
		case ST_DONE:
			break;
		}
	}
	out->app = app;
	out->labels.v = v;
	out->labels.n = nv;
	return 0;
}
