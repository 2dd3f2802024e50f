/* The web UI's asset table (generated from ui/ by tools/uigen.c) against the files on disk,
 * and api_ui_serve's answers to requests parsed by the real HTTP parser. */
#include <ftw.h>
#include <xxhash.h>

#include "testutil.h"

#include "api/ui_assets.h"
#include "http/request.h"
#include "util/gzip.h"

#ifndef UI_DIR
#define UI_DIR "ui"
#endif

static size_t disk_files;

static int count_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	const char *base = path + ftw->base;
	size_t bl = strlen(base);
	if (flag == FTW_F && base[0] != '.' && !(bl && base[bl - 1] == '~'))
		disk_files++;
	return 0;
}

/* The file's bytes as uigen should have embedded them: index.html gets "v-<version>/"
 * after each quoted ui/ reference; we undo that on the embedded copy instead. */
static void strip_version(const uint8_t *p, size_t n, struct buf *out)
{
	char seg[32];
	snprintf(seg, sizeof(seg), "ui/v-%s/", ui_version);
	size_t sl = strlen(seg);
	for (size_t i = 0; i < n;) {
		if (n - i >= sl && memcmp(p + i, seg, sl) == 0) {
			buf_append(out, "ui/", 3);
			i += sl;
		} else {
			buf_append_byte(out, p[i++]);
		}
	}
}

static void test_table_matches_disk(void **state)
{
	(void)state;
	disk_files = 0;
	struct stat st;
	if (stat(UI_DIR, &st) == 0)
		assert_int_equal(nftw(UI_DIR, count_file, 16, FTW_PHYS), 0);
	assert_int_equal(ui_assets_n, disk_files);
	assert_int_equal(strlen(ui_version), 16);
	for (size_t i = 0; i < ui_assets_n; i++) {
		const struct ui_asset *a = &ui_assets[i];
		if (i)
			assert_true(strcmp(ui_assets[i - 1].path, a->path) < 0);
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", UI_DIR, a->path);
		size_t n;
		uint8_t *disk = test_read_file(path, &n);
		struct buf emb = BUF_INIT;
		if (strcmp(a->path, "index.html") == 0)
			strip_version(a->data, a->len, &emb);
		else
			buf_append(&emb, a->data, a->len);
		assert_int_equal(emb.n, n);
		assert_memory_equal(emb.p, disk, n);
		free(disk);
		buf_release(&emb);

		/* ETag: the XXH3-64 of the served bytes, quoted; the gzip variant is distinct. */
		char want[40];
		snprintf(want, sizeof(want), "\"%016llx\"", (unsigned long long)XXH3_64bits(a->data, a->len));
		assert_string_equal(a->etag, want);
		assert_string_not_equal(a->etag, a->etag_gz);
		if (a->gz) {
			assert_true(a->gz_len < a->len);
			struct buf plain = BUF_INIT;
			assert_int_equal(gzip_inflate(slice_make(a->gz, a->gz_len), a->len, &plain), 0);
			assert_int_equal(plain.n, a->len);
			assert_memory_equal(plain.p, a->data, a->len);
			buf_release(&plain);
		}
		const char *dot = strrchr(a->path, '.');
		if (dot && !strcmp(dot, ".html"))
			assert_string_equal(a->content_type, "text/html; charset=utf-8");
		else if (dot && !strcmp(dot, ".js"))
			assert_string_equal(a->content_type, "text/javascript; charset=utf-8");
		else if (dot && !strcmp(dot, ".css"))
			assert_string_equal(a->content_type, "text/css; charset=utf-8");
		assert_ptr_equal(ui_asset_find(slice_cstr(a->path)), a);
	}
	assert_null(ui_asset_find(slice_cstr("no/such.file")));
	assert_null(ui_asset_find(slice_cstr("")));
}

/* Parses raw with the server's own parser and serves it. */
static void serve(const char *raw, struct http_response *resp)
{
	struct http_parse_limits lim = {0};
	struct http_reqparser *p = http_reqparser_new(&lim);
	size_t used = 0;
	assert_int_equal(http_reqparser_feed(p, (const uint8_t *)raw, strlen(raw), &used), HTTP_FEED_DONE);
	struct http_request req;
	http_reqparser_take(p, &req);
	http_response_init(resp);
	api_ui_serve(&req, resp);
	http_request_release(&req);
	http_reqparser_free(p);
}

/* The value of header name in the response's formatted extra headers, or NULL. */
static const char *resp_header(struct http_response *resp, const char *name, char *out, size_t cap)
{
	const char *h = buf_cstr(&resp->headers_);
	size_t nl = strlen(name);
	for (const char *line = h; line && *line;) {
		const char *end = strstr(line, "\r\n");
		if (!end)
			break;
		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			snprintf(out, cap, "%.*s", (int)(end - line - nl - 2), line + nl + 2);
			return out;
		}
		line = end + 2;
	}
	return NULL;
}

static const struct ui_asset *an_asset(bool want_gz)
{
	for (size_t i = 0; i < ui_assets_n; i++)
		if (strcmp(ui_assets[i].path, "index.html") && (!want_gz || ui_assets[i].gz))
			return &ui_assets[i];
	return NULL;
}

