#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "http/query.h"
#include "ingest/folded.h"
#include "ingest/ingest.h"
#include "ingest/multipart.h"
#include "ingest/name.h"
#include "ingest/spyfix.h"
#include "model/profile_id.h"
#include "util/attime.h"
#include "util/gzip.h"
#include "util/log.h"

/* ---- WAL records --------------------------------------------------------------------
 * A record keeps what the client sent, plus what was resolved when it was accepted (the
 * tenant and the arrival time, which stands in for "now" on replay), so replay rebuilds
 * exactly the same profiles:
 *   u8 'E' | u8 version (2) | u8 kind | uvarint now_ns | uvarint len, tenant |
 *   uvarint n_ids, n_ids x 16 bytes (the profile ids given out, in order: one for an
 *   /ingest request, one per RawSample of a Push; version 2 only) |
 *   kind 1 (/ingest): uvarint len, query | uvarint len, content type | body (rest)
 *   kind 2 (Push):    PushRequest protobuf (rest)
 * Version 1 records (no ids) are still replayed; their profiles get new random ids.
 */
#define REC_VERSION 2
#define REC_MAX_IDS (1u << 20)
enum { REC_INGEST = 1, REC_PUSH = 2 };

struct rate_bucket {
	char *tenant;
	double tokens;
	int64_t last_ns;
};

struct ingest {
	struct store *store;
	struct wal *wal;
	struct ingest_limits lim;  /* for every tenant, unless limits_fn is set */
	ingest_limits_fn limits_fn; /* per-tenant limits, looked up once per request */
	void *limits_ctx;
	pthread_mutex_t rate_lock;
	struct rate_bucket *buckets;
	size_t n_buckets, cap_buckets;
	struct ingest_stats stats; /* updated with __atomic builtins */
};

struct ingest *ingest_new(struct store *store, struct wal *wal, const struct ingest_limits *lim)
{
	struct ingest *ing = xcalloc(1, sizeof(*ing));
	ing->store = store;
	ing->wal = wal;
	ing->lim = *lim;
	pthread_mutex_init(&ing->rate_lock, NULL);
	return ing;
}

void ingest_set_limits_fn(struct ingest *ing, ingest_limits_fn fn, void *ctx)
{
	ing->limits_fn = fn;
	ing->limits_ctx = ctx;
}

void ingest_free(struct ingest *ing)
{
	if (!ing)
		return;
	for (size_t i = 0; i < ing->n_buckets; i++)
		free(ing->buckets[i].tenant);
	free(ing->buckets);
	pthread_mutex_destroy(&ing->rate_lock);
	free(ing);
}

void ingest_stats(struct ingest *ing, struct ingest_stats *out)
{
	out->requests_ok = __atomic_load_n(&ing->stats.requests_ok, __ATOMIC_RELAXED);
	out->requests_failed = __atomic_load_n(&ing->stats.requests_failed, __ATOMIC_RELAXED);
	out->profiles = __atomic_load_n(&ing->stats.profiles, __ATOMIC_RELAXED);
	out->samples = __atomic_load_n(&ing->stats.samples, __ATOMIC_RELAXED);
	out->bytes_received = __atomic_load_n(&ing->stats.bytes_received, __ATOMIC_RELAXED);
	out->bytes_decompressed = __atomic_load_n(&ing->stats.bytes_decompressed, __ATOMIC_RELAXED);
}

/* Per-tenant token bucket over decompressed profile bytes, as Pyroscope's distributor
 * limits (-distributor.ingestion-rate-limit-mb, -distributor.ingestion-burst-size-mb). */
static bool rate_allow(struct ingest *ing, const struct ingest_limits *lim, struct slice tenant, size_t bytes,
		       int64_t now_ns)
{
	if (lim->rate_mb <= 0)
		return true;
	double rate = lim->rate_mb * 1024 * 1024, burst = lim->burst_mb * 1024 * 1024;
	if (burst < rate)
		burst = rate; /* a request as large as one second's rate must always be able to pass */
	bool ok;
	pthread_mutex_lock(&ing->rate_lock);
	struct rate_bucket *b = NULL;
	for (size_t i = 0; i < ing->n_buckets && !b; i++)
		if (slice_eq_cstr(tenant, ing->buckets[i].tenant))
			b = &ing->buckets[i];
	if (!b) {
		XGROW(ing->buckets, ing->cap_buckets, ing->n_buckets + 1);
		b = &ing->buckets[ing->n_buckets++];
		b->tenant = xstrndup((const char *)tenant.p, tenant.n);
		b->tokens = burst;
		b->last_ns = now_ns;
	}
	if (now_ns > b->last_ns) {
		b->tokens += rate * (double)(now_ns - b->last_ns) / 1e9;
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_ns = now_ns;
	}
	ok = b->tokens >= (double)bytes;
	if (ok)
		b->tokens -= (double)bytes;
	pthread_mutex_unlock(&ing->rate_lock);
	return ok;
}

/* ---- per-request state ---------------------------------------------------------------- */

