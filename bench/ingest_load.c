/* ingest_load: a keep-alive HTTP load generator for /ingest. Each of C threads opens one
 * connection and POSTs the given files round-robin until N requests are done in all.
 * Usage: ingest_load PORT CONNS N QUERY FILE...
 * In QUERY, "%S" becomes the request's series number (i % $LOAD_SERIES) and "%T" its time
 * ($LOAD_BASE + (i / $LOAD_SERIES) * $LOAD_STEP, unix seconds), so one run can write many
 * series over a time range.
 * Prints: "requests=N ok=K seconds=S" and exits non-zero if any request failed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"

struct body {
	uint8_t *p;
	size_t n;
};

static int port;
static const char *query;
static struct body *bodies;
static size_t n_bodies;
static long total, next_req, ok_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long series_n = 1, base_s, step_s = 10;

/* The query of request i, with %S and %T filled in. */
static void format_query(struct buf *out, long i)
{
	for (const char *p = query; *p; p++) {
		if (p[0] == '%' && p[1] == 'S') {
			buf_printf(out, "%ld", i % series_n);
			p++;
		} else if (p[0] == '%' && p[1] == 'T') {
			buf_printf(out, "%ld", base_s + (i / series_n) * step_s);
			p++;
		} else {
			buf_append_byte(out, (uint8_t)*p);
		}
	}
}

static long take(void)
{
	pthread_mutex_lock(&lock);
	long i = next_req < total ? next_req++ : -1;
	pthread_mutex_unlock(&lock);
	return i;
}

static int read_response(int fd, struct buf *in)
{
	/* Reads one response (status line, headers, Content-Length body); returns the status. */
	for (;;) {
		char *end = in->n ? memmem(in->p, in->n, "\r\n\r\n", 4) : NULL;
		if (end) {
			size_t head = (size_t)(end - (char *)in->p) + 4;
			int status = atoi((char *)in->p + 9);
			size_t clen = 0;
			char *cl = memmem(in->p, head, "Content-Length:", 15);
			if (!cl)
				cl = memmem(in->p, head, "content-length:", 15);
			if (cl)
				clen = strtoul(cl + 15, NULL, 10);
			while (in->n < head + clen) {
				buf_reserve(in, 65536);
				ssize_t r = read(fd, in->p + in->n, 65536);
				if (r <= 0)
					return -1;
				in->n += (size_t)r;
			}
			memmove(in->p, in->p + head + clen, in->n - head - clen);
			in->n -= head + clen;
			return status;
		}
		buf_reserve(in, 65536);
		ssize_t r = read(fd, in->p + in->n, 65536);
		if (r <= 0)
			return -1;
		in->n += (size_t)r;
	}
}

static void *worker(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		return NULL;
	}
	struct buf in = BUF_INIT, req = BUF_INIT;
	long i, ok = 0;
	while ((i = take()) >= 0) {
		struct body *b = &bodies[i % (long)n_bodies];
		req.n = 0;
		buf_append_cstr(&req, "POST /ingest?");
		format_query(&req, i);
		buf_printf(&req,
			   " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
			   "Content-Length: %zu\r\n\r\n",
			   b->n);
		buf_append(&req, b->p, b->n);
		size_t off = 0;
		while (off < req.n) {
			ssize_t w = write(fd, req.p + off, req.n - off);
			if (w <= 0)
				goto out;
			off += (size_t)w;
		}
		int st = read_response(fd, &in);
		if (st < 0)
			goto out;
		ok += st == 200;
	}
out:
	close(fd);
	buf_release(&in);
	buf_release(&req);
	pthread_mutex_lock(&lock);
	ok_count += ok;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: ingest_load PORT CONNS N QUERY FILE...\n");
		return 2;
	}
	port = atoi(argv[1]);
	if (getenv("LOAD_SERIES"))
		series_n = atol(getenv("LOAD_SERIES")) > 0 ? atol(getenv("LOAD_SERIES")) : 1;
	if (getenv("LOAD_BASE"))
		base_s = atol(getenv("LOAD_BASE"));
	if (getenv("LOAD_STEP"))
		step_s = atol(getenv("LOAD_STEP"));
	int conns = atoi(argv[2]);
	total = atol(argv[3]);
	query = argv[4];
	n_bodies = (size_t)(argc - 5);
	bodies = xcalloc(n_bodies, sizeof(*bodies));
	for (size_t i = 0; i < n_bodies; i++) {
		FILE *f = fopen(argv[5 + i], "rb");
		if (!f) {
			perror(argv[5 + i]);
			return 2;
		}
		struct buf b = BUF_INIT;
		uint8_t tmp[65536];
		size_t r;
		while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
			buf_append(&b, tmp, r);
		fclose(f);
		bodies[i].p = buf_steal(&b, &bodies[i].n);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t *th = xcalloc((size_t)conns, sizeof(*th));
	for (int i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("requests=%ld ok=%ld seconds=%.3f\n", total, ok_count, secs);
	return ok_count == total ? 0 : 1;
}
