#include "ingest/multipart.h"

/* ---- MIME parameters (Go mime.ParseMediaType, the parts we need) ------------------ */

static bool is_tspecial(uint8_t c)
{
	return c && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && !is_tspecial(c);
}

static bool is_sp(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void skip_sp(struct slice *v)
{
	while (v->n && is_sp(v->p[0])) {
		v->p++;
		v->n--;
	}
}

static struct slice take_token(struct slice *v)
{
	size_t i = 0;
	while (i < v->n && is_token_char(v->p[i]))
		i++;
	struct slice t = slice_make(v->p, i);
	v->p += i;
	v->n -= i;
	return t;
}

/* A token or a quoted string. Returns false on a malformed value. A quoted string is a
 * slice of v unless it holds escapes, then a copy in arena a. */
static bool take_value(struct slice *v, struct arena *a, struct slice *out)
{
	if (v->n == 0)
		return false;
	if (v->p[0] != '"') {
		*out = take_token(v);
		return out->n > 0;
	}
	bool escapes = false;
	size_t i;
	for (i = 1; i < v->n; i++) {
		uint8_t c = v->p[i];
		if (c == '"')
			break;
		if (c == '\\' && i + 1 < v->n && is_tspecial(v->p[i + 1])) {
			escapes = true;
			i++;
			continue;
		}
		if (c == '\r' || c == '\n')
			return false;
	}
	if (i >= v->n)
		return false; /* no closing quote */
	if (!escapes) {
		*out = slice_make(v->p + 1, i - 1);
	} else {
		uint8_t *o = arena_alloc(a, i);
		size_t on = 0;
		for (size_t k = 1; k < i; k++) {
			if (v->p[k] == '\\' && k + 1 < i && is_tspecial(v->p[k + 1]))
				k++;
			o[on++] = v->p[k];
		}
		*out = slice_make(o, on);
	}
	v->p += i + 1;
	v->n -= i + 1;
	return true;
}

struct mime_param {
	struct slice name, value;
};
#define MIME_MAX_PARAMS 16

/* Parses `type/subtype; a=b; c="d"`. Returns false if malformed (Go's error cases:
 * bad type, bad parameter, duplicate parameter, too many parameters for us). */
static bool parse_media(struct slice v, struct arena *a, struct slice *type, struct mime_param *ps,
			size_t *nps)
{
	*nps = 0;
	size_t semi = 0;
	while (semi < v.n && v.p[semi] != ';')
		semi++;
	struct slice t = slice_make(v.p, semi);
	skip_sp(&t);
	while (t.n && is_sp(t.p[t.n - 1]))
		t.n--;
	/* token or token/token */
	size_t k = 0, slash = 0;
	while (k < t.n && (is_token_char(t.p[k]) || t.p[k] == '/')) {
		if (t.p[k] == '/')
			slash++;
		k++;
	}
	if (t.n == 0 || k != t.n || slash > 1 || t.p[0] == '/' || t.p[t.n - 1] == '/')
		return false;
	*type = t;
	struct slice rest = slice_make(v.p + semi, v.n - semi);
	for (;;) {
		skip_sp(&rest);
		if (rest.n == 0)
			break;
		if (rest.p[0] != ';')
			return false;
		rest.p++;
		rest.n--;
		skip_sp(&rest);
		if (rest.n == 0)
			break; /* a trailing ';' is tolerated */
		struct slice name = take_token(&rest);
		if (name.n == 0)
			return false;
		skip_sp(&rest);
		if (rest.n == 0 || rest.p[0] != '=')
			return false;
		rest.p++;
		rest.n--;
		skip_sp(&rest);
		struct slice val;
		if (!take_value(&rest, a, &val))
			return false;
		for (size_t i = 0; i < *nps; i++)
			if (ps[i].name.n == name.n && strncasecmp((const char *)ps[i].name.p,
								 (const char *)name.p, name.n) == 0)
				return false; /* duplicate parameter */
		if (*nps == MIME_MAX_PARAMS)
			return false;
		ps[*nps].name = name;
		ps[*nps].value = val;
		(*nps)++;
	}
	return true;
}

static bool ieq(struct slice s, const char *c)
{
	size_t n = strlen(c);
	return s.n == n && strncasecmp((const char *)s.p, c, n) == 0;
}

static const struct mime_param *find_param(const struct mime_param *ps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (ieq(ps[i].name, name))
			return &ps[i];
	return NULL;
}

int multipart_boundary(struct slice content_type, struct arena *a, struct slice *boundary,
		       char *err, size_t errlen)
{
	struct slice type;
	struct mime_param ps[MIME_MAX_PARAMS];
	size_t nps;
	if (!parse_media(content_type, a, &type, ps, &nps)) {
		snprintf(err, errlen, "malformed Content-Type");
		return EMBER_EINVAL;
	}
	if (!ieq(type, "multipart/form-data")) {
		snprintf(err, errlen, "Content-Type is not multipart/form-data");
		return EMBER_EINVAL;
	}
	const struct mime_param *b = find_param(ps, nps, "boundary");
	if (!b) {
		snprintf(err, errlen, "no multipart boundary param in Content-Type");
		return EMBER_EINVAL;
	}
	if (b->value.n == 0 || b->value.n > 70) {
		snprintf(err, errlen, "multipart boundary must be 1 to 70 bytes, got %zu", b->value.n);
		return EMBER_EINVAL;
	}
	*boundary = b->value;
	return 0;
}

/* ---- body -------------------------------------------------------------------------- */

struct mp {
	const uint8_t *p;
	size_t n, pos;
	struct slice bnd;
	bool lf_only; /* Go's "\n" mode */
	char *err;
	size_t errlen;
};

static struct slice read_line(struct mp *m, bool *eof)
{
	const uint8_t *s = m->p + m->pos;
	size_t left = m->n - m->pos;
	const uint8_t *nl = memchr(s, '\n', left);
	size_t len = nl ? (size_t)(nl - s) + 1 : left;
	*eof = !nl;
	m->pos += len;
	return slice_make(s, len);
}

static bool is_lwsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static bool rest_is_nl(struct mp *m, struct slice r)
{
	if (m->lf_only)
		return r.n == 1 && r.p[0] == '\n';
	return r.n == 2 && r.p[0] == '\r' && r.p[1] == '\n';
}

static bool has_dash_boundary(struct mp *m, struct slice line, size_t *after)
{
	size_t k = m->bnd.n;
	if (line.n < 2 + k || line.p[0] != '-' || line.p[1] != '-' || memcmp(line.p + 2, m->bnd.p, k) != 0)
		return false;
	*after = 2 + k;
	return true;
}

static bool is_delimiter_line(struct mp *m, struct slice line, size_t parts_read)
{
	size_t i;
	if (!has_dash_boundary(m, line, &i))
		return false;
	while (i < line.n && is_lwsp(line.p[i]))
		i++;
	struct slice r = slice_make(line.p + i, line.n - i);
	if (parts_read == 0 && r.n == 1 && r.p[0] == '\n')
		m->lf_only = true;
	return rest_is_nl(m, r);
}

static bool is_final_line(struct mp *m, struct slice line)
{
	size_t i;
	if (!has_dash_boundary(m, line, &i) || line.n < i + 2 || line.p[i] != '-' || line.p[i + 1] != '-')
		return false;
	i += 2;
	while (i < line.n && is_lwsp(line.p[i]))
		i++;
	struct slice r = slice_make(line.p + i, line.n - i);
	return r.n == 0 || rest_is_nl(m, r);
}

/* Go's matchAfterPrefix at p (just past a boundary prefix): +1 boundary, -1 not. */
static int match_after(const uint8_t *p, size_t left)
{
	if (left == 0)
		return 1; /* at EOF: the next line check reports the missing end */
	uint8_t c = p[0];
	if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		return 1;
	if (c == '-' && left >= 2 && p[1] == '-')
		return 1;
	return -1;
}

static int quote_line(struct mp *m, const char *what, struct slice line)
{
	char shown[64];
	size_t k = 0, i;
	for (i = 0; i < line.n && k + 5 < sizeof(shown); i++) {
		uint8_t c = line.p[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			shown[k++] = (char)c;
		} else {
			k += (size_t)snprintf(shown + k, sizeof(shown) - k, "\\x%02x", c);
		}
	}
	shown[k < sizeof(shown) ? k : sizeof(shown) - 1] = 0;
	snprintf(m->err, m->errlen, "multipart: %s: \"%s%s\"", what, shown, i < line.n ? "..." : "");
	return EMBER_EINVAL;
}

static bool hdr_name_ok(struct slice k)
{
	if (k.n == 0)
		return false;
	for (size_t i = 0; i < k.n; i++)
		if (!is_token_char(k.p[i]))
			return false;
	return true;
}

static struct slice trim_lwsp(struct slice s)
{
	while (s.n && is_lwsp(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && (is_lwsp(s.p[s.n - 1]) || s.p[s.n - 1] == '\r' || s.p[s.n - 1] == '\n'))
		s.n--;
	return s;
}

/* Reads the header block of a part; fills the fields of *part from Content-Disposition
 * and Content-Type. m->pos ends past the blank line. */
static int read_headers(struct mp *m, struct arena *a, const struct multipart_limits *lim,
			struct multipart_part *part)
{
	size_t start = m->pos;
	struct slice cd = {0}, ct = {0}, cte = {0};
	struct slice *cur = NULL; /* the header a continuation line extends, if we keep it */
	bool any = false;
	for (;;) {
		bool eof;
		struct slice line = read_line(m, &eof);
		if (m->pos - start > lim->max_header_bytes) {
			snprintf(m->err, m->errlen, "multipart: part header block over %zu bytes",
				 lim->max_header_bytes);
			return EMBER_ETOOBIG;
		}
		if (eof) {
			snprintf(m->err, m->errlen, "multipart: unexpected end of body in part headers");
			return EMBER_EINVAL;
		}
		struct slice t = line;
		t.n--; /* '\n' */
		if (t.n && t.p[t.n - 1] == '\r')
			t.n--;
		if (t.n == 0)
			break;
		if (is_lwsp(t.p[0])) {
			if (!any)
				return quote_line(m, "malformed MIME header initial line", line);
			if (cur) { /* fold: "old value" + ' ' + "continuation" */
				struct slice c = trim_lwsp(t);
				uint8_t *o = arena_alloc(a, cur->n + 1 + c.n);
				if (cur->n)
					memcpy(o, cur->p, cur->n);
				o[cur->n] = ' ';
				if (c.n)
					memcpy(o + cur->n + 1, c.p, c.n);
				*cur = slice_make(o, cur->n + 1 + c.n);
			}
			continue;
		}
		const uint8_t *colon = memchr(t.p, ':', t.n);
		if (!colon)
			return quote_line(m, "malformed MIME header line", line);
		struct slice key = slice_make(t.p, (size_t)(colon - t.p));
		if (!hdr_name_ok(key))
			return quote_line(m, "malformed MIME header line", line);
		struct slice val = trim_lwsp(slice_make(colon + 1, (size_t)(t.p + t.n - colon - 1)));
		any = true;
		cur = NULL;
		/* Go's Header.Get: the first of repeated headers wins. */
		if (ieq(key, "Content-Disposition") && !cd.p) {
			cd = val.p ? val : slice_make(colon, 0);
			cur = &cd;
		} else if (ieq(key, "Content-Type") && !ct.p) {
			ct = val.p ? val : slice_make(colon, 0);
			cur = &ct;
		} else if (ieq(key, "Content-Transfer-Encoding") && !cte.p) {
			cte = val.p ? val : slice_make(colon, 0);
			cur = &cte;
		}
	}
	if (ieq(cte, "quoted-printable")) {
		snprintf(m->err, m->errlen, "multipart: quoted-printable parts are not supported");
		return EMBER_EUNSUP;
	}
	part->content_type = ct.p ? ct : slice_make(NULL, 0);
	if (cd.p) {
		struct slice type;
		struct mime_param ps[MIME_MAX_PARAMS];
		size_t nps;
		if (parse_media(cd, a, &type, ps, &nps)) {
			const struct mime_param *fn = find_param(ps, nps, "filename");
			if (fn) {
				part->filename = fn->value;
				part->has_filename = true;
			}
			const struct mime_param *nm = find_param(ps, nps, "name");
			if (ieq(type, "form-data") && nm && nm->value.n) {
				part->name = nm->value;
				part->has_name = true;
			}
		}
	}
	return 0;
}

/* Finds where the part body starting at m->pos ends. */
static int read_body(struct mp *m, struct slice *data)
{
	const uint8_t *s = m->p + m->pos;
	size_t left = m->n - m->pos;
	size_t k = m->bnd.n;
	/* Go allows the body to start right at "--boundary" (an empty body). */
	if (left >= 2 + k && s[0] == '-' && s[1] == '-' && memcmp(s + 2, m->bnd.p, k) == 0 &&
	    match_after(s + 2 + k, left - 2 - k) > 0) {
		*data = slice_make(s, 0);
		return 0;
	}
	size_t nl = m->lf_only ? 1 : 2;
	size_t plen = nl + 2 + k;
	size_t i = 0;
	while (left >= plen && i <= left - plen) {
		const uint8_t *hit = memchr(s + i, m->lf_only ? '\n' : '\r', left - plen + 1 - i);
		if (!hit)
			break;
		i = (size_t)(hit - s);
		if ((m->lf_only || hit[1] == '\n') && hit[nl] == '-' && hit[nl + 1] == '-' &&
		    memcmp(hit + nl + 2, m->bnd.p, k) == 0 &&
		    match_after(hit + plen, left - i - plen) > 0) {
			*data = slice_make(s, i);
			m->pos += i;
			return 0;
		}
		i++;
	}
	snprintf(m->err, m->errlen, "multipart: missing closing boundary");
	return EMBER_EINVAL;
}

int multipart_parse(struct slice body, struct slice content_type, struct arena *a,
		    const struct multipart_limits *lim, struct multipart_part **parts,
		    size_t *n_parts, char *err, size_t errlen)
{
	static const struct multipart_limits defaults = MULTIPART_LIMITS_DEFAULT;
	if (!lim)
		lim = &defaults;
	*parts = NULL;
	*n_parts = 0;
	struct mp m = {body.p, body.n, 0, {0}, false, err, errlen};
	int rc = multipart_boundary(content_type, a, &m.bnd, err, errlen);
	if (rc)
		return rc;
	struct multipart_part *v = NULL;
	size_t nv = 0, cap = 0;
	for (;;) {
		/* NextPart: skip the preamble, or the line break after a part body. */
		bool expect_new = false, got = false;
		while (!got) {
			if (m.pos >= m.n) {
				snprintf(err, errlen, nv ? "multipart: missing closing boundary"
							 : "multipart: no boundary found in body");
				return EMBER_EINVAL;
			}
			bool eof;
			struct slice line = read_line(&m, &eof);
			if (eof) {
				if (is_final_line(&m, line))
					goto done;
				snprintf(err, errlen, nv ? "multipart: missing closing boundary"
							 : "multipart: no boundary found in body");
				return EMBER_EINVAL;
			}
			if (is_delimiter_line(&m, line, nv)) {
				got = true;
			} else if (is_final_line(&m, line)) {
				goto done;
			} else if (expect_new) {
				return quote_line(&m, "expecting a new part; got line", line);
			} else if (nv == 0) {
				continue; /* preamble */
			} else if (rest_is_nl(&m, line)) {
				expect_new = true;
			} else {
				return quote_line(&m, "unexpected line", line);
			}
		}
		if (nv == lim->max_parts) {
			snprintf(err, errlen, "multipart: more than %zu parts", lim->max_parts);
			return EMBER_ETOOBIG;
		}
		if (nv == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct multipart_part *nvp = arena_alloc(a, ncap * sizeof(*nvp));
			if (nv)
				memcpy(nvp, v, nv * sizeof(*nvp));
			v = nvp;
			cap = ncap;
		}
		struct multipart_part *p = &v[nv];
		memset(p, 0, sizeof(*p));
		rc = read_headers(&m, a, lim, p);
		if (rc)
			return rc;
		rc = read_body(&m, &p->data);
		if (rc)
			return rc;
		nv++;
	}
done:
	*parts = v;
	*n_parts = nv;
	return 0;
}

bool multipart_part_is_file(const struct multipart_part *p)
{
	return p->has_name && p->has_filename && p->filename.n > 0;
}

const struct multipart_part *multipart_find_file(const struct multipart_part *parts, size_t n,
						 const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (multipart_part_is_file(&parts[i]) && slice_eq_cstr(parts[i].name, name))
			return &parts[i];
	return NULL;
}
