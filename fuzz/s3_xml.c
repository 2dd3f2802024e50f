/* Fuzz target: arbitrary bytes as an S3 answer body, through what the S3 backend reads from
 * one: a ListObjectsV2 page (keys, sizes, continuation token), an error (Code, Message) and
 * an InitiateMultipartUploadResult (UploadId), plus entity decoding and re-escaping.
 * Nothing may crash, leak or read out of bounds; decoded keys are NUL-free C strings. */
#include <stdint.h>
#include <stdlib.h>

#include "objstore/objstore_internal.h"

static int on_key(void *ctx, const char *key, uint64_t size)
{
	size_t *n = ctx;
	*n += strlen(key) + (size & 1);
	return *n > (1u << 20) ? 1 : 0; /* a nonzero stop is passed through */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slice body = slice_make(data, size);
	struct buf key = BUF_INIT, token = BUF_INIT, text = BUF_INIT, esc = BUF_INIT;
	size_t total = 0;
	bool truncated;
	int rc = objstore__s3_list_page(body, on_key, &total, &key, &token, &truncated);
	if (rc == 0 && truncated && token.n == 0)
		abort(); /* a truncated page always carries a token */
	static const char *const tags[] = {"Code", "Message", "UploadId", "ETag", "Key"};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		struct slice v;
		size_t pos = 0;
		while (objstore__xml_next(body, &pos, tags[i], &v)) {
			if (v.p < data || v.p + v.n > data + size || pos > size)
				abort();
			text.n = 0;
			objstore__xml_unescape(v, &text);
			/* Escaping what was decoded and decoding it again gives the same text. */
			esc.n = 0;
			objstore__xml_escape(buf_cstr(&text), &esc);
			struct buf again = BUF_INIT;
			objstore__xml_unescape(slice_make(esc.p, esc.n), &again);
			size_t tl = strlen(buf_cstr(&text)); /* up to a raw NUL byte, as escape reads */
			if (again.n != tl || (tl && memcmp(again.p, text.p, tl) != 0))
				abort();
			buf_release(&again);
		}
	}
	buf_release(&key);
	buf_release(&token);
	buf_release(&text);
	buf_release(&esc);
	return 0;
}
