#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "model/selector.h"
#include "util/utf8.h"

enum re_kind { RE_GENERAL, RE_ANY, RE_NONEMPTY };

struct sel_matcher {
	enum selector_op op;
	struct slice name, value;
	pcre2_code *re;    /* for =~ and !~ with RE_GENERAL */
	enum re_kind kind; /* `.*` and `.+` need no regex engine */
};

struct selector {
	uint8_t *strs; /* unescaped names and values live here */
	size_t strs_used;
	struct slice metric;
	struct sel_matcher *m;
	size_t n, cap;
	pcre2_match_context *mctx;
};

struct parser {
	const uint8_t *p;
	size_t n, i;
	struct selector *sel;
	char *err;
	size_t errlen;
};

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static bool is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static void skip_ws(struct parser *ps)
{
	while (ps->i < ps->n && is_ws(ps->p[ps->i]))
		ps->i++;
}

/* "parse error at char N: unexpected X" with X the offending token, quoted. */
static int unexpected(struct parser *ps, const char *expected)
{
	char tok[32];
	if (ps->i >= ps->n) {
		snprintf(tok, sizeof(tok), "end of input");
	} else {
		uint8_t c = ps->p[ps->i];
		size_t k = c >= 0x80 ? utf8_seq_len(ps->p + ps->i, ps->n - ps->i) : 1;
		if (c < 0x20 || c == 0x7f)
			snprintf(tok, sizeof(tok), "byte 0x%02x", c);
		else
			snprintf(tok, sizeof(tok), "\"%.*s\"", (int)(k ? k : 1), (const char *)ps->p + ps->i);
	}
	snprintf(ps->err, ps->errlen, "parse error at char %zu: unexpected %s%s%s", ps->i + 1, tok,
		 expected ? ", expected " : "", expected ? expected : "");
	return EMBER_EINVAL;
}

static int fail_at(struct parser *ps, size_t at, const char *msg)
{
	snprintf(ps->err, ps->errlen, "parse error at char %zu: %s", at + 1, msg);
	return EMBER_EINVAL;
}

static uint8_t *str_alloc(struct selector *sel, size_t n)
{
	/* The buffer is sized to the input; unescaping never grows a string. */
	uint8_t *r = sel->strs + sel->strs_used;
	sel->strs_used += n;
	return r;
}

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

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | (cp >> 6));
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | (cp >> 12));
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | (cp >> 18));
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Lexes a quoted string at ps->i (which is on the quote) into the selector's string
 * buffer, as Go's strconv.Unquote / Prometheus' strutil.Unquote do. */
static int parse_string(struct parser *ps, struct slice *out)
{
	size_t start = ps->i;
	uint8_t q = ps->p[ps->i++];
	uint8_t *o = str_alloc(ps->sel, 0);
	size_t on = 0;
	for (;;) {
		if (ps->i >= ps->n)
			return fail_at(ps, start, "unterminated quoted string");
		uint8_t c = ps->p[ps->i];
		if (c == q) {
			ps->i++;
			break;
		}
		if (q == '`') {
			o[on++] = c;
			ps->i++;
			continue;
		}
		if (c == '\n')
			return fail_at(ps, start, "unterminated quoted string");
		if (c != '\\') {
			o[on++] = c;
			ps->i++;
			continue;
		}
		size_t esc = ps->i;
		if (++ps->i >= ps->n)
			return fail_at(ps, start, "unterminated quoted string");
		c = ps->p[ps->i++];
		switch (c) {
		case 'a': o[on++] = '\a'; break;
		case 'b': o[on++] = '\b'; break;
		case 'f': o[on++] = '\f'; break;
		case 'n': o[on++] = '\n'; break;
		case 'r': o[on++] = '\r'; break;
		case 't': o[on++] = '\t'; break;
		case 'v': o[on++] = '\v'; break;
		case '\\': o[on++] = '\\'; break;
		case '"':
		case '\'':
			if (c != q)
				return fail_at(ps, esc, "unknown escape sequence");
			o[on++] = c;
			break;
		case 'x':
		case 'u':
		case 'U': {
			size_t nd = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			uint32_t v = 0;
			if (ps->n - ps->i < nd)
				return fail_at(ps, esc, "invalid escape sequence");
			for (size_t k = 0; k < nd; k++) {
				int h = hexval(ps->p[ps->i + k]);
				if (h < 0)
					return fail_at(ps, esc, "invalid escape sequence");
				v = v << 4 | (uint32_t)h;
			}
			ps->i += nd;
			if (c == 'x') {
				o[on++] = (uint8_t)v;
			} else {
				if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
					return fail_at(ps, esc, "escape sequence is an invalid Unicode code point");
				on += put_utf8(o + on, v);
			}
			break;
		}
		default:
			if (c >= '0' && c <= '7') {
				uint32_t v = (uint32_t)(c - '0');
				for (int k = 0; k < 2; k++) {
					if (ps->i >= ps->n || ps->p[ps->i] < '0' || ps->p[ps->i] > '7')
						return fail_at(ps, esc, "invalid escape sequence");
					v = v * 8 + (uint32_t)(ps->p[ps->i++] - '0');
				}
				if (v > 255)
					return fail_at(ps, esc, "octal escape value > 255");
				o[on++] = (uint8_t)v;
				break;
			}
			return fail_at(ps, esc, "unknown escape sequence");
		}
	}
	if (!utf8_valid(o, on))
		return fail_at(ps, start, "string is not valid UTF-8");
	ps->sel->strs_used += on;
	*out = slice_make(o, on);
	return 0;
}

