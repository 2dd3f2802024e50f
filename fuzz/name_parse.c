/* libFuzzer target: the /ingest `name` parser, then label validation of its output. */
#include "ingest/name.h"
#include "model/labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	arena_init(&a, 0);
	char err[256];
	struct ingest_name n;
	if (ingest_name_parse(slice_make(data, size), &a, &n, err, sizeof(err)) == 0) {
		if (n.app.n == 0 || !n.app.p)
			abort();
		/* Every slice points into the input. */
		for (size_t i = 0; i < n.labels.n; i++) {
			const struct label *l = &n.labels.v[i];
			if (l->name.n && (l->name.p < data || l->name.p + l->name.n > data + size))
				abort();
			if (l->value.n && (l->value.p < data || l->value.p + l->value.n > data + size))
				abort();
		}
		struct labels ls;
		labels_dup(&ls, &a, &n.labels);
		labels_set(&ls, &a, slice_cstr(LABEL_NAME), n.app);
		labels_set(&ls, &a, slice_cstr(LABEL_SERVICE_NAME), n.app);
		struct labels_limits lim = LABELS_LIMITS_DEFAULT;
		if (labels_validate(&ls, &a, &lim, err, sizeof(err)) == 0) {
			if (!labels_is_sorted_unique(&ls))
				abort();
			struct buf b = BUF_INIT;
			labels_format(&ls, &b);
			(void)labels_hash(&ls);
			buf_release(&b);
		}
	}
	arena_release(&a);
	return 0;
}
