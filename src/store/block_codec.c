/* block_codec: the bounded varint reader and the file/section framing (header, zstd,
 * CRC32C) shared by the block writer, reader and verifier. */
#include <zstd.h>

#include "store/block_internal.h"
#include "util/crc32c.h"

void block__fail(struct block_rd *r, const char *why)
{
	if (!r->why)
		r->why = why;
	r->p = r->end; /* every later get fails too */
}

uint64_t block__get_uvarint(struct block_rd *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			block__fail(r, "truncated varint");
			return 0;
		}
		uint8_t b = *r->p++;
		if (shift == 63 && b > 1) {
			block__fail(r, "varint overflows 64 bits");
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (b < 0x80)
			return v;
	}
	block__fail(r, "varint longer than 10 bytes");
	return 0;
}

int64_t block__get_varint(struct block_rd *r)
{
	return block__unzigzag(block__get_uvarint(r));
}

size_t block__get_count(struct block_rd *r, size_t min_bytes)
{
	uint64_t n = block__get_uvarint(r);
	if (r->why)
		return 0;
	if (min_bytes && n > block_rd_left(r) / min_bytes) {
		block__fail(r, "count exceeds the bytes left");
		return 0;
	}
	if (n > UINT32_MAX) {
		block__fail(r, "count exceeds 2^32-1");
		return 0;
	}
	return (size_t)n;
}

uint32_t block__get_id(struct block_rd *r, size_t limit, const char *what)
{
	uint64_t v = block__get_uvarint(r);
	if (r->why)
		return 0;
	if (v >= limit) {
		block__fail(r, what);
		return 0;
	}
	return (uint32_t)v;
}

uint8_t block__get_byte(struct block_rd *r)
{
	if (r->p >= r->end) {
		block__fail(r, "truncated");
		return 0;
	}
	return *r->p++;
}

struct slice block__get_bytes(struct block_rd *r, size_t n)
{
	if (n > block_rd_left(r)) {
		block__fail(r, "string runs past the end");
		return slice_make(NULL, 0);
	}
	struct slice s = slice_make(r->p, n);
	r->p += n;
	return s;
}

