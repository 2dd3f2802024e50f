/* The HTTP server over real sockets on 127.0.0.1 (port 0): a server thread with a test
 * handler, and plain blocking sockets as clients. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "testutil.h"

#include "http/query.h"
#include "http/server.h"

/* ---- server side ---------------------------------------------------------------------- */

struct counters {
	atomic_int handled;
	atomic_int slow_entered;
	atomic_int responses;  /* on_response calls */
	atomic_int status_sum; /* sum of statuses seen by on_response */
};

static long query_long(struct http_request *req, const char *name, long dflt)
{
	struct slice v;
	if (http_query_get(req->query, name, req->arena, &v) != 0)
		return dflt;
	return strtol((const char *)v.p, NULL, 10);
}

/* /echo: body echoed, request facts in X- headers; /seq?n=&sleep_ms=: body is n;
 * /slow?ms=: sleeps; /big?n=: n pattern bytes; /status?code=: that status. */
static void handler(void *ctx, struct http_request *req, struct http_response *resp)
{
	struct counters *cn = ctx;
	atomic_fetch_add(&cn->handled, 1);
	char tmp[256];
	if (slice_eq_cstr(req->path, "/echo")) {
		http_response_set_body(resp, "application/octet-stream", req->body.p, req->body.n);
		snprintf(tmp, sizeof(tmp), "%.*s", (int)req->method.n, (const char *)req->method.p);
		http_response_add_header(resp, "X-Method", tmp);
		snprintf(tmp, sizeof(tmp), "%.*s", (int)req->query.n, (const char *)req->query.p);
		http_response_add_header(resp, "X-Query", tmp);
		const struct slice *foo = http_request_header(req, "x-foo");
		if (foo) {
			snprintf(tmp, sizeof(tmp), "%.*s", (int)foo->n, (const char *)foo->p);
			http_response_add_header(resp, "X-Foo", tmp);
		}
		http_response_add_header(resp, "X-Remote", req->remote_addr);
	} else if (slice_eq_cstr(req->path, "/seq")) {
		long ms = query_long(req, "sleep_ms", 0);
		if (ms > 0)
			usleep((useconds_t)ms * 1000);
		int n = snprintf(tmp, sizeof(tmp), "%ld", query_long(req, "n", -1));
		http_response_set_body(resp, "text/plain", tmp, (size_t)n);
	} else if (slice_eq_cstr(req->path, "/slow")) {
		atomic_fetch_add(&cn->slow_entered, 1);
		usleep((useconds_t)query_long(req, "ms", 100) * 1000);
		http_response_set_body(resp, "text/plain", "slow done", 9);
	} else if (slice_eq_cstr(req->path, "/big")) {
		long n = query_long(req, "n", 0);
		buf_reserve(&resp->body, (size_t)n);
		for (long i = 0; i < n; i++)
			resp->body.p[i] = (uint8_t)(i * 7 + 3);
		resp->body.n = (size_t)n;
	} else if (slice_eq_cstr(req->path, "/status")) {
		resp->status = (int)query_long(req, "code", 200);
	} else {
		http_response_set_error(resp, 404, "not_found", "no such path");
	}
}

static void on_response(void *ctx, const struct http_request *req, int status, double seconds)
{
	struct counters *cn = ctx;
	(void)req;
	if (seconds < 0)
		return;
	atomic_fetch_add(&cn->responses, 1);
	atomic_fetch_add(&cn->status_sum, status);
}

struct srv {
	struct http_server *s;
	pthread_t th;
	int port;
	int run_rc;
	struct counters cn;
};

static void *srv_thread(void *arg)
{
	struct srv *t = arg;
	t->run_rc = http_server_run(t->s);
	return NULL;
}

static struct srv *srv_start(struct http_server_config cfg)
{
	struct srv *t = calloc(1, sizeof(*t));
	cfg.address = "127.0.0.1";
	cfg.port = 0;
	if (!cfg.workers)
		cfg.workers = 4;
	cfg.on_response = on_response;
	cfg.on_response_ctx = &t->cn;
	assert_int_equal(http_server_new(&cfg, handler, &t->cn, &t->s), 0);
	t->port = http_server_port(t->s);
	assert_true(t->port > 0);
	assert_int_equal(pthread_create(&t->th, NULL, srv_thread, t), 0);
	return t;
}

