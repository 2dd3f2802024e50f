#include <pthread.h>
#include <time.h>
#include <yaml.h>

#include "server/overrides.h"
#include "util/log.h"

#define OVERRIDES_MAX_FILE ((size_t)16 << 20)

/* The limits a tenant entry may set: the ones Ember applies per request or per tenant.
 * Their values are parsed by config.c's options table (config_limit_set). */
static const char *const per_tenant_keys[] = {
	"compactor_blocks_retention_period",
	"ingestion_rate_mb",
	"ingestion_burst_size_mb",
	"max_label_names_per_series",
	"max_label_name_length",
	"max_label_value_length",
	"disable_label_sanitization",
	"max_profile_size_bytes",
	"max_profile_stacktrace_samples",
	"max_profile_stacktrace_sample_labels",
	"max_profile_stacktrace_depth",
	"max_profile_symbol_value_length",
	"reject_older_than",
	"reject_newer_than",
	"max_query_length",
	"max_query_lookback",
	"max_flamegraph_nodes_default",
	"max_flamegraph_nodes_max",
	"max_global_series_per_tenant",
};

/* Limits keys Ember knows but applies only server-wide: an override of them would be
 * silently ignored, so it is refused with the reason. */
static const struct {
	const char *key, *why;
} server_wide_keys[] = {
	{"ingestion_body_limit_mb", "the HTTP server caps request bodies before the tenant is known"},
};

struct tenant_entry {
	char *tenant;
	struct config cfg; /* a shallow copy of the defaults with the entry's keys applied;
			    * its string fields borrow from nothing and are never read */
};

/* One loaded runtime configuration, immutable once published. */
struct oset {
	struct tenant_entry *v; /* sorted by tenant */
	size_t n, cap;
};

struct overrides {
	struct config base; /* shallow copy; only limit fields are read */
	pthread_rwlock_t lock;
	struct oset *cur; /* NULL until something was loaded */
	uint64_t reloads, reload_failures;
	/* The reload thread. */
	pthread_t thread;
	bool started, stop;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char *paths;
	int64_t period_ns;
	char *seen;      /* the content last parsed (good or bad), to skip unchanged files */
	size_t seen_n;
};

static void oset_free(struct oset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].tenant);
	free(s->v);
	free(s);
}

static struct tenant_entry *oset_find(const struct oset *s, struct slice tenant)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *t = s->v[mid].tenant;
		size_t tl = strlen(t);
		int c = memcmp(t, tenant.p, EMBER_MIN(tl, tenant.n));
		if (!c)
			c = tl < tenant.n ? -1 : tl > tenant.n ? 1 : 0;
		if (!c)
			return &s->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The entry of tenant, created (in sorted position) from the defaults when missing. */
static struct tenant_entry *oset_get(struct oset *s, const struct config *base, const char *tenant)
{
	struct tenant_entry *e = oset_find(s, slice_cstr(tenant));
	if (e)
		return e;
	size_t at = 0;
	while (at < s->n && strcmp(s->v[at].tenant, tenant) < 0)
		at++;
	XGROW(s->v, s->cap, s->n + 1);
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	s->n++;
	e = &s->v[at];
	e->tenant = xstrdup(tenant);
	e->cfg = *base;
	return e;
}

struct overrides *overrides_new(const struct config *defaults)
{
	struct overrides *o = xcalloc(1, sizeof(*o));
	o->base = *defaults;
	pthread_rwlock_init(&o->lock, NULL);
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cond, NULL);
	return o;
}

void overrides_free(struct overrides *o)
{
	if (!o)
		return;
	if (o->started) {
		pthread_mutex_lock(&o->mu);
		o->stop = true;
		pthread_cond_signal(&o->cond);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	oset_free(o->cur);
	free(o->paths);
	free(o->seen);
	pthread_rwlock_destroy(&o->lock);
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cond);
	free(o);
}

/* ---- parsing ---------------------------------------------------------------------------- */

static bool key_per_tenant(const char *key)
{
	for (size_t i = 0; i < EMBER_ARRAY_LEN(per_tenant_keys); i++)
		if (!strcmp(per_tenant_keys[i], key))
			return true;
	return false;
}

static const char *node_scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A YAML null: an empty plain scalar, "~" or "null" (tenant entries that are empty are
 * skipped, as Pyroscope does). */
static bool node_is_null(yaml_node_t *n)
{
	const char *v = node_scalar(n);
	return v && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"));
}