struct req {
	struct ingest *ing;
	struct slice tenant;
	struct ingest_limits lim; /* the tenant's */
	int64_t now_ns;
	bool replay;
	struct arena arena;
	struct ingest_plan plan;
	struct buf *inflated; /* bodies we inflated, freed at the end */
	size_t n_inflated, cap_inflated;
	struct pprof_builder *builders;
	size_t n_builders, cap_builders;
	size_t decompressed_bytes;
	struct ingest_result *res;
	const uint8_t **ids; /* the profile ids given out (in the arena), for the WAL record */
	size_t n_ids, cap_ids;
	struct slice replay_ids; /* on replay of a version-2 record: the ids it gave out */
};

static void req_init(struct req *r, struct ingest *ing, struct slice tenant, int64_t now_ns, bool replay,
		     struct ingest_result *res)
{
	memset(r, 0, sizeof(*r));
	r->ing = ing;
	r->tenant = tenant;
	if (ing->limits_fn)
		ing->limits_fn(ing->limits_ctx, tenant, &r->lim);
	else
		r->lim = ing->lim;
	r->now_ns = now_ns;
	r->replay = replay;
	arena_init(&r->arena, 0);
	r->res = res;
	memset(res, 0, sizeof(*res));
	res->status = 200;
}

static void req_release(struct req *r)
{
	for (size_t i = 0; i < r->n_inflated; i++)
		buf_release(&r->inflated[i]);
	free(r->inflated);
	for (size_t i = 0; i < r->n_builders; i++)
		pprof_builder_release(&r->builders[i]);
	free(r->builders);
	free(r->ids);
	free(r->plan.sources);
	arena_release(&r->arena);
}

/* The next profile id of the request: on replay the one the record kept, else `given`
 * when it parses as a UUID (Push's RawSample.ID), else a random v4 UUID. Lives in the
 * arena; remembered for the WAL record. */
static const uint8_t *next_id(struct req *r, const char *given)
{
	uint8_t *id = arena_alloc(&r->arena, PROFILE_ID_LEN);
	size_t k = r->n_ids;
	if (r->replay && (k + 1) * PROFILE_ID_LEN <= r->replay_ids.n)
		memcpy(id, r->replay_ids.p + k * PROFILE_ID_LEN, PROFILE_ID_LEN);
	else if (!given || profile_id_parse(slice_cstr(given), id))
		profile_id_random(id);
	XGROW(r->ids, r->cap_ids, r->n_ids + 1);
	r->ids[r->n_ids++] = id;
	return id;
}

/* Records a failure: status, Connect code name and a printf message. Returns -1 so
 * callers can `return fail(...)`. */
static int fail(struct req *r, int status, const char *code, const char *fmt, ...) EMBER_PRINTF(4, 5);
static int fail(struct req *r, int status, const char *code, const char *fmt, ...)
{
	r->res->status = status;
	r->res->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->res->message, sizeof(r->res->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Inflates data if it is gzip (by magic bytes, as Pyroscope sniffs). The result is
 * owned by r. Sizes over the profile size limit are refused. */
static int maybe_inflate(struct req *r, struct slice in, int bad_status, const char *bad_code, struct slice *out)
{
	size_t cap = r->lim.max_profile_bytes ? r->lim.max_profile_bytes : (size_t)256 << 20;
	if (!gzip_is_gzip(in)) {
		if (r->lim.max_profile_bytes && in.n > cap)
			return fail(r, bad_status, bad_code,
				    "profile too large: %zu bytes uncompressed, the limit is %zu "
				    "(-validation.max-profile-size-bytes)",
				    in.n, cap);
		*out = in;
		r->decompressed_bytes += in.n;
		return 0;
	}
	XGROW(r->inflated, r->cap_inflated, r->n_inflated + 1);
	struct buf *b = &r->inflated[r->n_inflated++];
	buf_init(b);
	int rc = gzip_inflate(in, cap, b);
	if (rc == EMBER_ETOOBIG)
		return fail(r, bad_status, bad_code,
			    "profile too large: more than %zu bytes after decompression "
			    "(-validation.max-profile-size-bytes)",
			    cap);
	if (rc)
		return fail(r, bad_status, bad_code, "invalid gzip data: the body is corrupt or truncated");
	*out = slice_make(b->p, b->n);
	r->decompressed_bytes += b->n;
	return 0;
}

/* Rewrites for some profilers, applied between decoding and validation as Pyroscope does. */
struct spy_fixes {
	bool scripting, pyspy, dotnet;
};

/* Decodes and validates one pprof; on failure fills the result with status/code. */
static int decode_pprof(struct req *r, struct slice raw, int bad_status, const char *bad_code,
			const struct spy_fixes *fix, struct pprof_profile **out)
{
	struct slice data;
	if (maybe_inflate(r, raw, bad_status, bad_code, &data))
		return -1;
	const struct ingest_limits *lim = &r->lim;
	struct pprof_limits pl = {
		.max_samples = lim->max_samples,
		.max_locations_per_sample = lim->max_stack_depth,
		.max_labels_per_sample = lim->max_labels_per_sample,
		.max_string_len = lim->max_symbol_len,
	};
	struct pprof_profile *p = arena_zalloc(&r->arena, sizeof(*p));
	char err[256];
	int rc = pprof_decode(data, &r->arena, &pl, p, err, sizeof(err));
	if (rc == EMBER_ETOOBIG)
		return fail(r, bad_status, bad_code, "profile exceeds a limit: %s", err);
	if (rc)
		return fail(r, bad_status, bad_code, "invalid pprof: %s", err);
	if (fix && ((fix->scripting && spyfix_scripting_names(p, &r->arena, fix->pyspy)) ||
		    (fix->dotnet && spyfix_dotnet(p, &r->arena))))
		return fail(r, 500, "internal", "out of memory rewriting the profile");
	if (pprof_validate(p, err, sizeof(err)))
		return fail(r, bad_status, bad_code, "%s", err);
	*out = p;
	return 0;
}

/* ---- /ingest: pprof ---------------------------------------------------------------------- */

struct sample_type_config {
	char **types, **display; /* parallel arrays */
	size_t n;
	bool given;
};

static void stc_release(struct sample_type_config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->types[i]);
		free(c->display[i]);
	}
	free(c->types);
	free(c->display);
}

