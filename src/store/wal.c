/* wal: segment files, recovery on replay, and group commit (leader/follower).
 *
 * Group commit: an appender queues a `struct waiter` (on its own stack: the payload is never
 * copied) and, if no commit is running, becomes the leader: it takes the whole queue, writes
 * it with pwritev and issues one fdatasync, then wakes everyone. Appenders that arrive while
 * a leader is busy queue up behind it and go out together in the next commit. The mutex is
 * never held across I/O. The file state (fd, segment, offset, iovec scratch) belongs to
 * whoever has set `busy`: a leader, wal_cut, or wal_replay. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "store/wal.h"
#include "util/common.h"
#include "util/crc32c.h"
#include "util/log.h"

#define WAL_MAX_SEGMENT_NO ((UINT64_C(1) << (64 - WAL_LSN_OFFSET_BITS)) - 1)
/* Offsets must fit the LSN: a segment is capped well below 2^40 bytes. */
#define WAL_MAX_SEGMENT_SIZE (UINT64_C(1) << 36)

enum wal_state { WAL_OPENED, WAL_READY, WAL_READONLY };

struct waiter {
	const struct iovec *parts;
	size_t nparts;
	size_t len;
	uint8_t hdr[WAL_RECORD_HEADER];
	uint64_t lsn;
	int rc;
	bool done;
	struct waiter *next;
};

struct wal {
	char *dir;
	int dir_fd;
	int lock_fd;
	struct wal_options opts;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum wal_state state; /* under mu */
	bool busy;            /* under mu: someone owns the file state below */
	int failed;           /* under mu: sticky error after a failed fdatasync */
	struct waiter *q_head, *q_tail;

	/* File state, owned by the holder of `busy`. */
	int fd;
	uint64_t seg;
	uint64_t seg_off;
	struct iovec *iov;
	size_t iov_cap;

	pthread_mutex_t rm_mu; /* serialises wal_remove_through */
	uint64_t first_seg;    /* under rm_mu: lowest segment that may exist */

	/* Statistics: read and written with __atomic builtins. */
	uint64_t st_bytes, st_records, st_syncs, st_segments, st_cur_seg, st_cur_size, st_total,
		st_replayed;
};

static inline void st_add(uint64_t *p, uint64_t v)
{
	__atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}
static inline void st_sub(uint64_t *p, uint64_t v)
{
	__atomic_sub_fetch(p, v, __ATOMIC_RELAXED);
}
static inline void st_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline uint64_t st_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

struct wal_options wal_options_default(void)
{
	struct wal_options o = {WAL_DEFAULT_SEGMENT_SIZE, true};
	return o;
}

static void segment_header(uint8_t out[WAL_SEGMENT_HEADER])
{
	memcpy(out, WAL_MAGIC, 8);
	put_le32(out + 8, WAL_VERSION);
	put_le32(out + 12, crc32c(0, out, 12));
}

/* ---- reading ------------------------------------------------------------------------- */

int wal_segment_scan(const uint8_t *data, size_t n, uint64_t segment, wal_replay_fn fn, void *ctx,
		     struct wal_scan_result *res)
{
	struct wal_scan_result local;
	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (n == 0)
		return 0;
	if (n < WAL_SEGMENT_HEADER) {
		res->reason = "short segment header";
		return EMBER_ECORRUPT;
	}
	if (memcmp(data, WAL_MAGIC, 8) != 0) {
		res->reason = "bad segment magic";
		return EMBER_ECORRUPT;
	}
	if (get_le32(data + 12) != crc32c(0, data, 12)) {
		res->reason = "segment header checksum mismatch";
		return EMBER_ECORRUPT;
	}
	if (get_le32(data + 8) != WAL_VERSION) {
		res->reason = "unknown segment version";
		return EMBER_EUNSUP;
	}
	size_t off = WAL_SEGMENT_HEADER;
	res->valid_len = off;
	while (off < n) {
		size_t left = n - off;
		if (left < WAL_RECORD_HEADER) {
			res->reason = "short record header";
			return EMBER_ECORRUPT;
		}
		uint32_t len = get_le32(data + off);
		uint32_t crc = get_le32(data + off + 4);
		if (len == 0 || len > WAL_MAX_RECORD) {
			res->reason = len == 0 ? "zero record length" : "record length over limit";
			return EMBER_ECORRUPT;
		}
		if (left - WAL_RECORD_HEADER < len) {
			res->reason = "short record payload";
			return EMBER_ECORRUPT;
		}
		const uint8_t *payload = data + off + WAL_RECORD_HEADER;
		if (crc32c(crc32c(0, data + off, 4), payload, len) != crc) {
			res->reason = "record checksum mismatch";
			return EMBER_ECORRUPT;
		}
		if (fn) {
			int rc = fn(ctx, payload, len, segment << WAL_LSN_OFFSET_BITS | (uint64_t)off);
			if (rc != 0) {
				res->fn_rc = rc;
				res->reason = "stopped by callback";
				return rc;
			}
		}
		res->records++;
		off += WAL_RECORD_HEADER + len;
		res->valid_len = off;
	}
	return 0;
}

