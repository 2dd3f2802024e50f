#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "http/server.h"
#include "util/log.h"

#define DEFAULT_READ_TIMEOUT_MS 30000
#define DEFAULT_IDLE_TIMEOUT_MS 120000
#define DEFAULT_MAX_CONNECTIONS 10000
/* After a response that closes the connection with request bytes still unread, the
 * socket is half-closed and drained this long, so the peer reads the response rather
 * than a reset. */
#define LINGER_MS 2000
#define SCRATCH_BYTES (64 * 1024)
#define READS_PER_EVENT 4
#define MAX_EVENTS 256
#define ACCEPT_PAUSE_MS 100
/* Connections past max_connections that are being sent a 503 (each for at most
 * LINGER_MS); past this many more, new connections are closed without a word. */
#define MAX_REJECTING 64

enum conn_state { CS_READING, CS_PROCESSING, CS_WRITING, CS_LINGER, CS_CLOSED };
enum timer_kind { TL_READ, TL_IDLE, TL_LINGER, TL_COUNT };

struct conn {
	struct http_server *srv;
	int fd;
	enum conn_state state;
	uint32_t events;        /* registered with epoll */
	bool registered;
	bool hup;               /* peer gone while a worker holds the request */
	bool exchange;          /* req/resp hold a request being answered */
	bool keep_alive;        /* after the current response */
	bool linger_after;      /* drain before closing */
	bool rejected;          /* over max_connections: only gets a 503 */
	unsigned n_requests;
	struct conn *prev, *next;   /* all connections */
	struct conn *tprev, *tnext; /* timer list */
	int tkind;                  /* enum timer_kind, -1 = none */
	int64_t deadline;           /* ms, monotonic */
	struct conn *qnext;         /* job queue, done queue, or graveyard */
	struct http_reqparser *rp;
	struct buf pending;         /* bytes read past a complete request */
	size_t pending_off;
	struct buf out;             /* interim + head bytes to send, then body */
	size_t out_off;
	const uint8_t *body;
	size_t body_n, body_off;
	struct http_request req;
	struct http_response resp;
	struct timespec t0;
	char remote[64];
};

struct tlist {
	struct conn *head, *tail;
	int timeout_ms;
};

struct http_server {
	struct http_server_config cfg;
	struct http_parse_limits lim;
	http_handler_fn handler;
	void *ctx;
	int listen_fd, epfd, wake_fd;
	int port;
	atomic_int stop_requested;
	atomic_int ran;
	bool stopping;
	bool accept_paused;
	int64_t accept_resume_at;
	struct conn *conns; /* all, doubly linked */
	size_t n_conns;
	size_t n_rejected;  /* of n_conns, those only getting a 503 */
	struct tlist tl[TL_COUNT];
	struct conn *graveyard;
	uint8_t *scratch;
	char date[40];
	time_t date_sec;
	/* worker pool: mu guards the two queues and pool_stop */
	pthread_t *threads;
	int n_threads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct conn *job_head, *job_tail;
	struct conn *done_head, *done_tail;
	bool pool_stop;
};

/* Tags for epoll data that are not connections. */
static char listen_tag, wake_tag;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- timers: one list per kind; each kind has one timeout, so appending keeps the
 * list sorted by deadline and expiry only looks at heads. -------------------------- */

static void timer_clear(struct http_server *s, struct conn *c)
{
	if (c->tkind < 0)
		return;
	struct tlist *l = &s->tl[c->tkind];
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		l->head = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	else
		l->tail = c->tprev;
	c->tprev = c->tnext = NULL;
	c->tkind = -1;
}

static void timer_set(struct http_server *s, struct conn *c, enum timer_kind kind)
{
	timer_clear(s, c);
	struct tlist *l = &s->tl[kind];
	c->tkind = (int)kind;
	c->deadline = now_ms() + l->timeout_ms;
	c->tprev = l->tail;
	c->tnext = NULL;
	if (l->tail)
		l->tail->tnext = c;
	else
		l->head = c;
	l->tail = c;
}