static void test_serve_index(void **state)
{
	(void)state;
	struct http_response resp;
	char v[200];
	serve("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &resp);
	const struct ui_asset *idx = ui_asset_find(slice_cstr("index.html"));
	if (!idx) {
		assert_int_equal(resp.status, 404);
		assert_non_null(strstr(buf_cstr(&resp.body), "without the web UI"));
		http_response_release(&resp);
		return;
	}
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, "text/html; charset=utf-8");
	assert_int_equal(resp.body.n, idx->len);
	assert_memory_equal(resp.body.p, idx->data, idx->len);
	assert_string_equal(resp_header(&resp, "Cache-Control", v, sizeof(v)), "no-cache");
	assert_string_equal(resp_header(&resp, "ETag", v, sizeof(v)), idx->etag);
	assert_null(resp_header(&resp, "Content-Encoding", v, sizeof(v)));
	http_response_release(&resp);

	/* Conditional: the same ETag (also weak, also in a list) gives 304 with no body. */
	const char *conds[] = {"If-None-Match: %s", "If-None-Match: W/%s", "If-None-Match: \"x\", %s", "If-None-Match: *%.0s"};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(conds); i++) {
		char hdr[200], raw[400];
		snprintf(hdr, sizeof(hdr), conds[i], idx->etag);
		snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", hdr);
		serve(raw, &resp);
		assert_int_equal(resp.status, 304);
		assert_int_equal(resp.body.n, 0);
		assert_string_equal(resp_header(&resp, "ETag", v, sizeof(v)), idx->etag);
		http_response_release(&resp);
	}
	serve("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"0000000000000000\"\r\n\r\n", &resp);
	assert_int_equal(resp.status, 200);
	http_response_release(&resp);
}

static void test_serve_assets(void **state)
{
	(void)state;
	const struct ui_asset *a = an_asset(false);
	if (!a)
		skip();
	struct http_response resp;
	char raw[600], v[200];

	/* Unversioned path: served, revalidated every time. */
	snprintf(raw, sizeof(raw), "GET /ui/%s HTTP/1.1\r\nHost: x\r\n\r\n", a->path);
	serve(raw, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.content_type, a->content_type);
	assert_int_equal(resp.body.n, a->len);
	assert_memory_equal(resp.body.p, a->data, a->len);
	assert_string_equal(resp_header(&resp, "Cache-Control", v, sizeof(v)), "no-cache");
	http_response_release(&resp);

	/* The current version's path: cached for a year. An old version: revalidated. */
	snprintf(raw, sizeof(raw), "HEAD /ui/v-%s/%s HTTP/1.1\r\nHost: x\r\n\r\n", ui_version, a->path);
	serve(raw, &resp);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body.n, a->len); /* the server omits it for HEAD, keeps its length */
	assert_string_equal(resp_header(&resp, "Cache-Control", v, sizeof(v)), "public, max-age=31536000, immutable");
	http_response_release(&resp);
	snprintf(raw, sizeof(raw), "GET /ui/v-0123456789abcdef/%s HTTP/1.1\r\nHost: x\r\n\r\n", a->path);
	serve(raw, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp_header(&resp, "Cache-Control", v, sizeof(v)),
			    strcmp(ui_version, "0123456789abcdef") ? "no-cache" : "public, max-age=31536000, immutable");
	http_response_release(&resp);

	/* gzip when accepted (not when refused with q=0), with its own ETag. */
	const struct ui_asset *g = an_asset(true);
	if (g) {
		snprintf(raw, sizeof(raw), "GET /ui/%s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: deflate, gzip;q=0.5\r\n\r\n",
			 g->path);
		serve(raw, &resp);
		assert_int_equal(resp.status, 200);
		assert_string_equal(resp_header(&resp, "Content-Encoding", v, sizeof(v)), "gzip");
		assert_string_equal(resp_header(&resp, "Vary", v, sizeof(v)), "Accept-Encoding");
		assert_string_equal(resp_header(&resp, "ETag", v, sizeof(v)), g->etag_gz);
		struct buf plain = BUF_INIT;
		assert_int_equal(gzip_inflate(slice_make(resp.body.p, resp.body.n), 1 << 26, &plain), 0);
		assert_int_equal(plain.n, g->len);
		assert_memory_equal(plain.p, g->data, g->len);
		buf_release(&plain);
		http_response_release(&resp);

		snprintf(raw, sizeof(raw), "GET /ui/%s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0, br\r\n\r\n", g->path);
		serve(raw, &resp);
		assert_null(resp_header(&resp, "Content-Encoding", v, sizeof(v)));
		assert_int_equal(resp.body.n, g->len);
		http_response_release(&resp);

		/* The identity ETag does not validate the gzip variant. */
		snprintf(raw, sizeof(raw), "GET /ui/%s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: %s\r\n\r\n",
			 g->path, g->etag);
		serve(raw, &resp);
		assert_int_equal(resp.status, 200);
		http_response_release(&resp);
		snprintf(raw, sizeof(raw), "GET /ui/%s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: %s\r\n\r\n",
			 g->path, g->etag_gz);
		serve(raw, &resp);
		assert_int_equal(resp.status, 304);
		http_response_release(&resp);
	}
}

static void test_serve_errors(void **state)
{
	(void)state;
	struct http_response resp;
	static const char *const missing[] = {
		"GET /ui/no-such-file.js HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /ui/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /ui/../Makefile HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /ui/v-0123456789abcdef/ HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(missing); i++) {
		serve(missing[i], &resp);
		assert_int_equal(resp.status, 404);
		assert_string_equal(resp.content_type, "application/json");
		assert_non_null(strstr(buf_cstr(&resp.body), "\"code\":\"not_found\""));
		http_response_release(&resp);
	}
	char v[100];
	serve("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &resp);
	assert_int_equal(resp.status, 405);
	assert_string_equal(resp_header(&resp, "Allow", v, sizeof(v)), "GET, HEAD");
	http_response_release(&resp);
	serve("DELETE /ui/x.js HTTP/1.1\r\nHost: x\r\n\r\n", &resp);
	assert_int_equal(resp.status, 405);
	http_response_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_disk),
		cmocka_unit_test(test_serve_index),
		cmocka_unit_test(test_serve_assets),
		cmocka_unit_test(test_serve_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
