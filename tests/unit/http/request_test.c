/* The request parser glue and response formatting, without sockets. */
#include "testutil.h"

#include "http/request.h"

static struct http_reqparser *newp(size_t max_body, size_t max_head, size_t max_headers)
{
	struct http_parse_limits l = {.max_body_bytes = max_body, .max_header_bytes = max_head,
				      .max_headers = max_headers};
	return http_reqparser_new(&l);
}

static int feed_str(struct http_reqparser *p, const char *s, size_t *used)
{
	return http_reqparser_feed(p, (const uint8_t *)s, strlen(s), used);
}

static void assert_slice(struct slice s, const char *want)
{
	if (s.n != strlen(want) || (s.n && memcmp(s.p, want, s.n) != 0))
		fail_msg("got '%.*s' want '%s'", (int)s.n, (const char *)s.p, want);
}

static void test_parse_get(void **state)
{
	(void)state;
	struct http_reqparser *p = newp(0, 0, 0);
	const char *r = "GET /api/x?name=a%20b&x=1 HTTP/1.1\r\nHost: h\r\n"
			"X-Scope-OrgID:  tenant1  \r\nAccept: */*\r\n\r\n";
	size_t used;
	assert_int_equal(feed_str(p, r, &used), HTTP_FEED_DONE);
	assert_int_equal(used, strlen(r));
	struct http_request req;
	http_reqparser_take(p, &req);
	assert_slice(req.method, "GET");
	assert_slice(req.path, "/api/x");
	assert_slice(req.query, "name=a%20b&x=1");
	assert_slice(req.target, "/api/x?name=a%20b&x=1");
	assert_int_equal(req.n_headers, 3);
	assert_slice(req.headers[0].name, "Host");
	assert_slice(*http_request_header(&req, "x-scope-orgid"), "tenant1");
	assert_slice(*http_request_header(&req, "ACCEPT"), "*/*");
	assert_null(http_request_header(&req, "Content-Type"));
	assert_int_equal(req.body.n, 0);
	assert_true(req.keep_alive);
	assert_false(req.is_head);
	assert_int_equal(req.http_minor, 1);
	assert_false(http_reqparser_in_message(p));
	http_request_release(&req);
	http_reqparser_free(p);
}

static void test_parse_absolute_target_and_fragment(void **state)
{
	(void)state;
	struct http_reqparser *p = newp(0, 0, 0);
	size_t used;
	struct http_request req;
	assert_int_equal(feed_str(p, "GET http://h:80/p/q?x=1 HTTP/1.1\r\n\r\n", &used), HTTP_FEED_DONE);
	http_reqparser_take(p, &req);
	assert_slice(req.path, "/p/q");
	assert_slice(req.query, "x=1");
	http_request_release(&req);
	assert_int_equal(feed_str(p, "OPTIONS * HTTP/1.1\r\n\r\n", &used), HTTP_FEED_DONE);
	http_reqparser_take(p, &req);
	assert_slice(req.path, "*");
	assert_slice(req.query, "");
	assert_slice(req.method, "OPTIONS");
	http_request_release(&req);
	http_reqparser_free(p);
}