static bool is_ident_char(uint8_t c, bool metric)
{
	return is_alpha(c) || is_digit(c) || c == '.' || (metric && c == ':');
}

static struct slice copy_str(struct selector *sel, const uint8_t *p, size_t n)
{
	uint8_t *o = str_alloc(sel, n);
	if (n)
		memcpy(o, p, n);
	return slice_make(o, n);
}

static void regex_error(struct parser *ps, struct slice re, int code, PCRE2_SIZE off)
{
	PCRE2_UCHAR msg[160];
	if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", code);
	int shown = (int)EMBER_MIN(re.n, (size_t)100);
	snprintf(ps->err, ps->errlen, "invalid regex \"%.*s%s\": %s at offset %zu", shown,
		 (const char *)re.p, re.n > 100 ? "..." : "", (const char *)msg, (size_t)off);
}

static int add_matcher(struct parser *ps, enum selector_op op, struct slice name, struct slice value)
{
	struct selector *sel = ps->sel;
	if (sel->n == SELECTOR_MAX_MATCHERS) {
		snprintf(ps->err, ps->errlen, "selector has more than %d matchers", SELECTOR_MAX_MATCHERS);
		return EMBER_ETOOBIG;
	}
	XGROW(sel->m, sel->cap, sel->n + 1);
	struct sel_matcher *m = &sel->m[sel->n];
	memset(m, 0, sizeof(*m));
	m->op = op;
	m->name = name;
	m->value = value;
	if (op == SELECTOR_RE || op == SELECTOR_NRE) {
		if (slice_eq_cstr(value, ".*")) {
			m->kind = RE_ANY;
		} else if (slice_eq_cstr(value, ".+")) {
			m->kind = RE_NONEMPTY;
		} else {
			int code;
			PCRE2_SIZE off;
			/* Anchoring by options, not by wrapping the text: `a)|(b` cannot escape. */
			uint32_t opts = PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_DOTALL |
					PCRE2_DOLLAR_ENDONLY | PCRE2_ANCHORED | PCRE2_ENDANCHORED |
					PCRE2_NEVER_BACKSLASH_C;
			m->re = pcre2_compile(value.n ? value.p : (PCRE2_SPTR) "", value.n, opts, &code,
					      &off, NULL);
			if (!m->re) {
				regex_error(ps, value, code, off);
				return EMBER_EINVAL;
			}
			(void)pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE); /* best effort */
		}
	}
	sel->n++;
	return 0;
}

static int parse_op(struct parser *ps, enum selector_op *op)
{
	if (ps->n - ps->i >= 2) {
		uint8_t a = ps->p[ps->i], b = ps->p[ps->i + 1];
		if (a == '!' && b == '=') { *op = SELECTOR_NEQ; ps->i += 2; return 0; }
		if (a == '=' && b == '~') { *op = SELECTOR_RE; ps->i += 2; return 0; }
		if (a == '!' && b == '~') { *op = SELECTOR_NRE; ps->i += 2; return 0; }
		if (a == '=' && b == '=')
			return fail_at(ps, ps->i, "unexpected \"==\", expected one of =, !=, =~, !~");
	}
	if (ps->i < ps->n && ps->p[ps->i] == '=') {
		*op = SELECTOR_EQ;
		ps->i++;
		return 0;
	}
	return unexpected(ps, "one of =, !=, =~, !~");
}