/* Parses the sample_type_config part: {"<type>": {"display-name": "...", ...}, ...}. */
static int stc_parse(struct req *r, struct slice json, struct sample_type_config *c)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)json.p, json.n, 0, &je);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return fail(r, 422, "unknown", "invalid sample_type_config: %s",
			    root ? "not a JSON object" : je.text);
	}
	c->given = true;
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val)
	{
		json_t *dn = json_is_object(val) ? json_object_get(val, "display-name") : NULL;
		c->types = xrealloc(c->types, (c->n + 1) * sizeof(char *));
		c->display = xrealloc(c->display, (c->n + 1) * sizeof(char *));
		c->types[c->n] = xstrdup(key);
		c->display[c->n] = xstrdup(json_is_string(dn) ? json_string_value(dn) : "");
		c->n++;
	}
	json_decref(root);
	return 0;
}

/* Pyroscope's default display names (pkg/og/storage/tree/pprof.go), used when the client
 * sends no sample_type_config. */
static const char *default_display_name(struct slice type)
{
	static const char *const map[][2] = {
		{"samples", "cpu"},           {"goroutine", "goroutines"},      {"contentions", "mutex_count"},
		{"delay", "mutex_duration"},  {"inuse_objects", "inuse_objects"}, {"inuse_space", "inuse_space"},
		{"alloc_objects", "alloc_objects"}, {"alloc_space", "alloc_space"},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(map); i++)
		if (slice_eq_cstr(type, map[i][0]))
			return map[i][1];
	return NULL;
}

static struct slice display_name(const struct sample_type_config *c, struct slice type)
{
	if (c->given) {
		for (size_t i = 0; i < c->n; i++)
			if (slice_eq_cstr(type, c->types[i]) && c->display[i][0])
				return slice_cstr(c->display[i]);
		return type;
	}
	const char *d = default_display_name(type);
	return d ? slice_cstr(d) : type;
}

static bool slice_contains(struct slice s, const char *needle)
{
	size_t n = strlen(needle);
	if (n > s.n)
		return false;
	for (size_t i = 0; i + n <= s.n; i++)
		if (memcmp(s.p + i, needle, n) == 0)
			return true;
	return false;
}

/* __name__ of a pprof sent to /ingest (pyroscope-api.md §1, "Labels: pprof path"). */
static struct slice pprof_metric_name(const struct pprof_profile *p, const struct sample_type_config *c)
{
	for (size_t i = 0; i < p->n_sample_types; i++)
		if (slice_eq_cstr(pprof_string(p, p->sample_types[i].type), "wall"))
			return slice_cstr("wall");
	struct slice st = slice_cstr("");
	for (size_t i = 0; i < p->n_sample_types; i++) {
		st = display_name(c, pprof_string(p, p->sample_types[i].type));
		if (slice_contains(st, "cpu"))
			return slice_cstr("process_cpu");
		if (slice_contains(st, "alloc_") || slice_contains(st, "inuse_") || slice_eq_cstr(st, "space") ||
		    slice_eq_cstr(st, "objects"))
			return slice_cstr("memory");
		if (slice_contains(st, "mutex_"))
			return slice_cstr("mutex");
		if (slice_contains(st, "block_"))
			return slice_cstr("block");
		if (slice_contains(st, "goroutines"))
			return slice_cstr("goroutines");
	}
	return st;
}

/* Labels from the `name` parameter that a client may set: none starting with "__"
 * except __session_id__. */
static bool label_allowed_for_ingestion(struct slice name)
{
	if (name.n < 2 || name.p[0] != '_' || name.p[1] != '_')
		return true;
	return slice_eq_cstr(name, LABEL_SESSION_ID);
}

struct ingest_params {
	struct ingest_name name;
	int64_t from_ns, until_ns;
	int64_t sample_rate;
	struct slice spy_name;
	struct slice format;
};