static void test_parse_pipelined_and_split(void **state)
{
	(void)state;
	struct http_reqparser *p = newp(0, 0, 0);
	const char *a = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
	const char *b = "GET /b HTTP/1.1\r\n\r\n";
	char both[256];
	snprintf(both, sizeof(both), "%s%s", a, b);
	size_t used;
	assert_int_equal(feed_str(p, both, &used), HTTP_FEED_DONE);
	assert_int_equal(used, strlen(a));
	/* Not taken yet: nothing more is consumed. */
	size_t used2;
	assert_int_equal(feed_str(p, both + used, &used2), HTTP_FEED_DONE);
	assert_int_equal(used2, 0);
	struct http_request req;
	http_reqparser_take(p, &req);
	assert_slice(req.path, "/a");
	assert_slice(req.body, "hello");
	http_request_release(&req);
	assert_int_equal(feed_str(p, both + used, &used2), HTTP_FEED_DONE);
	assert_int_equal(used2, strlen(b));
	http_reqparser_take(p, &req);
	assert_slice(req.path, "/b");
	http_request_release(&req);

	/* One byte at a time. */
	for (size_t i = 0; i < strlen(a); i++) {
		int rc = http_reqparser_feed(p, (const uint8_t *)a + i, 1, &used);
		assert_int_equal(used, 1);
		assert_int_equal(rc, i + 1 == strlen(a) ? HTTP_FEED_DONE : HTTP_FEED_MORE);
		assert_true(http_reqparser_in_message(p));
	}
	http_reqparser_take(p, &req);
	assert_slice(req.method, "POST");
	assert_slice(req.body, "hello");
	assert_slice(*http_request_header(&req, "content-length"), "5");
	http_request_release(&req);
	http_reqparser_free(p);
}

static void test_parse_chunked(void **state)
{
	(void)state;
	struct http_reqparser *p = newp(0, 0, 0);
	const char *r = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
	size_t used;
	assert_int_equal(feed_str(p, r, &used), HTTP_FEED_DONE);
	assert_int_equal(used, strlen(r));
	struct http_request req;
	http_reqparser_take(p, &req);
	assert_slice(req.body, "hello world");
	assert_int_equal(req.n_headers, 1); /* the trailer is not a header */
	assert_null(http_request_header(&req, "x-trailer"));
	assert_true(req.keep_alive);
	http_request_release(&req);
	http_reqparser_free(p);
}

static void test_parse_keep_alive_rules(void **state)
{
	(void)state;
	struct {
		const char *req;
		bool keep;
	} cases[] = {
		{"GET / HTTP/1.1\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", false},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		struct http_reqparser *p = newp(0, 0, 0);
		size_t used;
		assert_int_equal(feed_str(p, cases[i].req, &used), HTTP_FEED_DONE);
		struct http_request req;
		http_reqparser_take(p, &req);
		if (req.keep_alive != cases[i].keep)
			fail_msg("case %zu: keep_alive %d", i, req.keep_alive);
		http_request_release(&req);
		http_reqparser_free(p);
	}
}

static void assert_error(struct http_reqparser *p, const char *in, int want_rc, int want_status)
{
	size_t used;
	int rc = feed_str(p, in, &used);
	assert_int_equal(rc, want_rc);
	int status;
	const char *msg;
	http_reqparser_error(p, &status, &msg);
	assert_int_equal(status, want_status);
	assert_true(strlen(msg) > 0);
	/* Dead after an error. */
	assert_int_equal(feed_str(p, "GET / HTTP/1.1\r\n\r\n", &used), want_rc);
	http_reqparser_free(p);
}

