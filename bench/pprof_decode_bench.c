/* Benchmark: our zero-copy pprof decoder against protobuf-c on the same bytes.
 *   pprof_decode_bench [file.pb.gz ...]   (default: the profiles in ../shared/testdata)
 * Each file is inflated once; then each decoder runs for ~0.2 s of CPU time over it (thread
 * CPU clock, so other load on the machine does not count). Figures are MB of
 * uncompressed pprof per second. "ours" includes a fresh arena per profile (malloc and
 * free of its chunks), like a request would; "ours+validate" adds pprof_validate;
 * protobuf-c is google__v1__profile__unpack + free_unpacked. */
#include <glob.h>
#include <time.h>

#include "profile.pb-c.h"
#include "pprof/pprof.h"
#include "util/gzip.h"

#define RUN_SECONDS 0.2

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust on a busy machine */
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum mode { OURS, OURS_VALIDATE, PROTOBUF_C };

/* Runs one decoder over in for about RUN_SECONDS; returns bytes per second. */
static double run(enum mode m, struct slice in, size_t *sink)
{
	char err[256];
	size_t iters = 0;
	double t0 = now(), t;
	do {
		for (int k = 0; k < 16; k++) {
			if (m == PROTOBUF_C) {
				Google__V1__Profile *g = google__v1__profile__unpack(NULL, in.n, in.p);
				if (!g) {
					fprintf(stderr, "protobuf-c failed\n");
					exit(1);
				}
				*sink += g->n_sample;
				google__v1__profile__free_unpacked(g, NULL);
			} else {
				struct arena a;
				struct pprof_profile p;
				arena_init(&a, 0);
				if (pprof_decode(in, &a, NULL, &p, err, sizeof(err))) {
					fprintf(stderr, "decode failed: %s\n", err);
					exit(1);
				}
				if (m == OURS_VALIDATE && pprof_validate(&p, err, sizeof(err))) {
					fprintf(stderr, "validate failed: %s\n", err);
					exit(1);
				}
				*sink += p.n_samples;
				arena_release(&a);
			}
		}
		iters += 16;
		t = now() - t0;
	} while (t < RUN_SECONDS);
	return (double)in.n * (double)iters / t;
}

static void report(const char *name, size_t bytes, double ours, double val, double pbc)
{
	printf("pprof_decode: %-22s %7zu B  ours %7.0f MB/s, ours+validate %7.0f MB/s, "
	       "protobuf-c %6.0f MB/s, ratio Y/X = %.3f (ours %.1fx faster)\n",
	       name, bytes, ours / 1e6, val / 1e6, pbc / 1e6, pbc / ours, ours / pbc);
}

int main(int argc, char **argv)
{
	glob_t g = {0};
	char **files = argv + 1;
	size_t n = (size_t)argc - 1;
	if (n == 0) {
		glob("../shared/testdata/go/*.pb.gz", 0, NULL, &g);
		glob("../shared/testdata/nodejs/*.pprof.gz", GLOB_APPEND, NULL, &g);
		files = g.gl_pathv;
		n = g.gl_pathc;
	}
	if (n == 0) {
		fprintf(stderr, "usage: %s file.pb.gz ...\n", argv[0]);
		return 2;
	}
	size_t sink = 0, total = 0;
	double t_ours = 0, t_val = 0, t_pbc = 0; /* seconds per pass over all files */
	for (size_t i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "rb");
		if (!f) {
			perror(files[i]);
			return 1;
		}
		struct buf gz = BUF_INIT, raw = BUF_INIT;
		uint8_t tmp[65536];
		size_t k;
		while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
			buf_append(&gz, tmp, k);
		fclose(f);
		struct slice in = slice_make(gz.p, gz.n);
		if (gzip_is_gzip(in)) {
			if (gzip_inflate(in, (size_t)1 << 30, &raw)) {
				fprintf(stderr, "%s: cannot inflate\n", files[i]);
				return 1;
			}
			in = slice_make(raw.p, raw.n);
		}
		double ours = run(OURS, in, &sink);
		double val = run(OURS_VALIDATE, in, &sink);
		double pbc = run(PROTOBUF_C, in, &sink);
		const char *base = strrchr(files[i], '/');
		report(base ? base + 1 : files[i], in.n, ours, val, pbc);
		total += in.n;
		t_ours += (double)in.n / ours;
		t_val += (double)in.n / val;
		t_pbc += (double)in.n / pbc;
		buf_release(&gz);
		buf_release(&raw);
	}
	report("ALL (bytes-weighted)", total, (double)total / t_ours, (double)total / t_val,
	       (double)total / t_pbc);
	if (g.gl_pathc)
		globfree(&g);
	return sink == 42; /* keeps the work observable */
}
