/* Design: docs/internals/query.md. The walk is Pyroscope's MarshalTruncate: a stack, so
 * that children pushed in name order come out last first. */
#include <stdio.h>

#include "query/flamegraph.h"
#include "query/tree_bytes.h"

#define SYNTH_OTHER UINT32_MAX

struct tb_item {
	uint32_t node;  /* ftree node, SYNTH_OTHER, or 0 for the virtual root */
	int64_t extra;  /* folded totals added to this node's self */
};

void tree_bytes_write(const struct ftree *t, size_t max_nodes, struct buf *out)
{
	if (t->n <= 1 && t->nodes[0].self == 0)
		return;
	int64_t min_total = flamegraph_min_total(t, max_nodes);
	uint32_t other_id;
	bool have_other = strtab_lookup(&t->names, slice_cstr("other"), &other_id);
	struct tb_item *stack = NULL, *kids = NULL;
	size_t sn = 0, scap = 0, kcap = 0;
	XGROW(stack, scap, 1);
	stack[sn++] = (struct tb_item){0, 0};
	while (sn > 0) {
		struct tb_item it = stack[--sn];
		if (it.node == SYNTH_OTHER) {
			buf_append_uvarint(out, 5);
			buf_append(out, "other", 5);
			buf_append_uvarint(out, (uint64_t)it.extra);
			buf_append_uvarint(out, 0);
			continue;
		}
		const struct ftree_node *nd = &t->nodes[it.node];
		struct slice name = it.node == 0 ? slice_make("", 0) : ftree_name(t, it.node);
		buf_append_uvarint(out, name.n);
		buf_append(out, name.p, name.n);
		buf_append_uvarint(out, (uint64_t)(nd->self + it.extra));
		/* Kept children in name order; "other" always stays and absorbs the rest. */
		size_t nk = 0;
		int64_t folded = 0;
		size_t other_pos = SIZE_MAX;
		for (uint32_t c = nd->first_child; c; c = t->nodes[c].next_sibling) {
			bool is_other = have_other && t->nodes[c].name == other_id;
			if (t->nodes[c].total >= min_total || is_other) {
				XGROW(kids, kcap, nk + 1);
				if (is_other)
					other_pos = nk;
				kids[nk++] = (struct tb_item){c, 0};
			} else {
				folded += t->nodes[c].total;
			}
		}
		if (folded > 0) {
			if (other_pos != SIZE_MAX) {
				kids[other_pos].extra += folded;
			} else {
				/* Insert a synthetic "other" at its name position. */
				size_t pos = 0;
				while (pos < nk && slice_cmp(ftree_name(t, kids[pos].node), slice_cstr("other")) < 0)
					pos++;
				XGROW(kids, kcap, nk + 1);
				memmove(kids + pos + 1, kids + pos, (nk - pos) * sizeof(*kids));
				kids[pos] = (struct tb_item){SYNTH_OTHER, folded};
				nk++;
			}
		}
		buf_append_uvarint(out, nk);
		XGROW(stack, scap, sn + nk);
		memcpy(stack + sn, kids, nk * sizeof(*kids));
		sn += nk;
	}
	free(stack);
	free(kids);
}

static int get_uvarint(struct slice *in, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0, i = 0; i < in->n && i < 10; i++, shift += 7) {
		uint8_t b = in->p[i];
		if (i == 9 && b > 1)
			return EMBER_EINVAL;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			in->p += i + 1;
			in->n -= i + 1;
			*v = x;
			return 0;
		}
	}
	return EMBER_EINVAL;
}

struct tb_frame {
	uint32_t node;
	uint64_t left; /* children still to read */
};

int tree_bytes_decode(struct slice in, struct ftree *t, size_t max_depth, char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	struct tb_frame *stack = NULL;
	size_t sn = 0, scap = 0;
	bool first = true;
	while (in.n > 0) {
		uint64_t len, self, nchild;
		if (get_uvarint(&in, &len) || len > in.n) {
			snprintf(err, errlen, "malformed tree bytes: bad name length");
			goto out;
		}
		struct slice name = slice_make(in.p, (size_t)len);
		in.p += len;
		in.n -= len;
		if (get_uvarint(&in, &self) || get_uvarint(&in, &nchild) || self > INT64_MAX) {
			snprintf(err, errlen, "malformed tree bytes: bad value or child count");
			goto out;
		}
		uint32_t node;
		if (first) {
			node = 0;
			first = false;
		} else {
			while (sn > 0 && stack[sn - 1].left == 0)
				sn--;
			if (sn == 0) {
				snprintf(err, errlen, "malformed tree bytes: more than one root");
				goto out;
			}
			stack[sn - 1].left--;
			node = ftree_child(t, stack[sn - 1].node, name);
		}
		t->nodes[node].self += (int64_t)self;
		if (nchild > 0) {
			if (sn >= max_depth) {
				snprintf(err, errlen, "malformed tree bytes: deeper than %zu", max_depth);
				goto out;
			}
			XGROW(stack, scap, sn + 1);
			stack[sn++] = (struct tb_frame){node, nchild};
		}
	}
	for (size_t i = 0; i < sn; i++)
		if (stack[i].left) {
			snprintf(err, errlen, "malformed tree bytes: truncated");
			goto out;
		}
	rc = 0;
out:
	free(stack);
	return rc;
}
