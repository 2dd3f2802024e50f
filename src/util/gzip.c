#include <libdeflate.h>

#include "util/gzip.h"

/* ISIZE in the gzip trailer is the member's size mod 2^32: a hint, never trusted. */
static size_t gzip_size_hint(struct slice in, size_t max_out)
{
	size_t hint = 4 * in.n;
	if (in.n >= 18) {
		const uint8_t *t = in.p + in.n - 4;
		uint32_t isize = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
		if (isize > hint)
			hint = isize;
	}
	if (hint < 4096)
		hint = 4096;
	return hint < max_out ? hint : max_out;
}

int gzip_inflate(struct slice in, size_t max_out, struct buf *out)
{
	int rc = EMBER_EINVAL;
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	if (!d)
		return EMBER_ENOMEM;
	size_t start = out->n;
	size_t produced_total = 0;
	while (in.n > 0) {
		size_t room = gzip_size_hint(in, max_out - produced_total);
		for (;;) {
			buf_reserve(out, room);
			size_t consumed = 0, produced = 0;
			enum libdeflate_result r = libdeflate_gzip_decompress_ex(d, in.p, in.n, out->p + out->n, room,
										 &consumed, &produced);
			if (r == LIBDEFLATE_SUCCESS) {
				out->n += produced;
				produced_total += produced;
				in.p += consumed;
				in.n -= consumed;
				break;
			}
			if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
				goto out;
			if (room >= max_out - produced_total) {
				rc = EMBER_ETOOBIG;
				goto out;
			}
			room = room * 2 < max_out - produced_total ? room * 2 : max_out - produced_total;
		}
		/* Trailing zero padding after the last member is tolerated, like gzip(1). */
		while (in.n > 0 && in.p[0] == 0) {
			in.p++;
			in.n--;
		}
	}
	rc = 0;
out:
	if (rc)
		out->n = start;
	libdeflate_free_decompressor(d);
	return rc;
}

void gzip_deflate(struct slice in, int level, struct buf *out)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	if (!c) {
		fprintf(stderr, "ember: libdeflate_alloc_compressor failed\n");
		abort();
	}
	size_t bound = libdeflate_gzip_compress_bound(c, in.n);
	buf_reserve(out, bound);
	size_t n = libdeflate_gzip_compress(c, in.p, in.n, out->p + out->n, bound);
	out->n += n;
	libdeflate_free_compressor(c);
}
