#include <yaml.h>

#include "server/config.h"

enum opt_type { OPT_STRING, OPT_INT, OPT_FLOAT, OPT_BOOL, OPT_DURATION };

struct option_def {
	const char *flag; /* without the leading '-' */
	const char *yaml; /* dotted path in the YAML file, NULL if flag only */
	enum opt_type type;
	size_t offset;
	const char *def;
	const char *help;
};

#define OFF(f) offsetof(struct config, f)

/* The one table of settings. Defaults are Pyroscope's unless said otherwise. */
static const struct option_def options[] = {
	{"config.file", NULL, OPT_STRING, OFF(config_file), "", "YAML configuration file; flags override it"},
	{"target", "target", OPT_STRING, OFF(target), "all",
	 "components to run; only 'all' (monolithic mode) exists so far"},
	{"server.http-listen-address", "server.http_listen_address", OPT_STRING, OFF(http_address), "",
	 "address to listen on (empty: all interfaces)"},
	{"server.http-listen-port", "server.http_listen_port", OPT_INT, OFF(http_port), "4040", "HTTP port"},
	{"server.http-server-read-timeout", "server.http_server_read_timeout", OPT_DURATION, OFF(read_timeout_ns), "30s",
	 "time allowed to read a whole request"},
	{"server.http-server-idle-timeout", "server.http_server_idle_timeout", OPT_DURATION, OFF(idle_timeout_ns),
	 "120s", "idle keep-alive connections are closed after this"},
	{"server.workers", "server.workers", OPT_INT, OFF(workers), "0",
	 "request worker threads (0: 8 per CPU, since writes wait on WAL syncs; Ember's own setting)"},
	{"log.level", "server.log_level", OPT_STRING, OFF(log_level), "info", "debug, info, warn or error"},
	{"storage.backend", "storage.backend", OPT_STRING, OFF(storage_backend), "filesystem",
	 "where blocks are stored: filesystem (under -storage.filesystem.dir) or s3"},
	{"storage.filesystem.dir", "storage.filesystem.dir", OPT_STRING, OFF(storage_dir), "./data",
	 "data directory (WAL, head; blocks too with the filesystem backend)"},
	{"storage.s3.endpoint", "storage.s3.endpoint", OPT_STRING, OFF(s3_endpoint), "",
	 "S3 endpoint, host[:port] (e.g. s3.eu-west-1.amazonaws.com, minio:9000)"},
	{"storage.s3.bucket-name", "storage.s3.bucket_name", OPT_STRING, OFF(s3_bucket), "", "S3 bucket name"},
	{"storage.s3.region", "storage.s3.region", OPT_STRING, OFF(s3_region), "",
	 "S3 region (empty: taken from an s3.<region>.amazonaws.com endpoint, else us-east-1)"},
	{"storage.s3.access-key-id", "storage.s3.access_key_id", OPT_STRING, OFF(s3_access_key_id), "",
	 "S3 access key ID (empty: $AWS_ACCESS_KEY_ID)"},
	{"storage.s3.secret-access-key", "storage.s3.secret_access_key", OPT_STRING, OFF(s3_secret_access_key), "",
	 "S3 secret access key (empty: $AWS_SECRET_ACCESS_KEY)"},
	{"storage.s3.insecure", "storage.s3.insecure", OPT_BOOL, OFF(s3_insecure), "false",
	 "use http:// instead of https:// for the S3 endpoint"},
	{"storage.s3.bucket-lookup-type", "storage.s3.bucket_lookup_type", OPT_STRING, OFF(s3_bucket_lookup), "auto",
	 "S3 bucket addressing: auto (virtual-hosted on AWS, path style elsewhere), path-style or "
	 "virtual-hosted-style"},
	{"auth.multitenancy-enabled", "multitenancy_enabled", OPT_BOOL, OFF(multitenancy), "false",
	 "require X-Scope-OrgID on every request; when off every request is tenant 'anonymous'"},
	{"wal.sync", "wal.sync", OPT_BOOL, OFF(wal_sync), "true",
	 "fdatasync the WAL before acknowledging a write (Ember's own; turn off only for benchmarks)"},
	{"pyroscopedb.max-block-duration", "pyroscopedb.max_block_duration", OPT_DURATION, OFF(max_block_duration_ns),
	 "1h", "the head is cut into a block once it is this old (0: never by age)"},
	{"pyroscopedb.max-head-bytes", "pyroscopedb.max_head_bytes", OPT_INT, OFF(max_head_bytes), "134217728",
	 "the head is cut into a block once it holds this much memory (0: never by size; Ember's own)"},
	{"compactor.block-ranges", "compactor.block_ranges", OPT_STRING, OFF(compactor_block_ranges), "1h,2h,8h",
	 "compaction time ranges, each divisible by the previous one: blocks are merged into aligned windows of "
	 "these sizes (after overlapping blocks)"},
	{"compactor.compaction-interval", "compactor.compaction_interval", OPT_DURATION, OFF(compaction_interval_ns),
	 "30m", "how often a compaction round runs (0: never)"},
	{"compactor.deletion-delay", "compactor.deletion_delay", OPT_DURATION, OFF(deletion_delay_ns), "12h",
	 "blocks marked for deletion (compacted or expired) are deleted after this (0: at once)"},
	{"compactor.blocks-retention-period", "limits.compactor_blocks_retention_period", OPT_DURATION,
	 OFF(retention_ns), "0", "delete blocks whose newest profile is older than this (0: keep forever)"},
	{"blocks.symbols-cache-max-bytes", "blocks.symbols_cache_max_bytes", OPT_INT, OFF(max_block_cache_bytes),
	 "268435456", "block symbol tables kept in memory; the least recently read are dropped (0: no limit; Ember's own)"},
	{"distributor.ingestion-rate-limit-mb", "limits.ingestion_rate_mb", OPT_FLOAT, OFF(rate_mb), "4",
	 "per-tenant ingestion rate limit in MB/s of uncompressed profiles (0: off)"},
	{"distributor.ingestion-burst-size-mb", "limits.ingestion_burst_size_mb", OPT_FLOAT, OFF(burst_mb), "2",
	 "per-tenant ingestion burst size in MB"},
	{"distributor.ingestion-body-limit-mb", "limits.ingestion_body_limit_mb", OPT_FLOAT, OFF(body_limit_mb), "256",
	 "request body size limit in MB, before decompression (413 above)"},
	{"validation.max-length-label-name", "limits.max_label_name_length", OPT_INT, OFF(max_label_name_len), "1024",
	 "maximum label name length"},
	{"validation.max-length-label-value", "limits.max_label_value_length", OPT_INT, OFF(max_label_value_len),
	 "2048", "maximum label value length"},
	{"validation.max-label-names-per-series", "limits.max_label_names_per_series", OPT_INT, OFF(max_label_names),
	 "30", "maximum number of labels per series"},
	{"validation.disable-label-sanitization", "limits.disable_label_sanitization", OPT_BOOL,
	 OFF(disable_label_sanitization), "false",
	 "accept any UTF-8 label name as is instead of rewriting '.' to '_'"},
	{"validation.max-profile-size-bytes", "limits.max_profile_size_bytes", OPT_INT, OFF(max_profile_bytes),
	 "4194304", "maximum uncompressed profile size (0: 256 MiB hard cap)"},
	{"validation.max-profile-stacktrace-samples", "limits.max_profile_stacktrace_samples", OPT_INT,
	 OFF(max_samples), "16000", "maximum samples in a profile (0: off)"},
	{"validation.max-profile-stacktrace-sample-labels", "limits.max_profile_stacktrace_sample_labels", OPT_INT,
	 OFF(max_labels_per_sample), "100", "maximum labels on one sample (0: off)"},
	{"validation.max-profile-stacktrace-depth", "limits.max_profile_stacktrace_depth", OPT_INT,
	 OFF(max_stack_depth), "1000", "deeper stacks are truncated, keeping the root side (0: off)"},
	{"validation.max-profile-symbol-value-length", "limits.max_profile_symbol_value_length", OPT_INT,
	 OFF(max_symbol_len), "65535", "longer symbols are truncated, keeping the end (0: off)"},
	{"validation.reject-older-than", "limits.reject_older_than", OPT_DURATION, OFF(reject_older_than_ns), "1h",
	 "refuse profiles older than this (0: off)"},
	{"validation.reject-newer-than", "limits.reject_newer_than", OPT_DURATION, OFF(reject_newer_than_ns), "10m",
	 "refuse profiles further in the future than this (0: off)"},
	{"ingester.max-global-series-per-tenant", "limits.max_global_series_per_tenant", OPT_INT, OFF(max_series),
	 "5000", "maximum series per tenant (0: off)"},
	{"querier.max-query-length", "limits.max_query_length", OPT_DURATION, OFF(max_query_length_ns), "24h",
	 "longest time range a stack query may cover (0: off)"},
	{"querier.max-query-lookback", "limits.max_query_lookback", OPT_DURATION, OFF(max_query_lookback_ns), "7d",
	 "how far back stack queries may look; older starts are clamped (0: off)"},
	{"querier.max-flamegraph-nodes-default", "limits.max_flamegraph_nodes_default", OPT_INT,
	 OFF(max_flamegraph_nodes_default), "8192", "flame graph nodes when a query does not say (0: no limit)"},
	{"querier.max-flamegraph-nodes-max", "limits.max_flamegraph_nodes_max", OPT_INT, OFF(max_flamegraph_nodes_max),
	 "1048576", "largest max_nodes a query may ask for (0: no limit)"},
	{"runtime-config.file", "runtime_config.file", OPT_STRING, OFF(runtime_config_file), "",
	 "comma-separated YAML files of per-tenant limits (overrides: {<tenant>: {<limits key>: value}}), "
	 "merged left to right and reloaded while running"},
	{"runtime-config.reload-period", "runtime_config.period", OPT_DURATION, OFF(runtime_config_period_ns), "10s",
	 "how often the runtime config files are re-read"},
};

