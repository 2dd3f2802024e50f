/* objstore S3 backend: REST calls signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4).
 *
 * libcurl 7.88 signs what it is given, with two gaps we fill ourselves: it does not hash
 * the payload (we send x-amz-content-sha256, which it then signs), and it neither sorts
 * nor encodes the query string (every query here is built already in canonical form:
 * parameters in byte order, values percent-encoded with '/' as %2F). The design and the
 * retry policy are in docs/internals/objstore.md. */
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "objstore/objstore_internal.h"
#include "util/log.h"
#include "util/sha256.h"

#define POOL_MAX 8
#define ERR_BODY_MAX (64 * 1024)
#define MAX_PARTS 10000
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_store {
	struct objstore base;
	char *base_url;   /* "https://host[:port]" or "https://bucket.host[:port]" */
	char *bucket_path; /* "/bucket" (path style) or "" (virtual-hosted) */
	char *bucket;
	char *sigv4;      /* "aws:amz:<region>:s3" */
	char *access_key, *secret_key, *session_token;
	uint64_t part_size;
	uint32_t max_keys, max_tries, backoff_min_ms, backoff_max_ms;
	long connect_timeout_ms, stall_timeout_s;
	pthread_mutex_t mu; /* guards pool */
	CURL *pool[POOL_MAX];
	int npool;
};

/* ---- encoding ----------------------------------------------------------------------- */

/* Percent-encodes s as SigV4 wants: everything but A-Z a-z 0-9 - . _ ~ (and '/' when
 * keep_slash, for paths). */
static void uri_encode(struct buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			buf_append_byte(b, c);
		} else {
			buf_append_byte(b, '%');
			buf_append_byte(b, (uint8_t)hex[c >> 4]);
			buf_append_byte(b, (uint8_t)hex[c & 15]);
		}
	}
}

/* ---- one request, with retries ------------------------------------------------------ */

struct s3_req {
	const char *method;     /* GET PUT POST DELETE HEAD */
	const char *key;        /* NULL: the bucket itself */
	const char *query;      /* canonical query string or NULL */
	struct slice body;      /* PUT/POST payload */
	const char *range;      /* "bytes=a-b" or NULL */
	struct buf *out;        /* 2xx body sink (NULL: discarded) */
	uint64_t max_out;       /* limit on out->n; more gives EMBER_ETOOBIG */
	/* results */
	long status;
	int64_t content_length; /* of the answer, -1 if unknown */
	char etag[256];
};

struct sink {
	CURL *h;
	struct s3_req *r;
	struct buf err_body; /* body of a non-2xx answer (capped) */
	bool too_big;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		if (s->err_body.n < ERR_BODY_MAX)
			buf_append(&s->err_body, p, EMBER_MIN(n, ERR_BODY_MAX - s->err_body.n));
		return n;
	}
	if (!s->r->out)
		return n;
	if (s->r->out->n + n > s->r->max_out) { /* max_out limits out->n, not just this answer */
		s->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	buf_append(s->r->out, p, n);
	return n;
}

static CURL *pool_get(struct s3_store *s3)
{
	CURL *h = NULL;
	pthread_mutex_lock(&s3->mu);
	if (s3->npool > 0)
		h = s3->pool[--s3->npool];
	pthread_mutex_unlock(&s3->mu);
	if (h)
		curl_easy_reset(h); /* keeps the connection cache: the next call reuses the connection */
	else
		h = curl_easy_init();
	return h;
}

