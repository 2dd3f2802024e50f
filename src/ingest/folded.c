#include "ingest/folded.h"

void folded_init(struct folded_parser *p, const struct folded_opts *opts, folded_fn fn, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->opts = *opts;
	if (p->opts.max_frames == 0)
		p->opts.max_frames = 1;
	p->fn = fn;
	p->ctx = ctx;
	p->frames = xcalloc(p->opts.max_frames, sizeof(*p->frames));
	buf_init(&p->carry);
}

void folded_release(struct folded_parser *p)
{
	free(p->frames);
	p->frames = NULL;
	buf_release(&p->carry);
}

static int line_err(struct folded_parser *p, int rc, char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "line %llu: %s", (unsigned long long)p->stats.lines, msg);
	p->failed = rc;
	return rc;
}

static int parse_value(const uint8_t *s, size_t n, int64_t *out)
{
	size_t i = 0;
	if (n && s[0] == '+')
		i = 1;
	if (i == n)
		return EMBER_EINVAL;
	uint64_t v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return EMBER_EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > INT64_MAX)
			return EMBER_ETOOBIG;
	}
	*out = (int64_t)v;
	return 0;
}

static int emit(struct folded_parser *p, const uint8_t *s, size_t n, int64_t value, char *err,
		size_t errlen)
{
	size_t nf = 0, start = 0;
	bool cut = false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ';')
			continue;
		if (nf == p->opts.max_frames) {
			cut = true;
			break;
		}
		p->frames[nf++] = slice_make(s + start, i - start);
		start = i + 1;
	}
	if (cut)
		p->stats.truncated++;
	if (__builtin_add_overflow(p->stats.total, value, &p->stats.total))
		return line_err(p, EMBER_ETOOBIG, err, errlen, "sum of values overflows int64");
	p->stats.stacks++;
	int rc = p->fn(p->ctx, p->frames, nf, value);
	if (rc) {
		snprintf(err, errlen, "line %llu: rejected by consumer: %s",
			 (unsigned long long)p->stats.lines, ember_strerror(rc));
		p->failed = rc;
	}
	return rc;
}

static int do_line(struct folded_parser *p, const uint8_t *s, size_t n, char *err, size_t errlen)
{
	p->stats.lines++;
	if (n > p->opts.max_line)
		return line_err(p, EMBER_ETOOBIG, err, errlen, "line too long");
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n == 0)
		return 0;
	if (p->opts.format == FOLDED_FORMAT_LINES)
		return emit(p, s, n, 1, err, errlen);
	const uint8_t *sp = NULL;
	for (size_t i = n; i-- > 0;) {
		if (s[i] == ' ') {
			sp = s + i;
			break;
		}
	}
	if (!sp)
		return line_err(p, EMBER_EINVAL, err, errlen, "no value (expected \"frame;frame <count>\")");
	int64_t v;
	int rc = parse_value(sp + 1, (size_t)(s + n - sp - 1), &v);
	if (rc == EMBER_ETOOBIG)
		return line_err(p, EMBER_EINVAL, err, errlen, "value overflows int64");
	if (rc) {
		char msg[96];
		size_t vn = (size_t)(s + n - sp - 1);
		snprintf(msg, sizeof(msg), "bad value \"%.*s%s\"", (int)EMBER_MIN(vn, (size_t)32),
			 (const char *)sp + 1, vn > 32 ? "..." : "");
		return line_err(p, EMBER_EINVAL, err, errlen, msg);
	}
	size_t sn = (size_t)(sp - s);
	if (sn == 0)
		return line_err(p, EMBER_EINVAL, err, errlen, "empty stack");
	if (v == 0) {
		p->stats.zero++;
		return 0;
	}
	return emit(p, s, sn, v, err, errlen);
}

int folded_feed(struct folded_parser *p, struct slice chunk, char *err, size_t errlen)
{
	if (p->failed) {
		snprintf(err, errlen, "parser already failed");
		return p->failed;
	}
	const uint8_t *s = chunk.p, *end = chunk.p + chunk.n;
	if (chunk.n == 0)
		return 0;
	if (p->carry.n) {
		const uint8_t *nl = memchr(s, '\n', chunk.n);
		size_t take = nl ? (size_t)(nl - s) : chunk.n;
		if (p->carry.n + take > p->opts.max_line) {
			p->stats.lines++;
			return line_err(p, EMBER_ETOOBIG, err, errlen, "line too long");
		}
		buf_append(&p->carry, s, take);
		if (!nl)
			return 0;
		int rc = do_line(p, p->carry.p, p->carry.n, err, errlen);
		p->carry.n = 0;
		if (rc)
			return rc;
		s = nl + 1;
	}
	while (s < end) {
		const uint8_t *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl) {
			if ((size_t)(end - s) > p->opts.max_line) {
				p->stats.lines++;
				return line_err(p, EMBER_ETOOBIG, err, errlen, "line too long");
			}
			buf_append(&p->carry, s, (size_t)(end - s));
			break;
		}
		int rc = do_line(p, s, (size_t)(nl - s), err, errlen);
		if (rc)
			return rc;
		s = nl + 1;
	}
	return 0;
}

int folded_finish(struct folded_parser *p, char *err, size_t errlen)
{
	if (p->failed) {
		snprintf(err, errlen, "parser already failed");
		return p->failed;
	}
	if (!p->carry.n)
		return 0;
	int rc = do_line(p, p->carry.p, p->carry.n, err, errlen);
	p->carry.n = 0;
	return rc;
}

int folded_parse(struct slice body, const struct folded_opts *opts, folded_fn fn, void *ctx,
		 struct folded_stats *stats, char *err, size_t errlen)
{
	struct folded_parser p;
	folded_init(&p, opts, fn, ctx);
	/* Feed up to the last newline, then parse the unterminated tail in place rather
	 * than through the carry buffer: fully zero-copy. */
	size_t head = body.n;
	while (head > 0 && body.p[head - 1] != '\n')
		head--;
	int rc = folded_feed(&p, slice_make(body.p, head), err, errlen);
	if (!rc && head < body.n)
		rc = do_line(&p, body.p + head, body.n - head, err, errlen);
	if (stats)
		*stats = p.stats;
	folded_release(&p);
	return rc;
}
