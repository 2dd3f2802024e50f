#include <http_parser.h>

#include "http/request.h"
#include "util/log.h"

#define DEFAULT_MAX_HEADER_BYTES (64 * 1024)
#define DEFAULT_MAX_HEADERS 128
#define DEFAULT_MAX_BODY_BYTES (32 * 1024 * 1024)
/* Content-Length bodies are reserved up to this much at once, then grown as bytes
 * arrive: a client announcing a large body and stalling should not pin the whole cap. */
#define BODY_RESERVE_STEP (1024 * 1024)

struct hdr_ent {
	size_t name_off, name_len, value_off, value_len;
};

enum last_cb { CB_NONE, CB_FIELD, CB_VALUE };

struct http_reqparser {
	http_parser hp;
	struct http_parse_limits lim;
	struct buf head;        /* URL, then header names and values, back to back */
	size_t url_len;
	size_t head_bytes;      /* counted against max_header_bytes, trailers included */
	struct hdr_ent *hdrs;
	size_t n_hdrs, cap_hdrs;
	size_t n_fields_seen;   /* headers and trailers, against max_headers */
	enum last_cb last;
	struct buf body;
	bool in_message, headers_done, complete;
	bool expect_continue, continue_taken;
	bool keep_alive;
	int err_rc;             /* 0 while alive */
	int err_status;
	const char *err_msg;
};

void http_parse_limits_resolve(const struct http_parse_limits *in, struct http_parse_limits *out)
{
	struct http_parse_limits l = {0};
	if (in)
		l = *in;
	if (!l.max_header_bytes)
		l.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
	if (!l.max_headers)
		l.max_headers = DEFAULT_MAX_HEADERS;
	if (!l.max_body_bytes)
		l.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
	*out = l;
}

/* Records the first error; the callback then returns non-zero and the parser stops. */
static int fail(struct http_reqparser *p, int rc, int status, const char *msg)
{
	if (!p->err_rc) {
		p->err_rc = rc;
		p->err_status = status;
		p->err_msg = msg;
	}
	return -1;
}

static int count_head(struct http_reqparser *p, size_t n)
{
	if (n > p->lim.max_header_bytes - p->head_bytes)
		return fail(p, EMBER_ETOOBIG, 431, "request header fields too large");
	p->head_bytes += n;
	return 0;
}

static int on_message_begin(http_parser *hp)
{
	struct http_reqparser *p = hp->data;
	p->in_message = true;
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	struct http_reqparser *p = hp->data;
	if (count_head(p, n))
		return -1;
	buf_append(&p->head, at, n);
	p->url_len += n;
	return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct http_reqparser *p = hp->data;
	if (count_head(p, n))
		return -1;
	if (p->last != CB_FIELD) {
		if (++p->n_fields_seen > p->lim.max_headers)
			return fail(p, EMBER_ETOOBIG, 431, "too many request header fields");
		if (!p->headers_done) {
			XGROW(p->hdrs, p->cap_hdrs, p->n_hdrs + 1);
			struct hdr_ent *e = &p->hdrs[p->n_hdrs++];
			e->name_off = p->head.n;
			e->name_len = 0;
			e->value_off = p->head.n;
			e->value_len = 0;
		}
	}
	p->last = CB_FIELD;
	/* Trailers (after the headers of a chunked body) are counted but not kept. */
	if (!p->headers_done) {
		buf_append(&p->head, at, n);
		p->hdrs[p->n_hdrs - 1].name_len += n;
	}
	return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct http_reqparser *p = hp->data;
	if (count_head(p, n))
		return -1;
	if (p->headers_done || p->n_hdrs == 0) {
		p->last = CB_VALUE;
		return 0;
	}
	struct hdr_ent *e = &p->hdrs[p->n_hdrs - 1];
	if (p->last != CB_VALUE) {
		e->value_off = p->head.n;
		e->value_len = 0;
	}
	p->last = CB_VALUE;
	buf_append(&p->head, at, n);
	e->value_len += n;
	return 0;
}

static bool ent_name_is(const struct http_reqparser *p, const struct hdr_ent *e, const char *name)
{
	size_t n = strlen(name);
	return e->name_len == n && strncasecmp((const char *)p->head.p + e->name_off, name, n) == 0;
}