/* ---- opening ------------------------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			log_error("msg=\"cannot create wal directory\" dir=\"%s\" err=\"%s\"", p, strerror(errno));
			rc = EMBER_EIO;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

int wal_open(const char *dir, const struct wal_options *opts, struct wal **out)
{
	int rc = EMBER_EIO;
	struct wal *w = NULL;
	*out = NULL;
	if (!dir || !*dir)
		return EMBER_EINVAL;
	struct wal_options o = opts ? *opts : wal_options_default();
	if (o.segment_size == 0)
		o.segment_size = WAL_DEFAULT_SEGMENT_SIZE;
	if (o.segment_size > WAL_MAX_SEGMENT_SIZE)
		return EMBER_EINVAL;
	if ((rc = mkdir_p(dir)) != 0)
		return rc;
	rc = EMBER_EIO;

	w = xcalloc(1, sizeof(*w));
	w->dir = xstrdup(dir);
	w->opts = o;
	w->fd = -1;
	w->lock_fd = -1;
	w->state = WAL_OPENED;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_mutex_init(&w->rm_mu, NULL);
	w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0) {
		log_error("msg=\"cannot open wal directory\" dir=\"%s\" err=\"%s\"", dir, strerror(errno));
		goto out;
	}
	w->lock_fd = openat(w->dir_fd, "wal.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->lock_fd < 0) {
		log_error("msg=\"cannot create wal lock\" dir=\"%s\" err=\"%s\"", dir, strerror(errno));
		goto out;
	}
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		log_error("msg=\"wal directory is locked by another user\" dir=\"%s\" err=\"%s\"", dir,
			  strerror(errno));
		rc = errno == EWOULDBLOCK ? EMBER_ESTATE : EMBER_EIO;
		goto out;
	}
	*out = w;
	w = NULL;
	rc = 0;
out:
	wal_close(w);
	return rc;
}

static int sync_dir(struct wal *w)
{
	if (!w->opts.sync)
		return 0;
	if (fsync(w->dir_fd) != 0) {
		log_error("msg=\"wal directory fsync failed\" dir=\"%s\" err=\"%s\"", w->dir, strerror(errno));
		return EMBER_EIO;
	}
	return 0;
}

static void segment_name(char *buf, size_t cap, uint64_t seg)
{
	snprintf(buf, cap, "%08" PRIu64 ".wal", seg);
}

/* Parses "<8 or more digits>.wal"; returns 0 for anything else. */
static uint64_t parse_segment_name(const char *name)
{
	size_t len = strlen(name);
	if (len < 12 || len > 24 || strcmp(name + len - 4, ".wal") != 0)
		return 0;
	uint64_t v = 0;
	for (size_t i = 0; i < len - 4; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(name[i] - '0');
		if (v > WAL_MAX_SEGMENT_NO)
			return 0;
	}
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Lists segment numbers in ascending order into *out (malloc'd). */
static int list_segments(struct wal *w, uint64_t **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	int fd = dup(w->dir_fd);
	if (fd < 0)
		return EMBER_EIO;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return EMBER_EIO;
	}
	rewinddir(d);
	uint64_t *segs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t s = parse_segment_name(e->d_name);
		if (s == 0)
			continue;
		XGROW(segs, cap, n + 1);
		segs[n++] = s;
	}
	closedir(d);
	if (n > 1)
		sort_n(segs, n, sizeof(*segs), cmp_u64);
	*out = segs;
	*count = n;
	return 0;
}