int config_parse_duration(const char *s, int64_t *out_ns)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {{"ns", 1},
		     {"us", 1000},
		     {"µs", 1000},
		     {"ms", 1000000},
		     {"s", 1000000000LL},
		     {"m", 60 * 1000000000LL},
		     {"h", 3600 * 1000000000LL},
		     {"d", 86400 * 1000000000LL},
		     {"w", 7 * 86400 * 1000000000LL},
		     {"y", 365 * 86400 * 1000000000LL}};
	if (!strcmp(s, "0")) {
		*out_ns = 0;
		return 0;
	}
	int64_t total = 0;
	const char *p = s;
	if (!*p)
		return EMBER_EINVAL;
	while (*p) {
		if (*p < '0' || *p > '9')
			return EMBER_EINVAL;
		int64_t n = 0;
		while (*p >= '0' && *p <= '9') {
			if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *p - '0', &n))
				return EMBER_EINVAL;
			p++;
		}
		size_t best = 0;
		int64_t mult = 0;
		for (size_t i = 0; i < EMBER_ARRAY_LEN(units); i++) {
			size_t ul = strlen(units[i].unit);
			if (ul > best && !strncmp(p, units[i].unit, ul)) {
				best = ul;
				mult = units[i].ns;
			}
		}
		if (!best)
			return EMBER_EINVAL;
		p += best;
		if (__builtin_mul_overflow(n, mult, &n) || __builtin_add_overflow(total, n, &total))
			return EMBER_EINVAL;
	}
	*out_ns = total;
	return 0;
}