static void pool_put(struct s3_store *s3, CURL *h)
{
	pthread_mutex_lock(&s3->mu);
	if (s3->npool < POOL_MAX) {
		s3->pool[s3->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s3->mu);
	if (h)
		curl_easy_cleanup(h);
}

static void describe(const struct s3_store *s3, const struct s3_req *r, char *out, size_t n)
{
	snprintf(out, n, "%s %s%s%s", r->method, s3->bucket, r->key ? "/" : "", r->key ? r->key : "");
}

/* An S3 error body: "HTTP 403 SignatureDoesNotMatch: The request signature ...". */
static void format_http_error(long status, struct slice body, char *out, size_t n)
{
	struct slice code = {0}, msg = {0};
	struct buf c = BUF_INIT, m = BUF_INIT;
	if (objstore__xml_find(body, "Code", &code))
		objstore__xml_unescape(code, &c);
	if (objstore__xml_find(body, "Message", &msg))
		objstore__xml_unescape(msg, &m);
	if (c.n)
		snprintf(out, n, "HTTP %ld %s%s%s", status, buf_cstr(&c), m.n ? ": " : "", m.n ? buf_cstr(&m) : "");
	else
		snprintf(out, n, "HTTP %ld", status);
	buf_release(&c);
	buf_release(&m);
}

enum outcome { DONE, RETRY, FAIL };

static enum outcome attempt(struct s3_store *s3, struct s3_req *r, int *rc, char *why, size_t whylen)
{
	CURL *h = pool_get(s3);
	struct curl_slist *hdrs = NULL;
	struct buf url = BUF_INIT, line = BUF_INIT;
	struct sink sink = {h, r, BUF_INIT, false};
	char curl_err[CURL_ERROR_SIZE] = "";
	enum outcome oc = FAIL;
	bool reusable = false; /* the exchange completed: the connection is in a known state */
	size_t out0 = r->out ? r->out->n : 0;
	*rc = EMBER_EIO;
	if (!h) {
		snprintf(why, whylen, "cannot create a curl handle");
		goto out;
	}
	buf_append_cstr(&url, s3->base_url);
	buf_append_cstr(&url, s3->bucket_path);
	if (r->key) {
		buf_append_byte(&url, '/');
		uri_encode(&url, r->key, true);
	} else if (!s3->bucket_path[0]) {
		buf_append_byte(&url, '/');
	}
	if (r->query && r->query[0]) {
		buf_append_byte(&url, '?');
		buf_append_cstr(&url, r->query);
	}
	char hash[SHA256_HEX_LEN + 1] = EMPTY_SHA256;
	if (r->body.n)
		sha256_hex(r->body.p, r->body.n, hash);
	buf_printf(&line, "x-amz-content-sha256: %s", hash);
	hdrs = curl_slist_append(hdrs, buf_cstr(&line));
	if (s3->session_token) {
		line.n = 0;
		buf_printf(&line, "x-amz-security-token: %s", s3->session_token);
		hdrs = curl_slist_append(hdrs, buf_cstr(&line));
	}
	if (r->range) {
		line.n = 0;
		buf_printf(&line, "Range: %s", r->range);
		hdrs = curl_slist_append(hdrs, buf_cstr(&line));
	}
	/* libcurl 7.88 signs every header set here, so none may be a removal ("Expect:"). */
	if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST"))
		hdrs = curl_slist_append(hdrs, !strcmp(r->method, "POST") && r->body.n
							? "Content-Type: application/xml"
							: "Content-Type: application/octet-stream");

	curl_easy_setopt(h, CURLOPT_URL, buf_cstr(&url));
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s3->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, s3->access_key);
	curl_easy_setopt(h, CURLOPT_PASSWORD, s3->secret_key);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ember");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s3->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s3->stall_timeout_s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
		/* The payload is in memory (put_file reads one part at a time), so a retry simply
		 * sends it again; no rewinding of a stream. */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body.n);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body.n ? (const char *)r->body.p : "");
		if (!strcmp(r->method, "PUT"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	} else if (!strcmp(r->method, "DELETE")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}

	CURLcode cc = curl_easy_perform(h);
	r->status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (cc != CURLE_OK) {
		if (sink.too_big) {
			*rc = EMBER_ETOOBIG;
			snprintf(why, whylen, "object larger than the %llu-byte read limit",
				 (unsigned long long)(r->max_out - out0));
			goto out;
		}
		snprintf(why, whylen, "%s%s%s", curl_easy_strerror(cc), curl_err[0] ? ": " : "", curl_err);
		switch (cc) {
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_WEIRD_SERVER_REPLY:
			oc = RETRY;
			break;
		default:
			oc = FAIL;
		}
		goto out;
	}
	reusable = true;
	curl_off_t cl = -1;
	curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	r->content_length = cl;
	if (r->status >= 200 && r->status <= 299) {
		struct curl_header *eh;
		r->etag[0] = '\0';
		if (curl_easy_header(h, "ETag", 0, CURLH_HEADER, -1, &eh) == CURLHE_OK)
			snprintf(r->etag, sizeof(r->etag), "%s", eh->value);
		*rc = 0;
		oc = DONE;
		goto out;
	}
	format_http_error(r->status, slice_make(sink.err_body.p, sink.err_body.n), why, whylen);
	if (r->status >= 500 || r->status == 429) {
		oc = RETRY;
		goto out;
	}
	switch (r->status) {
	case 404: {
		struct slice code;
		bool no_bucket = objstore__xml_find(slice_make(sink.err_body.p, sink.err_body.n), "Code", &code) &&
				 slice_eq_cstr(code, "NoSuchBucket");
		*rc = no_bucket ? EMBER_EIO : EMBER_ENOTFOUND;
		break;
	}
	case 401:
	case 403:
		*rc = EMBER_EAUTH;
		break;
	case 400:
	case 416:
		*rc = EMBER_EINVAL;
		break;
	default:
		*rc = EMBER_EIO;
	}
	oc = FAIL;
out:
	if (oc != DONE && r->out)
		r->out->n = out0; /* a retry starts over; a failure leaves nothing */
	buf_release(&sink.err_body);
	buf_release(&url);
	buf_release(&line);
	curl_slist_free_all(hdrs);
	if (h) {
		if (reusable)
			pool_put(s3, h);
		else
			curl_easy_cleanup(h); /* after a transport error, start afresh */
	}
	return oc;
}