static bool ent_value_is(const struct http_reqparser *p, const struct hdr_ent *e, const char *v)
{
	const char *s = (const char *)p->head.p + e->value_off;
	size_t n = e->value_len, vn = strlen(v);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return n == vn && strncasecmp(s, v, n) == 0;
}

static int on_headers_complete(http_parser *hp)
{
	struct http_reqparser *p = hp->data;
	p->headers_done = true;
	if (hp->http_major != 1)
		return fail(p, EMBER_EINVAL, 400, "unsupported HTTP version");
	bool chunked = (hp->flags & F_CHUNKED) != 0;
	bool has_len = (hp->flags & F_CONTENTLENGTH) != 0;
	if (!chunked && has_len) {
		if (hp->content_length > p->lim.max_body_bytes)
			return fail(p, EMBER_ETOOBIG, 413, "request body too large");
		buf_reserve(&p->body, (size_t)EMBER_MIN(hp->content_length, BODY_RESERVE_STEP));
	}
	bool body_expected = chunked || (has_len && hp->content_length > 0);
	if (body_expected && hp->http_major == 1 && hp->http_minor >= 1) {
		for (size_t i = 0; i < p->n_hdrs; i++) {
			if (ent_name_is(p, &p->hdrs[i], "expect") &&
			    ent_value_is(p, &p->hdrs[i], "100-continue"))
				p->expect_continue = true;
		}
	}
	return 0;
}

static int on_chunk_header(http_parser *hp)
{
	struct http_reqparser *p = hp->data;
	/* The chunk size is known before its bytes: refuse as soon as the cap would pass. */
	if (hp->content_length > p->lim.max_body_bytes - p->body.n)
		return fail(p, EMBER_ETOOBIG, 413, "request body too large");
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
	struct http_reqparser *p = hp->data;
	if (n > p->lim.max_body_bytes - p->body.n)
		return fail(p, EMBER_ETOOBIG, 413, "request body too large");
	buf_append(&p->body, at, n);
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct http_reqparser *p = hp->data;
	p->complete = true;
	/* An Upgrade or CONNECT is answered as a plain request, then the connection closes:
	 * what the client sends next would be another protocol. */
	p->keep_alive = http_should_keep_alive(hp) && !(hp->flags & F_UPGRADE) &&
			hp->method != HTTP_CONNECT;
	/* Stop right after this message: the next request waits until this one is
	 * answered, which keeps pipelined responses in order. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
	.on_chunk_header = on_chunk_header,
};

static void reset_message(struct http_reqparser *p)
{
	p->head.n = 0;
	if (p->head.cap > 16 * 1024)
		buf_release(&p->head);
	p->url_len = 0;
	p->head_bytes = 0;
	p->n_hdrs = 0;
	p->n_fields_seen = 0;
	if (p->cap_hdrs > 64) {
		free(p->hdrs);
		p->hdrs = NULL;
		p->cap_hdrs = 0;
	}
	p->last = CB_NONE;
	buf_init(&p->body); /* ownership of the bytes moved to the request */
	p->in_message = p->headers_done = p->complete = false;
	p->expect_continue = p->continue_taken = false;
	p->keep_alive = false;
}

struct http_reqparser *http_reqparser_new(const struct http_parse_limits *limits)
{
	struct http_reqparser *p = xcalloc(1, sizeof(*p));
	http_parse_limits_resolve(limits, &p->lim);
	http_parser_init(&p->hp, HTTP_REQUEST);
	p->hp.data = p;
	return p;
}

void http_reqparser_free(struct http_reqparser *p)
{
	if (!p)
		return;
	buf_release(&p->head);
	buf_release(&p->body);
	free(p->hdrs);
	free(p);
}