static int option_set(struct config *c, const struct option_def *o, const char *value, char *err, size_t errlen)
{
	void *field = (char *)c + o->offset;
	char *end;
	switch (o->type) {
	case OPT_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case OPT_INT: {
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (errno || end == value || *end || v < 0)
			break;
		*(int64_t *)field = v;
		return 0;
	}
	case OPT_FLOAT: {
		errno = 0;
		double v = strtod(value, &end);
		if (errno || end == value || *end || v < 0)
			break;
		*(double *)field = v;
		return 0;
	}
	case OPT_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "1")) {
			*(bool *)field = true;
			return 0;
		}
		if (!strcmp(value, "false") || !strcmp(value, "0")) {
			*(bool *)field = false;
			return 0;
		}
		break;
	case OPT_DURATION:
		if (config_parse_duration(value, (int64_t *)field) == 0)
			return 0;
		break;
	}
	snprintf(err, errlen, "invalid value %s for -%s", value, o->flag);
	return EMBER_EINVAL;
}

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	char err[128];
	for (size_t i = 0; i < EMBER_ARRAY_LEN(options); i++)
		if (option_set(c, &options[i], options[i].def, err, sizeof(err)) != 0)
			abort(); /* a default in the table above is malformed */
}

void config_release(struct config *c)
{
	for (size_t i = 0; i < EMBER_ARRAY_LEN(options); i++)
		if (options[i].type == OPT_STRING)
			free(*(char **)((char *)c + options[i].offset));
	memset(c, 0, sizeof(*c));
}