/* Creates segment `seg` with its header and makes its name durable. On success *fd_out
 * is open for writing. */
static int create_segment(struct wal *w, uint64_t seg, int *fd_out)
{
	char name[32];
	segment_name(name, sizeof(name), seg);
	if (seg > WAL_MAX_SEGMENT_NO)
		return EMBER_ELIMIT;
	int fd = openat(w->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("msg=\"cannot create wal segment\" dir=\"%s\" segment=%s err=\"%s\"", w->dir, name,
			  strerror(errno));
		return EMBER_EIO;
	}
	uint8_t hdr[WAL_SEGMENT_HEADER];
	segment_header(hdr);
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || (w->opts.sync && fdatasync(fd) != 0) ||
	    sync_dir(w) != 0) {
		log_error("msg=\"cannot initialise wal segment\" dir=\"%s\" segment=%s err=\"%s\"", w->dir, name,
			  strerror(errno));
		close(fd);
		unlinkat(w->dir_fd, name, 0);
		return EMBER_EIO;
	}
	*fd_out = fd;
	return 0;
}

/* Replays one segment. `last` decides whether a bad tail is cut off or only skipped.
 * *size_out gets the segment's size after any truncation. */
static int replay_segment(struct wal *w, uint64_t seg, bool last, wal_replay_fn fn, void *ctx, int *fd_out,
			  uint64_t *size_out)
{
	int rc = EMBER_EIO;
	char name[32];
	segment_name(name, sizeof(name), seg);
	void *map = MAP_FAILED;
	size_t size = 0, map_len = 0;
	int fd = openat(w->dir_fd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		log_error("msg=\"cannot open wal segment\" dir=\"%s\" segment=%s err=\"%s\"", w->dir, name,
			  strerror(errno));
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) != 0)
		goto out;
	size = (size_t)st.st_size;
	if (size > 0) {
		map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		map_len = size;
		if (map == MAP_FAILED) {
			log_error("msg=\"cannot map wal segment\" dir=\"%s\" segment=%s err=\"%s\"", w->dir, name,
				  strerror(errno));
			goto out;
		}
		madvise(map, size, MADV_SEQUENTIAL);
	}
	struct wal_scan_result res;
	int src = wal_segment_scan(map == MAP_FAILED ? NULL : map, size, seg, fn, ctx, &res);
	st_add(&w->st_replayed, res.records);
	if (src == 0) {
		rc = 0;
	} else if (res.fn_rc != 0) {
		rc = res.fn_rc;
		goto out;
	} else if (src == EMBER_EUNSUP) {
		log_error("msg=\"wal segment has an unknown format version\" dir=\"%s\" segment=%s", w->dir, name);
		rc = EMBER_EUNSUP;
		goto out;
	} else if (!last) {
		log_error("msg=\"corrupt wal segment; skipping the rest of it\" dir=\"%s\" segment=%s offset=%zu "
			  "reason=\"%s\" records_kept=%" PRIu64 " bytes_skipped=%zu",
			  w->dir, name, res.valid_len, res.reason, res.records, size - res.valid_len);
		rc = 0;
	} else {
		/* A tail that is not a whole record was never acknowledged (or rotted): drop it. A
		 * segment whose header is bad is emptied; a fresh header is written below. */
		size_t keep = res.valid_len < WAL_SEGMENT_HEADER ? 0 : res.valid_len;
		log_warn("msg=\"truncating torn wal tail\" dir=\"%s\" segment=%s offset=%zu reason=\"%s\" "
			 "records_kept=%" PRIu64 " bytes_dropped=%zu",
			 w->dir, name, keep, res.reason, res.records, size - keep);
		if (ftruncate(fd, (off_t)keep) != 0 || (w->opts.sync && fsync(fd) != 0)) {
			log_error("msg=\"cannot truncate wal segment\" dir=\"%s\" segment=%s err=\"%s\"", w->dir,
				  name, strerror(errno));
			goto out;
		}
		size = keep;
		rc = 0;
	}
	*size_out = size;
	if (last) {
		*fd_out = fd;
		fd = -1;
	}
out:
	if (map != MAP_FAILED)
		munmap(map, map_len);
	if (fd >= 0)
		close(fd);
	return rc;
}

