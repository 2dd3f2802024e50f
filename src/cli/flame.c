/* flame: levels are decoded in order; because the nodes of each level are sorted by x and
 * do not overlap, each child's parent is found with one pointer that only moves forward
 * over the previous level, so decoding is linear in the number of nodes. */
#include "cli/client.h"
#include "cli/flame.h"

void flame_release(struct flame *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_names; i++)
		free(f->names[i]);
	free(f->names);
	free(f->nodes);
	memset(f, 0, sizeof(*f));
}

EMBER_PRINTF(3, 4) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return EMBER_ECORRUPT;
}

int flame_decode(const json_t *fg, struct flame *out, char *err, size_t errlen)
{
	int rc = EMBER_ECORRUPT;
	size_t cap = 0;
	memset(out, 0, sizeof(*out));
	const json_t *names = json_object_get(fg, "names");
	const json_t *levels = json_object_get(fg, "levels");
	if (!json_is_object(fg) || !json_is_array(names) || !json_is_array(levels)) {
		rc = fail(err, errlen, "flame graph: missing names or levels");
		goto out;
	}
	size_t nn = json_array_size(names), nl = json_array_size(levels);
	if (nn == 0 || nl == 0) {
		rc = fail(err, errlen, "flame graph: no %s", nn ? "levels" : "names");
		goto out;
	}
	if (nn > FLAME_MAX_NODES || nl > FLAME_MAX_LEVELS) {
		rc = fail(err, errlen, "flame graph: too many names or levels (%zu, %zu)", nn, nl);
		goto out;
	}
	out->names = xcalloc(nn, sizeof(char *));
	for (size_t i = 0; i < nn; i++) {
		const char *s = json_string_value(json_array_get(names, i));
		if (!s) {
			rc = fail(err, errlen, "flame graph: name %zu is not a string", i);
			goto out;
		}
		out->names[i] = xstrdup(s);
		out->n_names = i + 1;
	}
	if (json_object_get(fg, "total") && !client_json_int64(json_object_get(fg, "total"), &out->total)) {
		rc = fail(err, errlen, "flame graph: bad total");
		goto out;
	}

	size_t prev_begin = 0, prev_end = 0; /* the previous level's nodes */
	for (size_t d = 0; d < nl; d++) {
		const json_t *lv = json_array_get(levels, d);
		const json_t *vals = json_is_object(lv) ? json_object_get(lv, "values") : NULL;
		if (!json_is_object(lv) || (vals && !json_is_array(vals))) {
			rc = fail(err, errlen, "flame graph: level %zu is not {\"values\": [...]}", d);
			goto out;
		}
		size_t nv = vals ? json_array_size(vals) : 0;
		if (nv % 4) {
			rc = fail(err, errlen, "flame graph: level %zu has %zu values, not a multiple of 4", d, nv);
			goto out;
		}
		if (d == 0 && nv != 4) {
			rc = fail(err, errlen, "flame graph: level 0 must hold exactly one node (has %zu values)", nv);
			goto out;
		}
		if (out->n + nv / 4 > FLAME_MAX_NODES) {
			rc = fail(err, errlen, "flame graph: more than %u nodes", FLAME_MAX_NODES);
			goto out;
		}
		size_t begin = out->n, p = prev_begin, last_parent = SIZE_MAX, last_child = 0;
		int64_t end_x = 0; /* end of the previous node of this level */
		for (size_t k = 0; k < nv; k += 4) {
			int64_t v[4];
			for (int j = 0; j < 4; j++) {
				if (!client_json_int64(json_array_get(vals, k + (size_t)j), &v[j])) {
					rc = fail(err, errlen, "flame graph: level %zu value %zu is not an integer", d, k + (size_t)j);
					goto out;
				}
			}
			if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[2] > v[1] || v[3] < 0 || (uint64_t)v[3] >= nn) {
				rc = fail(err, errlen,
					  "flame graph: level %zu node %zu is invalid [%lld,%lld,%lld,%lld]", d, k / 4,
					  (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3]);
				goto out;
			}
			if (v[0] > INT64_MAX - end_x || v[1] > INT64_MAX - (end_x + v[0])) {
				rc = fail(err, errlen, "flame graph: level %zu overflows", d);
				goto out;
			}
			struct flame_node node = {.name = (uint32_t)v[3], .depth = (uint32_t)d, .x = end_x + v[0],
						  .total = v[1], .self = v[2]};
			end_x = node.x + node.total;
			size_t me = out->n;
			if (d > 0) {
				/* The parent is the first node of the previous level that ends at or
				 * after this one; it must also start at or before it. */
				while (p < prev_end && out->nodes[p].x + out->nodes[p].total < end_x)
					p++;
				if (p == prev_end || out->nodes[p].x > node.x) {
					rc = fail(err, errlen, "flame graph: level %zu node %zu (x=%lld) lies under no node of level %zu",
						  d, k / 4, (long long)node.x, d - 1);
					goto out;
				}
				node.parent = (uint32_t)p;
			}
			XGROW(out->nodes, cap, out->n + 1);
			out->nodes[out->n++] = node;
			if (d > 0) {
				if (p == last_parent)
					out->nodes[last_child].next_sibling = (uint32_t)me;
				else
					out->nodes[p].first_child = (uint32_t)me;
				out->nodes[p].n_children++;
				last_parent = p;
				last_child = me;
			}
		}
		prev_begin = begin;
		prev_end = out->n;
	}
	rc = 0;
out:
	if (rc)
		flame_release(out);
	return rc;
}

void flame_write_folded(const struct flame *f, FILE *out)
{
	if (!f->n)
		return;
	uint32_t *stack = xmalloc(f->n * sizeof(uint32_t));
	uint32_t *path = xmalloc(FLAME_MAX_LEVELS * sizeof(uint32_t));
	size_t sp = 0;
	stack[sp++] = 0;
	while (sp) {
		uint32_t i = stack[--sp];
		const struct flame_node *nd = &f->nodes[i];
		if (i != 0 && nd->self > 0) {
			size_t depth = 0;
			for (uint32_t j = i; j != 0 && depth < FLAME_MAX_LEVELS; j = f->nodes[j].parent)
				path[depth++] = j;
			for (size_t k = depth; k-- > 0;)
				fprintf(out, "%s%s", flame_name(f, path[k]), k ? ";" : "");
			fprintf(out, " %lld\n", (long long)nd->self);
		}
		/* Children pushed last-first so they pop in x order. */
		size_t first = sp;
		for (uint32_t c = nd->first_child; c; c = f->nodes[c].next_sibling)
			stack[sp++] = c;
		for (size_t a = first, b = sp; b > a + 1; a++, b--) {
			uint32_t t = stack[a];
			stack[a] = stack[b - 1];
			stack[b - 1] = t;
		}
	}
	free(path);
	free(stack);
}