static int ingest_pprof(struct req *r, const struct ingest_params *pr, struct slice raw,
			const struct sample_type_config *stc)
{
	struct pprof_profile *p;
	bool inuse_dash = false; /* .NET's profiler names a sample type "inuse-space" */
	for (size_t i = 0; i < stc->n; i++)
		inuse_dash |= !strcmp(stc->types[i], "inuse-space");
	struct spy_fixes fix = {
		.scripting = spyfix_is_scripting(pr->spy_name),
		.pyspy = slice_eq_cstr(pr->spy_name, "pyspy"),
		.dotnet = slice_eq_cstr(pr->spy_name, "dotnetspy") ||
			  (slice_eq_cstr(pr->spy_name, "unknown") && inuse_dash),
	};
	if (decode_pprof(r, raw, 422, "unknown", &fix, &p))
		return -1;
	/* Old clients send 0 or microseconds in time_nanos: use `from` then. */
	if (p->time_nanos <= 0 || p->time_nanos < 31536000LL * 1000000000LL)
		p->time_nanos = pr->from_ns;

	struct labels ls = {0};
	labels_set(&ls, &r->arena, slice_cstr(LABEL_NAME), pprof_metric_name(p, stc));
	labels_set(&ls, &r->arena, slice_cstr("pyroscope_spy"), pr->spy_name);
	for (size_t i = 0; i < pr->name.labels.n; i++) {
		const struct label *l = &pr->name.labels.v[i];
		if (label_allowed_for_ingestion(l->name))
			labels_set(&ls, &r->arena, l->name, l->value);
	}
	if (!labels_find(&ls, slice_cstr(LABEL_SERVICE_NAME)))
		labels_set(&ls, &r->arena, slice_cstr(LABEL_SERVICE_NAME), pr->name.app);
	char err[256];
	int rc = ingest_plan_pprof(&r->plan, &r->arena, p, &ls, &r->lim, r->now_ns, !r->replay, err, sizeof(err));
	if (rc == EMBER_ELIMIT)
		return fail(r, 422, "unknown", "%s", err);
	if (rc)
		return fail(r, 400, "invalid_argument", "%s", err);
	return 0;
}

static int ingest_multipart(struct req *r, const struct ingest_params *pr, struct slice content_type,
			    struct slice body)
{
	struct multipart_part *parts = NULL;
	size_t n = 0;
	char err[256];
	struct multipart_limits ml = MULTIPART_LIMITS_DEFAULT;
	if (multipart_parse(body, content_type, &r->arena, &ml, &parts, &n, err, sizeof(err)))
		return fail(r, 400, "invalid_argument", "invalid multipart body: %s", err);
	/* Go's ReadForm: only file parts (with filename=) count. */
	const struct multipart_part *pp = multipart_find_file(parts, n, "profile");
	const struct multipart_part *pv = multipart_find_file(parts, n, "prev_profile");
	const struct multipart_part *pc = multipart_find_file(parts, n, "sample_type_config");
	struct slice profile = pp ? pp->data : slice_make("", 0);
	struct slice prev = pv ? pv->data : slice_make("", 0);
	struct slice stc_json = pc ? pc->data : slice_make("", 0);
	bool have_stc = pc != NULL;
	if (prev.n)
		return fail(r, 422, "unknown",
			    "unsupported client version: prev_profile is not supported, please update "
			    "github.com/grafana/pyroscope-go to the latest version");
	if (!profile.n)
		return 0; /* Pyroscope accepts an empty or missing profile part and stores nothing */
	struct sample_type_config stc = {0};
	int rc = -1;
	if (have_stc && stc_json.n && stc_parse(r, stc_json, &stc))
		goto out;
	rc = ingest_pprof(r, pr, profile, &stc);
out:
	stc_release(&stc);
	return rc;
}

/* ---- /ingest: folded and lines ------------------------------------------------------ */

/* The legacy formats name their profile type with the app name's last ".suffix"
 * (pyroscope-api.md §1, "Labels: legacy"). */
struct legacy_type {
	const char *suffix, *metric, *type, *unit;
};

static const struct legacy_type legacy_types[] = {
	{"cpu", "process_cpu", "samples", "count"},
	{"itimer", "process_cpu", "samples", "count"},
	{"wall", "wall", "samples", "count"},
	{"seconds", "wall", "samples", "count"},
	{"nanoseconds", "wall", "samples", "count"},
	{"microseconds", "wall", "samples", "count"},
	{"milliseconds", "wall", "samples", "count"},
	{"inuse_objects", "memory", "inuse_objects", "count"},
	{"inuse_space", "memory", "inuse_space", "bytes"},
	{"alloc_objects", "memory", "alloc_objects", "count"},
	{"alloc_space", "memory", "alloc_space", "bytes"},
	{"alloc_in_new_tlab_objects", "memory", "alloc_in_new_tlab_objects", "count"},
	{"alloc_in_new_tlab_bytes", "memory", "alloc_in_new_tlab_bytes", "bytes"},
	{"alloc_outside_tlab_objects", "memory", "alloc_outside_tlab_objects", "count"},
	{"alloc_outside_tlab_bytes", "memory", "alloc_outside_tlab_bytes", "bytes"},
	{"live", "memory", "live", "count"},
	{"bytes", "memory", "samples", "bytes"},
	{"goroutines", "goroutine", "goroutines", "count"},
	{"mutex_count", "mutex", "contentions", "count"},
	{"mutex_duration", "mutex", "delay", "nanoseconds"},
	{"block_count", "block", "contentions", "count"},
	{"block_duration", "block", "delay", "nanoseconds"},
	{"lock_count", "block", "contentions", "count"},
	{"lock_duration", "block", "delay", "nanoseconds"},
	{"exceptions", "exceptions", "samples", "count"},
};