/* ---- worker pool ------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct http_server *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->job_head && !s->pool_stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->job_head)
			break; /* pool_stop and nothing left */
		struct conn *c = s->job_head;
		s->job_head = c->qnext;
		if (!s->job_head)
			s->job_tail = NULL;
		c->qnext = NULL;
		pthread_mutex_unlock(&s->mu);

		s->handler(s->ctx, &c->req, &c->resp);

		pthread_mutex_lock(&s->mu);
		if (s->done_tail)
			s->done_tail->qnext = c;
		else
			s->done_head = c;
		s->done_tail = c;
		uint64_t one = 1;
		ssize_t w = write(s->wake_fd, &one, sizeof(one));
		(void)w; /* EAGAIN only if the counter is saturated: the loop is awake anyway */
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void pool_submit(struct http_server *s, struct conn *c)
{
	pthread_mutex_lock(&s->mu);
	c->qnext = NULL;
	if (s->job_tail)
		s->job_tail->qnext = c;
	else
		s->job_head = c;
	s->job_tail = c;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- connections ------------------------------------------------------------------- */

static void conn_set_events(struct conn *c, uint32_t ev)
{
	if (!c->registered || c->events == ev)
		return;
	struct epoll_event e = {.events = ev, .data.ptr = c};
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
		c->events = ev;
	else
		log_warn("msg=\"epoll_ctl mod failed\" err=\"%s\"", strerror(errno));
}

static bool out_pending(const struct conn *c)
{
	return c->out_off < c->out.n || c->body_off < c->body_n;
}

static void conn_update_events(struct conn *c)
{
	uint32_t ev = 0;
	switch (c->state) {
	case CS_READING:
		ev = EPOLLIN | (out_pending(c) ? EPOLLOUT : 0);
		break;
	case CS_PROCESSING:
		ev = out_pending(c) ? EPOLLOUT : 0;
		break;
	case CS_WRITING:
		ev = EPOLLOUT;
		break;
	case CS_LINGER:
		ev = EPOLLIN;
		break;
	case CS_CLOSED:
		return;
	}
	conn_set_events(c, ev);
}

static void conn_unregister(struct conn *c)
{
	if (!c->registered)
		return;
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->registered = false;
}

static double elapsed_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Ends the current exchange: reports it and frees the request and response. */
static void finish_exchange(struct conn *c)
{
	if (!c->exchange)
		return;
	struct http_server *s = c->srv;
	if (s->cfg.on_response)
		s->cfg.on_response(s->cfg.on_response_ctx, &c->req, c->resp.status,
				   elapsed_since(&c->t0));
	http_request_release(&c->req);
	http_response_release(&c->resp);
	c->exchange = false;
	c->out.n = c->out_off = 0;
	if (c->out.cap > 16 * 1024)
		buf_release(&c->out);
	c->body = NULL;
	c->body_n = c->body_off = 0;
}

static void conn_close(struct conn *c)
{
	struct http_server *s = c->srv;
	if (c->state == CS_CLOSED)
		return;
	if (c->state == CS_PROCESSING) {
		/* A worker owns req/resp: forget the socket's events now, close when it is
		 * done. */
		conn_unregister(c);
		c->hup = true;
		return;
	}
	finish_exchange(c);
	timer_clear(s, c);
	conn_unregister(c);
	close(c->fd);
	c->fd = -1;
	c->state = CS_CLOSED;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	s->n_conns--;
	if (c->rejected)
		s->n_rejected--;
	/* Freed after the current batch of events, which may still mention it. */
	c->qnext = s->graveyard;
	s->graveyard = c;
}

static void conn_free(struct conn *c)
{
	http_reqparser_free(c->rp);
	buf_release(&c->pending);
	buf_release(&c->out);
	http_request_release(&c->req);
	http_response_release(&c->resp);
	free(c);
}

static void start_linger(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->state = CS_LINGER;
	c->pending.n = c->pending_off = 0;
	timer_set(c->srv, c, TL_LINGER);
	conn_update_events(c);
}

static void response_done(struct conn *c);

/* Sends what is queued. Returns 1 when everything is out, 0 on EAGAIN (EPOLLOUT armed),
 * -1 when the connection failed. */
static int conn_flush(struct conn *c)
{
	bool progress = false;
	while (out_pending(c)) {
		struct iovec iov[2];
		int n = 0;
		if (c->out_off < c->out.n)
			iov[n++] = (struct iovec){c->out.p + c->out_off, c->out.n - c->out_off};
		if (c->body_off < c->body_n)
			iov[n++] = (struct iovec){(void *)(c->body + c->body_off), c->body_n - c->body_off};
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (progress && c->state == CS_WRITING)
					timer_set(c->srv, c, TL_READ);
				conn_update_events(c);
				return 0;
			}
			return -1;
		}
		progress = true;
		size_t left = (size_t)w, a = EMBER_MIN(left, c->out.n - c->out_off);
		c->out_off += a;
		left -= a;
		c->body_off += left;
	}
	c->out.n = c->out_off = 0;
	c->body = NULL;
	c->body_n = c->body_off = 0;
	conn_update_events(c);
	return 1;
}

