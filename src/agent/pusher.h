/* pusher: sends Push API requests (/push.v1.PusherService/Push, application/proto) to the
 * server from a background thread, riding out outages with retries, exponential backoff
 * and a bounded in-memory queue that drops its oldest request (counted) when full. */
#ifndef EMBER_AGENT_PUSHER_H
#define EMBER_AGENT_PUSHER_H

#include "util/common.h"

struct pusher_opts {
	const char *url;         /* server base URL, e.g. http://127.0.0.1:4040 (copied) */
	const char *tenant;      /* X-Scope-OrgID; NULL or "" = none (copied) */
	size_t max_queue_bytes;  /* bound of the queue; 0 = 64 MiB */
	unsigned timeout_ms;     /* per request; 0 = 10000 */
	unsigned backoff_min_ms; /* first retry delay; 0 = 500 */
	unsigned backoff_max_ms; /* retry delay cap; 0 = 30000 */
};

struct pusher_stats {
	uint64_t sent;          /* requests the server accepted */
	uint64_t bytes_sent;
	uint64_t retries;       /* failed attempts that will be retried (network, 5xx, 429) */
	uint64_t rejected;      /* requests the server refused for good (other 4xx): dropped */
	uint64_t dropped_full;  /* requests dropped, oldest first, because the queue was full */
	uint64_t queued, queued_bytes; /* now in the queue */
};

struct pusher;

/** Starts the sending thread. Caller owns the result (pusher_free). Never fails on valid
 * options (aborts on out of memory); returns NULL with a message in err only when the
 * URL is unusable. */
struct pusher *pusher_new(const struct pusher_opts *opts, char *err, size_t errlen);

/** Queues one serialized PushRequest; takes ownership of body (malloc'd). When the queue
 * would pass its bound, the oldest requests are dropped and counted. Thread-safe. */
void pusher_enqueue(struct pusher *p, uint8_t *body, size_t n);

/** Waits until the queue is empty or timeout_ms passed; returns true when empty. */
bool pusher_flush(struct pusher *p, unsigned timeout_ms);

/** Counters so far. Thread-safe. */
void pusher_get_stats(struct pusher *p, struct pusher_stats *out);

/** Stops the thread (an attempt in progress finishes) and frees everything, queued
 * requests included. NULL-safe. */
void pusher_free(struct pusher *p);

#endif