static int parse_tenant(struct oset *s, const struct config *base, yaml_document_t *doc, const char *tenant,
			yaml_node_t *map, const char *name, char *err, size_t errlen)
{
	if (node_is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s:%zu: the overrides of tenant %s must be a mapping of limits", name,
			 map->start_mark.line + 1, tenant);
		return EMBER_EINVAL;
	}
	struct tenant_entry *e = oset_get(s, base, tenant);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(doc, p->key), *vn = yaml_document_get_node(doc, p->value);
		const char *key = node_scalar(kn), *val = node_scalar(vn);
		if (!key) {
			snprintf(err, errlen, "%s: tenant %s: a limit name must be a plain string", name, tenant);
			return EMBER_EINVAL;
		}
		for (size_t i = 0; i < EMBER_ARRAY_LEN(server_wide_keys); i++)
			if (!strcmp(server_wide_keys[i].key, key)) {
				snprintf(err, errlen,
					 "%s:%zu: tenant %s: limit %s cannot be overridden per tenant in Ember (%s)",
					 name, kn->start_mark.line + 1, tenant, key, server_wide_keys[i].why);
				return EMBER_EINVAL;
			}
		if (!key_per_tenant(key)) {
			snprintf(err, errlen, "%s:%zu: tenant %s: unknown limit %s", name, kn->start_mark.line + 1,
				 tenant, key);
			return EMBER_EINVAL;
		}
		if (!val) {
			snprintf(err, errlen, "%s:%zu: tenant %s: limit %s needs a single value", name,
				 kn->start_mark.line + 1, tenant, key);
			return EMBER_EINVAL;
		}
		char why[200];
		if (config_limit_set(&e->cfg, key, val, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%zu: tenant %s: invalid value %s for limit %s", name,
				 vn->start_mark.line + 1, tenant, val, key);
			return EMBER_EINVAL;
		}
	}
	return 0;
}

/* Adds one document's overrides to s (later keys win). */
static int parse_into(struct oset *s, const struct config *base, const char *yaml, size_t n, const char *name,
		      char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_doc = false;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, n);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu: %s", name, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		goto out;
	}
	have_doc = true;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || node_is_null(root)) { /* an empty file: no overrides */
		rc = 0;
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s: the runtime config must be a mapping (overrides: {<tenant>: {...}})", name);
		goto out;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(&doc, p->key), *vn = yaml_document_get_node(&doc, p->value);
		const char *key = node_scalar(kn);
		if (!key || strcmp(key, "overrides") != 0) {
			snprintf(err, errlen, "%s:%zu: unknown key %s (only overrides is supported)", name,
				 kn ? kn->start_mark.line + 1 : 0, key ? key : "(not a string)");
			goto out;
		}
		if (node_is_null(vn))
			continue;
		if (vn->type != YAML_MAPPING_NODE) {
			snprintf(err, errlen, "%s:%zu: overrides must be a mapping of tenant to limits", name,
				 vn->start_mark.line + 1);
			goto out;
		}
		for (yaml_node_pair_t *t = vn->data.mapping.pairs.start; t < vn->data.mapping.pairs.top; t++) {
			yaml_node_t *tn = yaml_document_get_node(&doc, t->key);
			const char *tenant = node_scalar(tn);
			if (!tenant || !*tenant) {
				snprintf(err, errlen, "%s: a tenant name under overrides must be a non-empty string", name);
				goto out;
			}
			if (parse_tenant(s, base, &doc, tenant, yaml_document_get_node(&doc, t->value), name, err,
					 errlen))
				goto out;
		}
	}
	rc = 0;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

static void publish(struct overrides *o, struct oset *s)
{
	pthread_rwlock_wrlock(&o->lock);
	struct oset *old = o->cur;
	o->cur = s;
	o->reloads++;
	pthread_rwlock_unlock(&o->lock);
	oset_free(old);
}

static void count_failure(struct overrides *o)
{
	pthread_rwlock_wrlock(&o->lock);
	o->reload_failures++;
	pthread_rwlock_unlock(&o->lock);
}

int overrides_load_text(struct overrides *o, const char *yaml, size_t n, const char *name, char *err, size_t errlen)
{
	struct oset *s = xcalloc(1, sizeof(*s));
	if (parse_into(s, &o->base, yaml, n, name, err, errlen)) {
		oset_free(s);
		count_failure(o);
		return EMBER_EINVAL;
	}
	publish(o, s);
	return 0;
}