static const struct option_def *option_by_flag(const char *name, size_t n)
{
	for (size_t i = 0; i < EMBER_ARRAY_LEN(options); i++)
		if (strlen(options[i].flag) == n && !strncmp(options[i].flag, name, n))
			return &options[i];
	return NULL;
}

static const struct option_def *option_by_yaml(const char *path)
{
	for (size_t i = 0; i < EMBER_ARRAY_LEN(options); i++)
		if (options[i].yaml && !strcmp(options[i].yaml, path))
			return &options[i];
	return NULL;
}

static const struct option_def *option_limit(const char *key)
{
	char path[160];
	snprintf(path, sizeof(path), "limits.%s", key);
	const struct option_def *o = option_by_yaml(path);
	return o && o->type != OPT_STRING ? o : NULL;
}

int config_limit_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	const struct option_def *o = option_limit(key);
	if (!o) {
		snprintf(err, errlen, "unknown limit %s", key);
		return EMBER_ENOTFOUND;
	}
	return option_set(c, o, value, err, errlen);
}

/* As Prometheus' model.Duration prints: the largest units first, "0s" for zero. */
static void format_duration(int64_t ns, char *out, size_t n)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {{"y", 365 * 86400 * 1000000000LL}, {"w", 7 * 86400 * 1000000000LL}, {"d", 86400 * 1000000000LL},
		     {"h", 3600 * 1000000000LL},        {"m", 60 * 1000000000LL},          {"s", 1000000000LL},
		     {"ms", 1000000LL}};
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < EMBER_ARRAY_LEN(units) && ns > 0; i++) {
		if (ns < units[i].ns)
			continue;
		int w = snprintf(out + used, n - used, "%lld%s", (long long)(ns / units[i].ns), units[i].unit);
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
		ns %= units[i].ns;
	}
	if (!used)
		snprintf(out, n, "0s");
}

int config_limit_format(const struct config *c, const char *key, char *out, size_t n)
{
	const struct option_def *o = option_limit(key);
	if (!o)
		return EMBER_ENOTFOUND;
	const void *field = (const char *)c + o->offset;
	switch (o->type) {
	case OPT_INT:
		snprintf(out, n, "%lld", (long long)*(const int64_t *)field);
		break;
	case OPT_FLOAT:
		snprintf(out, n, "%g", *(const double *)field);
		break;
	case OPT_BOOL:
		snprintf(out, n, "%s", *(const bool *)field ? "true" : "false");
		break;
	case OPT_DURATION:
		format_duration(*(const int64_t *)field, out, n);
		break;
	case OPT_STRING:
		return EMBER_ENOTFOUND;
	}
	return 0;
}