static void srv_stop(struct srv *t)
{
	http_server_stop(t->s);
	pthread_join(t->th, NULL);
	assert_int_equal(t->run_rc, 0);
	http_server_free(t->s);
	free(t);
}

/* ---- client side ---------------------------------------------------------------------- */

static int client_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail_msg("connect: %s", strerror(errno));
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail_msg("send: %s", strerror(errno));
		c += w;
		n -= (size_t)w;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* A buffered reader, so pipelined responses can be read one after another. */
struct conn_rd {
	int fd;
	char buf[1 << 16];
	size_t n;
};

struct resp {
	int status;
	char head[8192];
	uint8_t *body;
	size_t body_n;
};

/* Reads more bytes; returns 0 on EOF, -1 on error/timeout. */
static ssize_t rd_more(struct conn_rd *r)
{
	if (r->n == sizeof(r->buf))
		fail_msg("response head too large");
	for (;;) {
		ssize_t k = recv(r->fd, r->buf + r->n, sizeof(r->buf) - r->n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k > 0)
			r->n += (size_t)k;
		return k;
	}
}

static const char *head_value(const struct resp *rs, const char *name, char *out, size_t outn)
{
	size_t nl = strlen(name);
	const char *p = strstr(rs->head, "\r\n");
	while (p && p[2] != '\r' && p[2]) {
		const char *line = p + 2;
		const char *end = strstr(line, "\r\n");
		if (!end)
			break;
		if ((size_t)(end - line) > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, outn, "%.*s", (int)(end - v), v);
			return out;
		}
		p = end;
	}
	return NULL;
}

/* Reads one response; returns 0, or -1 if the connection ended first. */
static int read_response(struct conn_rd *r, struct resp *rs, bool head_request)
{
	memset(rs, 0, sizeof(*rs));
	char *end;
	for (;;) {
		end = r->n ? memmem(r->buf, r->n, "\r\n\r\n", 4) : NULL;
		if (end)
			break;
		if (rd_more(r) <= 0)
			return -1;
	}
	size_t hl = (size_t)(end - r->buf) + 4;
	assert_true(hl < sizeof(rs->head));
	memcpy(rs->head, r->buf, hl);
	rs->head[hl] = '\0';
	assert_int_equal(sscanf(rs->head, "HTTP/1.1 %d", &rs->status), 1);
	memmove(r->buf, r->buf + hl, r->n - hl);
	r->n -= hl;
	char v[64];
	size_t len = 0;
	if (head_value(rs, "Content-Length", v, sizeof(v)))
		len = strtoul(v, NULL, 10);
	if (head_request || rs->status < 200 || rs->status == 204 || rs->status == 304)
		len = 0;
	rs->body = malloc(len + 1);
	while (rs->body_n < len) {
		if (r->n == 0 && rd_more(r) <= 0) {
			free(rs->body);
			rs->body = NULL;
			return -1;
		}
		size_t k = EMBER_MIN(len - rs->body_n, r->n);
		memcpy(rs->body + rs->body_n, r->buf, k);
		rs->body_n += k;
		memmove(r->buf, r->buf + k, r->n - k);
		r->n -= k;
	}
	rs->body[rs->body_n] = '\0';
	return 0;
}

static void resp_free(struct resp *rs)
{
	free(rs->body);
	rs->body = NULL;
}

static struct conn_rd *rd_new(int port)
{
	struct conn_rd *r = calloc(1, sizeof(*r));
	r->fd = client_connect(port);
	return r;
}

static void rd_free(struct conn_rd *r)
{
	close(r->fd);
	free(r);
}

/* True if the server closes the connection (EOF) with nothing more sent. */
static bool rd_sees_eof(struct conn_rd *r)
{
	return r->n == 0 && rd_more(r) == 0;
}

static void assert_header(const struct resp *rs, const char *name, const char *want)
{
	char v[256];
	if (!head_value(rs, name, v, sizeof(v)))
		fail_msg("header %s missing in:\n%s", name, rs->head);
	if (strcmp(v, want) != 0)
		fail_msg("header %s: got '%s' want '%s'", name, v, want);
}

static void assert_no_header(const struct resp *rs, const char *name)
{
	char v[256];
	if (head_value(rs, name, v, sizeof(v)))
		fail_msg("unexpected header %s: %s", name, v);
}