static bool is_quote(uint8_t c)
{
	return c == '"' || c == '\'' || c == '`';
}

static int parse_braces(struct parser *ps)
{
	ps->i++; /* '{' */
	for (;;) {
		skip_ws(ps);
		if (ps->i >= ps->n)
			return unexpected(ps, "label matching or \"}\"");
		if (ps->p[ps->i] == '}') {
			ps->i++;
			return 0;
		}
		struct slice name;
		size_t item_start = ps->i;
		uint8_t c = ps->p[ps->i];
		bool quoted = false;
		if (is_quote(c)) {
			int rc = parse_string(ps, &name);
			if (rc)
				return rc;
			quoted = true;
		} else if (is_alpha(c)) {
			size_t b = ps->i;
			while (ps->i < ps->n && is_ident_char(ps->p[ps->i], false))
				ps->i++;
			name = copy_str(ps->sel, ps->p + b, ps->i - b);
		} else {
			return unexpected(ps, "label name");
		}
		skip_ws(ps);
		if (quoted && ps->i < ps->n && (ps->p[ps->i] == ',' || ps->p[ps->i] == '}')) {
			/* {"metric.name", ...}: a lone string is the metric name. */
			if (ps->sel->metric.p)
				return fail_at(ps, item_start, "metric name must not be set twice");
			ps->sel->metric = name;
		} else {
			enum selector_op op = SELECTOR_EQ;
			int rc = parse_op(ps, &op);
			if (rc)
				return rc;
			skip_ws(ps);
			if (ps->i >= ps->n || !is_quote(ps->p[ps->i]))
				return unexpected(ps, "quoted string");
			struct slice value;
			rc = parse_string(ps, &value);
			if (rc)
				return rc;
			rc = add_matcher(ps, op, name, value);
			if (rc)
				return rc;
			skip_ws(ps);
		}
		if (ps->i >= ps->n)
			return unexpected(ps, "\",\" or \"}\"");
		if (ps->p[ps->i] == ',') {
			ps->i++;
			continue;
		}
		if (ps->p[ps->i] != '}')
			return unexpected(ps, "\",\" or \"}\"");
	}
}

int selector_parse(struct slice s, struct selector **out, char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (s.n > SELECTOR_MAX_LEN) {
		snprintf(err, errlen, "selector longer than %d bytes", SELECTOR_MAX_LEN);
		return EMBER_ETOOBIG;
	}
	struct selector *sel = xcalloc(1, sizeof(*sel));
	sel->strs = xmalloc(s.n + 1);
	struct parser ps = {s.p, s.n, 0, sel, err, errlen};
	if (!utf8_valid(s.p, s.n)) {
		snprintf(err, errlen, "selector is not valid UTF-8");
		goto out;
	}
	skip_ws(&ps);
	if (ps.i >= ps.n) {
		snprintf(err, errlen, "parse error: empty selector");
		goto out;
	}
	uint8_t c = s.p[ps.i];
	if (is_alpha(c) || c == ':' || c == '.') {
		size_t b = ps.i;
		while (ps.i < ps.n && is_ident_char(s.p[ps.i], true))
			ps.i++;
		sel->metric = copy_str(sel, s.p + b, ps.i - b);
		skip_ws(&ps);
	}
	if (ps.i < ps.n && s.p[ps.i] == '{') {
		rc = parse_braces(&ps);
		if (rc)
			goto out;
		skip_ws(&ps);
	} else if (!sel->metric.p) {
		rc = unexpected(&ps, "\"{\" or a metric name");
		goto out;
	}
	if (ps.i < ps.n) {
		rc = unexpected(&ps, "end of input");
		goto out;
	}
	if (sel->n) {
		sel->mctx = pcre2_match_context_create(NULL);
		if (!sel->mctx)
			abort();
		pcre2_set_match_limit(sel->mctx, SELECTOR_MATCH_LIMIT);
		pcre2_set_depth_limit(sel->mctx, 10000);
	}
	*out = sel;
	sel = NULL;
	rc = 0;
out:
	selector_free(sel);
	return rc;
}