/* Walks the YAML document: mappings nest the dotted path, scalars set options. */
static int yaml_load(struct config *c, const char *file, char *err, size_t errlen)
{
	int rc = EMBER_EINVAL;
	FILE *f = fopen(file, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open config file %s: %s", file, strerror(errno));
		return EMBER_EINVAL;
	}
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	char path[512] = "";
	size_t depth_len[32];
	int depth = 0;
	bool expect_key[32] = {false};
	char key[256] = "";
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			snprintf(err, errlen, "%s:%zu: %s", file, parser.problem_mark.line + 1,
				 parser.problem ? parser.problem : "YAML syntax error");
			goto out;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_MAPPING_START_EVENT) {
			if (depth >= 31) {
				yaml_event_delete(&ev);
				snprintf(err, errlen, "%s: nested too deeply", file);
				goto out;
			}
			depth_len[depth] = strlen(path);
			if (depth > 0) {
				size_t l = strlen(path);
				snprintf(path + l, sizeof(path) - l, "%s%s", l ? "." : "", key);
			}
			depth++;
			expect_key[depth] = true;
		} else if (t == YAML_MAPPING_END_EVENT) {
			depth--;
			if (depth >= 0) {
				path[depth_len[depth]] = '\0';
				expect_key[depth] = true;
			}
		} else if (t == YAML_SCALAR_EVENT && depth > 0) {
			const char *v = (const char *)ev.data.scalar.value;
			if (expect_key[depth]) {
				snprintf(key, sizeof(key), "%s", v);
				expect_key[depth] = false;
			} else {
				char full[800];
				snprintf(full, sizeof(full), "%s%s%s", path, path[0] ? "." : "", key);
				const struct option_def *o = option_by_yaml(full);
				if (!o) {
					yaml_event_delete(&ev);
					snprintf(err, errlen, "%s: unknown setting %s", file, full);
					goto out;
				}
				if (option_set(c, o, v, err, errlen)) {
					yaml_event_delete(&ev);
					goto out;
				}
				expect_key[depth] = true;
			}
		} else if (t == YAML_SEQUENCE_START_EVENT) {
			yaml_event_delete(&ev);
			snprintf(err, errlen, "%s: lists are not supported (at %s)", file, key);
			goto out;
		}
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
	}
	rc = 0;
out:
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

/* Splits "-name=value" / "--name=value" / "-name value" / "-boolflag". */
struct flag_arg {
	const struct option_def *opt;
	const char *value;
	int used; /* argv entries consumed */
};

static int flag_parse(int argc, char **argv, int i, struct flag_arg *fa, char *err, size_t errlen)
{
	const char *a = argv[i];
	if (a[0] != '-') {
		snprintf(err, errlen, "unexpected argument %s (flags look like -name=value)", a);
		return EMBER_EINVAL;
	}
	a += a[1] == '-' ? 2 : 1;
	const char *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	fa->opt = option_by_flag(a, n);
	if (!fa->opt) {
		snprintf(err, errlen, "unknown flag -%.*s (see ember server --help)", (int)n, a);
		return EMBER_EINVAL;
	}
	fa->used = 1;
	if (eq) {
		fa->value = eq + 1;
	} else if (fa->opt->type == OPT_BOOL) {
		fa->value = "true";
	} else if (i + 1 < argc) {
		fa->value = argv[i + 1];
		fa->used = 2;
	} else {
		snprintf(err, errlen, "flag -%s needs a value", fa->opt->flag);
		return EMBER_EINVAL;
	}
	return 0;
}

int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct flag_arg fa;
	/* First pass: only -config.file, so the file applies before the other flags. */
	for (int i = 0; i < argc; i += fa.used) {
		if (flag_parse(argc, argv, i, &fa, err, errlen))
			return EMBER_EINVAL;
		if (fa.opt->offset == OFF(config_file) && option_set(c, fa.opt, fa.value, err, errlen))
			return EMBER_EINVAL;
	}
	if (c->config_file[0] && yaml_load(c, c->config_file, err, errlen))
		return EMBER_EINVAL;
	for (int i = 0; i < argc; i += fa.used) {
		if (flag_parse(argc, argv, i, &fa, err, errlen) || option_set(c, fa.opt, fa.value, err, errlen))
			return EMBER_EINVAL;
	}
	return 0;
}

