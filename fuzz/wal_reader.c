/* Fuzz target: arbitrary bytes as one WAL segment. The scan must never read outside the
 * input, and what it reports must be self-consistent: the records it passes to the callback
 * lie inside the valid prefix, and scanning just that prefix again finds it fully intact. */
#include <stdint.h>
#include <stdlib.h>

#include "store/wal.h"
#include "util/common.h"

struct acc {
	size_t end; /* end of the last record seen */
	uint64_t n;
	const uint8_t *base;
	size_t len;
};

static int on_record(void *ctx, const uint8_t *rec, size_t n, uint64_t lsn)
{
	struct acc *a = ctx;
	if (rec < a->base || rec + n > a->base + a->len || wal_lsn_segment(lsn) != 7)
		abort();
	if ((size_t)(rec - a->base) != wal_lsn_offset(lsn) + WAL_RECORD_HEADER)
		abort();
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < n; i++) /* touch every byte so ASan sees any overread */
		sink ^= rec[i];
	(void)sink;
	a->end = (size_t)(rec - a->base) + n;
	a->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy sized exactly, so ASan catches any read past the end. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct acc a = {0, 0, copy, size};
	struct wal_scan_result res;
	int rc = wal_segment_scan(copy, size, 7, on_record, &a, &res);
	if (res.valid_len > size || res.records != a.n)
		abort();
	if (a.n > 0 && a.end != res.valid_len)
		abort();
	if (rc == 0 && res.valid_len != size)
		abort();
	if (rc != 0 && res.reason == NULL)
		abort();
	if (rc == EMBER_ECORRUPT && res.valid_len >= WAL_SEGMENT_HEADER) {
		/* Truncating to the valid prefix (what replay does) leaves an intact segment. */
		struct wal_scan_result again;
		if (wal_segment_scan(copy, res.valid_len, 7, NULL, NULL, &again) != 0 ||
		    again.records != res.records)
			abort();
	}
	free(copy);
	return 0;
}
