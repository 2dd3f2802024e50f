/* libFuzzer target: selector parsing, matching, and format -> parse round trip. */
#include "model/selector.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct selector *sel = NULL;
	if (selector_parse(slice_make(data, size), &sel, err, sizeof(err)) != 0) {
		if (sel || !err[0])
			abort();
		return 0;
	}
	struct label v[] = {{slice_cstr("a"), slice_cstr("b")},
			    {slice_cstr("service_name"), slice_cstr("api")},
			    {slice_cstr("pod"), slice_make(data, size > 64 ? 64 : size)}};
	struct labels ls = {v, 3};
	bool m1 = selector_matches(sel, &ls);
	struct buf b = BUF_INIT;
	selector_format(sel, &b);
	struct selector *again = NULL;
	if (selector_parse(slice_make(b.p, b.n), &again, err, sizeof(err)) != 0)
		abort(); /* the canonical form must parse */
	if (selector_matcher_count(again) != selector_matcher_count(sel) ||
	    !slice_eq(selector_metric_name(again), selector_metric_name(sel)))
		abort();
	for (size_t i = 0; i < selector_matcher_count(sel); i++) {
		struct selector_matcher x, y;
		selector_matcher_at(sel, i, &x);
		selector_matcher_at(again, i, &y);
		if (x.op != y.op || !slice_eq(x.name, y.name) || !slice_eq(x.value, y.value))
			abort();
	}
	if (selector_matches(again, &ls) != m1)
		abort();
	selector_free(again);
	buf_release(&b);
	selector_free(sel);
	return 0;
}
