/* config: the server's settings, from defaults, then the YAML file (-config.file), then
 * command-line flags (flags win). Flag names and YAML keys are Pyroscope's, so existing
 * Pyroscope configurations and command lines carry over. The full list is one table in
 * config.c; `ember server --help` prints it and README.md documents it. */
#ifndef EMBER_SERVER_CONFIG_H
#define EMBER_SERVER_CONFIG_H

#include "ingest/plan.h"
#include "objstore/objstore.h"

struct config {
	char *config_file;
	char *target;
	char *http_address;
	int64_t http_port;
	int64_t read_timeout_ns;
	int64_t idle_timeout_ns;
	int64_t workers;
	char *storage_backend;
	char *storage_dir;
	char *s3_endpoint, *s3_bucket, *s3_region, *s3_access_key_id, *s3_secret_access_key, *s3_bucket_lookup;
	bool s3_insecure;
	bool multitenancy;
	char *log_level;
	double body_limit_mb;
	bool disable_label_sanitization;
	int64_t max_profile_bytes, max_samples, max_labels_per_sample, max_stack_depth, max_symbol_len;
	int64_t max_label_name_len, max_label_value_len, max_label_names;
	int64_t reject_older_than_ns, reject_newer_than_ns;
	double rate_mb, burst_mb;
	int64_t max_series;
	int64_t max_query_length_ns, max_query_lookback_ns, max_flamegraph_nodes_default, max_flamegraph_nodes_max;
	bool wal_sync;
	int64_t max_block_duration_ns;
	int64_t max_head_bytes;
	int64_t max_block_cache_bytes;
	char *compactor_block_ranges;
	int64_t compaction_interval_ns, deletion_delay_ns, retention_ns;
	char *runtime_config_file;       /* per-tenant overrides (server/overrides.h) */
	int64_t runtime_config_period_ns;
};

/** Fills c with the defaults (allocates its strings). */
void config_init(struct config *c);
/** Frees the strings. */
void config_release(struct config *c);

/** Applies argv[0..argc) (flags only, after the subcommand): first reads -config.file if
 * given, then applies every flag. Returns 0, or EMBER_EINVAL with a message in err
 * (unknown flag, bad value, unreadable or malformed YAML, unknown YAML key). */
int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen) EMBER_WUR;

/** Checks the combination of settings (e.g. -target); EMBER_EINVAL with a message. */
int config_check(const struct config *c, char *err, size_t errlen) EMBER_WUR;

/** The object storage settings (-storage.*) as an objstore_config; its strings borrow
 * from c (valid while c is). */
void config_objstore(const struct config *c, struct objstore_config *out);

/** The ingest limits the settings describe. */
void config_ingest_limits(const struct config *c, struct ingest_limits *out);

/** Sets one key of the `limits:` block (its YAML name without "limits.", e.g.
 * "max_label_names_per_series") from its text value, as the YAML file would. Returns 0,
 * EMBER_ENOTFOUND (not a limits key; message in err) or EMBER_EINVAL (bad value). Never
 * touches a string field, so a shallow copy of a config may be passed. */
int config_limit_set(struct config *c, const char *key, const char *value, char *err, size_t errlen) EMBER_WUR;

/** Writes the value of limits key `key` in c as YAML text into out[0..n) (durations as
 * "1h30m", "0s"). Returns 0, or EMBER_ENOTFOUND for a key that is not a limit. */
int config_limit_format(const struct config *c, const char *key, char *out, size_t n) EMBER_WUR;

#define CONFIG_MAX_BLOCK_RANGES 16

/** The -compactor.block-ranges list ("1h,2h,8h") as nanoseconds into out[0..cap): 0 and
 * *n, or EMBER_EINVAL with a message (bad duration, not ascending, a range not divisible
 * by the previous one, more than cap ranges). */
int config_block_ranges(const struct config *c, int64_t *out, size_t cap, size_t *n, char *err,
			size_t errlen) EMBER_WUR;

/** Writes the flag reference (name, default, YAML key, help) to f. */
void config_print_help(FILE *f);

/** Parses a duration like "1h", "10m", "30s", "1h30m", "500ms", "7d", "0" into ns. */
int config_parse_duration(const char *s, int64_t *out_ns) EMBER_WUR;

#endif