static void test_parse_errors_and_limits(void **state)
{
	(void)state;
	assert_error(newp(0, 0, 0), "GARBAGE\r\n\r\n", EMBER_EINVAL, 400);
	assert_error(newp(0, 0, 0), "GET / HTTP/1.1\r\nBad Header\r\n\r\n", EMBER_EINVAL, 400);
	assert_error(newp(0, 0, 0), "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", EMBER_EINVAL, 400);
	assert_error(newp(100, 0, 0), "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n",
		     EMBER_ETOOBIG, 413);
	/* Chunked: refused at the chunk header that passes the cap, before its bytes. */
	assert_error(newp(100, 0, 0),
		     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", EMBER_ETOOBIG, 413);
	char big[300];
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	char r[512];
	snprintf(r, sizeof(r), "GET / HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
	assert_error(newp(0, 256, 0), r, EMBER_ETOOBIG, 431);
	assert_error(newp(0, 0, 2), "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", EMBER_ETOOBIG, 431);

	/* Exactly at the caps is fine. */
	struct http_reqparser *p = newp(100, 0, 2);
	char body[101];
	memset(body, 'b', 100);
	body[100] = '\0';
	snprintf(r, sizeof(r), "POST / HTTP/1.1\r\nA: 1\r\nContent-Length: 100\r\n\r\n%s", body);
	size_t used;
	assert_int_equal(feed_str(p, r, &used), HTTP_FEED_DONE);
	struct http_request req;
	http_reqparser_take(p, &req);
	assert_int_equal(req.body.n, 100);
	http_request_release(&req);
	http_reqparser_free(p);
}

static void test_expect_continue(void **state)
{
	(void)state;
	struct http_reqparser *p = newp(0, 0, 0);
	size_t used;
	assert_int_equal(feed_str(p, "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
				  &used), HTTP_FEED_MORE);
	assert_true(http_reqparser_take_continue(p));
	assert_false(http_reqparser_take_continue(p)); /* once */
	assert_int_equal(feed_str(p, "abc", &used), HTTP_FEED_DONE);
	struct http_request req;
	http_reqparser_take(p, &req);
	assert_slice(req.body, "abc");
	http_request_release(&req);
	/* No body announced, or HTTP/1.0: no 100. */
	assert_int_equal(feed_str(p, "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", &used), HTTP_FEED_DONE);
	assert_false(http_reqparser_take_continue(p));
	http_reqparser_take(p, &req);
	http_request_release(&req);
	http_reqparser_free(p);
	p = newp(0, 0, 0);
	assert_int_equal(feed_str(p, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
				  &used), HTTP_FEED_MORE);
	assert_false(http_reqparser_take_continue(p));
	http_reqparser_free(p);
}

static void test_response_head(void **state)
{
	(void)state;
	struct http_response resp;
	http_response_init(&resp);
	http_response_set_body(&resp, "text/plain", "hi", 2);
	http_response_add_header(&resp, "X-A", "1");
	http_response_add_header(&resp, "X-Bad", "a\r\nInjected: 1"); /* dropped */
	http_response_add_header(&resp, "Bad Name", "1");             /* dropped */
	http_response_add_header(&resp, "Content-Length", "99");      /* dropped */
	struct buf out = BUF_INIT;
	http_response_format_head(&resp, 1, true, NULL, &out);
	assert_string_equal(buf_cstr(&out), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\n"
					    "Content-Length: 2\r\n\r\n");
	out.n = 0;
	http_response_format_head(&resp, 0, true, "Thu, 01 Jan 2026 00:00:00 GMT", &out);
	assert_string_equal(buf_cstr(&out), "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
					    "Content-Type: text/plain\r\nX-A: 1\r\nContent-Length: 2\r\n"
					    "Connection: keep-alive\r\n\r\n");
	http_response_release(&resp);
	http_response_set_error(&resp, 413, "resource_exhausted", "too \"big\"");
	out.n = 0;
	http_response_format_head(&resp, 1, false, NULL, &out);
	assert_string_equal(buf_cstr(&out), "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
					    "Content-Length: 53\r\nConnection: close\r\n\r\n");
	assert_int_equal(resp.body.n, 53);
	assert_memory_equal(resp.body.p, "{\"code\":\"resource_exhausted\",\"message\":\"too \\\"big\\\"\"}", 53);
	resp.status = 204;
	out.n = 0;
	http_response_format_head(&resp, 1, true, NULL, &out);
	assert_string_equal(buf_cstr(&out), "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n");
	assert_false(http_response_has_body(204, false));
	assert_false(http_response_has_body(200, true));
	assert_true(http_response_has_body(404, false));
	buf_release(&out);
	http_response_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_get),
		cmocka_unit_test(test_parse_absolute_target_and_fragment),
		cmocka_unit_test(test_parse_pipelined_and_split),
		cmocka_unit_test(test_parse_chunked),
		cmocka_unit_test(test_parse_keep_alive_rules),
		cmocka_unit_test(test_parse_errors_and_limits),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_response_head),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
