/* pusher.c: the agent's sending thread (pusher.h). */
#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

#include "agent/pusher.h"
#include "util/log.h"
#include "util/common.h"

struct req {
	uint8_t *body;
	size_t n;
	struct req *next;
};

struct pusher {
	char *url, *tenant_hdr;
	size_t max_bytes;
	unsigned timeout_ms, backoff_min, backoff_max;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req *head, *tail;
	bool stop, busy;
	struct pusher_stats st;
};

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
	(void)p, (void)ud;
	return sz * n;
}

/* 0 = accepted; 1 = retry; -1 = refused for good. */
static int send_once(struct pusher *p, CURL *c, const struct req *r, long *status, char *err, size_t errlen)
{
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "Content-Type: application/proto");
	h = curl_slist_append(h, "Connect-Protocol-Version: 1");
	if (p->tenant_hdr)
		h = curl_slist_append(h, p->tenant_hdr);
	curl_easy_setopt(c, CURLOPT_URL, p->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)r->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->n);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)EMBER_MIN(p->timeout_ms, 5000u));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	*status = 0;
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		return 1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 200 && *status < 300)
		return 0;
	snprintf(err, errlen, "HTTP %ld", *status);
	if (*status == 429 || *status == 408 || *status >= 500)
		return 1;
	return -1;
}

static void *run(void *arg)
{
	struct pusher *p = arg;
	CURL *c = curl_easy_init();
	unsigned backoff = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		/* Take the oldest request out while sending it, so that a full queue can drop
		 * what is behind it without touching the one on the wire. */
		struct req *r = p->head;
		p->head = r->next;
		if (!p->head)
			p->tail = NULL;
		p->busy = true;
		pthread_mutex_unlock(&p->mu);

		long status;
		char err[256];
		int res = c ? send_once(p, c, r, &status, err, sizeof(err)) : 1;

		pthread_mutex_lock(&p->mu);
		p->busy = false;
		if (res == 0) {
			p->st.sent++;
			p->st.bytes_sent += r->n;
			p->st.queued--;
			p->st.queued_bytes -= r->n;
			backoff = 0;
			free(r->body);
			free(r);
		} else if (res < 0) {
			p->st.rejected++;
			p->st.queued--;
			p->st.queued_bytes -= r->n;
			log_error("msg=\"push refused by the server; dropping the request\" url=%s error=\"%s\" bytes=%zu",
				  p->url, err, r->n);
			free(r->body);
			free(r);
		} else {
			p->st.retries++;
			/* back to the front: order is kept */
			r->next = p->head;
			p->head = r;
			if (!p->tail)
				p->tail = r;
			backoff = backoff ? EMBER_MIN(backoff * 2, p->backoff_max) : p->backoff_min;
			log_warn("msg=\"push failed; will retry\" url=%s error=\"%s\" retry_in_ms=%u queued=%llu", p->url,
				 err, backoff, (unsigned long long)p->st.queued);
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)backoff * 1000000ull;
			ts.tv_sec += (time_t)(ns / 1000000000ull);
			ts.tv_nsec = (long)(ns % 1000000000ull);
			while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0) {
				/* woken by an enqueue: keep waiting out the backoff */
			}
		}
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct pusher *pusher_new(const struct pusher_opts *o, char *err, size_t errlen)
{
	if (!o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8))) {
		snprintf(err, errlen, "--server must be an http:// or https:// URL, got \"%s\"", o->url ? o->url : "");
		return NULL;
	}
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, curl_init_once);
	struct pusher *p = xcalloc(1, sizeof(*p));
	size_t n = strlen(o->url);
	while (n && o->url[n - 1] == '/')
		n--;
	p->url = xasprintf("%.*s/push.v1.PusherService/Push", (int)n, o->url);
	if (o->tenant && o->tenant[0])
		p->tenant_hdr = xasprintf("X-Scope-OrgID: %s", o->tenant);
	p->max_bytes = o->max_queue_bytes ? o->max_queue_bytes : 64u << 20;
	p->timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	p->backoff_min = o->backoff_min_ms ? o->backoff_min_ms : 500;
	p->backoff_max = o->backoff_max_ms ? o->backoff_max_ms : 30000;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, run, p)) {
		snprintf(err, errlen, "cannot start the pusher thread");
		free(p->url);
		free(p->tenant_hdr);
		free(p);
		return NULL;
	}
	return p;
}

void pusher_enqueue(struct pusher *p, uint8_t *body, size_t n)
{
	struct req *r = xcalloc(1, sizeof(*r));
	r->body = body;
	r->n = n;
	pthread_mutex_lock(&p->mu);
	/* Drop oldest queued (never the one being sent: it is not in the list). */
	while (p->head && p->st.queued_bytes + n > p->max_bytes) {
		struct req *old = p->head;
		p->head = old->next;
		if (!p->head)
			p->tail = NULL;
		p->st.queued--;
		p->st.queued_bytes -= old->n;
		p->st.dropped_full++;
		log_warn("msg=\"push queue full; dropped the oldest request\" bytes=%zu dropped_total=%llu", old->n,
			 (unsigned long long)p->st.dropped_full);
		free(old->body);
		free(old);
	}
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	p->st.queued++;
	p->st.queued_bytes += n;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

bool pusher_flush(struct pusher *p, unsigned timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)timeout_ms * 1000000ull;
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	pthread_mutex_lock(&p->mu);
	while (p->st.queued && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0) {
	}
	bool empty = p->st.queued == 0;
	pthread_mutex_unlock(&p->mu);
	return empty;
}

void pusher_get_stats(struct pusher *p, struct pusher_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	pthread_mutex_unlock(&p->mu);
}

void pusher_free(struct pusher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	for (struct req *r = p->head, *nx; r; r = nx) {
		nx = r->next;
		free(r->body);
		free(r);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->url);
	free(p->tenant_hdr);
	free(p);
}