int http_reqparser_feed(struct http_reqparser *p, const uint8_t *data, size_t n, size_t *consumed)
{
	*consumed = 0;
	if (p->err_rc)
		return p->err_rc;
	if (p->complete)
		return HTTP_FEED_DONE; /* not taken yet: nothing consumed */
	if (n == 0)
		return HTTP_FEED_MORE;
	size_t used = http_parser_execute(&p->hp, &settings, (const char *)data, n);
	enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
	if (e == HPE_PAUSED && p->complete) {
		*consumed = used;
		return HTTP_FEED_DONE;
	}
	if (e == HPE_OK && used == n && !p->complete) {
		*consumed = used;
		return HTTP_FEED_MORE;
	}
	/* A callback may already have said why (413, 431); otherwise it is the parser's. */
	if (!p->err_rc) {
		if (e == HPE_HEADER_OVERFLOW)
			fail(p, EMBER_ETOOBIG, 431, "request header fields too large");
		else if (e == HPE_OK || e == HPE_PAUSED)
			fail(p, EMBER_EINVAL, 400, "unexpected data after request");
		else
			fail(p, EMBER_EINVAL, 400, http_errno_description(e));
	}
	*consumed = used;
	return p->err_rc;
}

void http_reqparser_error(const struct http_reqparser *p, int *status, const char **message)
{
	*status = p->err_rc ? p->err_status : 0;
	*message = p->err_rc ? p->err_msg : "";
}

bool http_reqparser_in_message(const struct http_reqparser *p)
{
	return p->in_message;
}

bool http_reqparser_take_continue(struct http_reqparser *p)
{
	if (!p->expect_continue || p->continue_taken || p->err_rc || p->complete || p->body.n)
		return false;
	p->continue_taken = true;
	return true;
}

static struct slice trim_ows(const uint8_t *s, size_t n)
{
	while (n && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return slice_make(s, n);
}

/* Splits the request target into path and query (origin-form, asterisk-form, or
 * absolute-form through http_parser_parse_url). */
static void split_target(struct http_request *req, bool is_connect)
{
	struct slice t = req->target;
	if (t.n && t.p[0] != '/' && t.p[0] != '*' && t.n <= UINT16_MAX) {
		struct http_parser_url u;
		http_parser_url_init(&u);
		if (http_parser_parse_url((const char *)t.p, t.n, is_connect, &u) == 0) {
			if (u.field_set & (1 << UF_PATH))
				req->path = slice_make(t.p + u.field_data[UF_PATH].off,
						       u.field_data[UF_PATH].len);
			else
				req->path = slice_cstr(is_connect ? "" : "/");
			if (u.field_set & (1 << UF_QUERY))
				req->query = slice_make(t.p + u.field_data[UF_QUERY].off,
							u.field_data[UF_QUERY].len);
			else
				req->query = slice_make(t.p + t.n, 0);
			return;
		}
	}
	size_t q = 0;
	while (q < t.n && t.p[q] != '?' && t.p[q] != '#')
		q++;
	req->path = slice_make(t.p, q);
	if (q < t.n && t.p[q] == '?') {
		size_t f = q + 1;
		while (f < t.n && t.p[f] != '#')
			f++;
		req->query = slice_make(t.p + q + 1, f - q - 1);
	} else {
		req->query = slice_make(t.p + q, 0);
	}
}

void http_reqparser_take(struct http_reqparser *p, struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	arena_init(&req->arena_, 0);
	req->arena = &req->arena_;
	uint8_t *head = arena_alloc(req->arena, p->head.n + 1);
	if (p->head.n)
		memcpy(head, p->head.p, p->head.n);
	head[p->head.n] = '\0';
	req->method = slice_cstr(http_method_str((enum http_method)p->hp.method));
	req->target = slice_make(head, p->url_len);
	split_target(req, p->hp.method == HTTP_CONNECT);
	req->n_headers = p->n_hdrs;
	req->headers = arena_alloc(req->arena, (p->n_hdrs ? p->n_hdrs : 1) * sizeof(*req->headers));
	for (size_t i = 0; i < p->n_hdrs; i++) {
		const struct hdr_ent *e = &p->hdrs[i];
		req->headers[i].name = slice_make(head + e->name_off, e->name_len);
		req->headers[i].value = trim_ows(head + e->value_off, e->value_len);
	}
	req->body_ = p->body;
	req->body = slice_make(req->body_.p, req->body_.n);
	req->http_major = p->hp.http_major;
	req->http_minor = p->hp.http_minor;
	req->keep_alive = p->keep_alive;
	req->is_head = p->hp.method == HTTP_HEAD;
	req->remote_addr = "";
	reset_message(p);
	http_parser_pause(&p->hp, 0);
}

void http_request_release(struct http_request *req)
{
	if (!req)
		return;
	if (req->arena == &req->arena_)
		arena_release(&req->arena_);
	buf_release(&req->body_);
	memset(req, 0, sizeof(*req));
}

const struct slice *http_request_header(const struct http_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct slice *s = &req->headers[i].name;
		if (s->n == n && strncasecmp((const char *)s->p, name, n) == 0)
			return &req->headers[i].value;
	}
	return NULL;
}