struct folded_build {
	struct pprof_builder *b;
	struct strtab names;  /* frame name -> index into locs */
	uint64_t *locs;       /* location id per distinct frame name */
	size_t n_locs, cap_locs;
	uint64_t *stack;      /* scratch, leaf first */
	size_t cap_stack;
	int64_t scale;
	bool overflow;
};

static uint64_t folded_location(struct folded_build *fb, struct slice name)
{
	uint32_t id = strtab_intern(&fb->names, name);
	if (id < fb->n_locs)
		return fb->locs[id];
	XGROW(fb->locs, fb->cap_locs, (size_t)id + 1);
	uint64_t fn = pprof_builder_function(fb->b, "", "", 0);
	/* pprof_builder_function copies a C string: set the name from the slice instead. */
	fb->b->prof.functions[fb->b->prof.n_functions - 1].name =
		pprof_builder_string(fb->b, (const char *)name.p, name.n);
	struct pprof_line line = {fn, 0};
	fb->locs[id] = pprof_builder_location(fb->b, 0, 0, &line, 1);
	fb->n_locs = (size_t)id + 1;
	return fb->locs[id];
}

static int folded_stack(void *ctx, const struct slice *frames, size_t n, int64_t value)
{
	struct folded_build *fb = ctx;
	if (!n || value <= 0)
		return 0;
	XGROW(fb->stack, fb->cap_stack, n);
	for (size_t i = 0; i < n; i++)
		fb->stack[n - 1 - i] = folded_location(fb, frames[i]); /* frames are root first */
	int64_t v;
	if (__builtin_mul_overflow(value, fb->scale, &v)) {
		fb->overflow = true;
		v = INT64_MAX;
	}
	pprof_builder_sample(fb->b, fb->stack, n, &v, 1, NULL, 0);
	return 0;
}

static int ingest_folded(struct req *r, const struct ingest_params *pr, struct slice body, bool lines)
{
	/* The type comes from the app name's suffix, which is then removed. */
	struct slice app = pr->name.app, suffix = slice_cstr("cpu");
	for (size_t i = app.n; i > 0; i--) {
		if (app.p[i - 1] == '.') {
			suffix = slice_make(app.p + i, app.n - i);
			app.n = i - 1;
			break;
		}
	}
	const struct legacy_type *lt = NULL;
	for (size_t i = 0; i < EMBER_ARRAY_LEN(legacy_types) && !lt; i++)
		if (slice_eq_cstr(suffix, legacy_types[i].suffix))
			lt = &legacy_types[i];
	if (!lt)
		return fail(r, 400, "invalid_argument", "unknown profile type: %.*s (from the app name's suffix)",
			    (int)suffix.n, (const char *)suffix.p);
	for (size_t i = 0; i < pr->name.labels.n; i++)
		if (slice_eq_cstr(pr->name.labels.v[i].name, "profile_id") && pr->name.labels.v[i].value.n)
			return 0; /* span profiles of the legacy formats are dropped, as Pyroscope does */

	XGROW(r->builders, r->cap_builders, r->n_builders + 1);
	struct pprof_builder *b = &r->builders[r->n_builders++];
	pprof_builder_init(b);
	struct folded_build fb = {.b = b, .scale = 1};
	strtab_init(&fb.names);
	const char *type = lt->type, *unit = lt->unit;
	bool rate_scaled = pr->sample_rate > 0 && (!strcmp(lt->metric, "process_cpu") || !strcmp(lt->metric, "wall"));
	int64_t period = 0;
	if (rate_scaled) {
		period = 1000000000LL / pr->sample_rate;
		fb.scale = period;
		type = !strcmp(lt->metric, "wall") ? "wall" : "cpu";
		unit = "nanoseconds";
	}
	pprof_builder_sample_type(b, type, unit);
	struct folded_opts fo = FOLDED_OPTS_DEFAULT;
	fo.format = lines ? FOLDED_FORMAT_LINES : FOLDED_FORMAT_FOLDED;
	fo.max_frames = r->lim.max_stack_depth ? r->lim.max_stack_depth : fo.max_frames;
	char err[256];
	int rc = folded_parse(body, &fo, folded_stack, &fb, NULL, err, sizeof(err));
	strtab_release(&fb.names);
	free(fb.locs);
	free(fb.stack);
	if (rc)
		return fail(r, 400, "invalid_argument", "invalid %s data: %s", lines ? "lines" : "folded", err);
	struct pprof_profile *p = pprof_builder_profile(b);
	if (rate_scaled) {
		p->period_type.type = pprof_builder_cstr(b, "cpu");
		p->period_type.unit = pprof_builder_cstr(b, "nanoseconds");
		p->period = period;
	}
	p->time_nanos = pr->from_ns;
	p->duration_nanos = pr->until_ns > pr->from_ns ? pr->until_ns - pr->from_ns : 0;
	if (pprof_validate(p, err, sizeof(err)))
		return fail(r, 400, "invalid_argument", "%s", err);

	struct labels ls = {0};
	labels_set(&ls, &r->arena, slice_cstr(LABEL_NAME), slice_cstr(lt->metric));
	if (pr->spy_name.n)
		labels_set(&ls, &r->arena, slice_cstr("pyroscope_spy"), pr->spy_name);
	bool has_service = false, has_app_name = false;
	for (size_t i = 0; i < pr->name.labels.n; i++) {
		const struct label *l = &pr->name.labels.v[i];
		if (!label_allowed_for_ingestion(l->name))
			continue;
		has_service |= slice_eq_cstr(l->name, LABEL_SERVICE_NAME);
		has_app_name |= slice_eq_cstr(l->name, "app_name");
		labels_set(&ls, &r->arena, l->name, l->value);
	}
	if (!has_service)
		labels_set(&ls, &r->arena, slice_cstr(LABEL_SERVICE_NAME), app);
	else if (!has_app_name)
		labels_set(&ls, &r->arena, slice_cstr("app_name"), app);
	rc = ingest_plan_pprof(&r->plan, &r->arena, p, &ls, &r->lim, r->now_ns, !r->replay, err, sizeof(err));
	if (rc == EMBER_ELIMIT)
		return fail(r, 422, "unknown", "%s", err);
	if (rc)
		return fail(r, 400, "invalid_argument", "%s", err);
	return 0;
}