static void assert_error_response(struct conn_rd *r, int status, const char *code)
{
	struct resp rs;
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, status);
	assert_header(&rs, "Content-Type", "application/json");
	assert_header(&rs, "Connection", "close");
	char want[128];
	snprintf(want, sizeof(want), "{\"code\":\"%s\",\"message\":", code);
	if (strncmp((char *)rs.body, want, strlen(want)) != 0)
		fail_msg("body %s", rs.body);
	resp_free(&rs);
	assert_true(rd_sees_eof(r));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_get_and_post(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	struct conn_rd *r = rd_new(t->port);
	struct resp rs;
	send_str(r->fd, "GET /echo?a=1&b=x%20y HTTP/1.1\r\nHost: t\r\nX-Foo:  bar \r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_header(&rs, "X-Method", "GET");
	assert_header(&rs, "X-Query", "a=1&b=x%20y");
	assert_header(&rs, "X-Foo", "bar");
	assert_header(&rs, "Content-Length", "0");
	assert_no_header(&rs, "Connection");
	char v[64];
	assert_non_null(head_value(&rs, "Date", v, sizeof(v)));
	assert_non_null(head_value(&rs, "X-Remote", v, sizeof(v)));
	assert_true(strncmp(v, "127.0.0.1:", 10) == 0);
	resp_free(&rs);

	send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_header(&rs, "X-Method", "POST");
	assert_header(&rs, "Content-Type", "application/octet-stream");
	assert_int_equal(rs.body_n, 11);
	assert_string_equal((char *)rs.body, "hello world");
	resp_free(&rs);

	send_str(r->fd, "GET /nope HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 404);
	assert_string_equal((char *)rs.body, "{\"code\":\"not_found\",\"message\":\"no such path\"}");
	resp_free(&rs);
	rd_free(r);
	srv_stop(t);
}

static void test_chunked_body(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	struct conn_rd *r = rd_new(t->port);
	struct resp rs;
	send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5;ext=1;q=\"x\"\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n"
			"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_int_equal(rs.body_n, 21);
	assert_string_equal((char *)rs.body, "hello world0123456789");
	resp_free(&rs);
	/* The connection is still usable after trailers. */
	send_str(r->fd, "GET /seq?n=7 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_string_equal((char *)rs.body, "7");
	resp_free(&rs);
	rd_free(r);
	srv_stop(t);
}

static void test_keep_alive_100(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	struct conn_rd *r = rd_new(t->port);
	for (int i = 0; i < 100; i++) {
		char req[128], want[16];
		snprintf(req, sizeof(req), "GET /seq?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
		send_str(r->fd, req);
		struct resp rs;
		assert_int_equal(read_response(r, &rs, false), 0);
		assert_int_equal(rs.status, 200);
		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal((char *)rs.body, want);
		resp_free(&rs);
	}
	rd_free(r);
	srv_stop(t);
	/* on_response saw every one (srv_stop joined the loop thread). */
}

static void test_pipelined_in_order(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){.workers = 8});
	struct conn_rd *r = rd_new(t->port);
	char all[8192];
	size_t n = 0;
	/* Earlier requests sleep longer: a server answering out of order would show it. */
	for (int i = 0; i < 10; i++) {
		if (i == 4)
			n += (size_t)snprintf(all + n, sizeof(all) - n,
					      "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
		else
			n += (size_t)snprintf(all + n, sizeof(all) - n,
					      "GET /seq?n=%d&sleep_ms=%d HTTP/1.1\r\n\r\n", i, (10 - i) * 5);
	}
	send_all(r->fd, all, n);
	for (int i = 0; i < 10; i++) {
		struct resp rs;
		assert_int_equal(read_response(r, &rs, false), 0);
		assert_int_equal(rs.status, 200);
		if (i == 4) {
			assert_string_equal((char *)rs.body, "body");
		} else {
			char want[16];
			snprintf(want, sizeof(want), "%d", i);
			assert_string_equal((char *)rs.body, want);
		}
		resp_free(&rs);
	}
	/* A final pipelined request with Connection: close ends the connection. */
	send_str(r->fd, "GET /seq?n=1 HTTP/1.1\r\n\r\nGET /seq?n=2 HTTP/1.1\r\nConnection: close\r\n\r\n"
			"GET /seq?n=3 HTTP/1.1\r\n\r\n");
	struct resp rs;
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_string_equal((char *)rs.body, "1");
	resp_free(&rs);
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_string_equal((char *)rs.body, "2");
	assert_header(&rs, "Connection", "close");
	resp_free(&rs);
	assert_true(rd_sees_eof(r));
	rd_free(r);
	srv_stop(t);
}

static void test_one_byte_writes(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	struct conn_rd *r = rd_new(t->port);
	const char *req = "POST /echo?x=1 HTTP/1.1\r\nHost: t\r\nX-Foo: split\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	for (size_t i = 0; req[i]; i++) {
		send_all(r->fd, req + i, 1);
		if (i % 8 == 0)
			usleep(200);
	}
	struct resp rs;
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_header(&rs, "X-Foo", "split");
	assert_header(&rs, "X-Query", "x=1");
	assert_string_equal((char *)rs.body, "abcde");
	resp_free(&rs);
	rd_free(r);
	srv_stop(t);
}

static void test_body_limits_413(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){.max_body_bytes = 1024});
	/* Content-Length over the cap: refused from the headers alone. */
	struct conn_rd *r = rd_new(t->port);
	send_str(r->fd, "POST /echo HTTP/1.1\r\nContent-Length: 1025\r\n\r\n");
	assert_error_response(r, 413, "resource_exhausted");
	rd_free(r);

	/* Same, with the body following right away (the server drains before closing, so
	 * the client still reads the 413 rather than a reset). */
	r = rd_new(t->port);
	char big[4096];
	int n = snprintf(big, sizeof(big), "POST /echo HTTP/1.1\r\nContent-Length: 3000\r\n\r\n");
	memset(big + n, 'x', 3000);
	send_all(r->fd, big, (size_t)n + 3000);
	assert_error_response(r, 413, "resource_exhausted");
	rd_free(r);

	/* Chunked: each chunk is small, the sum passes the cap. */
	r = rd_new(t->port);
	send_str(r->fd, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	char chunk[512];
	memset(chunk, 'c', sizeof(chunk));
	for (int i = 0; i < 2; i++) {
		send_str(r->fd, "200\r\n");
		send_all(r->fd, chunk, 512);
		send_str(r->fd, "\r\n");
	}
	send_str(r->fd, "1\r\n");
	assert_error_response(r, 413, "resource_exhausted");
	rd_free(r);

	/* Exactly at the cap is accepted. */
	r = rd_new(t->port);
	n = snprintf(big, sizeof(big), "POST /echo HTTP/1.1\r\nContent-Length: 1024\r\n\r\n");
	memset(big + n, 'y', 1024);
	send_all(r->fd, big, (size_t)n + 1024);
	struct resp rs;
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_int_equal(rs.body_n, 1024);
	resp_free(&rs);
	rd_free(r);
	srv_stop(t);
}

static void test_header_limit_431(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){.max_header_bytes = 2048});
	struct conn_rd *r = rd_new(t->port);
	char big[4096];
	memset(big, 'h', 3000);
	big[3000] = '\0';
	send_str(r->fd, "GET / HTTP/1.1\r\nX-Big: ");
	send_str(r->fd, big);
	send_str(r->fd, "\r\n\r\n");
	assert_error_response(r, 431, "resource_exhausted");
	rd_free(r);
	srv_stop(t);
}

