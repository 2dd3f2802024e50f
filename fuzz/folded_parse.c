/* libFuzzer target: folded and lines formats, one-shot and split in two feeds (the
 * results must agree). */
#include "ingest/folded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
	uint64_t h;
	int64_t total;
};

static int cb(void *ctx, const struct slice *frames, size_t n, int64_t value)
{
	struct acc *a = ctx;
	if (value <= 0)
		abort();
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < frames[i].n; k++)
			a->h = a->h * 31 + frames[i].p[k];
	a->h = a->h * 131 + n;
	a->total += value;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct folded_opts o = FOLDED_OPTS_DEFAULT;
	o.format = data[0] & 1 ? FOLDED_FORMAT_LINES : FOLDED_FORMAT_FOLDED;
	o.max_frames = 1 + (data[0] >> 1) % 64;
	o.max_line = 4096;
	data++;
	size--;
	char err[256];
	struct acc one = {0}, two = {0};
	int rc1 = folded_parse(slice_make(data, size), &o, cb, &one, NULL, err, sizeof(err));
	struct folded_parser p;
	folded_init(&p, &o, cb, &two);
	size_t cut = size / 2;
	int rc2 = folded_feed(&p, slice_make(data, cut), err, sizeof(err));
	if (!rc2)
		rc2 = folded_feed(&p, slice_make(data + cut, size - cut), err, sizeof(err));
	if (!rc2)
		rc2 = folded_finish(&p, err, sizeof(err));
	folded_release(&p);
	if (rc1 != rc2 || (!rc1 && (one.h != two.h || one.total != two.total)))
		abort();
	return 0;
}
