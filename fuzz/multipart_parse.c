/* libFuzzer target: multipart/form-data. The first line of the input is the
 * Content-Type value, the rest the body. */
#include <string.h>

#include "ingest/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl)
		return 0;
	struct slice ct = slice_make(data, (size_t)(nl - data));
	struct slice body = slice_make(nl + 1, size - ct.n - 1);
	struct arena a;
	arena_init(&a, 0);
	char err[256];
	struct multipart_part *parts;
	size_t n;
	struct multipart_limits lim = {64, 1024};
	if (multipart_parse(body, ct, &a, &lim, &parts, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct multipart_part *p = &parts[i];
			if (p->data.n && (p->data.p < body.p || p->data.p + p->data.n > body.p + body.n))
				abort();
			(void)multipart_part_is_file(p);
		}
		(void)multipart_find_file(parts, n, "profile");
	} else if (!err[0]) {
		abort();
	}
	arena_release(&a);
	return 0;
}