/* ---- /ingest: dispatch ---------------------------------------------------------------- */

static bool ct_contains(struct slice ct, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i + n <= ct.n; i++)
		if (strncasecmp((const char *)ct.p + i, s, n) == 0)
			return true;
	return false;
}

static int query_param(struct req *r, struct slice query, const char *name, struct slice *out)
{
	int rc = http_query_get(query, name, &r->arena, out);
	if (rc == EMBER_ENOTFOUND) {
		*out = slice_make("", 0);
		return 0;
	}
	if (rc)
		return fail(r, 400, "invalid_argument", "malformed query string (parameter %s)", name);
	return 0;
}

static int parse_ingest_params(struct req *r, struct slice query, struct ingest_params *pr)
{
	struct slice name, from, until, rate;
	if (query_param(r, query, "name", &name) || query_param(r, query, "from", &from) ||
	    query_param(r, query, "until", &until) || query_param(r, query, "sampleRate", &rate) ||
	    query_param(r, query, "spyName", &pr->spy_name) || query_param(r, query, "format", &pr->format))
		return -1;
	char err[256];
	if (!name.n)
		return fail(r, 400, "invalid_argument", "missing the name parameter (e.g. name=myapp{env=prod})");
	if (ingest_name_parse(name, &r->arena, &pr->name, err, sizeof(err)))
		return fail(r, 400, "invalid_argument", "invalid name parameter: %s", err);
	if (attime_parse(from, r->now_ns, &pr->from_ns))
		return fail(r, 400, "invalid_argument", "invalid from parameter: %.*s", (int)EMBER_MIN(from.n, 64),
			    (const char *)from.p);
	if (attime_parse(until, r->now_ns, &pr->until_ns))
		return fail(r, 400, "invalid_argument", "invalid until parameter: %.*s",
			    (int)EMBER_MIN(until.n, 64), (const char *)until.p);
	pr->sample_rate = 100;
	if (rate.n) {
		char tmp[32];
		int64_t v = 0;
		if (rate.n < sizeof(tmp)) {
			memcpy(tmp, rate.p, rate.n);
			tmp[rate.n] = '\0';
			char *end;
			errno = 0;
			long long x = strtoll(tmp, &end, 10);
			if (!errno && *end == '\0' && x >= 0)
				v = x;
			else
				v = 100;
		} else {
			v = 100;
		}
		pr->sample_rate = v;
	}
	if (!pr->spy_name.n)
		pr->spy_name = slice_cstr("unknown");
	return 0;
}

static int ingest_http_body(struct req *r, struct slice query, struct slice content_type, struct slice body)
{
	struct ingest_params pr;
	memset(&pr, 0, sizeof(pr));
	if (parse_ingest_params(r, query, &pr))
		return -1;
	struct slice f = pr.format;
	/* Format detection, first match wins (pyroscope-api.md §1). */
	if (slice_eq_cstr(f, "trie") || ct_contains(content_type, "binary/octet-stream+trie") ||
	    slice_eq_cstr(f, "tree") || ct_contains(content_type, "binary/octet-stream+tree"))
		return fail(r, 422, "unknown", "format %s is not supported yet", slice_eq_cstr(f, "tree") ||
			    ct_contains(content_type, "+tree") ? "tree" : "trie");
	if (slice_eq_cstr(f, "lines"))
		return ingest_folded(r, &pr, body, true);
	if (slice_eq_cstr(f, "jfr"))
		return fail(r, 422, "unknown", "format jfr is not supported yet");
	if (slice_eq_cstr(f, "pprof")) {
		struct sample_type_config none = {0};
		if (!body.n)
			return fail(r, 422, "unknown", "empty body: format=pprof needs a pprof profile in the body");
		return ingest_pprof(r, &pr, body, &none);
	}
	if (slice_eq_cstr(f, "speedscope"))
		return fail(r, 422, "unknown", "format speedscope is not supported yet");
	if (ct_contains(content_type, "multipart/form-data"))
		return ingest_multipart(r, &pr, content_type, body);
	return ingest_folded(r, &pr, body, false);
}

