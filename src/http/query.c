#include "http/query.h"

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes in into dst (which has room for in.n bytes: decoding never grows). */
static int decode_into(struct slice in, bool plus_as_space, uint8_t *dst, size_t *n_out)
{
	size_t j = 0;
	for (size_t i = 0; i < in.n; i++) {
		uint8_t c = in.p[i];
		if (c == '%') {
			if (in.n - i < 3)
				return EMBER_EINVAL;
			int hi = hexval(in.p[i + 1]), lo = hexval(in.p[i + 2]);
			if (hi < 0 || lo < 0)
				return EMBER_EINVAL;
			dst[j++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_as_space) {
			dst[j++] = ' ';
		} else {
			dst[j++] = c;
		}
	}
	*n_out = j;
	return 0;
}

int http_percent_decode(struct slice in, bool plus_as_space, struct arena *a, struct slice *out)
{
	uint8_t *dst = arena_try_alloc(a, in.n + 1);
	if (!dst)
		return EMBER_ENOMEM;
	size_t n = 0;
	int rc = decode_into(in, plus_as_space, dst, &n);
	if (rc < 0)
		return rc;
	dst[n] = '\0';
	*out = slice_make(dst, n);
	return 0;
}

/* Compares the form-decoded key with name without allocating. A malformed key never
 * matches. */
static bool key_matches(struct slice key, const char *name)
{
	size_t nl = strlen(name), j = 0;
	for (size_t i = 0; i < key.n; i++, j++) {
		uint8_t c = key.p[i];
		if (c == '%') {
			if (key.n - i < 3)
				return false;
			int hi = hexval(key.p[i + 1]), lo = hexval(key.p[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (j >= nl || (uint8_t)name[j] != c)
			return false;
	}
	return j == nl;
}

/* Iterates the pairs of q: returns false at the end. */
static bool next_pair(struct slice q, size_t *pos, struct slice *key, struct slice *val)
{
	while (*pos < q.n) {
		size_t start = *pos, end = start;
		while (end < q.n && q.p[end] != '&')
			end++;
		*pos = end < q.n ? end + 1 : end;
		if (end == start)
			continue;
		size_t eq = start;
		while (eq < end && q.p[eq] != '=')
			eq++;
		*key = slice_make(q.p + start, eq - start);
		*val = eq < end ? slice_make(q.p + eq + 1, end - eq - 1) : slice_make(q.p + end, 0);
		return true;
	}
	return false;
}

int http_query_get(struct slice query, const char *name, struct arena *a, struct slice *out)
{
	size_t pos = 0;
	struct slice k, v;
	while (next_pair(query, &pos, &k, &v)) {
		if (key_matches(k, name))
			return http_percent_decode(v, true, a, out);
	}
	return EMBER_ENOTFOUND;
}

bool http_query_has(struct slice query, const char *name)
{
	size_t pos = 0;
	struct slice k, v;
	while (next_pair(query, &pos, &k, &v)) {
		if (key_matches(k, name))
			return true;
	}
	return false;
}

int http_query_get_all(struct slice query, const char *name, struct arena *a,
		       struct slice **out, size_t *n_out)
{
	size_t pos = 0, n = 0;
	struct slice k, v;
	while (next_pair(query, &pos, &k, &v)) {
		if (key_matches(k, name))
			n++;
	}
	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	struct slice *arr = arena_alloc(a, n * sizeof(*arr));
	size_t i = 0;
	pos = 0;
	while (next_pair(query, &pos, &k, &v)) {
		if (!key_matches(k, name))
			continue;
		int rc = http_percent_decode(v, true, a, &arr[i]);
		if (rc < 0)
			return rc;
		i++;
	}
	*out = arr;
	*n_out = n;
	return 0;
}