static uint32_t jitter_rand(void)
{
	static _Thread_local uint32_t x;
	if (!x)
		x = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&x ^ 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static int s3_do(struct s3_store *s3, struct s3_req *r)
{
	char what[OBJSTORE_MAX_KEY + 300], why[768] = "";
	int rc = EMBER_EIO;
	uint64_t delay = s3->backoff_min_ms;
	describe(s3, r, what, sizeof(what));
	for (uint32_t try = 1;; try++) {
		enum outcome oc = attempt(s3, r, &rc, why, sizeof(why));
		if (oc == DONE)
			return 0;
		if (oc == FAIL)
			return objstore__fail(rc, "%s: %s", what, why);
		if (try >= s3->max_tries)
			return objstore__fail(EMBER_EIO, "%s: %s (gave up after %u tries)", what, why, try);
		/* Exponential backoff with up to 25% jitter, so many writers do not retry in step. */
		uint64_t d = EMBER_MIN(delay, (uint64_t)s3->backoff_max_ms);
		d += d * (jitter_rand() % 256) / 1024;
		log_warn("msg=\"S3 request failed, retrying\" request=\"%s\" err=\"%s\" try=%u delay_ms=%llu", what,
			 why, try, (unsigned long long)d);
		struct timespec ts = {(time_t)(d / 1000), (long)(d % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		delay *= 2;
	}
}

/* ---- operations --------------------------------------------------------------------- */

static int put_single(struct s3_store *s3, const char *key, struct slice data)
{
	struct s3_req r = {.method = "PUT", .key = key, .body = data};
	return s3_do(s3, &r);
}

/* Supplies part i (0-based) of a multipart upload. */
typedef int (*part_fn)(void *ctx, uint64_t off, uint64_t len, struct slice *part);

static int put_multipart(struct s3_store *s3, const char *key, uint64_t total, part_fn get_part, void *ctx)
{
	int rc = EMBER_EIO;
	struct buf body = BUF_INIT, q = BUF_INIT, upload_id = BUF_INIT, complete = BUF_INIT;
	uint64_t part = s3->part_size;
	if ((total + part - 1) / part > MAX_PARTS)
		part = (total + MAX_PARTS - 1) / MAX_PARTS;
	uint64_t nparts = (total + part - 1) / part;

	struct s3_req init = {.method = "POST", .key = key, .query = "uploads=", .out = &body, .max_out = 1 << 20};
	rc = s3_do(s3, &init);
	if (rc)
		goto out;
	struct slice id;
	if (!objstore__xml_find(slice_make(body.p, body.n), "UploadId", &id) || id.n == 0) {
		rc = objstore__fail(EMBER_EIO, "POST %s/%s?uploads: no UploadId in the answer", s3->bucket, key);
		goto out;
	}
	objstore__xml_unescape(id, &upload_id);
	buf_append_cstr(&complete, "<CompleteMultipartUpload>");
	for (uint64_t i = 0; i < nparts; i++) {
		uint64_t off = i * part;
		struct slice data;
		rc = get_part(ctx, off, EMBER_MIN(part, total - off), &data);
		if (rc)
			goto abort;
		q.n = 0;
		buf_printf(&q, "partNumber=%llu&uploadId=", (unsigned long long)(i + 1));
		uri_encode(&q, buf_cstr(&upload_id), false);
		struct s3_req pr = {.method = "PUT", .key = key, .query = buf_cstr(&q), .body = data};
		rc = s3_do(s3, &pr);
		if (rc)
			goto abort;
		if (!pr.etag[0]) {
			rc = objstore__fail(EMBER_EIO, "PUT %s/%s part %llu: no ETag in the answer", s3->bucket, key,
					    (unsigned long long)(i + 1));
			goto abort;
		}
		buf_printf(&complete, "<Part><PartNumber>%llu</PartNumber><ETag>", (unsigned long long)(i + 1));
		objstore__xml_escape(pr.etag, &complete);
		buf_append_cstr(&complete, "</ETag></Part>");
	}
	buf_append_cstr(&complete, "</CompleteMultipartUpload>");
	q.n = 0;
	buf_append_cstr(&q, "uploadId=");
	uri_encode(&q, buf_cstr(&upload_id), false);
	body.n = 0;
	struct s3_req done = {.method = "POST",
			      .key = key,
			      .query = buf_cstr(&q),
			      .body = slice_make(complete.p, complete.n),
			      .out = &body,
			      .max_out = 1 << 20};
	rc = s3_do(s3, &done);
	if (rc)
		goto abort;
	/* CompleteMultipartUpload may fail after its 200 status line: the error is the body. */
	struct slice code;
	if (objstore__xml_find(slice_make(body.p, body.n), "Code", &code)) {
		char why[512];
		format_http_error(200, slice_make(body.p, body.n), why, sizeof(why));
		rc = objstore__fail(EMBER_EIO, "POST %s/%s?uploadId: %s", s3->bucket, key, why);
		goto abort;
	}
	rc = 0;
	goto out;
abort: {
	/* Best effort, so the bucket does not keep the parts; the first error is what counts. */
	char saved[1024];
	snprintf(saved, sizeof(saved), "%s", objstore_errmsg());
	q.n = 0;
	buf_append_cstr(&q, "uploadId=");
	uri_encode(&q, buf_cstr(&upload_id), false);
	struct s3_req ab = {.method = "DELETE", .key = key, .query = buf_cstr(&q)};
	if (s3_do(s3, &ab) != 0)
		log_warn("msg=\"cannot abort S3 multipart upload\" err=\"%s\"", objstore_errmsg());
	objstore__fail(rc, "%s", saved);
}
out:
	buf_release(&body);
	buf_release(&q);
	buf_release(&upload_id);
	buf_release(&complete);
	return rc;
}

static int part_from_slice(void *ctx, uint64_t off, uint64_t len, struct slice *part)
{
	const struct slice *all = ctx;
	*part = slice_make(all->p + off, (size_t)len);
	return 0;
}

static int s3_put(struct objstore *os, const char *key, struct slice data)
{
	struct s3_store *s3 = (struct s3_store *)os;
	if (data.n <= s3->part_size)
		return put_single(s3, key, data);
	return put_multipart(s3, key, data.n, part_from_slice, &data);
}

struct file_parts {
	const char *path;
	int fd;
	uint8_t *chunk;
};

static int part_from_file(void *ctx, uint64_t off, uint64_t len, struct slice *part)
{
	struct file_parts *f = ctx;
	uint64_t done = 0;
	while (done < len) {
		ssize_t r = pread(f->fd, f->chunk + done, (size_t)(len - done), (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return objstore__fail(EMBER_EIO, "read %s at %llu: %s", f->path,
					      (unsigned long long)(off + done), r < 0 ? strerror(errno) : "file shrank");
		done += (uint64_t)r;
	}
	*part = slice_make(f->chunk, (size_t)len);
	return 0;
}

static int s3_put_file(struct objstore *os, const char *key, const char *path)
{
	struct s3_store *s3 = (struct s3_store *)os;
	struct file_parts f = {path, open(path, O_RDONLY | O_CLOEXEC), NULL};
	struct stat st;
	int rc;
	if (f.fd < 0)
		return objstore__fail(errno == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO, "put %s: cannot open %s: %s", key,
				      path, strerror(errno));
	if (fstat(f.fd, &st) != 0) {
		rc = objstore__fail(EMBER_EIO, "put %s: fstat %s: %s", key, path, strerror(errno));
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint64_t part = s3->part_size;
	if ((size + part - 1) / part > MAX_PARTS)
		part = (size + MAX_PARTS - 1) / MAX_PARTS;
	f.chunk = xmalloc((size_t)EMBER_MIN(size, part) + 1);
	if (size <= s3->part_size) {
		struct slice all;
		rc = part_from_file(&f, 0, size, &all);
		if (rc == 0)
			rc = put_single(s3, key, all);
	} else {
		rc = put_multipart(s3, key, size, part_from_file, &f);
	}
out:
	free(f.chunk);
	close(f.fd);
	return rc;
}

static int s3_stat(struct objstore *os, const char *key, uint64_t *size)
{
	struct s3_req r = {.method = "HEAD", .key = key};
	int rc = s3_do((struct s3_store *)os, &r);
	if (rc == 0) {
		if (r.content_length < 0)
			return objstore__fail(EMBER_EIO, "HEAD %s: no Content-Length in the answer", key);
		*size = (uint64_t)r.content_length;
	}
	return rc;
}

static int s3_get_range(struct objstore *os, const char *key, bool whole, uint64_t off, uint64_t len,
			struct buf *out)
{
	struct s3_store *s3 = (struct s3_store *)os;
	char range[64];
	uint64_t n0 = out->n, size;
	if (!whole && len == 0)
		return s3_stat(os, key, &size); /* nothing to read; the object must exist */
	struct s3_req r = {.method = "GET", .key = key, .out = out, .max_out = n0 + os->max_get_bytes};
	if (!whole) {
		uint64_t last = off + len - 1 < off ? UINT64_MAX - 1 : off + len - 1;
		snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off, (unsigned long long)last);
		r.range = range;
	}
	int rc = s3_do(s3, &r);
	if (rc == EMBER_EINVAL && r.status == 416) {
		return objstore__fail(EMBER_EINVAL, "GET %s/%s: range starts at %llu, past the end of the object",
				      s3->bucket, key, (unsigned long long)off);
	}
	if (rc)
		return rc;
	if (!whole && r.status == 200) {
		/* The server ignored Range and sent everything: keep the part asked for. */
		uint64_t got = out->n - n0;
		if (off >= got && got > 0)
			return objstore__fail(EMBER_EINVAL, "GET %s/%s: range starts at %llu, past the end (%llu bytes)",
					      s3->bucket, key, (unsigned long long)off, (unsigned long long)got);
		uint64_t take = EMBER_MIN(len, got - EMBER_MIN(off, got));
		memmove(out->p + n0, out->p + n0 + EMBER_MIN(off, got), (size_t)take);
		out->n = (size_t)(n0 + take);
	}
	if (out->n - n0 > os->max_get_bytes)
		return objstore__fail(EMBER_ETOOBIG, "GET %s/%s: more than the %llu-byte read limit", s3->bucket, key,
				      (unsigned long long)os->max_get_bytes);
	return 0;
}

static int s3_list(struct objstore *os, const char *prefix, objstore_list_fn fn, void *ctx)
{
	struct s3_store *s3 = (struct s3_store *)os;
	struct buf body = BUF_INIT, q = BUF_INIT, token = BUF_INIT, key = BUF_INIT, prev = BUF_INIT;
	int rc = 0;
	for (;;) {
		/* Parameters in byte order: continuation-token, list-type, max-keys, prefix. */
		q.n = 0;
		if (token.n) {
			buf_append_cstr(&q, "continuation-token=");
			uri_encode(&q, buf_cstr(&token), false);
			buf_append_byte(&q, '&');
		}
		buf_printf(&q, "list-type=2&max-keys=%u", s3->max_keys);
		if (prefix[0]) {
			buf_append_cstr(&q, "&prefix=");
			uri_encode(&q, prefix, false);
		}
		body.n = 0;
		struct s3_req r = {.method = "GET", .query = buf_cstr(&q), .out = &body, .max_out = 64 << 20};
		rc = s3_do(s3, &r);
		if (rc)
			break;
		bool truncated = false;
		prev.n = 0;
		buf_append(&prev, token.p, token.n); /* the token this page was asked with */
		rc = objstore__s3_list_page(slice_make(body.p, body.n), fn, ctx, &key, &token, &truncated);
		if (rc || !truncated)
			break;
		if (prev.n && slice_eq(slice_make(prev.p, prev.n), slice_make(token.p, token.n))) {
			/* a server that would keep us listing forever */
			rc = objstore__fail(EMBER_EIO, "list %s: the server returned the same continuation token twice",
					    s3->bucket);
			break;
		}
	}
	buf_release(&body);
	buf_release(&q);
	buf_release(&token);
	buf_release(&key);
	buf_release(&prev);
	return rc;
}

static int s3_delete(struct objstore *os, const char *key)
{
	struct s3_req r = {.method = "DELETE", .key = key};
	int rc = s3_do((struct s3_store *)os, &r);
	return rc == EMBER_ENOTFOUND ? 0 : rc;
}

static void s3_close(struct objstore *os)
{
	struct s3_store *s3 = (struct s3_store *)os;
	for (int i = 0; i < s3->npool; i++)
		curl_easy_cleanup(s3->pool[i]);
	pthread_mutex_destroy(&s3->mu);
	free(s3->base_url);
	free(s3->bucket_path);
	free(s3->bucket);
	free(s3->sigv4);
	free(s3->access_key);
	free(s3->secret_key);
	free(s3->session_token);
	free(s3);
}

static const struct objstore_ops s3_ops = {
	.name = "s3",
	.put = s3_put,
	.put_file = s3_put_file,
	.get_range = s3_get_range,
	.stat = s3_stat,
	.list = s3_list,
	.del = s3_delete,
	.close = s3_close,
};

/* ---- opening ------------------------------------------------------------------------ */

static const char *setting_or_env(const char *v, const char *env)
{
	if (v && *v)
		return v;
	const char *e = getenv(env);
	return e && *e ? e : NULL;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t l = strlen(suffix);
	return n >= l && !memcmp(s + n - l, suffix, l);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The settings, checked and resolved (environment credentials, scheme, lookup style,
 * region). Pointers borrow from cfg, the environment, or the fixed buffers inside. */
struct s3_settings {
	const char *access, *secret, *token;
	const char *scheme;
	const char *host; /* host[:port], host_n bytes */
	size_t host_n;
	bool vhost;
	char region[64];
};

static int s3_settings(const struct objstore_config *cfg, struct s3_settings *st, char *err, size_t errlen)
{
	const struct objstore_s3_config *c = &cfg->s3;
	memset(st, 0, sizeof(*st));
	st->access = setting_or_env(c->access_key_id, "AWS_ACCESS_KEY_ID");
	st->secret = setting_or_env(c->secret_access_key, "AWS_SECRET_ACCESS_KEY");
	st->token = setting_or_env(c->session_token, "AWS_SESSION_TOKEN");
	struct buf missing = BUF_INIT;
	if (!c->endpoint || !*c->endpoint)
		buf_append_cstr(&missing, ", -storage.s3.endpoint");
	if (!c->bucket || !*c->bucket)
		buf_append_cstr(&missing, ", -storage.s3.bucket-name");
	if (!st->access)
		buf_append_cstr(&missing, ", -storage.s3.access-key-id (or $AWS_ACCESS_KEY_ID)");
	if (!st->secret)
		buf_append_cstr(&missing, ", -storage.s3.secret-access-key (or $AWS_SECRET_ACCESS_KEY)");
	if (missing.n) {
		snprintf(err, errlen, "S3 storage needs %s", buf_cstr(&missing) + 2);
		buf_release(&missing);
		return EMBER_EINVAL;
	}
	const char *ep = c->endpoint;
	st->scheme = c->insecure ? "http" : "https";
	if (!strncmp(ep, "http://", 7)) {
		st->scheme = "http";
		ep += 7;
	} else if (!strncmp(ep, "https://", 8)) {
		st->scheme = "https";
		ep += 8;
	}
	size_t hn = strlen(ep);
	while (hn && ep[hn - 1] == '/')
		hn--;
	if (hn == 0 || memchr(ep, '/', hn) || memchr(ep, '?', hn) || memchr(ep, '@', hn) || memchr(ep, ' ', hn)) {
		snprintf(err, errlen, "-storage.s3.endpoint=%s: expected host[:port] (or http(s)://host[:port])",
			 c->endpoint);
		return EMBER_EINVAL;
	}
	st->host = ep;
	st->host_n = hn;
	for (const char *b = c->bucket; *b; b++) {
		if (!((*b >= 'a' && *b <= 'z') || (*b >= '0' && *b <= '9') || *b == '-' || *b == '.' || *b == '_' ||
		      (*b >= 'A' && *b <= 'Z'))) {
			snprintf(err, errlen, "-storage.s3.bucket-name=%s: not a valid bucket name", c->bucket);
			return EMBER_EINVAL;
		}
	}
	/* The host without port, to recognise AWS and its regional endpoints. */
	const char *colon = memchr(ep, ':', hn);
	size_t host_n = colon ? (size_t)(colon - ep) : hn;
	bool aws = ends_with(ep, host_n, ".amazonaws.com");
	const char *lookup = c->bucket_lookup && *c->bucket_lookup ? c->bucket_lookup : "auto";
	if (!strcmp(lookup, "auto"))
		st->vhost = aws && !strchr(c->bucket, '.');
	else if (!strcmp(lookup, "path-style"))
		st->vhost = false;
	else if (!strcmp(lookup, "virtual-hosted-style"))
		st->vhost = true;
	else {
		snprintf(err, errlen,
			 "-storage.s3.bucket-lookup-type=%s: expected auto, path-style or virtual-hosted-style", lookup);
		return EMBER_EINVAL;
	}
	snprintf(st->region, sizeof(st->region), "us-east-1");
	if (c->region && *c->region) {
		if (strlen(c->region) >= sizeof(st->region)) {
			snprintf(err, errlen, "-storage.s3.region=%s: not a valid region name", c->region);
			return EMBER_EINVAL;
		}
		snprintf(st->region, sizeof(st->region), "%s", c->region);
	} else if (aws && (!strncmp(ep, "s3.", 3) || !strncmp(ep, "s3-", 3))) {
		/* s3.<region>.amazonaws.com or s3-<region>.amazonaws.com */
		size_t suffix = strlen(".amazonaws.com");
		if (host_n > 3 + suffix) {
			size_t rn = host_n - 3 - suffix;
			if (rn < sizeof(st->region) && !memchr(ep + 3, '.', rn))
				snprintf(st->region, sizeof(st->region), "%.*s", (int)rn, ep + 3);
		}
	}
	for (const char *p = st->region; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
			snprintf(err, errlen, "-storage.s3.region=%s: not a valid region name", st->region);
			return EMBER_EINVAL;
		}
	}
	return 0;
}

int objstore__s3_check(const struct objstore_config *cfg, char *err, size_t errlen)
{
	struct s3_settings st;
	return s3_settings(cfg, &st, err, errlen);
}

int objstore__s3_open(const struct objstore_config *cfg, struct objstore **out, char *err, size_t errlen)
{
	const struct objstore_s3_config *c = &cfg->s3;
	struct s3_settings st;
	int rc = s3_settings(cfg, &st, err, errlen);
	if (rc)
		return rc;
	pthread_once(&curl_once, curl_global);

	struct s3_store *s3 = xcalloc(1, sizeof(*s3));
	s3->base.ops = &s3_ops;
	struct buf u = BUF_INIT, bp = BUF_INIT, sig = BUF_INIT;
	if (st.vhost)
		buf_printf(&u, "%s://%s.%.*s", st.scheme, c->bucket, (int)st.host_n, st.host);
	else
		buf_printf(&u, "%s://%.*s", st.scheme, (int)st.host_n, st.host);
	s3->base_url = buf_cstr(&u);
	if (!st.vhost)
		buf_printf(&bp, "/%s", c->bucket);
	s3->bucket_path = buf_cstr(&bp);
	s3->bucket = xstrdup(c->bucket);
	buf_printf(&sig, "aws:amz:%s:s3", st.region);
	s3->sigv4 = buf_cstr(&sig);
	s3->access_key = xstrdup(st.access);
	s3->secret_key = xstrdup(st.secret);
	s3->session_token = st.token ? xstrdup(st.token) : NULL;
	s3->part_size = c->part_size ? c->part_size : (uint64_t)16 << 20;
	s3->max_keys = c->max_keys ? c->max_keys : 1000;
	s3->max_tries = c->max_tries ? c->max_tries : 5;
	s3->backoff_min_ms = c->backoff_min_ms ? c->backoff_min_ms : 100;
	s3->backoff_max_ms = c->backoff_max_ms ? c->backoff_max_ms : 2000;
	s3->connect_timeout_ms = c->connect_timeout_ms ? (long)c->connect_timeout_ms : 10000;
	uint32_t stall = c->stall_timeout_ms ? c->stall_timeout_ms : 30000;
	s3->stall_timeout_s = (long)((stall + 999) / 1000);
	pthread_mutex_init(&s3->mu, NULL);
	*out = &s3->base;
	return 0;
}