/* Flushes and moves on when a response is complete. */
static void conn_write(struct conn *c)
{
	int r = conn_flush(c);
	if (r < 0) {
		conn_close(c);
		return;
	}
	if (r > 0 && c->state == CS_WRITING)
		response_done(c);
}

static void update_date(struct http_server *s)
{
	time_t t = time(NULL);
	if (t == s->date_sec)
		return;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	s->date_sec = t;
}

/* Queues resp (already filled) as the answer to the current exchange and starts
 * writing it. */
static void send_response(struct conn *c)
{
	struct http_server *s = c->srv;
	if (c->resp.status < 200 || c->resp.status > 599)
		c->resp.status = 500;
	update_date(s);
	http_response_format_head(&c->resp, c->req.http_minor, c->keep_alive, s->date, &c->out);
	if (http_response_has_body(c->resp.status, c->req.is_head)) {
		c->body = c->resp.body.p;
		c->body_n = c->resp.body.n;
		c->body_off = 0;
	}
	c->state = CS_WRITING;
	timer_set(s, c, TL_READ);
	conn_write(c);
}

/* Answers with one of the server's own errors and closes afterwards. */
static void send_error(struct conn *c, int status, const char *message)
{
	finish_exchange(c);
	memset(&c->req, 0, sizeof(c->req));
	c->req.remote_addr = c->remote;
	c->req.http_minor = 1;
	http_response_init(&c->resp);
	http_response_set_error(&c->resp, status, http_status_error_code(status), message);
	c->exchange = true;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->keep_alive = false;
	c->linger_after = true;
	send_response(c);
}

static void dispatch(struct conn *c)
{
	struct http_server *s = c->srv;
	http_reqparser_take(c->rp, &c->req);
	c->req.remote_addr = c->remote;
	http_response_init(&c->resp);
	c->exchange = true;
	c->n_requests++;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->state = CS_PROCESSING;
	timer_clear(s, c);
	conn_update_events(c);
	pool_submit(s, c);
}

/* Feeds data to the parser while the connection is reading. Returns how many bytes were
 * used: fewer than n when a request completed (it is dispatched) with more bytes behind
 * it, which the caller keeps for later. */