static int read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open runtime config file %s: %s", path, strerror(errno));
		return EMBER_EIO;
	}
	int rc = 0;
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (out->n + got > OVERRIDES_MAX_FILE) {
			snprintf(err, errlen, "runtime config file %s is larger than 16 MiB", path);
			rc = EMBER_ETOOBIG;
			break;
		}
		buf_append(out, chunk, got);
	}
	if (!rc && ferror(f)) {
		snprintf(err, errlen, "cannot read runtime config file %s: %s", path, strerror(errno));
		rc = EMBER_EIO;
	}
	fclose(f);
	return rc;
}

/* Reads every file of paths into one buffer: per file, its name, a NUL, its length as 8
 * bytes and its content. The buffer doubles as the "has anything changed" key. */
static int read_all(const char *paths, struct buf *all, char *err, size_t errlen)
{
	const char *p = paths;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len) {
			char *path = xstrndup(p, len);
			struct buf one = BUF_INIT;
			int rc = read_file(path, &one, err, errlen);
			if (!rc) {
				uint64_t n = one.n;
				buf_append(all, path, len + 1);
				buf_append(all, &n, sizeof(n));
				buf_append(all, one.p, one.n);
			}
			buf_release(&one);
			free(path);
			if (rc)
				return rc;
		}
		p += len + (comma ? 1 : 0);
	}
	return 0;
}

static int parse_all(const struct config *base, const struct buf *all, struct oset *s, char *err, size_t errlen)
{
	size_t at = 0;
	while (at < all->n) {
		const char *name = (const char *)all->p + at;
		at += strlen(name) + 1;
		uint64_t n;
		memcpy(&n, all->p + at, sizeof(n));
		at += sizeof(n);
		if (parse_into(s, base, (const char *)all->p + at, (size_t)n, name, err, errlen))
			return EMBER_EINVAL;
		at += (size_t)n;
	}
	return 0;
}

/* Loads paths unless their content equals o->seen (when skip_unchanged). *changed says
 * whether anything was parsed. */
static int load_files(struct overrides *o, const char *paths, bool skip_unchanged, bool *changed, char *err,
		      size_t errlen)
{
	struct buf all = BUF_INIT;
	struct oset *s = NULL;
	*changed = false;
	int rc = read_all(paths, &all, err, errlen);
	if (rc)
		goto out;
	if (skip_unchanged && o->seen && o->seen_n == all.n && !memcmp(o->seen, all.p, all.n))
		goto out;
	*changed = true;
	free(o->seen);
	o->seen_n = all.n;
	o->seen = (char *)buf_steal(&all, &o->seen_n);
	s = xcalloc(1, sizeof(*s));
	struct buf view = {.p = (uint8_t *)o->seen, .n = o->seen_n};
	rc = parse_all(&o->base, &view, s, err, errlen);
	if (rc)
		goto out;
	publish(o, s);
	s = NULL;
out:
	if (rc)
		count_failure(o);
	oset_free(s);
	buf_release(&all);
	return rc;
}

int overrides_load_files(struct overrides *o, const char *paths, char *err, size_t errlen)
{
	bool changed;
	pthread_mutex_lock(&o->mu); /* o->seen belongs to whoever holds mu */
	int rc = load_files(o, paths, false, &changed, err, errlen);
	pthread_mutex_unlock(&o->mu);
	return rc ? (rc == EMBER_EIO ? EMBER_EIO : EMBER_EINVAL) : 0;
}

