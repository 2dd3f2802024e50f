#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "server/config.h"
#include "server/overrides.h"
#include "server/replay.h"
#include "server/server.h"
#include "server/version.h"
#include "util/log.h"

static struct http_server *running; /* for the signal handler */

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		http_server_stop(running);
}

/* The background cutter: every few seconds, cuts the head into blocks when it is old or
 * big enough (store_cut_due). Stopped through its mutex and condition. */
struct cutter {
	struct store *store;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
};

static void *cutter_main(void *arg)
{
	struct cutter *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		pthread_cond_timedwait(&c->cond, &c->mu, &until);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->mu);
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (store_cut_due(c->store, (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec)) {
			char err[600];
			if (store_flush(c->store, err, sizeof(err)))
				log_error("msg=\"cutting the head failed; retrying later\" err=\"%s\"", err);
		}
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* The background compactor: one store_compact round every -compactor.compaction-interval
 * (the first one right after start), stopped like the cutter. */
struct compactor {
	struct store *store;
	struct overrides *overrides; /* per-tenant retention, read again every round */
	struct store_compact_options opts;
	int64_t ranges[CONFIG_MAX_BLOCK_RANGES];
	int64_t interval_ns;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
};

static void *compactor_main(void *arg)
{
	struct compactor *c = arg;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		pthread_mutex_unlock(&c->mu);
		char err[600];
		struct store_compact_result r;
		struct store_retention_override *ro = NULL;
		c->opts.n_overrides = overrides_retention(c->overrides, &ro);
		c->opts.overrides = ro;
		int crc = store_compact(c->store, &c->opts, &r, err, sizeof(err));
		c->opts.overrides = NULL;
		overrides_retention_free(ro, c->opts.n_overrides);
		if (crc)
			log_error("msg=\"compaction round failed; retrying next round\" err=\"%s\"", err);
		else if (r.compactions || r.retention_marked || r.deleted)
			log_info("msg=\"compaction round\" compactions=%zu blocks_compacted=%zu duplicates=%llu "
				 "retention_marked=%zu deleted=%zu",
				 r.compactions, r.blocks_compacted, (unsigned long long)r.duplicates, r.retention_marked,
				 r.deleted);
		pthread_mutex_lock(&c->mu);
		if (c->stop)
			break;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		int64_t ns = until.tv_nsec + c->interval_ns % 1000000000LL;
		until.tv_sec += (time_t)(c->interval_ns / 1000000000LL + ns / 1000000000LL);
		until.tv_nsec = (long)(ns % 1000000000LL);
		pthread_cond_timedwait(&c->cond, &c->mu, &until);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

int server_main(int argc, char **argv)
{
	int status = 1;
	struct config cfg;
	char err[600];
	struct wal *wal = NULL;
	struct objstore *bucket = NULL;
	struct store *store = NULL;
	struct ingest *ingest = NULL;
	struct overrides *overrides = NULL;
	struct cutter cutter = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	pthread_t cutter_thread;
	bool cutter_started = false;
	struct compactor compactor = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	pthread_t compactor_thread;
	bool compactor_started = false;
	struct api *api = NULL;
	struct http_server *http = NULL;
	config_init(&cfg);
	if (config_load(&cfg, argc, argv, err, sizeof(err)) || config_check(&cfg, err, sizeof(err))) {
		fprintf(stderr, "ember server: %s\n", err);
		status = 2;
		goto out;
	}
	enum log_level lvl;
	if (log_parse_level(cfg.log_level, &lvl)) {
		fprintf(stderr, "ember server: invalid -log.level=%s (debug, info, warn, error)\n", cfg.log_level);
		status = 2;
		goto out;
	}
	log_set_level(lvl);
	/* The runtime config (per-tenant limits) is loaded before anything else: a bad one
	 * stops the start, as in Pyroscope; later a bad edit only keeps the last good one. */
	overrides = overrides_new(&cfg);
	if (cfg.runtime_config_file[0]) {
		if (overrides_load_files(overrides, cfg.runtime_config_file, err, sizeof(err))) {
			fprintf(stderr, "ember server: %s\n", err);
			status = 2;
			goto out;
		}
		if (cfg.runtime_config_period_ns > 0 &&
		    overrides_start(overrides, cfg.runtime_config_file, cfg.runtime_config_period_ns))
			log_error("msg=\"cannot start the runtime config reloader\"");
	}
	log_info("msg=\"starting ember\" version=%s revision=%s target=%s dir=\"%s\"", EMBER_VERSION, EMBER_REVISION,
		 cfg.target, cfg.storage_dir);

	char wal_dir[4096];
	snprintf(wal_dir, sizeof(wal_dir), "%s/wal", cfg.storage_dir);
	if (mkdir_p(cfg.storage_dir)) {
		log_error("msg=\"cannot create the data directory\" dir=\"%s\" err=\"%s\"", cfg.storage_dir,
			  strerror(errno));
		goto out;
	}
	struct wal_options wo = wal_options_default();
	wo.sync = cfg.wal_sync;
	int rc = wal_open(wal_dir, &wo, &wal);
	if (rc) {
		log_error("msg=\"cannot open the WAL\" dir=\"%s\" err=\"%s\"", wal_dir, ember_strerror(rc));
		goto out;
	}
	struct ingest_limits lim;
	config_ingest_limits(&cfg, &lim);
	struct head_limits hl = {.max_stack_depth = lim.max_stack_depth, .max_symbol_len = lim.max_symbol_len,
				 .max_series = lim.max_series};
	struct objstore_config oc;
	config_objstore(&cfg, &oc);
	if ((rc = objstore_open(&oc, &bucket, err, sizeof(err))) != 0) {
		log_error("msg=\"cannot open the object store\" backend=%s err=\"%s\"", cfg.storage_backend, err);
		goto out;
	}
	struct store_config sc = {.dir = cfg.storage_dir, .bucket = bucket, .wal = wal, .head = hl,
				  .max_block_duration_ns = cfg.max_block_duration_ns,
				  .max_head_bytes = (size_t)cfg.max_head_bytes,
				  .max_block_cache_bytes = (size_t)cfg.max_block_cache_bytes};
	if ((rc = store_open(&sc, &store, err, sizeof(err))) != 0) {
		log_error("msg=\"cannot open the store\" err=\"%s\"", err);
		goto out;
	}
	ingest = ingest_new(store, wal, &lim);
	ingest_set_limits_fn(ingest, overrides_ingest_limits, overrides);
	size_t body_limit = (size_t)(cfg.body_limit_mb * 1024 * 1024);
	struct api_deps deps = {.store = store, .ingest = ingest, .wal = wal, .multitenancy = cfg.multitenancy,
				.max_body_bytes = body_limit ? body_limit : (size_t)1 << 30,
				.max_query_length_ns = cfg.max_query_length_ns,
				.max_query_lookback_ns = cfg.max_query_lookback_ns,
				.max_flamegraph_nodes_default = cfg.max_flamegraph_nodes_default,
				.max_flamegraph_nodes_max = cfg.max_flamegraph_nodes_max,
				.query_limits_fn = overrides_query_limits,
				.limits_ctx = overrides,
				.runtime_config_fn = overrides_yaml,
				.runtime_config_ctx = overrides};
	api = api_new(&deps);

	struct http_server_config hc = {
		.address = cfg.http_address,
		.port = (int)cfg.http_port,
		.max_body_bytes = body_limit ? body_limit : SIZE_MAX / 2,
		.read_timeout_ms = (int)(cfg.read_timeout_ns / 1000000),
		.idle_timeout_ms = (int)(cfg.idle_timeout_ns / 1000000),
		/* Handlers spend most of a write waiting for the WAL's fdatasync; enough workers
		 * must be waiting at once for group commit to batch them. */
		.workers = cfg.workers ? (int)cfg.workers : 8 * (int)sysconf(_SC_NPROCESSORS_ONLN),
		.on_response = api_on_response,
		.on_response_ctx = api,
	};
	rc = http_server_new(&hc, api_handle, api, &http);
	if (rc) {
		log_error("msg=\"cannot listen\" address=\"%s\" port=%lld err=\"%s\"", cfg.http_address,
			  (long long)cfg.http_port, strerror(errno));
		goto out;
	}

	/* Replay before serving: /ready says 503 until the head holds every acknowledged profile. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct replay_stats rst;
	rc = replay_wal(wal, ingest, 0, &rst);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc) {
		log_error("msg=\"WAL replay failed\" err=\"%s\"", ember_strerror(rc));
		goto out;
	}
	log_info("msg=\"WAL replayed\" records=%llu already_in_blocks=%llu skipped=%llu seconds=%.3f",
		 (unsigned long long)rst.applied, (unsigned long long)rst.in_blocks, (unsigned long long)rst.skipped,
		 (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	cutter.store = store;
	cutter_started = pthread_create(&cutter_thread, NULL, cutter_main, &cutter) == 0;
	if (cfg.compaction_interval_ns > 0) {
		size_t n_ranges = 0;
		if (config_block_ranges(&cfg, compactor.ranges, CONFIG_MAX_BLOCK_RANGES, &n_ranges, err, sizeof(err)))
			n_ranges = 0; /* config_check has accepted them already */
		compactor.store = store;
		compactor.overrides = overrides;
		compactor.interval_ns = cfg.compaction_interval_ns;
		compactor.opts = (struct store_compact_options){.ranges_ns = compactor.ranges, .n_ranges = n_ranges,
								.deletion_delay_ns = cfg.deletion_delay_ns,
								.retention_ns = cfg.retention_ns};
		compactor_started = pthread_create(&compactor_thread, NULL, compactor_main, &compactor) == 0;
	}
	api_set_ready(api, true);

	running = http;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("msg=\"listening\" address=\"%s\" port=%d", cfg.http_address[0] ? cfg.http_address : "0.0.0.0",
		 http_server_port(http));
	rc = http_server_run(http);
	running = NULL;
	log_info("msg=\"shutting down\" drained=%s", rc ? "no" : "yes");
	status = 0;
out:
	if (compactor_started) {
		pthread_mutex_lock(&compactor.mu);
		compactor.stop = true;
		pthread_cond_signal(&compactor.cond);
		pthread_mutex_unlock(&compactor.mu);
		pthread_join(compactor_thread, NULL);
	}
	if (cutter_started) {
		pthread_mutex_lock(&cutter.mu);
		cutter.stop = true;
		pthread_cond_signal(&cutter.cond);
		pthread_mutex_unlock(&cutter.mu);
		pthread_join(cutter_thread, NULL);
	}
	http_server_free(http);
	api_free(api);
	ingest_free(ingest);
	overrides_free(overrides); /* after every thread that reads it */
	wal_close(wal); /* syncs */
	store_close(store);
	objstore_close(bucket);
	config_release(&cfg);
	return status;
}