static size_t conn_feed(struct conn *c, const uint8_t *data, size_t n)
{
	size_t used = 0;
	int rc = http_reqparser_feed(c->rp, data, n, &used);
	if (rc == HTTP_FEED_DONE) {
		dispatch(c);
		return used;
	}
	if (rc < 0) {
		int status;
		const char *msg;
		http_reqparser_error(c->rp, &status, &msg);
		send_error(c, status, msg);
		return n;
	}
	if (http_reqparser_take_continue(c->rp)) {
		buf_append_cstr(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
		if (conn_flush(c) < 0) {
			conn_close(c);
			return n;
		}
	}
	if (http_reqparser_in_message(c->rp)) {
		if (c->tkind != TL_READ)
			timer_set(c->srv, c, TL_READ);
	}
	return n;
}

/* Back to reading after a kept-alive response: pipelined bytes first. */
static void resume_reading(struct conn *c)
{
	struct http_server *s = c->srv;
	c->state = CS_READING;
	timer_set(s, c, TL_IDLE);
	if (c->pending_off < c->pending.n) {
		size_t used = conn_feed(c, c->pending.p + c->pending_off, c->pending.n - c->pending_off);
		if (c->state == CS_CLOSED)
			return;
		c->pending_off += used;
	}
	if (c->pending_off >= c->pending.n) {
		c->pending.n = c->pending_off = 0;
		if (c->pending.cap > SCRATCH_BYTES)
			buf_release(&c->pending);
	}
	conn_update_events(c);
}

static void response_done(struct conn *c)
{
	struct http_server *s = c->srv;
	finish_exchange(c);
	if (c->keep_alive && !s->stopping) {
		resume_reading(c);
		return;
	}
	if (c->linger_after || c->pending_off < c->pending.n)
		start_linger(c);
	else
		conn_close(c);
}

/* A worker finished c's handler. */
static void on_done(struct conn *c)
{
	struct http_server *s = c->srv;
	c->state = CS_WRITING; /* the worker is done with req/resp */
	if (c->hup) {
		conn_close(c);
		return;
	}
	c->keep_alive = c->req.keep_alive && !s->stopping;
	c->linger_after = false;
	send_response(c);
}

static void on_readable(struct conn *c)
{
	struct http_server *s = c->srv;
	for (int i = 0; i < READS_PER_EVENT; i++) {
		ssize_t r = recv(c->fd, s->scratch, SCRATCH_BYTES, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			return;
		}
		if (r == 0) {
			/* EOF: an unfinished request can not be answered usefully. */
			conn_close(c);
			return;
		}
		if (c->state == CS_LINGER)
			continue; /* discard */
		size_t used = conn_feed(c, s->scratch, (size_t)r);
		if (used < (size_t)r && c->state != CS_CLOSED)
			buf_append(&c->pending, s->scratch + used, (size_t)r - used);
		if (c->state != CS_READING)
			return;
	}
}

static void on_conn_event(struct conn *c, uint32_t ev)
{
	if (c->state == CS_CLOSED)
		return;
	if (c->state == CS_PROCESSING) {
		if (ev & (EPOLLHUP | EPOLLERR)) {
			conn_close(c); /* marks hup, closes after the worker */
			return;
		}
		if (ev & EPOLLOUT) {
			if (conn_flush(c) < 0)
				conn_close(c);
		}
		return;
	}
	if ((ev & EPOLLERR) || ((ev & EPOLLHUP) && !(ev & EPOLLIN))) {
		conn_close(c);
		return;
	}
	if (ev & EPOLLOUT) {
		conn_write(c);
		if (c->state == CS_CLOSED)
			return;
	}
	if ((ev & (EPOLLIN | EPOLLHUP)) && (c->state == CS_READING || c->state == CS_LINGER))
		on_readable(c);
}

static void format_remote(const struct sockaddr_storage *ss, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "";
	int port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		port = ntohs(a->sin_port);
		snprintf(out, n, "%s:%d", ip, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
		snprintf(out, n, "[%s]:%d", ip, port);
	} else {
		out[0] = '\0';
	}
}

static void on_accept(struct http_server *s)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: stop accepting for a moment rather than spin. */
				log_warn("msg=\"accept failed, pausing\" err=\"%s\"", strerror(errno));
				struct epoll_event e = {.events = 0, .data.ptr = &listen_tag};
				epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &e);
				s->accept_paused = true;
				s->accept_resume_at = now_ms() + ACCEPT_PAUSE_MS;
			}
			return;
		}
		bool reject = s->n_conns - s->n_rejected >= (size_t)s->cfg.max_connections;
		if (reject && s->n_rejected >= MAX_REJECTING) {
			close(fd); /* under a flood even the 503s are capped */
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = xcalloc(1, sizeof(*c));
		c->srv = s;
		c->fd = fd;
		c->tkind = -1;
		c->state = CS_READING;
		c->rp = http_reqparser_new(&s->lim);
		format_remote(&ss, c->remote, sizeof(c->remote));
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
			log_warn("msg=\"epoll_ctl add failed\" err=\"%s\"", strerror(errno));
			http_reqparser_free(c->rp);
			free(c);
			close(fd);
			continue;
		}
		c->registered = true;
		c->events = EPOLLIN;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
		/* The first request must start and finish within the read timeout. */
		timer_set(s, c, TL_READ);
		if (reject) {
			/* Answered right away, then drained and closed like any error, so the
			 * client reads the 503 rather than a reset. */
			c->rejected = true;
			s->n_rejected++;
			send_error(c, 503, "too many connections");
		}
	}
}

