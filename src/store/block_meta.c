/* block_meta: meta.json (jansson) and ULIDs. */
#include <jansson.h>
#include <sys/random.h>
#include <time.h>

#include "store/block_internal.h"

static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void block_ulid_new(int64_t now_ms, char out[BLOCK_ULID_LEN + 1])
{
	uint8_t rnd[10];
	size_t got = 0;
	while (got < sizeof(rnd)) {
		ssize_t r = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (r > 0) {
			got += (size_t)r;
		} else if (r < 0 && errno != EINTR) {
			/* No getrandom (very old kernel): the time and address still make a
			 * collision in one directory unlikely; the tail is not a secret. */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts ^ ((uint64_t)ts.tv_sec << 30);
			for (size_t i = got; i < sizeof(rnd); i++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				rnd[i] = (uint8_t)(x >> 56);
			}
			got = sizeof(rnd);
		}
	}
	uint64_t t = (uint64_t)now_ms & ((1ull << 48) - 1);
	/* 10 characters of time (50 bits, the top two zero), then 16 of randomness (80 bits). */
	for (int i = 0; i < 10; i++)
		out[i] = CROCKFORD[(t >> (45 - 5 * i)) & 31];
	for (int i = 0; i < 16; i++) {
		unsigned bit = (unsigned)i * 5, v = 0;
		for (unsigned k = 0; k < 5; k++) {
			unsigned b = bit + k;
			v = v << 1 | ((rnd[b / 8] >> (7 - b % 8)) & 1);
		}
		out[10 + i] = CROCKFORD[v];
	}
	out[BLOCK_ULID_LEN] = '\0';
}

bool block__ulid_valid(const char *s, size_t n)
{
	if (n != BLOCK_ULID_LEN || s[0] > '7')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(CROCKFORD, s[i]))
			return false;
	return true;
}

void block_meta_release(struct block_meta *m)
{
	free(m->sources);
	m->sources = NULL;
	m->n_sources = 0;
}

void block_meta_format(const struct block_meta *m, struct buf *out)
{
	json_t *root = json_object();
	json_object_set_new(root, "ulid", json_string(m->ulid));
	json_object_set_new(root, "tenant", json_stringn(m->tenant, strnlen(m->tenant, sizeof(m->tenant))));
	json_object_set_new(root, "minTimeNs", json_integer(m->min_time_ns));
	json_object_set_new(root, "maxTimeNs", json_integer(m->max_time_ns));
	json_t *stats = json_object();
	json_object_set_new(stats, "numSeries", json_integer((json_int_t)m->n_series));
	json_object_set_new(stats, "numProfiles", json_integer((json_int_t)m->n_profiles));
	json_object_set_new(stats, "numSamples", json_integer((json_int_t)m->n_samples));
	json_object_set_new(root, "stats", stats);
	json_t *comp = json_object();
	json_object_set_new(comp, "level", json_integer(m->level));
	json_t *src = json_array();
	for (size_t i = 0; i < m->n_sources; i++)
		json_array_append_new(src, json_string(m->sources[i]));
	json_object_set_new(comp, "sources", src);
	json_object_set_new(root, "compaction", comp);
	json_object_set_new(root, "version", json_integer(m->version));
	if (m->wal_segment)
		json_object_set_new(root, "emberWalSegment", json_integer((json_int_t)m->wal_segment));
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	buf_append_cstr(out, s);
	buf_append_byte(out, '\n');
	free(s);
	json_decref(root);
}

/* The non-negative integer at key, or fails. */
static bool get_int(json_t *obj, const char *key, json_int_t min, json_int_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return false;
	*out = json_integer_value(v);
	return true;
}

int block_meta_parse(struct slice json, struct block_meta *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = EMBER_ECORRUPT;
	json_error_t je;
	json_t *root = NULL;
	const char *why = NULL;
	if (json.n > BLOCK_MAX_META) {
		why = "larger than 1 MiB";
		goto out;
	}
	root = json_loadb((const char *)json.p, json.n, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "meta.json: line %d: %s", je.line, je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		why = "not a JSON object";
		goto out;
	}
	json_int_t v;
	if (!get_int(root, "version", 0, &v)) {
		why = "missing version";
		goto out;
	}
	if (v < BLOCK_MIN_VERSION || v > BLOCK_VERSION) {
		snprintf(err, errlen, "meta.json: unsupported version %lld (this build reads %d to %d)", (long long)v,
			 BLOCK_MIN_VERSION, BLOCK_VERSION);
		rc = EMBER_EUNSUP;
		goto out;
	}
	out->version = (uint32_t)v;
	json_t *u = json_object_get(root, "ulid");
	if (!json_is_string(u) || !block__ulid_valid(json_string_value(u), json_string_length(u))) {
		why = "missing or invalid ulid";
		goto out;
	}
	memcpy(out->ulid, json_string_value(u), BLOCK_ULID_LEN + 1);
	json_t *t = json_object_get(root, "tenant");
	if (!json_is_string(t) || json_string_length(t) >= sizeof(out->tenant) ||
	    strlen(json_string_value(t)) != json_string_length(t)) {
		why = "missing or invalid tenant";
		goto out;
	}
	memcpy(out->tenant, json_string_value(t), json_string_length(t) + 1);
	json_int_t mn, mx;
	if (!get_int(root, "minTimeNs", INT64_MIN, &mn) || !get_int(root, "maxTimeNs", INT64_MIN, &mx) || mn > mx) {
		why = "missing or invalid minTimeNs/maxTimeNs";
		goto out;
	}
	out->min_time_ns = mn;
	out->max_time_ns = mx;
	json_t *st = json_object_get(root, "stats");
	json_int_t ns, np, nsm;
	if (!json_is_object(st) || !get_int(st, "numSeries", 0, &ns) || !get_int(st, "numProfiles", 0, &np) ||
	    !get_int(st, "numSamples", 0, &nsm)) {
		why = "missing or invalid stats";
		goto out;
	}
	out->n_series = (uint64_t)ns;
	out->n_profiles = (uint64_t)np;
	out->n_samples = (uint64_t)nsm;
	json_t *comp = json_object_get(root, "compaction");
	json_int_t lvl;
	json_t *srcs = json_is_object(comp) ? json_object_get(comp, "sources") : NULL;
	if (!json_is_object(comp) || !get_int(comp, "level", 1, &lvl) || lvl > UINT32_MAX || !json_is_array(srcs)) {
		why = "missing or invalid compaction";
		goto out;
	}
	out->level = (uint32_t)lvl;
	size_t n = json_array_size(srcs);
	out->sources = xcalloc(n ? n : 1, sizeof(*out->sources));
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(srcs, i);
		if (!json_is_string(s) || !block__ulid_valid(json_string_value(s), json_string_length(s))) {
			why = "invalid ULID in compaction.sources";
			goto out;
		}
		memcpy(out->sources[i], json_string_value(s), BLOCK_ULID_LEN + 1);
	}
	out->n_sources = n;
	json_int_t ws = 0;
	if (json_object_get(root, "emberWalSegment") && !get_int(root, "emberWalSegment", 0, &ws)) {
		why = "invalid emberWalSegment";
		goto out;
	}
	out->wal_segment = (uint64_t)ws;
	rc = 0;
out:
	if (why)
		snprintf(err, errlen, "meta.json: %s", why);
	if (rc)
		block_meta_release(out);
	json_decref(root);
	return rc;
}