static void test_expect_100_continue(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){.max_body_bytes = 100});
	struct conn_rd *r = rd_new(t->port);
	send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
	const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
	while (r->n < strlen(cont))
		assert_true(rd_more(r) > 0);
	assert_memory_equal(r->buf, cont, strlen(cont));
	memmove(r->buf, r->buf + strlen(cont), r->n - strlen(cont));
	r->n -= strlen(cont);
	send_str(r->fd, "12345");
	struct resp rs;
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_string_equal((char *)rs.body, "12345");
	resp_free(&rs);
	rd_free(r);

	/* Too large: 413 straight away, no 100. */
	r = rd_new(t->port);
	send_str(r->fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n");
	assert_error_response(r, 413, "resource_exhausted");
	rd_free(r);
	srv_stop(t);
}

static void test_garbage_400(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	const char *bad[] = {
		"GARBAGE\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* a TLS ClientHello */
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(bad); i++) {
		struct conn_rd *r = rd_new(t->port);
		send_str(r->fd, bad[i]);
		assert_error_response(r, 400, "invalid_argument");
		rd_free(r);
	}
	srv_stop(t);
}

static void test_timeouts(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){.read_timeout_ms = 300,
							      .idle_timeout_ms = 400});
	/* Stalls mid-headers: 408 after the read timeout. */
	struct conn_rd *r = rd_new(t->port);
	double t0 = now_s();
	send_str(r->fd, "GET /echo HTTP/1.1\r\nHost: t\r\n");
	assert_error_response(r, 408, "deadline_exceeded");
	double dt = now_s() - t0;
	if (dt < 0.25 || dt > 2.0)
		fail_msg("408 after %.3f s, want about 0.3", dt);
	rd_free(r);

	/* Trickling bytes does not extend the deadline: it covers the whole request. */
	r = rd_new(t->port);
	t0 = now_s();
	send_str(r->fd, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
	for (int i = 0; i < 3; i++) {
		usleep(80 * 1000);
		send_str(r->fd, "x");
	}
	assert_error_response(r, 408, "deadline_exceeded");
	dt = now_s() - t0;
	if (dt < 0.25 || dt > 2.0)
		fail_msg("408 after %.3f s, want about 0.3", dt);
	rd_free(r);

	/* Idle keep-alive connection: closed quietly after the idle timeout. */
	r = rd_new(t->port);
	send_str(r->fd, "GET /seq?n=1 HTTP/1.1\r\n\r\n");
	struct resp rs;
	assert_int_equal(read_response(r, &rs, false), 0);
	resp_free(&rs);
	t0 = now_s();
	assert_true(rd_sees_eof(r));
	dt = now_s() - t0;
	if (dt < 0.35 || dt > 2.0)
		fail_msg("idle close after %.3f s, want about 0.4", dt);
	rd_free(r);

	/* A connection that never sends anything is closed quietly too. */
	r = rd_new(t->port);
	assert_true(rd_sees_eof(r));
	rd_free(r);
	srv_stop(t);
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want) {
		rl.rlim_cur = EMBER_MIN(want, rl.rlim_max);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

#define N_CONC 600

static void test_many_concurrent_connections(void **state)
{
	(void)state;
	raise_nofile(4 * N_CONC);
	struct srv *t = srv_start((struct http_server_config){.workers = 4});
	static struct conn_rd *rs_[N_CONC];
	/* All connections are open at once, each with a request in flight, before any
	 * response is read. */
	for (int i = 0; i < N_CONC; i++) {
		rs_[i] = rd_new(t->port);
		char req[128];
		snprintf(req, sizeof(req), "GET /seq?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
		send_str(rs_[i]->fd, req);
	}
	for (int i = N_CONC - 1; i >= 0; i--) {
		struct resp rs;
		assert_int_equal(read_response(rs_[i], &rs, false), 0);
		assert_int_equal(rs.status, 200);
		char want[16];
		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal((char *)rs.body, want);
		resp_free(&rs);
	}
	for (int i = 0; i < N_CONC; i++)
		rd_free(rs_[i]);
	assert_int_equal(atomic_load(&t->cn.handled), N_CONC);
	srv_stop(t);
}

static void test_max_connections_503(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){.max_connections = 2});
	struct conn_rd *a = rd_new(t->port), *b = rd_new(t->port);
	struct resp rs;
	/* Make sure both are accepted before the third arrives. */
	send_str(a->fd, "GET /seq?n=1 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(a, &rs, false), 0);
	resp_free(&rs);
	send_str(b->fd, "GET /seq?n=2 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(b, &rs, false), 0);
	resp_free(&rs);
	struct conn_rd *c = rd_new(t->port);
	send_str(c->fd, "GET /seq?n=3 HTTP/1.1\r\n\r\n");
	assert_error_response(c, 503, "unavailable");
	rd_free(c);
	/* Once one closes, a new connection is served again. */
	rd_free(a);
	usleep(100 * 1000);
	c = rd_new(t->port);
	send_str(c->fd, "GET /seq?n=4 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(c, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_string_equal((char *)rs.body, "4");
	resp_free(&rs);
	rd_free(c);
	rd_free(b);
	srv_stop(t);
}

static void test_head_and_big_response(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	struct conn_rd *r = rd_new(t->port);
	struct resp rs;
	send_str(r->fd, "HEAD /big?n=1000 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(r, &rs, true), 0);
	assert_int_equal(rs.status, 200);
	assert_header(&rs, "Content-Length", "1000");
	resp_free(&rs);
	/* If the HEAD response had carried body bytes, this would read them instead. */
	send_str(r->fd, "GET /seq?n=5 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_string_equal((char *)rs.body, "5");
	resp_free(&rs);

	/* 8 MiB: larger than the socket buffers, so the server's writes are partial. */
	size_t n = 8u << 20;
	char req[64];
	snprintf(req, sizeof(req), "GET /big?n=%zu HTTP/1.1\r\n\r\n", n);
	send_str(r->fd, req);
	usleep(50 * 1000); /* let the server hit EAGAIN */
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.body_n, n);
	for (size_t i = 0; i < n; i++) {
		if (rs.body[i] != (uint8_t)(i * 7 + 3))
			fail_msg("byte %zu differs", i);
	}
	resp_free(&rs);

	/* 204 and 304 carry no body or length. */
	send_str(r->fd, "GET /status?code=204 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 204);
	assert_no_header(&rs, "Content-Length");
	resp_free(&rs);
	send_str(r->fd, "GET /status?code=42 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 500);
	resp_free(&rs);
	rd_free(r);
	srv_stop(t);
}

static void test_http10_and_connection_close(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	struct resp rs;
	struct conn_rd *r = rd_new(t->port);
	send_str(r->fd, "GET /seq?n=1 HTTP/1.0\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_header(&rs, "Connection", "close");
	assert_string_equal((char *)rs.body, "1");
	resp_free(&rs);
	assert_true(rd_sees_eof(r));
	rd_free(r);

	r = rd_new(t->port);
	send_str(r->fd, "GET /seq?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_header(&rs, "Connection", "keep-alive");
	resp_free(&rs);
	send_str(r->fd, "GET /seq?n=3 HTTP/1.0\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_string_equal((char *)rs.body, "3");
	assert_header(&rs, "Connection", "close");
	resp_free(&rs);
	assert_true(rd_sees_eof(r));
	rd_free(r);

	r = rd_new(t->port);
	send_str(r->fd, "GET /seq?n=4 HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_header(&rs, "Connection", "close");
	resp_free(&rs);
	assert_true(rd_sees_eof(r));
	rd_free(r);
	srv_stop(t);
}

struct stopper {
	struct srv *t;
	int delay_ms;
};

static void *stop_later(void *arg)
{
	struct stopper *st = arg;
	while (atomic_load(&st->t->cn.slow_entered) == 0)
		usleep(1000);
	usleep((useconds_t)st->delay_ms * 1000);
	http_server_stop(st->t->s);
	return NULL;
}

static void test_graceful_stop(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	int port = t->port;
	/* An idle keep-alive connection... */
	struct conn_rd *idle = rd_new(port);
	struct resp rs;
	send_str(idle->fd, "GET /seq?n=1 HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(idle, &rs, false), 0);
	resp_free(&rs);
	/* ...and one with a slow handler running when stop is called. */
	struct conn_rd *r = rd_new(port);
	send_str(r->fd, "GET /slow?ms=400 HTTP/1.1\r\n\r\n");
	struct stopper st = {t, 50};
	pthread_t th;
	pthread_create(&th, NULL, stop_later, &st);
	assert_int_equal(read_response(r, &rs, false), 0);
	assert_int_equal(rs.status, 200);
	assert_string_equal((char *)rs.body, "slow done");
	assert_header(&rs, "Connection", "close");
	resp_free(&rs);
	assert_true(rd_sees_eof(r));
	assert_true(rd_sees_eof(idle));
	pthread_join(th, NULL);
	pthread_join(t->th, NULL);
	assert_int_equal(t->run_rc, 0);
	/* The listener is closed: new connections are refused. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	rd_free(r);
	rd_free(idle);
	/* on_response saw both requests, after run returned (join orders the memory). */
	assert_int_equal(atomic_load(&t->cn.responses), 2);
	assert_int_equal(atomic_load(&t->cn.status_sum), 400);
	http_server_free(t->s);
	free(t);
}

static void test_stop_before_run(void **state)
{
	(void)state;
	struct counters cn = {0};
	struct http_server_config cfg = {.address = "127.0.0.1", .workers = 2};
	struct http_server *s;
	assert_int_equal(http_server_new(&cfg, handler, &cn, &s), 0);
	http_server_stop(s);
	assert_int_equal(http_server_run(s), 0);
	assert_int_equal(http_server_run(s), EMBER_ESTATE);
	http_server_free(s);
	/* A bad address is a clean error. */
	cfg.address = "256.1.1.1";
	assert_int_not_equal(http_server_new(&cfg, handler, &cn, &s), 0);
}

static void test_on_response_counts(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){0});
	struct conn_rd *r = rd_new(t->port);
	struct resp rs;
	send_str(r->fd, "GET /seq?n=1 HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(r, &rs, false), 0);
	resp_free(&rs);
	assert_int_equal(read_response(r, &rs, false), 0);
	resp_free(&rs);
	send_str(r->fd, "BAD\r\n\r\n");
	assert_error_response(r, 400, "invalid_argument");
	rd_free(r);
	struct http_server *s = t->s;
	http_server_stop(s);
	pthread_join(t->th, NULL);
	assert_int_equal(atomic_load(&t->cn.responses), 3);
	assert_int_equal(atomic_load(&t->cn.status_sum), 200 + 404 + 400);
	http_server_free(s);
	free(t);
}

struct curl_sink {
	struct buf body;
	bool saw_continue;
};

static size_t curl_write(char *p, size_t size, size_t n, void *ud)
{
	struct curl_sink *k = ud;
	buf_append(&k->body, p, size * n);
	return size * n;
}

static size_t curl_header(char *p, size_t size, size_t n, void *ud)
{
	struct curl_sink *k = ud;
	if (size * n >= 12 && !memcmp(p, "HTTP/1.1 100", 12))
		k->saw_continue = true;
	return size * n;
}

/* libcurl, an independent client: it sends "Expect: 100-continue" for large POSTs and
 * reuses the connection. */
static void test_libcurl_client(void **state)
{
	(void)state;
	struct srv *t = srv_start((struct http_server_config){.max_body_bytes = 4 << 20});
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	size_t n = 2 << 20;
	char *data = malloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?via=curl", t->port);
	struct curl_sink k = {BUF_INIT, false};
	struct curl_slist *hdrs = curl_slist_append(NULL, "Expect: 100-continue");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, curl_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &k);
	/* Long enough that a missing 100 would show as a slow test, not be papered over. */
	curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 5000L);
	double t0 = now_s();
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	assert_true(now_s() - t0 < 4.0);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	assert_int_equal(code, 200);
	assert_true(k.saw_continue);
	assert_int_equal(k.body.n, n);
	assert_memory_equal(k.body.p, data, n);

	/* Same handle, same connection: a GET. */
	k.body.n = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/seq?n=42", t->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	assert_int_equal(k.body.n, 2);
	assert_memory_equal(k.body.p, "42", 2);
	long conns = -1;
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
	assert_int_equal(conns, 0); /* reused */

	/* Too large: curl gets the 413 instead of the 100 and does not send the body. */
	k.body.n = 0;
	size_t big = 5 << 20;
	char *bigdata = calloc(1, big);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", t->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, bigdata);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)big);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	assert_int_equal(code, 413);
	assert_true(k.body.n > 0 && strstr(buf_cstr(&k.body), "resource_exhausted"));
	free(bigdata);

	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	buf_release(&k.body);
	free(data);
	srv_stop(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_and_post),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_keep_alive_100),
		cmocka_unit_test(test_pipelined_in_order),
		cmocka_unit_test(test_one_byte_writes),
		cmocka_unit_test(test_body_limits_413),
		cmocka_unit_test(test_header_limit_431),
		cmocka_unit_test(test_expect_100_continue),
		cmocka_unit_test(test_garbage_400),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_many_concurrent_connections),
		cmocka_unit_test(test_max_connections_503),
		cmocka_unit_test(test_head_and_big_response),
		cmocka_unit_test(test_http10_and_connection_close),
		cmocka_unit_test(test_graceful_stop),
		cmocka_unit_test(test_stop_before_run),
		cmocka_unit_test(test_on_response_counts),
		cmocka_unit_test(test_libcurl_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