static void begin_stop(struct http_server *s)
{
	s->stopping = true;
	if (s->listen_fd >= 0) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listen_fd, NULL);
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	struct conn *c = s->conns;
	while (c) {
		struct conn *next = c->next;
		/* Idle and half-read connections go now; requests being handled or written
		 * finish first (response_done closes them). */
		if (c->state == CS_READING || c->state == CS_LINGER)
			conn_close(c);
		c = next;
	}
}

static void on_wake(struct http_server *s)
{
	uint64_t v;
	ssize_t r = read(s->wake_fd, &v, sizeof(v));
	(void)r;
	if (atomic_load(&s->stop_requested) && !s->stopping)
		begin_stop(s);
	pthread_mutex_lock(&s->mu);
	struct conn *done = s->done_head;
	s->done_head = s->done_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (done) {
		struct conn *next = done->qnext;
		done->qnext = NULL;
		on_done(done);
		done = next;
	}
}

static void on_timeout(struct conn *c)
{
	switch (c->state) {
	case CS_READING:
		if (http_reqparser_in_message(c->rp))
			send_error(c, 408, "request not received in time");
		else
			conn_close(c);
		break;
	case CS_WRITING: /* the client does not read its response */
	case CS_LINGER:
		conn_close(c);
		break;
	default:
		break;
	}
}

static int run_timers(struct http_server *s)
{
	int64_t now = now_ms();
	if (s->accept_paused && now >= s->accept_resume_at && s->listen_fd >= 0) {
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = &listen_tag};
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &e);
		s->accept_paused = false;
	}
	int64_t next = now + 1000;
	for (int k = 0; k < TL_COUNT; k++) {
		struct tlist *l = &s->tl[k];
		while (l->head && l->head->deadline <= now) {
			struct conn *c = l->head;
			timer_clear(s, c);
			on_timeout(c);
		}
		if (l->head && l->head->deadline < next)
			next = l->head->deadline;
	}
	if (s->accept_paused && s->accept_resume_at < next)
		next = s->accept_resume_at;
	int64_t wait = next - now;
	return wait < 0 ? 0 : (int)wait;
}

static void free_graveyard(struct http_server *s)
{
	while (s->graveyard) {
		struct conn *c = s->graveyard;
		s->graveyard = c->qnext;
		conn_free(c);
	}
}

static void loop(struct http_server *s)
{
	struct epoll_event evs[MAX_EVENTS];
	int timeout = 0;
	for (;;) {
		if (atomic_load(&s->stop_requested) && !s->stopping)
			begin_stop(s);
		free_graveyard(s);
		if (s->stopping && s->n_conns == 0)
			break;
		int n = epoll_wait(s->epfd, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR) {
				timeout = run_timers(s);
				continue;
			}
			log_error("msg=\"epoll_wait failed\" err=\"%s\"", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &listen_tag) {
				if (!s->stopping)
					on_accept(s);
			} else if (p == &wake_tag) {
				on_wake(s);
			} else {
				on_conn_event(p, evs[i].events);
			}
		}
		timeout = run_timers(s);
	}
	free_graveyard(s);
}

/* ---- public ------------------------------------------------------------------------- */