/* ---- framing --------------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void block__put_file_header(struct buf *out, const char *magic)
{
	uint8_t h[BLOCK_FILE_HEADER];
	memcpy(h, magic, 8);
	put_u32(h + 8, BLOCK_VERSION);
	put_u32(h + 12, crc32c(0, h, 12));
	buf_append(out, h, sizeof(h));
}

int block__check_file_header(struct slice file, const char *name, const char *magic, char *err, size_t errlen)
{
	if (file.n < BLOCK_FILE_HEADER) {
		snprintf(err, errlen, "%s: %zu bytes, shorter than the %d-byte header", name, file.n, BLOCK_FILE_HEADER);
		return EMBER_ECORRUPT;
	}
	if (memcmp(file.p, magic, 8) != 0) {
		snprintf(err, errlen, "%s: bad magic (not an Ember block %s file)", name, name);
		return EMBER_ECORRUPT;
	}
	if (get_u32(file.p + 12) != crc32c(0, file.p, 12)) {
		snprintf(err, errlen, "%s: header checksum mismatch", name);
		return EMBER_ECORRUPT;
	}
	uint32_t v = get_u32(file.p + 8);
	if (v < BLOCK_MIN_VERSION || v > BLOCK_VERSION) {
		snprintf(err, errlen, "%s: unsupported format version %u (this build reads %d to %d)", name, v,
			 BLOCK_MIN_VERSION, BLOCK_VERSION);
		return EMBER_EUNSUP;
	}
	return 0;
}

int block__put_section(struct buf *out, struct slice raw, char *err, size_t errlen)
{
	if (raw.n > BLOCK_MAX_SECTION) {
		snprintf(err, errlen, "section of %zu bytes exceeds the %u-byte limit", raw.n, BLOCK_MAX_SECTION);
		return EMBER_EINVAL;
	}
	size_t bound = ZSTD_compressBound(raw.n);
	size_t start = out->n;
	buf_reserve(out, BLOCK_SECTION_HEADER + bound);
	uint8_t *h = out->p + start;
	size_t c = ZSTD_compress(h + BLOCK_SECTION_HEADER, bound, raw.p ? raw.p : (const uint8_t *)"", raw.n,
				 BLOCK_ZSTD_LEVEL);
	if (ZSTD_isError(c) || c > UINT32_MAX) {
		snprintf(err, errlen, "zstd: %s", ZSTD_isError(c) ? ZSTD_getErrorName(c) : "frame too large");
		return EMBER_EINVAL;
	}
	put_u32(h, (uint32_t)c);
	put_u32(h + 4, (uint32_t)raw.n);
	uint32_t crc = crc32c(0, h, 8);
	crc = crc32c(crc, h + BLOCK_SECTION_HEADER, c);
	put_u32(h + 8, crc);
	out->n = start + BLOCK_SECTION_HEADER + c;
	return 0;
}

size_t block__section_len(struct slice sec)
{
	if (sec.n < BLOCK_SECTION_HEADER)
		return 0;
	return BLOCK_SECTION_HEADER + (size_t)get_u32(sec.p);
}

int block__read_section(struct slice sec, const char *name, const char *what, struct buf *out, char *err,
			size_t errlen)
{
	out->n = 0;
	if (sec.n < BLOCK_SECTION_HEADER) {
		snprintf(err, errlen, "%s: %s: truncated section header", name, what);
		return EMBER_ECORRUPT;
	}
	uint32_t clen = get_u32(sec.p), rlen = get_u32(sec.p + 4);
	if ((uint64_t)clen + BLOCK_SECTION_HEADER != sec.n) {
		snprintf(err, errlen, "%s: %s: section length %u does not match the %zu bytes it has", name, what, clen,
			 sec.n - BLOCK_SECTION_HEADER);
		return EMBER_ECORRUPT;
	}
	uint32_t crc = crc32c(0, sec.p, 8);
	crc = crc32c(crc, sec.p + BLOCK_SECTION_HEADER, clen);
	if (crc != get_u32(sec.p + 8)) {
		snprintf(err, errlen, "%s: %s: checksum mismatch", name, what);
		return EMBER_ECORRUPT;
	}
	/* The raw size is checked against the frame's own header and a cap before anything
	 * is allocated. zstd cannot expand more than ~32,768x (a 128 KiB RLE block costs 4
	 * bytes), so a claim above 65,536x is a lie whatever the checksum says. */
	if (rlen > BLOCK_MAX_SECTION || (uint64_t)rlen > (uint64_t)clen * 65536 + 65536) {
		snprintf(err, errlen, "%s: %s: implausible raw size %u for %u compressed bytes", name, what, rlen, clen);
		return EMBER_ECORRUPT;
	}
	const uint8_t *frame = sec.p + BLOCK_SECTION_HEADER;
	unsigned long long fcs = ZSTD_getFrameContentSize(frame, clen);
	if (fcs != rlen) {
		snprintf(err, errlen, "%s: %s: zstd frame %s", name, what,
			 fcs == ZSTD_CONTENTSIZE_ERROR ? "header is invalid"
			 : fcs == ZSTD_CONTENTSIZE_UNKNOWN ? "has no content size"
							    : "content size does not match the section header");
		return EMBER_ECORRUPT;
	}
	buf_reserve(out, (size_t)rlen + 1);
	size_t got = ZSTD_decompress(out->p, (size_t)rlen + 1, frame, clen);
	if (ZSTD_isError(got) || got != rlen) {
		snprintf(err, errlen, "%s: %s: zstd: %s", name, what,
			 ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short frame");
		return EMBER_ECORRUPT;
	}
	out->n = got;
	return 0;
}