int config_check(const struct config *c, char *err, size_t errlen)
{
	if (strcmp(c->target, "all") != 0) {
		snprintf(err, errlen,
			 "-target=%s is not supported yet: only -target=all (monolithic mode) exists; "
			 "microservices mode (distributor, ingester, querier, ...) is planned",
			 c->target);
		return EMBER_EINVAL;
	}
	struct objstore_config oc;
	config_objstore(c, &oc);
	if (objstore_config_check(&oc, err, errlen) != 0)
		return EMBER_EINVAL;
	int64_t ranges[CONFIG_MAX_BLOCK_RANGES];
	size_t n_ranges;
	if (config_block_ranges(c, ranges, CONFIG_MAX_BLOCK_RANGES, &n_ranges, err, errlen) != 0)
		return EMBER_EINVAL;
	if (c->http_port > 65535) {
		snprintf(err, errlen, "-server.http-listen-port=%lld is not a port", (long long)c->http_port);
		return EMBER_EINVAL;
	}
	return 0;
}

void config_objstore(const struct config *c, struct objstore_config *out)
{
	memset(out, 0, sizeof(*out));
	out->backend = c->storage_backend;
	out->fs_dir = c->storage_dir;
	out->s3.endpoint = c->s3_endpoint;
	out->s3.bucket = c->s3_bucket;
	out->s3.region = c->s3_region;
	out->s3.access_key_id = c->s3_access_key_id;
	out->s3.secret_access_key = c->s3_secret_access_key;
	out->s3.insecure = c->s3_insecure;
	out->s3.bucket_lookup = c->s3_bucket_lookup;
}

void config_ingest_limits(const struct config *c, struct ingest_limits *out)
{
	ingest_limits_default(out);
	out->max_profile_bytes = (size_t)c->max_profile_bytes;
	out->max_samples = (size_t)c->max_samples;
	out->max_labels_per_sample = (size_t)c->max_labels_per_sample;
	out->max_stack_depth = (size_t)c->max_stack_depth;
	out->max_symbol_len = (size_t)c->max_symbol_len;
	out->labels.max_names = (size_t)c->max_label_names;
	out->labels.max_name_len = (size_t)c->max_label_name_len;
	out->labels.max_value_len = (size_t)c->max_label_value_len;
	out->labels.names = c->disable_label_sanitization ? LABELS_NAMES_UTF8 : LABELS_NAMES_SANITIZE;
	out->reject_older_than_ns = c->reject_older_than_ns;
	out->reject_newer_than_ns = c->reject_newer_than_ns;
	out->rate_mb = c->rate_mb;
	out->burst_mb = c->burst_mb;
	out->max_series = (size_t)c->max_series;
}

void config_print_help(FILE *f)
{
	fprintf(f, "Flags (also settable in the YAML file given by -config.file; flags win):\n");
	for (size_t i = 0; i < EMBER_ARRAY_LEN(options); i++) {
		const struct option_def *o = &options[i];
		fprintf(f, "  -%s", o->flag);
		fprintf(f, " (default \"%s\"%s%s)\n", o->def, o->yaml ? ", yaml " : "", o->yaml ? o->yaml : "");
		fprintf(f, "        %s\n", o->help);
	}
}

int config_block_ranges(const struct config *c, int64_t *out, size_t cap, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	const char *p = c->compactor_block_ranges;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char one[64];
		int64_t v;
		if (len == 0 || len >= sizeof(one) || *n >= cap) {
			snprintf(err, errlen, "invalid -compactor.block-ranges=%s", c->compactor_block_ranges);
			return EMBER_EINVAL;
		}
		memcpy(one, p, len);
		one[len] = '\0';
		if (config_parse_duration(one, &v) != 0 || v <= 0) {
			snprintf(err, errlen, "invalid duration %s in -compactor.block-ranges", one);
			return EMBER_EINVAL;
		}
		if (*n && v % out[*n - 1] != 0) {
			snprintf(err, errlen,
				 "-compactor.block-ranges: %s is not divisible by the previous range (each range must be)",
				 one);
			return EMBER_EINVAL;
		}
		out[(*n)++] = v;
		p += len + (comma ? 1 : 0);
	}
	if (!*n) {
		snprintf(err, errlen, "-compactor.block-ranges needs at least one range");
		return EMBER_EINVAL;
	}
	return 0;
}