void selector_free(struct selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		pcre2_code_free(sel->m[i].re);
	pcre2_match_context_free(sel->mctx);
	free(sel->m);
	free(sel->strs);
	free(sel);
}

static bool re_match(const struct selector *sel, const struct sel_matcher *m, struct slice v)
{
	switch (m->kind) {
	case RE_ANY:
		return true;
	case RE_NONEMPTY:
		return v.n > 0;
	default:
		break;
	}
	/* Label values are UTF-8 once validated, but a selector may be run on anything:
	 * let PCRE2 check (a bad subject is simply no match). */
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		abort();
	int r = pcre2_match(m->re, v.n ? v.p : (PCRE2_SPTR) "", v.n, 0, 0, md, sel->mctx);
	pcre2_match_data_free(md);
	return r >= 0;
}

bool selector_matcher_matches(const struct selector *sel, size_t i, struct slice v)
{
	const struct sel_matcher *m = &sel->m[i];
	switch (m->op) {
	case SELECTOR_EQ:
		return slice_eq(v, m->value);
	case SELECTOR_NEQ:
		return !slice_eq(v, m->value);
	case SELECTOR_RE:
		return re_match(sel, m, v);
	case SELECTOR_NRE:
		return !re_match(sel, m, v);
	}
	return false;
}

bool selector_matches(const struct selector *sel, const struct labels *ls)
{
	for (size_t i = 0; i < sel->n; i++) {
		const struct label *l = labels_find(ls, sel->m[i].name);
		if (!selector_matcher_matches(sel, i, l ? l->value : slice_make(NULL, 0)))
			return false;
	}
	return true;
}

struct slice selector_metric_name(const struct selector *sel)
{
	return sel->metric.p ? sel->metric : slice_make(NULL, 0);
}

size_t selector_matcher_count(const struct selector *sel)
{
	return sel->n;
}

void selector_matcher_at(const struct selector *sel, size_t i, struct selector_matcher *out)
{
	out->op = sel->m[i].op;
	out->name = sel->m[i].name;
	out->value = sel->m[i].value;
}

int selector_parse_matchers_list(const struct slice *strs, size_t n, struct selector ***out,
				 char *err, size_t errlen)
{
	*out = NULL;
	if (n == 0)
		return 0;
	struct selector **v = xcalloc(n, sizeof(*v));
	char sub[256];
	for (size_t i = 0; i < n; i++) {
		int rc = selector_parse(strs[i], &v[i], sub, sizeof(sub));
		if (rc) {
			snprintf(err, errlen, "matchers[%zu]: %s", i, sub);
			selector_list_free(v, i);
			return rc;
		}
	}
	*out = v;
	return 0;
}

bool selector_list_matches(struct selector *const *sels, size_t n, const struct labels *ls)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (selector_matches(sels[i], ls))
			return true;
	return false;
}

void selector_list_free(struct selector **sels, size_t n)
{
	if (!sels)
		return;
	for (size_t i = 0; i < n; i++)
		selector_free(sels[i]);
	free(sels);
}

void selector_format(const struct selector *sel, struct buf *out)
{
	static const char *ops[] = {"=", "!=", "=~", "!~"};
	bool legacy_metric = true;
	for (size_t i = 0; i < sel->metric.n; i++) {
		uint8_t c = sel->metric.p[i];
		if (!is_ident_char(c, true) || (i == 0 && is_digit(c)))
			legacy_metric = false;
	}
	if (sel->metric.n && legacy_metric)
		buf_append(out, sel->metric.p, sel->metric.n);
	buf_append_byte(out, '{');
	bool first = true;
	if (sel->metric.n && !legacy_metric) {
		labels_append_quoted(out, sel->metric);
		first = false;
	}
	for (size_t i = 0; i < sel->n; i++) {
		if (!first)
			buf_append_cstr(out, ", ");
		first = false;
		const struct sel_matcher *m = &sel->m[i];
		if (labels_name_is_legacy(m->name))
			buf_append(out, m->name.p, m->name.n);
		else
			labels_append_quoted(out, m->name);
		buf_append_cstr(out, ops[m->op]);
		labels_append_quoted(out, m->value);
	}
	buf_append_byte(out, '}');
}