int wal_replay(struct wal *w, wal_replay_fn fn, void *ctx)
{
	int rc = EMBER_EIO;
	uint64_t *segs = NULL;
	size_t nsegs = 0;
	int fd = -1;
	if (w->state != WAL_OPENED)
		return EMBER_ESTATE;
	if ((rc = list_segments(w, &segs, &nsegs)) != 0) {
		log_error("msg=\"cannot list wal directory\" dir=\"%s\" err=\"%s\"", w->dir, strerror(errno));
		goto out;
	}
	uint64_t total = 0, size = 0;
	for (size_t i = 0; i < nsegs; i++) {
		bool last = i + 1 == nsegs;
		if (i > 0 && segs[i] != segs[i - 1] + 1)
			log_error("msg=\"wal segments missing\" dir=\"%s\" after=%" PRIu64 " before=%" PRIu64, w->dir,
				  segs[i - 1], segs[i]);
		rc = replay_segment(w, segs[i], last, fn, ctx, &fd, &size);
		if (rc != 0) {
			w->state = WAL_READONLY;
			goto out;
		}
		total += size;
	}

	if (nsegs == 0) {
		if ((rc = create_segment(w, 1, &fd)) != 0)
			goto out;
		w->seg = 1;
		w->first_seg = 1;
		w->seg_off = WAL_SEGMENT_HEADER;
		total = WAL_SEGMENT_HEADER;
	} else {
		w->seg = segs[nsegs - 1];
		w->first_seg = segs[0];
		w->seg_off = size;
		if (size == 0) {
			uint8_t hdr[WAL_SEGMENT_HEADER];
			segment_header(hdr);
			if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
			    (w->opts.sync && fdatasync(fd) != 0)) {
				log_error("msg=\"cannot write wal segment header\" dir=\"%s\" err=\"%s\"", w->dir,
					  strerror(errno));
				rc = EMBER_EIO;
				goto out;
			}
			w->seg_off = WAL_SEGMENT_HEADER;
			total += WAL_SEGMENT_HEADER;
		}
	}
	w->fd = fd;
	fd = -1;
	st_set(&w->st_segments, nsegs ? nsegs : 1);
	st_set(&w->st_cur_seg, w->seg);
	st_set(&w->st_cur_size, w->seg_off);
	st_set(&w->st_total, total);
	pthread_mutex_lock(&w->mu);
	w->state = WAL_READY;
	pthread_mutex_unlock(&w->mu);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(segs);
	return rc;
}

/* ---- writing ------------------------------------------------------------------------- */

/* Writes iov[0..cnt) at off, handling short writes and IOV_MAX. Modifies iov. */
static int write_all(int fd, struct iovec *iov, size_t cnt, uint64_t off)
{
	while (cnt > 0) {
		int k = (int)EMBER_MIN(cnt, (size_t)IOV_MAX);
		ssize_t got = pwritev(fd, iov, k, (off_t)off);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return EMBER_EIO;
		}
		off += (uint64_t)got;
		size_t g = (size_t)got;
		while (cnt > 0 && g >= iov->iov_len) {
			g -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + g;
			iov->iov_len -= g;
		}
	}
	return 0;
}

/* Writes and syncs the records from..to (exclusive) gathered in w->iov[0..nio), which start
 * at start_off. Sets each record's rc. A failed write is rolled back with ftruncate so the
 * log can go on; a failed fdatasync is sticky (the kernel may have dropped the dirty pages,
 * so nothing written since the last good sync can be trusted). */
static int commit_chunk(struct wal *w, size_t nio, uint64_t start_off, struct waiter *from, struct waiter *to,
			int *sticky)
{
	int rc = 0;
	if (nio == 0)
		return 0;
	if (write_all(w->fd, w->iov, nio, start_off) != 0) {
		log_error("msg=\"wal write failed\" dir=\"%s\" segment=%" PRIu64 " err=\"%s\"", w->dir, w->seg,
			  strerror(errno));
		rc = EMBER_EIO;
		if (ftruncate(w->fd, (off_t)start_off) != 0)
			*sticky = EMBER_EIO;
		w->seg_off = start_off;
	} else if (w->opts.sync && fdatasync(w->fd) != 0) {
		log_error("msg=\"wal fdatasync failed; wal is now read-only\" dir=\"%s\" segment=%" PRIu64 " err=\"%s\"",
			  w->dir, w->seg, strerror(errno));
		rc = EMBER_EIO;
		*sticky = EMBER_EIO;
	}
	if (rc == 0) {
		uint64_t recs = 0;
		for (struct waiter *r = from; r != to; r = r->next)
			recs++;
		st_add(&w->st_records, recs);
		st_add(&w->st_bytes, w->seg_off - start_off);
		st_add(&w->st_total, w->seg_off - start_off);
		if (w->opts.sync)
			st_add(&w->st_syncs, 1);
		st_set(&w->st_cur_size, w->seg_off);
	}
	for (struct waiter *r = from; r != to; r = r->next)
		r->rc = rc;
	return rc;
}

