/* scrape: the pull-mode loop (libcurl multi for the fetches of a round, one Push per
 * round); see scrape.h and docs/internals/agent.md. */
#include <curl/curl.h>
#include <time.h>
#include <unistd.h>

#include "agent/scrape.h"
#include "push.pb-c.h"
#include "util/gzip.h"
#include "util/log.h"
#include "util/common.h"

enum kind { K_CPU, K_HEAP, K_GOROUTINE, K_MUTEX, K_BLOCK, K_N };

static const char *const kind_path[K_N] = {
	"/debug/pprof/profile?seconds=%d", "/debug/pprof/heap", "/debug/pprof/goroutine",
	"/debug/pprof/mutex", "/debug/pprof/block"};
/* __name__ as Pyroscope's pull mode (Alloy pyroscope.scrape) names the profiles. */
static const char *const kind_name[K_N] = {"process_cpu", "memory", "goroutine", "mutex",
					   "block"};

struct target {
	char *base;
	char *instance; /* host:port */
	struct scrape_delta *delta[K_N];
};

struct fetch {
	CURL *h;
	struct target *t;
	enum kind k;
	struct buf body;
	size_t max;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct fetch *f = ud;
	size_t len = sz * n;
	if (f->body.n + len > f->max) {
		f->too_big = true;
		return 0;
	}
	buf_append(&f->body, p, len);
	return len;
}

static char *instance_of(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/?#");
	return xstrndup(p, n);
}

static void sleep_until(double deadline, volatile sig_atomic_t *stop)
{
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		if (*stop || now >= deadline)
			return;
		double left = EMBER_MIN(deadline - now, 0.1);
		usleep((useconds_t)(left * 1e6));
	}
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct series_out {
	const char *name;
	const char *instance;
	bool delta;
	struct buf prof; /* gzipped pprof */
};

static int push(const struct scrape_opts *o, const char *service, struct series_out *so,
		size_t n)
{
	int rc = EMBER_EIO;
	if (n == 0)
		return 0;
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
	Push__V1__RawProfileSeries *series = xcalloc(n, sizeof(*series));
	Push__V1__RawProfileSeries **sp = xcalloc(n, sizeof(*sp));
	Push__V1__RawSample *samples = xcalloc(n, sizeof(*samples));
	Push__V1__RawSample **ssp = xcalloc(n, sizeof(*ssp));
	Types__V1__LabelPair *labels = xcalloc(n * 4, sizeof(*labels));
	Types__V1__LabelPair **lp = xcalloc(n * 4, sizeof(*lp));
	for (size_t i = 0; i < n; i++) {
		Push__V1__RawProfileSeries s = PUSH__V1__RAW_PROFILE_SERIES__INIT;
		Push__V1__RawSample r = PUSH__V1__RAW_SAMPLE__INIT;
		r.raw_profile.data = so[i].prof.p;
		r.raw_profile.len = so[i].prof.n;
		samples[i] = r;
		ssp[i] = &samples[i];
		size_t nl = 0;
		const char *kv[4][2] = {{"__name__", so[i].name},
					{"service_name", service},
					{"instance", so[i].instance},
					{"__delta__", "false"}};
		for (size_t j = 0; j < (so[i].delta ? 4u : 3u); j++) {
			Types__V1__LabelPair l = TYPES__V1__LABEL_PAIR__INIT;
			l.name = (char *)kv[j][0];
			l.value = (char *)kv[j][1];
			labels[i * 4 + j] = l;
			lp[i * 4 + j] = &labels[i * 4 + j];
			nl++;
		}
		s.labels = &lp[i * 4];
		s.n_labels = nl;
		s.samples = &ssp[i];
		s.n_samples = 1;
		series[i] = s;
		sp[i] = &series[i];
	}
	req.series = sp;
	req.n_series = n;
	size_t len = push__v1__push_request__get_packed_size(&req);
	uint8_t *body = xmalloc(len ? len : 1);
	push__v1__push_request__pack(&req, body);

	char *url = xasprintf("%s/push.v1.PusherService/Push", o->server_url);
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/proto");
	char *tenant = NULL;
	if (o->tenant) {
		tenant = xasprintf("X-Scope-OrgID: %s", o->tenant);
		hdr = curl_slist_append(hdr, tenant);
	}
	struct fetch resp = {.max = 1 << 20};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	CURLcode cc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK)
		log_warn("scrape: push to %s failed: %s", url, curl_easy_strerror(cc));
	else if (code != 200)
		log_warn("scrape: push to %s answered %ld: %.*s", url, code,
			 (int)EMBER_MIN(resp.body.n, 300), (const char *)resp.body.p);
	else
		rc = 0;
	buf_release(&resp.body);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(tenant);
	free(url);
	free(body);
	free(lp);
	free(labels);
	free(ssp);
	free(samples);
	free(sp);
	free(series);
	return rc;
}

