#include <pthread.h>
#include <unistd.h>

#include "server/replay.h"
#include "util/log.h"

/* A bounded queue of copied records between the WAL reader and the workers. */
#define REPLAY_MAX_QUEUED 256
#define REPLAY_MAX_BYTES (64u << 20)

struct item {
	uint8_t *rec;
	size_t n;
	uint64_t lsn;
};

struct replay {
	struct ingest *ing;
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct item q[REPLAY_MAX_QUEUED];
	size_t head, count, bytes;
	bool done;
	struct replay_stats stats; /* under mu */
};

static void apply(struct replay *r, const struct item *it)
{
	char err[600];
	bool in_block = false;
	int rc = ingest_replay_record(r->ing, it->rec, it->n, wal_lsn_segment(it->lsn), &in_block, err, sizeof(err));
	if (rc)
		log_warn("msg=\"skipping WAL record\" lsn=%llu reason=\"%s\"", (unsigned long long)it->lsn, err);
	pthread_mutex_lock(&r->mu);
	if (rc)
		r->stats.skipped++;
	else if (in_block)
		r->stats.in_blocks++;
	else
		r->stats.applied++;
	pthread_mutex_unlock(&r->mu);
}

static void *worker(void *arg)
{
	struct replay *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (!r->count && !r->done)
			pthread_cond_wait(&r->not_empty, &r->mu);
		if (!r->count) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		struct item it = r->q[r->head];
		r->head = (r->head + 1) % REPLAY_MAX_QUEUED;
		r->count--;
		r->bytes -= it.n;
		pthread_cond_signal(&r->not_full);
		pthread_mutex_unlock(&r->mu);
		apply(r, &it);
		free(it.rec);
	}
}

/* The WAL callback: copies the record (it is only valid during the call) into the queue,
 * waiting while the queue is full. A record larger than the byte bound goes in alone. */
static int enqueue(void *ctx, const uint8_t *rec, size_t n, uint64_t lsn)
{
	struct replay *r = ctx;
	struct item it = {xmalloc(n + 1), n, lsn};
	memcpy(it.rec, rec, n);
	pthread_mutex_lock(&r->mu);
	while (r->count == REPLAY_MAX_QUEUED || (r->count && r->bytes + n > REPLAY_MAX_BYTES))
		pthread_cond_wait(&r->not_full, &r->mu);
	r->q[(r->head + r->count) % REPLAY_MAX_QUEUED] = it;
	r->count++;
	r->bytes += n;
	pthread_cond_signal(&r->not_empty);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static int apply_now(void *ctx, const uint8_t *rec, size_t n, uint64_t lsn)
{
	struct item it = {(uint8_t *)rec, n, lsn};
	apply(ctx, &it);
	return 0;
}

int replay_wal(struct wal *wal, struct ingest *ing, int threads, struct replay_stats *stats)
{
	if (threads <= 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads <= 0)
		threads = 1;
	struct replay *r = xcalloc(1, sizeof(*r));
	r->ing = ing;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->not_empty, NULL);
	pthread_cond_init(&r->not_full, NULL);
	pthread_t *th = xcalloc((size_t)threads, sizeof(*th));
	int started = 0;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, worker, r) == 0)
			started++;
	/* Should no worker start, records are applied on this thread as they are read. */
	int rc = wal_replay(wal, started ? enqueue : apply_now, r);
	pthread_mutex_lock(&r->mu);
	r->done = true;
	pthread_cond_broadcast(&r->not_empty);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	*stats = r->stats;
	pthread_cond_destroy(&r->not_empty);
	pthread_cond_destroy(&r->not_full);
	pthread_mutex_destroy(&r->mu);
	free(th);
	free(r);
	return rc;
}