/* Switches to segment seg+1. The old segment is already synced. */
static int rotate(struct wal *w)
{
	int fd = -1;
	int rc = create_segment(w, w->seg + 1, &fd);
	if (rc != 0)
		return rc;
	close(w->fd);
	w->fd = fd;
	w->seg++;
	w->seg_off = WAL_SEGMENT_HEADER;
	st_add(&w->st_segments, 1);
	st_add(&w->st_total, WAL_SEGMENT_HEADER);
	st_set(&w->st_cur_seg, w->seg);
	st_set(&w->st_cur_size, w->seg_off);
	return 0;
}

/* Runs one group commit over the list starting at batch. Called by the leader. */
static void write_batch(struct wal *w, struct waiter *batch, int *sticky)
{
	size_t nio = 0;
	uint64_t start_off = w->seg_off;
	struct waiter *chunk = batch;
	for (struct waiter *r = batch; r; r = r->next) {
		if (w->seg_off >= w->opts.segment_size && w->seg_off > WAL_SEGMENT_HEADER) {
			if (commit_chunk(w, nio, start_off, chunk, r, sticky) != 0 || *sticky)
				goto fail_rest;
			nio = 0;
			int rc = rotate(w);
			if (rc != 0) {
				for (struct waiter *q = r; q; q = q->next)
					q->rc = rc;
				return;
			}
			chunk = r;
			start_off = w->seg_off;
		}
		r->lsn = w->seg << WAL_LSN_OFFSET_BITS | w->seg_off;
		XGROW(w->iov, w->iov_cap, nio + 1 + r->nparts);
		w->iov[nio].iov_base = r->hdr;
		w->iov[nio++].iov_len = WAL_RECORD_HEADER;
		for (size_t i = 0; i < r->nparts; i++) {
			if (r->parts[i].iov_len == 0)
				continue;
			w->iov[nio++] = r->parts[i];
		}
		w->seg_off += WAL_RECORD_HEADER + r->len;
	}
	commit_chunk(w, nio, start_off, chunk, NULL, sticky);
	return;
fail_rest:
	for (struct waiter *q = chunk; q; q = q->next)
		if (q->rc == 0)
			q->rc = EMBER_EIO;
}

/* Waits until nobody owns the file state and takes it. Called with mu held. */
static void acquire_busy(struct wal *w)
{
	while (w->busy)
		pthread_cond_wait(&w->cv, &w->mu);
	w->busy = true;
}

int wal_append_vec(struct wal *w, const struct iovec *parts, size_t nparts, uint64_t *lsn)
{
	struct waiter me = {0};
	size_t len = 0;
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].iov_len > WAL_MAX_RECORD)
			return EMBER_ETOOBIG;
		len += parts[i].iov_len;
		if (len > WAL_MAX_RECORD)
			return EMBER_ETOOBIG;
	}
	if (len == 0)
		return EMBER_EINVAL;
	/* Framing is computed before taking the lock so checksums run in parallel. */
	put_le32(me.hdr, (uint32_t)len);
	uint32_t crc = crc32c(0, me.hdr, 4);
	for (size_t i = 0; i < nparts; i++)
		crc = crc32c(crc, parts[i].iov_base, parts[i].iov_len);
	put_le32(me.hdr + 4, crc);
	me.parts = parts;
	me.nparts = nparts;
	me.len = len;

	pthread_mutex_lock(&w->mu);
	if (w->state != WAL_READY || w->failed) {
		int rc = w->failed ? w->failed : EMBER_ESTATE;
		pthread_mutex_unlock(&w->mu);
		return rc;
	}
	if (w->q_tail)
		w->q_tail->next = &me;
	else
		w->q_head = &me;
	w->q_tail = &me;
	while (!me.done) {
		if (w->busy) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		/* Lead: take everything queued so far (our own record included). */
		w->busy = true;
		struct waiter *batch = w->q_head;
		w->q_head = w->q_tail = NULL;
		int sticky = w->failed;
		pthread_mutex_unlock(&w->mu);

		if (sticky) {
			for (struct waiter *r = batch; r; r = r->next)
				r->rc = sticky;
		} else {
			write_batch(w, batch, &sticky);
		}

		pthread_mutex_lock(&w->mu);
		if (sticky)
			w->failed = sticky;
		for (struct waiter *r = batch, *next; r; r = next) {
			next = r->next; /* r may vanish as soon as done is set and mu is released */
			r->done = true;
		}
		w->busy = false;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (me.rc == 0 && lsn)
		*lsn = me.lsn;
	return me.rc;
}