int scrape_run(const struct scrape_opts *o, volatile sig_atomic_t *stop)
{
	if (!o || o->n_targets == 0 || !o->server_url)
		return EMBER_EINVAL;
	int interval = o->interval_s > 0 ? o->interval_s : 15;
	size_t max_body = o->max_body ? o->max_body : 64u << 20;
	char host[256] = "unknown_service";
	if (!o->service_name && gethostname(host, sizeof(host) - 1) != 0)
		memcpy(host, "unknown_service", 16);
	host[sizeof(host) - 1] = '\0';
	const char *service = o->service_name ? o->service_name : host;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct target *ts = xcalloc(o->n_targets, sizeof(*ts));
	for (size_t i = 0; i < o->n_targets; i++) {
		size_t n = strlen(o->targets[i]);
		while (n && o->targets[i][n - 1] == '/')
			n--;
		ts[i].base = xstrndup(o->targets[i], n);
		ts[i].instance = instance_of(ts[i].base);
		for (int k = 0; k < K_N; k++)
			ts[i].delta[k] = scrape_delta_new();
	}
	size_t nf = o->n_targets * K_N;
	struct fetch *fs = xcalloc(nf, sizeof(*fs));
	struct series_out *so = xcalloc(nf, sizeof(*so));
	CURLM *m = curl_multi_init();
	log_info("scrape: %zu target(s) every %d s, pushing to %s as service_name=%s",
		 o->n_targets, interval, o->server_url, service);
	for (int round = 0; !*stop && (o->max_rounds == 0 || round < o->max_rounds); round++) {
		double start = mono_now();
		for (size_t i = 0; i < nf; i++) {
			struct fetch *f = &fs[i];
			*f = (struct fetch){.t = &ts[i / K_N], .k = (enum kind)(i % K_N), .max = max_body};
			char path[128];
			snprintf(path, sizeof(path), kind_path[f->k], interval);
			char *url = xasprintf("%s%s", f->t->base, path);
			f->h = curl_easy_init();
			curl_easy_setopt(f->h, CURLOPT_URL, url);
			curl_easy_setopt(f->h, CURLOPT_ACCEPT_ENCODING, "");
			curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
			curl_easy_setopt(f->h, CURLOPT_CONNECTTIMEOUT, 5L);
			curl_easy_setopt(f->h, CURLOPT_TIMEOUT, (long)(interval + 10));
			curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, on_data);
			curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
			curl_easy_setopt(f->h, CURLOPT_ERRORBUFFER, f->errbuf);
			curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
			curl_multi_add_handle(m, f->h);
			free(url);
		}
		int running = 1;
		while (running && !*stop) {
			curl_multi_perform(m, &running);
			if (running)
				curl_multi_poll(m, NULL, 0, 100, NULL);
		}
		size_t nout = 0;
		for (size_t i = 0; i < nf; i++) {
			struct fetch *f = &fs[i];
			long code = 0;
			curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &code);
			CURLMsg *msg;
			int q;
			while ((msg = curl_multi_info_read(m, &q)) != NULL) {
			}
			curl_multi_remove_handle(m, f->h);
			if (*stop || code != 200 || f->body.n == 0) {
				if (!*stop)
					log_warn("scrape: %s %s: %s (HTTP %ld)%s", f->t->base,
						 kind_name[f->k], f->errbuf[0] ? f->errbuf : "no profile",
						 code, f->too_big ? ", body too large" : "");
				goto next;
			}
			struct series_out *s = &so[nout];
			*s = (struct series_out){.name = kind_name[f->k], .instance = f->t->instance};
			if (f->k == K_HEAP || f->k == K_MUTEX || f->k == K_BLOCK) {
				bool send = false;
				int rc = scrape_delta_apply(f->t->delta[f->k], slice_make(f->body.p, f->body.n),
							    f->k != K_HEAP, &s->prof, &send);
				if (rc < 0) {
					log_warn("scrape: %s %s: %s", f->t->base, kind_name[f->k],
						 ember_strerror(rc));
					buf_release(&s->prof);
					goto next;
				}
				if (!send) {
					buf_release(&s->prof);
					goto next;
				}
				s->delta = true;
			} else {
				buf_append(&s->prof, f->body.p, f->body.n);
			}
			nout++;
		next:
			buf_release(&f->body);
			curl_easy_cleanup(f->h);
			f->h = NULL;
		}
		if (!*stop && push(o, service, so, nout) == 0)
			log_debug("scrape: pushed %zu profile(s)", nout);
		for (size_t i = 0; i < nout; i++)
			buf_release(&so[i].prof);
		if (o->max_rounds && round + 1 >= o->max_rounds)
			break;
		sleep_until(start + interval, stop);
	}
	curl_multi_cleanup(m);
	for (size_t i = 0; i < o->n_targets; i++) {
		free(ts[i].base);
		free(ts[i].instance);
		for (int k = 0; k < K_N; k++)
			scrape_delta_free(ts[i].delta[k]);
	}
	free(ts);
	free(fs);
	free(so);
	return 0;
}