static void *reload_main(void *arg)
{
	struct overrides *o = arg;
	pthread_mutex_lock(&o->mu);
	while (!o->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ns = until.tv_nsec + o->period_ns % 1000000000LL;
		until.tv_sec += (time_t)(o->period_ns / 1000000000LL + ns / 1000000000LL);
		until.tv_nsec = (long)(ns % 1000000000LL);
		pthread_cond_timedwait(&o->cond, &o->mu, &until);
		if (o->stop)
			break;
		char err[600];
		bool changed;
		/* Read failures (a file being replaced) are retried quietly; a new content that
		 * does not parse is logged once. */
		int rc = load_files(o, o->paths, true, &changed, err, sizeof(err));
		if (rc && changed)
			log_error("msg=\"runtime config reload failed; keeping the last good one\" err=\"%s\"", err);
		else if (rc)
			log_debug("msg=\"runtime config not readable; keeping the last good one\" err=\"%s\"", err);
		else if (changed)
			log_info("msg=\"runtime config reloaded\" files=\"%s\"", o->paths);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

int overrides_start(struct overrides *o, const char *paths, int64_t period_ns)
{
	if (o->started || period_ns <= 0)
		return EMBER_ESTATE;
	free(o->paths);
	o->paths = xstrdup(paths);
	o->period_ns = period_ns;
	if (pthread_create(&o->thread, NULL, reload_main, o))
		return EMBER_EIO;
	o->started = true;
	return 0;
}

/* ---- lookups ------------------------------------------------------------------------------ */

static void limits_of(const struct config *c, struct overrides_limits *out)
{
	config_ingest_limits(c, &out->ingest);
	out->query = (struct query_limits){.max_query_length_ns = c->max_query_length_ns,
					   .max_query_lookback_ns = c->max_query_lookback_ns,
					   .max_nodes_default = c->max_flamegraph_nodes_default,
					   .max_nodes_max = c->max_flamegraph_nodes_max};
	out->retention_ns = c->retention_ns;
}

void overrides_get(struct overrides *o, struct slice tenant, struct overrides_limits *out)
{
	pthread_rwlock_rdlock(&o->lock);
	const struct tenant_entry *e = o->cur ? oset_find(o->cur, tenant) : NULL;
	limits_of(e ? &e->cfg : &o->base, out);
	pthread_rwlock_unlock(&o->lock);
}

void overrides_ingest_limits(void *ctx, struct slice tenant, struct ingest_limits *out)
{
	struct overrides_limits l;
	overrides_get(ctx, tenant, &l);
	*out = l.ingest;
}

void overrides_query_limits(void *ctx, struct slice tenant, struct query_limits *out)
{
	struct overrides_limits l;
	overrides_get(ctx, tenant, &l);
	*out = l.query;
}

size_t overrides_retention(struct overrides *o, struct store_retention_override **out)
{
	*out = NULL;
	pthread_rwlock_rdlock(&o->lock);
	size_t n = o->cur ? o->cur->n : 0;
	if (n) {
		*out = xcalloc(n, sizeof(**out));
		for (size_t i = 0; i < n; i++) {
			(*out)[i].tenant = xstrdup(o->cur->v[i].tenant);
			(*out)[i].retention_ns = o->cur->v[i].cfg.retention_ns;
		}
	}
	pthread_rwlock_unlock(&o->lock);
	return n;
}

void overrides_retention_free(struct store_retention_override *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)v[i].tenant);
	free(v);
}

/* A tenant name as a YAML key: plain when that is unambiguous, else double-quoted (a JSON
 * string is a valid YAML double-quoted scalar). */
static void yaml_key(struct buf *b, const char *s)
{
	bool plain = *s && strchr("-?:,[]{}#&*!|>'\"%@` ~", *s) == NULL;
	for (const char *p = s; plain && *p; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			strchr("_-.()*", *p);
	if (plain && (!strcmp(s, "null") || !strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "~")))
		plain = false;
	if (plain)
		buf_append_cstr(b, s);
	else
		buf_append_json_string(b, s, strlen(s));
}

void overrides_yaml(void *ctx, struct buf *out)
{
	struct overrides *o = ctx;
	pthread_rwlock_rdlock(&o->lock);
	if (!o->cur) {
		buf_append_cstr(out, "runtime config file doesn't exist\n");
	} else if (!o->cur->n) {
		buf_append_cstr(out, "overrides: {}\n");
	} else {
		buf_append_cstr(out, "overrides:\n");
		for (size_t i = 0; i < o->cur->n; i++) {
			const struct tenant_entry *e = &o->cur->v[i];
			buf_append_cstr(out, "    ");
			yaml_key(out, e->tenant);
			buf_append_cstr(out, ":\n");
			for (size_t k = 0; k < EMBER_ARRAY_LEN(per_tenant_keys); k++) {
				char v[64];
				if (config_limit_format(&e->cfg, per_tenant_keys[k], v, sizeof(v)) == 0)
					buf_printf(out, "        %s: %s\n", per_tenant_keys[k], v);
			}
		}
	}
	pthread_rwlock_unlock(&o->lock);
}

void overrides_stats(struct overrides *o, struct overrides_stats *out)
{
	pthread_rwlock_rdlock(&o->lock);
	out->reloads = o->reloads;
	out->reload_failures = o->reload_failures;
	out->tenants = o->cur ? o->cur->n : 0;
	pthread_rwlock_unlock(&o->lock);
}