static int listen_on(const char *address, int port, int *fd_out, int *port_out)
{
	int rc = EMBER_EIO, fd = -1;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (!address || !address[0])
		address = "0.0.0.0";
	int g = getaddrinfo(address, portstr, &hints, &res);
	if (g != 0) {
		log_error("msg=\"cannot resolve listen address\" address=\"%s\" err=\"%s\"", address,
			  gai_strerror(g));
		rc = EMBER_EINVAL;
		goto out;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
		log_error("msg=\"cannot listen\" address=\"%s\" port=%d err=\"%s\"", address, port,
			  strerror(errno));
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		goto out;
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (res)
		freeaddrinfo(res);
	return rc;
}

int http_server_new(const struct http_server_config *cfg, http_handler_fn handler, void *ctx,
		    struct http_server **out)
{
	int rc = EMBER_EIO;
	struct http_server *s = xcalloc(1, sizeof(*s));
	s->listen_fd = s->epfd = s->wake_fd = -1;
	s->cfg = *cfg;
	s->cfg.address = NULL; /* not kept: only used here */
	if (s->cfg.read_timeout_ms <= 0)
		s->cfg.read_timeout_ms = DEFAULT_READ_TIMEOUT_MS;
	if (s->cfg.idle_timeout_ms <= 0)
		s->cfg.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
	if (s->cfg.max_connections <= 0)
		s->cfg.max_connections = DEFAULT_MAX_CONNECTIONS;
	if (s->cfg.workers <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s->cfg.workers = n > 0 ? (int)EMBER_MIN(n, 256) : 4;
	}
	struct http_parse_limits lim = {.max_header_bytes = cfg->max_header_bytes,
					.max_body_bytes = cfg->max_body_bytes};
	http_parse_limits_resolve(&lim, &s->lim);
	s->cfg.max_body_bytes = s->lim.max_body_bytes;
	s->cfg.max_header_bytes = s->lim.max_header_bytes;
	s->tl[TL_READ].timeout_ms = s->cfg.read_timeout_ms;
	s->tl[TL_IDLE].timeout_ms = s->cfg.idle_timeout_ms;
	s->tl[TL_LINGER].timeout_ms = EMBER_MIN(LINGER_MS, s->cfg.read_timeout_ms);
	s->handler = handler;
	s->ctx = ctx;
	atomic_init(&s->stop_requested, 0);
	atomic_init(&s->ran, 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);

	rc = listen_on(cfg->address, cfg->port, &s->listen_fd, &s->port);
	if (rc < 0)
		goto out;
	rc = EMBER_EIO;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->wake_fd < 0) {
		log_error("msg=\"cannot create epoll/eventfd\" err=\"%s\"", strerror(errno));
		goto out;
	}
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &listen_tag};
	struct epoll_event w = {.events = EPOLLIN, .data.ptr = &wake_tag};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &e) != 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wake_fd, &w) != 0)
		goto out;
	s->scratch = xmalloc(SCRATCH_BYTES);
	*out = s;
	s = NULL;
	rc = 0;
out:
	http_server_free(s);
	return rc;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

int http_server_run(struct http_server *s)
{
	if (atomic_exchange(&s->ran, 1))
		return EMBER_ESTATE;
	if (s->listen_fd < 0)
		return EMBER_ESTATE;
	s->threads = xcalloc((size_t)s->cfg.workers, sizeof(*s->threads));
	for (int i = 0; i < s->cfg.workers; i++) {
		if (pthread_create(&s->threads[i], NULL, worker_main, s) != 0) {
			log_error("msg=\"cannot start worker\" err=\"%s\"", strerror(errno));
			break;
		}
		s->n_threads++;
	}
	int rc = s->n_threads > 0 ? 0 : EMBER_EIO;
	if (rc == 0)
		loop(s);
	pthread_mutex_lock(&s->mu);
	s->pool_stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	s->n_threads = 0;
	/* If the loop failed, connections may remain; a worker may not hold any now. */
	while (s->conns) {
		struct conn *c = s->conns;
		if (c->state == CS_PROCESSING)
			c->state = CS_WRITING;
		conn_close(c);
	}
	free_graveyard(s);
	return rc;
}

void http_server_stop(struct http_server *s)
{
	int saved = errno;
	atomic_store(&s->stop_requested, 1);
	uint64_t one = 1;
	ssize_t w = write(s->wake_fd, &one, sizeof(one));
	(void)w;
	errno = saved;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->threads);
	free(s->scratch);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