int wal_append(struct wal *w, const void *rec, size_t n, uint64_t *lsn)
{
	struct iovec part = {(void *)rec, n};
	return wal_append_vec(w, &part, 1, lsn);
}

int wal_cut(struct wal *w, uint64_t *segment_out)
{
	int rc = 0;
	pthread_mutex_lock(&w->mu);
	if (w->state != WAL_READY || w->failed) {
		rc = w->failed ? w->failed : EMBER_ESTATE;
		pthread_mutex_unlock(&w->mu);
		return rc;
	}
	acquire_busy(w);
	pthread_mutex_unlock(&w->mu);

	/* Every acknowledged record is already synced, so there is nothing to flush. */
	if (w->seg_off > WAL_SEGMENT_HEADER) {
		uint64_t closed = w->seg;
		rc = rotate(w);
		if (rc == 0)
			*segment_out = closed;
	} else {
		*segment_out = w->seg - 1;
	}

	pthread_mutex_lock(&w->mu);
	w->busy = false;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int wal_remove_through(struct wal *w, uint64_t segment)
{
	int rc = 0;
	pthread_mutex_lock(&w->mu);
	bool ready = w->state == WAL_READY;
	pthread_mutex_unlock(&w->mu);
	if (!ready)
		return EMBER_ESTATE;
	/* The current segment only ever grows, so checking it once is enough. */
	if (segment >= st_get(&w->st_cur_seg))
		return EMBER_EINVAL;
	pthread_mutex_lock(&w->rm_mu);
	bool removed = false;
	for (uint64_t s = w->first_seg; s <= segment; s++) {
		char name[32];
		segment_name(name, sizeof(name), s);
		struct stat st;
		if (fstatat(w->dir_fd, name, &st, 0) != 0) {
			if (errno == ENOENT) {
				w->first_seg = s + 1;
				continue;
			}
			rc = EMBER_EIO;
			break;
		}
		if (unlinkat(w->dir_fd, name, 0) != 0) {
			log_error("msg=\"cannot remove wal segment\" dir=\"%s\" segment=%s err=\"%s\"", w->dir, name,
				  strerror(errno));
			rc = EMBER_EIO;
			break;
		}
		removed = true;
		w->first_seg = s + 1;
		st_sub(&w->st_segments, 1);
		st_sub(&w->st_total, (uint64_t)st.st_size);
	}
	if (removed && sync_dir(w) != 0 && rc == 0)
		rc = EMBER_EIO;
	pthread_mutex_unlock(&w->rm_mu);
	return rc;
}

void wal_stats(const struct wal *w, struct wal_stats *out)
{
	out->bytes_appended = st_get(&w->st_bytes);
	out->records = st_get(&w->st_records);
	out->syncs = st_get(&w->st_syncs);
	out->segments = st_get(&w->st_segments);
	out->current_segment = st_get(&w->st_cur_seg);
	out->current_size = st_get(&w->st_cur_size);
	out->total_size = st_get(&w->st_total);
	out->replayed = st_get(&w->st_replayed);
}

void wal_close(struct wal *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		/* Appends are synced when acknowledged; this covers a header written by rotate. */
		if (w->opts.sync && fdatasync(w->fd) != 0)
			log_error("msg=\"wal fdatasync on close failed\" dir=\"%s\" err=\"%s\"", w->dir, strerror(errno));
		close(w->fd);
	}
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->rm_mu);
	free(w->iov);
	free(w->dir);
	free(w);
}