/* ---- responses ------------------------------------------------------------------- */

void http_response_init(struct http_response *resp)
{
	resp->status = 200;
	resp->content_type = NULL;
	buf_init(&resp->body);
	buf_init(&resp->headers_);
}

void http_response_release(struct http_response *resp)
{
	buf_release(&resp->body);
	buf_release(&resp->headers_);
	http_response_init(resp);
}

static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

void http_response_add_header(struct http_response *resp, const char *name, const char *value)
{
	size_t nl = strlen(name);
	bool ok = nl > 0;
	for (size_t i = 0; ok && i < nl; i++)
		ok = is_tchar((uint8_t)name[i]);
	for (const char *v = value; ok && *v; v++)
		ok = *v != '\r' && *v != '\n';
	if (!ok) {
		log_warn("msg=\"dropped invalid response header\" name=%.64s", name);
		return;
	}
	if (!strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding") ||
	    !strcasecmp(name, "connection")) {
		log_warn("msg=\"dropped server-owned response header\" name=%s", name);
		return;
	}
	buf_append(&resp->headers_, name, nl);
	buf_append(&resp->headers_, ": ", 2);
	buf_append_cstr(&resp->headers_, value);
	buf_append(&resp->headers_, "\r\n", 2);
}

void http_response_set_body(struct http_response *resp, const char *content_type,
			    const void *p, size_t n)
{
	resp->body.n = 0;
	buf_append(&resp->body, p, n);
	resp->content_type = content_type;
}

void http_response_set_error(struct http_response *resp, int status, const char *code,
			     const char *message)
{
	resp->status = status;
	resp->content_type = "application/json";
	resp->body.n = 0;
	buf_append_cstr(&resp->body, "{\"code\":");
	buf_append_json_string(&resp->body, code, strlen(code));
	buf_append_cstr(&resp->body, ",\"message\":");
	buf_append_json_string(&resp->body, message, strlen(message));
	buf_append_byte(&resp->body, '}');
}

const char *http_status_error_code(int status)
{
	switch (status) {
	case 400:
		return "invalid_argument";
	case 408:
		return "deadline_exceeded";
	case 413:
	case 431:
	case 429:
		return "resource_exhausted";
	case 503:
		return "unavailable";
	default:
		return status >= 500 ? "internal" : "unknown";
	}
}

static bool status_has_length(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

bool http_response_has_body(int status, bool is_head)
{
	return !is_head && status_has_length(status);
}

void http_response_format_head(const struct http_response *resp, int http_minor,
			       bool keep_alive, const char *date, struct buf *out)
{
	int status = resp->status;
	if (status < 200 || status > 599)
		status = 500;
	const char *reason = http_status_str((enum http_status)status);
	if (!reason || reason[0] == '<')
		reason = "Unknown";
	buf_printf(out, "HTTP/1.1 %d %s\r\n", status, reason);
	if (date)
		buf_printf(out, "Date: %s\r\n", date);
	if (resp->content_type && resp->content_type[0])
		buf_printf(out, "Content-Type: %s\r\n", resp->content_type);
	buf_append(out, resp->headers_.p, resp->headers_.n);
	if (status_has_length(status))
		buf_printf(out, "Content-Length: %zu\r\n", resp->body.n);
	if (!keep_alive)
		buf_append_cstr(out, "Connection: close\r\n");
	else if (http_minor == 0)
		buf_append_cstr(out, "Connection: keep-alive\r\n");
	buf_append(out, "\r\n", 2);
}