/* ---- commit: WAL then head ------------------------------------------------------------ */

static void put_bytes(struct buf *b, struct slice s)
{
	buf_append_uvarint(b, s.n);
	buf_append(b, s.p, s.n);
}

static int commit(struct req *r, uint8_t kind, struct slice query, struct slice content_type, struct slice body)
{
	struct ingest *ing = r->ing;
	if (!r->plan.n_profiles)
		return 0;
	if (!r->replay && !rate_allow(ing, &r->lim, r->tenant, r->decompressed_bytes, r->now_ns))
		return fail(r, 429, "resource_exhausted",
			    "ingestion rate limit (%g MB/s, burst %g MB) exceeded for tenant %.*s "
			    "(-distributor.ingestion-rate-limit-mb)",
			    r->lim.rate_mb, r->lim.burst_mb, (int)r->tenant.n, (const char *)r->tenant.p);
	/* The WAL record and the head append happen under one write section, so that a head
	 * cut never separates a record from its profiles (see store_write_begin). */
	struct head *head = store_write_begin(ing->store);
	int rc = -1;
	if (!r->replay && ing->wal) {
		struct buf hdr = BUF_INIT;
		uint8_t magic[3] = {'E', REC_VERSION, kind};
		buf_append(&hdr, magic, 3);
		buf_append_uvarint(&hdr, (uint64_t)r->now_ns);
		put_bytes(&hdr, r->tenant);
		buf_append_uvarint(&hdr, r->n_ids);
		for (size_t i = 0; i < r->n_ids; i++)
			buf_append(&hdr, r->ids[i], PROFILE_ID_LEN);
		if (kind == REC_INGEST) {
			put_bytes(&hdr, query);
			put_bytes(&hdr, content_type);
		}
		struct iovec parts[2] = {{hdr.p, hdr.n}, {(void *)body.p, body.n}};
		uint64_t lsn;
		int wrc = wal_append_vec(ing->wal, parts, 2, &lsn);
		buf_release(&hdr);
		if (wrc) {
			fail(r, 500, "internal", "could not write the WAL: %s", ember_strerror(wrc));
			goto out;
		}
	}
	for (size_t i = 0; i < r->plan.n_sources; i++) {
		const struct ingest_source *s = &r->plan.sources[i];
		if (head_append_limited(head, r->tenant, s->p, s->items, s->n_items, r->lim.max_series)) {
			fail(r, 429, "resource_exhausted",
			     "series limit reached for tenant %.*s (-ingester.max-global-series-per-tenant=%zu)",
			     (int)r->tenant.n, (const char *)r->tenant.p, r->lim.max_series);
			goto out;
		}
	}
	r->res->profiles = r->plan.n_profiles;
	r->res->samples = r->plan.n_samples;
	rc = 0;
out:
	store_write_end(ing->store);
	return rc;
}

static void account(struct ingest *ing, const struct req *r, size_t body_bytes)
{
	if (r->replay)
		return;
	const struct ingest_result *res = r->res;
	__atomic_add_fetch(res->status == 200 ? &ing->stats.requests_ok : &ing->stats.requests_failed, 1,
			   __ATOMIC_RELAXED);
	__atomic_add_fetch(&ing->stats.bytes_received, body_bytes, __ATOMIC_RELAXED);
	if (res->status == 200) {
		__atomic_add_fetch(&ing->stats.profiles, res->profiles, __ATOMIC_RELAXED);
		__atomic_add_fetch(&ing->stats.samples, res->samples, __ATOMIC_RELAXED);
		__atomic_add_fetch(&ing->stats.bytes_decompressed, r->decompressed_bytes, __ATOMIC_RELAXED);
	}
}

static void ingest_http_any(struct ingest *ing, struct slice tenant, struct slice query, struct slice content_type,
			    struct slice body, int64_t now_ns, bool replay, struct slice replay_ids,
			    struct ingest_result *res)
{
	struct req r;
	req_init(&r, ing, tenant, now_ns, replay, res);
	r.replay_ids = replay_ids;
	/* One id for every profile of the request, as Pyroscope's ingest adapter does. */
	r.plan.id = next_id(&r, NULL);
	if (!ingest_http_body(&r, query, content_type, body))
		(void)commit(&r, REC_INGEST, query, content_type, body);
	account(ing, &r, body.n);
	req_release(&r);
}

void ingest_http(struct ingest *ing, struct slice tenant, struct slice query, struct slice content_type,
		 struct slice body, int64_t now_ns, struct ingest_result *res)
{
	ingest_http_any(ing, tenant, query, content_type, body, now_ns, false, slice_make("", 0), res);
}

/* ---- Push ----------------------------------------------------------------------------- */

