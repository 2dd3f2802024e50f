/* libFuzzer target: arbitrary bytes through the HTTP/1.1 request parser glue (no socket),
 * as one connection's stream, cut into pieces whose size comes from the first byte.
 * Completed requests are taken, inspected (headers, query helpers) and released. */
#include "http/query.h"
#include "http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inspect(struct http_request *req)
{
	/* Touch every byte the request claims to own, so ASan checks the bounds. */
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		for (size_t j = 0; j < req->headers[i].name.n; j++)
			sink ^= req->headers[i].name.p[j];
		for (size_t j = 0; j < req->headers[i].value.n; j++)
			sink ^= req->headers[i].value.p[j];
	}
	for (size_t j = 0; j < req->body.n; j++)
		sink ^= req->body.p[j];
	for (size_t j = 0; j < req->path.n; j++)
		sink ^= req->path.p[j];
	for (size_t j = 0; j < req->query.n; j++)
		sink ^= req->query.p[j];
	(void)sink;
	if (req->body.n > 4096)
		__builtin_trap();
	(void)http_request_header(req, "content-type");
	struct slice v, *all;
	size_t n;
	(void)http_query_get(req->query, "query", req->arena, &v);
	(void)http_query_get_all(req->query, "a", req->arena, &all, &n);
	(void)http_percent_decode(req->path, false, req->arena, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = data[0] ? data[0] : 1 << 16;
	data++;
	size--;
	struct http_parse_limits lim = {.max_header_bytes = 2048, .max_headers = 16,
					.max_body_bytes = 4096};
	struct http_reqparser *p = http_reqparser_new(&lim);
	/* Like the server: bytes left over after a complete request are fed again. */
	size_t off = 0;
	while (off < size) {
		size_t n = EMBER_MIN(piece, size - off), used = 0;
		int rc = http_reqparser_feed(p, data + off, n, &used);
		if (used > n)
			__builtin_trap();
		off += used;
		if (rc < 0) {
			int status;
			const char *msg;
			http_reqparser_error(p, &status, &msg);
			if (status != 400 && status != 413 && status != 431)
				__builtin_trap();
			break;
		}
		(void)http_reqparser_take_continue(p);
		if (rc == HTTP_FEED_DONE) {
			struct http_request req;
			http_reqparser_take(p, &req);
			inspect(&req);
			bool keep = req.keep_alive;
			http_request_release(&req);
			if (!keep)
				break;
		}
	}
	http_reqparser_free(p);
	return 0;
}
