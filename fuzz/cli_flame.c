/* libFuzzer target: the flame graph decoder of `ember query` over server replies (JSON).
 * On success the decoded tree must be consistent: every child inside its parent's x range,
 * children totals within the parent's, and the folded writer must terminate. */
#include <jansson.h>

#include "cli/flame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (!j)
		return 0;
	struct flame f;
	char err[256];
	if (flame_decode(json_object_get(j, "flamegraph") ? json_object_get(j, "flamegraph") : j, &f, err,
			 sizeof(err)) == 0) {
		for (size_t i = 0; i < f.n; i++) {
			const struct flame_node *n = &f.nodes[i];
			int64_t sum = 0;
			for (uint32_t c = n->first_child; c; c = f.nodes[c].next_sibling) {
				const struct flame_node *ch = &f.nodes[c];
				if (ch->parent != i || ch->x < n->x || ch->x + ch->total > n->x + n->total)
					abort();
				sum += ch->total;
			}
			if (sum > n->total || n->name >= f.n_names)
				abort();
		}
		FILE *devnull = fopen("/dev/null", "w");
		if (devnull) {
			flame_write_folded(&f, devnull);
			fclose(devnull);
		}
		flame_release(&f);
	} else if (!err[0]) {
		abort(); /* every failure says why */
	}
	json_decref(j);
	return 0;
}