static int push_body(struct req *r, const Push__V1__PushRequest *pr)
{
	for (size_t i = 0; i < pr->n_series; i++) {
		const Push__V1__RawProfileSeries *s = pr->series[i];
		struct labels ls = {0};
		for (size_t k = 0; k < s->n_labels; k++) {
			const Types__V1__LabelPair *lp = s->labels[k];
			struct slice name = slice_cstr(lp->name), value = slice_cstr(lp->value);
			if (labels_find(&ls, name))
				return fail(r, 400, "invalid_argument", "duplicate label name %s in series %zu", lp->name, i);
			labels_set(&ls, &r->arena, name, value);
		}
		if (!labels_get(&ls, LABEL_NAME).n)
			return fail(r, 400, "invalid_argument", "series %zu has no __name__ label", i);
		for (size_t k = 0; k < s->n_samples; k++) {
			const Push__V1__RawSample *rs = s->samples[k];
			struct pprof_profile *p;
			r->plan.id = next_id(r, rs->id);
			if (decode_pprof(r, slice_make(rs->raw_profile.data, rs->raw_profile.len), 400, "invalid_argument",
					 NULL, &p))
				return -1;
			char err[256];
			int rc = ingest_plan_pprof(&r->plan, &r->arena, p, &ls, &r->lim, r->now_ns, !r->replay, err,
						   sizeof(err));
			if (rc)
				return fail(r, 400, "invalid_argument", "%s", err);
		}
	}
	return 0;
}

static void ingest_push_any(struct ingest *ing, struct slice tenant, const Push__V1__PushRequest *pr, int64_t now_ns,
			    bool replay, struct slice replay_ids, struct ingest_result *res)
{
	struct req r;
	req_init(&r, ing, tenant, now_ns, replay, res);
	r.replay_ids = replay_ids;
	size_t packed_n = 0;
	if (!push_body(&r, pr) && r.plan.n_profiles) {
		/* The WAL keeps the request as protobuf, whichever codec the client used. */
		packed_n = protobuf_c_message_get_packed_size(&pr->base);
		uint8_t *packed = xmalloc(packed_n + 1);
		protobuf_c_message_pack(&pr->base, packed);
		(void)commit(&r, REC_PUSH, slice_make("", 0), slice_make("", 0), slice_make(packed, packed_n));
		free(packed);
	}
	account(ing, &r, packed_n);
	req_release(&r);
}

void ingest_push(struct ingest *ing, struct slice tenant, const Push__V1__PushRequest *pr, int64_t now_ns,
		 struct ingest_result *res)
{
	ingest_push_any(ing, tenant, pr, now_ns, false, slice_make("", 0), res);
}

/* ---- replay --------------------------------------------------------------------------- */

static bool get_uvarint(struct slice *s, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (!s->n)
			return false;
		uint8_t c = *s->p++;
		s->n--;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

static bool get_bytes(struct slice *s, struct slice *out)
{
	uint64_t n;
	if (!get_uvarint(s, &n) || n > s->n)
		return false;
	*out = slice_make(s->p, (size_t)n);
	s->p += n;
	s->n -= (size_t)n;
	return true;
}

int ingest_replay_record(struct ingest *ing, const uint8_t *rec, size_t n, uint64_t segment, bool *skipped,
			 char *err, size_t errlen)
{
	struct slice s = slice_make(rec, n);
	uint64_t now;
	struct slice tenant, query, ct;
	if (n < 3 || rec[0] != 'E' || rec[1] < 1 || rec[1] > REC_VERSION) {
		snprintf(err, errlen, "unknown WAL record version");
		return EMBER_ECORRUPT;
	}
	uint8_t kind = rec[2];
	s.p += 3;
	s.n -= 3;
	if (!get_uvarint(&s, &now) || !get_bytes(&s, &tenant)) {
		snprintf(err, errlen, "truncated WAL record header");
		return EMBER_ECORRUPT;
	}
	struct slice ids = slice_make("", 0);
	if (rec[1] >= 2) {
		uint64_t n_ids;
		if (!get_uvarint(&s, &n_ids) || n_ids > REC_MAX_IDS || n_ids * PROFILE_ID_LEN > s.n) {
			snprintf(err, errlen, "truncated WAL record header");
			return EMBER_ECORRUPT;
		}
		ids = slice_make(s.p, (size_t)n_ids * PROFILE_ID_LEN);
		s.p += ids.n;
		s.n -= ids.n;
	}
	*skipped = store_wal_covered(ing->store, tenant, segment);
	if (*skipped)
		return 0; /* a block already holds it: the segment outlived its cut in a crash */
	struct ingest_result res;
	if (kind == REC_INGEST) {
		if (!get_bytes(&s, &query) || !get_bytes(&s, &ct)) {
			snprintf(err, errlen, "truncated WAL record header");
			return EMBER_ECORRUPT;
		}
		ingest_http_any(ing, tenant, query, ct, s, (int64_t)now, true, ids, &res);
	} else if (kind == REC_PUSH) {
		Push__V1__PushRequest *pr = push__v1__push_request__unpack(NULL, s.n, s.p);
		if (!pr) {
			snprintf(err, errlen, "WAL record holds an invalid PushRequest");
			return EMBER_ECORRUPT;
		}
		ingest_push_any(ing, tenant, pr, (int64_t)now, true, ids, &res);
		push__v1__push_request__free_unpacked(pr, NULL);
	} else {
		snprintf(err, errlen, "unknown WAL record kind %u", kind);
		return EMBER_ECORRUPT;
	}
	if (res.status != 200) {
		snprintf(err, errlen, "record no longer applies: %s", res.message);
		return EMBER_EINVAL;
	}
	return 0;
}
