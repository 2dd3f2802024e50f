#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "store/wal.h"
#include "util/crc32c.h"
#include "util/log.h"

/* ---- helpers ------------------------------------------------------------------------- */

static char *make_tmpdir(void)
{
	char *d = strdup("/tmp/ember-wal-test.XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static char *seg_path(const char *dir, uint64_t seg)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%08llu.wal", dir, (unsigned long long)seg);
	return path;
}

static size_t count_segments(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strlen(e->d_name) == 12 && strcmp(e->d_name + 8, ".wal") == 0)
			n++;
	closedir(d);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* Record `id` of `len` bytes (len >= 8): the id, then a pattern derived from it. */
static void make_rec(uint8_t *p, uint64_t id, size_t len)
{
	memcpy(p, &id, 8);
	for (size_t i = 8; i < len; i++)
		p[i] = (uint8_t)(id * 31 + i * 7 + (i >> 8));
}

static bool check_rec(const uint8_t *p, size_t len, uint64_t *id)
{
	if (len < 8)
		return false;
	memcpy(id, p, 8);
	for (size_t i = 8; i < len; i++)
		if (p[i] != (uint8_t)(*id * 31 + i * 7 + (i >> 8)))
			return false;
	return true;
}

static size_t rec_len(uint64_t id)
{
	return 8 + (size_t)(id * 37 % 200);
}

struct seen {
	uint64_t ids[20000];
	uint64_t lsns[20000];
	size_t lens[20000];
	size_t n;
	bool bad;
	size_t stop_at; /* return EMBER_ECORRUPT when n reaches this (0: never) */
};

static int collect(void *ctx, const uint8_t *rec, size_t n, uint64_t lsn)
{
	struct seen *s = ctx;
	if (s->stop_at && s->n == s->stop_at)
		return EMBER_ECORRUPT;
	uint64_t id;
	if (!check_rec(rec, n, &id) || s->n >= EMBER_ARRAY_LEN(s->ids)) {
		s->bad = true;
		return 0;
	}
	if (s->n > 0 && lsn <= s->lsns[s->n - 1])
		s->bad = true;
	s->ids[s->n] = id;
	s->lens[s->n] = n;
	s->lsns[s->n++] = lsn;
	return 0;
}

static struct wal *open_wal(const char *dir, uint64_t seg_size, bool sync)
{
	struct wal_options o = wal_options_default();
	o.segment_size = seg_size;
	o.sync = sync;
	struct wal *w = NULL;
	assert_int_equal(wal_open(dir, &o, &w), 0);
	return w;
}

/* Opens, replays into a fresh `seen`, and returns the handle. */
static struct wal *reopen(const char *dir, uint64_t seg_size, struct seen *s)
{
	struct wal *w = open_wal(dir, seg_size, false);
	memset(s, 0, sizeof(*s));
	assert_int_equal(wal_replay(w, collect, s), 0);
	assert_false(s->bad);
	return w;
}

static void append_id(struct wal *w, uint64_t id, uint64_t *lsn)
{
	uint8_t buf[256];
	size_t n = rec_len(id);
	make_rec(buf, id, n);
	assert_int_equal(wal_append(w, buf, n, lsn), 0);
}

static struct seen S; /* big; not on the stack */

/* ---- tests --------------------------------------------------------------------------- */

static void test_roundtrip_segments(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct wal *w = reopen(dir, 512, &S);
	assert_int_equal(S.n, 0);
	uint64_t lsns[100];
	for (uint64_t id = 0; id < 100; id++) {
		append_id(w, id, &lsns[id]);
		if (id > 0)
			assert_true(lsns[id] > lsns[id - 1]);
	}
	/* One record as three parts: replayed as their concatenation. */
	uint8_t whole[120];
	make_rec(whole, 100, sizeof(whole));
	struct iovec parts[3] = {{whole, 8}, {whole + 8, 0}, {whole + 8, 112}};
	uint64_t vlsn;
	assert_int_equal(wal_append_vec(w, parts, 3, &vlsn), 0);
	assert_true(vlsn > lsns[99]);

	struct wal_stats st;
	wal_stats(w, &st);
	assert_int_equal(st.records, 101);
	uint64_t bytes = 8 + sizeof(whole);
	for (uint64_t id = 0; id < 100; id++)
		bytes += 8 + rec_len(id);
	assert_int_equal(st.bytes_appended, bytes);
	assert_int_equal(st.syncs, 0); /* sync off */
	assert_true(st.segments >= 10);
	assert_int_equal(st.segments, count_segments(dir));
	assert_int_equal(st.current_segment, st.segments);
	assert_int_equal(st.total_size, bytes + st.segments * WAL_SEGMENT_HEADER);
	assert_int_equal(st.current_size, (uint64_t)file_size(seg_path(dir, st.current_segment)));
	wal_close(w);

	/* The first segment, byte by byte, as docs/internals/wal.md describes it. */
	size_t n;
	uint8_t *seg1 = test_read_file(seg_path(dir, 1), &n);
	assert_memory_equal(seg1, "EMBERWAL\x01\x00\x00\x00", 12);
	uint32_t hcrc = crc32c(0, seg1, 12);
	assert_int_equal(seg1[12] | seg1[13] << 8 | seg1[14] << 16 | (uint32_t)seg1[15] << 24, hcrc);
	size_t len0 = rec_len(0);
	assert_int_equal(seg1[16] | seg1[17] << 8, len0);
	assert_int_equal(seg1[18], 0);
	assert_int_equal(seg1[19], 0);
	uint32_t rcrc = crc32c(crc32c(0, seg1 + 16, 4), seg1 + 24, len0);
	assert_int_equal(seg1[20] | seg1[21] << 8 | seg1[22] << 16 | (uint32_t)seg1[23] << 24, rcrc);
	uint8_t expect[256];
	make_rec(expect, 0, len0);
	assert_memory_equal(seg1 + 24, expect, len0);
	assert_int_equal(wal_lsn_segment(lsns[0]), 1);
	assert_int_equal(wal_lsn_offset(lsns[0]), 16);
	/* A segment passes the size limit by at most one record. */
	assert_true(n >= 512 && n < 512 + 8 + 208);
	free(seg1);

	w = reopen(dir, 512, &S);
	assert_int_equal(S.n, 101);
	for (uint64_t id = 0; id < 100; id++) {
		assert_int_equal(S.ids[id], id);
		assert_int_equal(S.lens[id], rec_len(id));
		assert_int_equal(S.lsns[id], lsns[id]);
	}
	assert_int_equal(S.ids[100], 100);
	assert_int_equal(S.lens[100], sizeof(whole));
	assert_int_equal(S.lsns[100], vlsn);
	wal_stats(w, &st);
	assert_int_equal(st.replayed, 101);
	/* Appends continue after the last record of the last segment. */
	uint64_t l;
	append_id(w, 101, &l);
	assert_true(l > vlsn);
	wal_close(w);
	w = reopen(dir, 512, &S);
	assert_int_equal(S.n, 102);
	assert_int_equal(S.lsns[101], l);
	wal_close(w);
	rm_rf(dir);
	free(dir);
}

struct gc_arg {
	struct wal *w;
	int t;
	int rc;
	uint64_t last_lsn;
	bool ordered;
};

#define GC_THREADS 8
#define GC_RECORDS 200

static void *gc_thread(void *p)
{
	struct gc_arg *a = p;
	a->ordered = true;
	for (int i = 0; i < GC_RECORDS; i++) {
		uint64_t id = (uint64_t)a->t * 1000 + (uint64_t)i, lsn;
		uint8_t buf[256];
		size_t n = rec_len(id);
		make_rec(buf, id, n);
		int rc = wal_append(a->w, buf, n, &lsn);
		if (rc != 0) {
			a->rc = rc;
			return NULL;
		}
		if (lsn <= a->last_lsn)
			a->ordered = false;
		a->last_lsn = lsn;
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	/* Real fdatasync on the test machine's disk; small segments so rotations happen under load. */
	struct wal *w = open_wal(dir, 16 << 10, true);
	assert_int_equal(wal_replay(w, NULL, NULL), 0);
	pthread_t th[GC_THREADS];
	struct gc_arg args[GC_THREADS];
	for (int t = 0; t < GC_THREADS; t++) {
		args[t] = (struct gc_arg){w, t, 0, 0, true};
		assert_int_equal(pthread_create(&th[t], NULL, gc_thread, &args[t]), 0);
	}
	for (int t = 0; t < GC_THREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(args[t].rc, 0);
		assert_true(args[t].ordered);
	}
	struct wal_stats st;
	wal_stats(w, &st);
	assert_int_equal(st.records, GC_THREADS * GC_RECORDS);
	print_message("group commit: %llu records, %llu fdatasyncs, %llu segments\n",
		      (unsigned long long)st.records, (unsigned long long)st.syncs,
		      (unsigned long long)st.segments);
	assert_true(st.syncs > 0);
	assert_true(st.syncs * 3 < st.records);
	wal_close(w);

	w = reopen(dir, 16 << 10, &S);
	assert_int_equal(S.n, GC_THREADS * GC_RECORDS);
	static uint8_t seen_count[GC_THREADS][GC_RECORDS];
	memset(seen_count, 0, sizeof(seen_count));
	int last_i[GC_THREADS];
	for (int t = 0; t < GC_THREADS; t++)
		last_i[t] = -1;
	for (size_t k = 0; k < S.n; k++) {
		uint64_t t = S.ids[k] / 1000, i = S.ids[k] % 1000;
		assert_true(t < GC_THREADS && i < GC_RECORDS);
		seen_count[t][i]++;
		/* Each thread's records come back in the order it appended them. */
		assert_true((int)i > last_i[t]);
		last_i[t] = (int)i;
	}
	for (int t = 0; t < GC_THREADS; t++)
		for (int i = 0; i < GC_RECORDS; i++)
			assert_int_equal(seen_count[t][i], 1);
	wal_close(w);
	rm_rf(dir);
	free(dir);
}

static void test_torn_tail_every_offset(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct wal *w = reopen(dir, 1 << 20, &S);
	uint64_t lsn = 0;
	for (uint64_t id = 0; id < 5; id++)
		append_id(w, id, &lsn);
	wal_close(w);
	size_t full_n;
	uint8_t *full = test_read_file(seg_path(dir, 1), &full_n);
	size_t last_off = wal_lsn_offset(lsn);
	assert_int_equal(full_n, last_off + 8 + rec_len(4));

	log_set_level(LOG_ERROR); /* one truncation warning per offset is expected */
	for (size_t cut = last_off; cut < full_n; cut++) {
		write_file(seg_path(dir, 1), full, cut);
		w = reopen(dir, 1 << 20, &S);
		assert_int_equal(S.n, 4);
		for (uint64_t id = 0; id < 4; id++)
			assert_int_equal(S.ids[id], id);
		assert_int_equal((size_t)file_size(seg_path(dir, 1)), last_off);
		/* Appending after the truncation lands where the torn record was. */
		uint64_t l2;
		append_id(w, 77, &l2);
		assert_int_equal(wal_lsn_offset(l2), last_off);
		wal_close(w);
		w = reopen(dir, 1 << 20, &S);
		assert_int_equal(S.n, 5);
		assert_int_equal(S.ids[4], 77);
		wal_close(w);
	}
	log_set_level(LOG_INFO);
	free(full);
	rm_rf(dir);
	free(dir);
}

static void test_bit_flip(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	/* Segment 1 gets records 0..9, then a cut, segment 2 gets 10..19. */
	struct wal *w = reopen(dir, 1 << 20, &S);
	uint64_t lsns[20], seg;
	for (uint64_t id = 0; id < 10; id++)
		append_id(w, id, &lsns[id]);
	assert_int_equal(wal_cut(w, &seg), 0);
	assert_int_equal(seg, 1);
	for (uint64_t id = 10; id < 20; id++)
		append_id(w, id, &lsns[id]);
	wal_close(w);

	/* Flip a payload bit of record 15 in the last segment: 15..19 go, 0..14 stay. */
	size_t n2;
	uint8_t *s2 = test_read_file(seg_path(dir, 2), &n2);
	s2[wal_lsn_offset(lsns[15]) + 8 + 3] ^= 0x10;
	write_file(seg_path(dir, 2), s2, n2);
	free(s2);
	log_set_level(LOG_ERROR);
	w = reopen(dir, 1 << 20, &S);
	log_set_level(LOG_INFO);
	assert_int_equal(S.n, 15);
	for (uint64_t id = 0; id < 15; id++)
		assert_int_equal(S.ids[id], id);
	assert_int_equal((uint64_t)file_size(seg_path(dir, 2)), wal_lsn_offset(lsns[15]));
	wal_close(w);

	/* Flip a bit of record 3's length in the older segment 1: its 3..9 are skipped (and the
	 * file is left alone), segment 2's records are still replayed. */
	size_t n1;
	uint8_t *s1 = test_read_file(seg_path(dir, 1), &n1);
	s1[wal_lsn_offset(lsns[3])] ^= 0x01;
	write_file(seg_path(dir, 1), s1, n1);
	free(s1);
	w = reopen(dir, 1 << 20, &S);
	assert_int_equal(S.n, 3 + 5);
	uint64_t want[] = {0, 1, 2, 10, 11, 12, 13, 14};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(want); i++)
		assert_int_equal(S.ids[i], want[i]);
	assert_int_equal((size_t)file_size(seg_path(dir, 1)), n1);
	wal_close(w);
	rm_rf(dir);
	free(dir);
}

static void test_empty_and_header_only(void **state)
{
	(void)state;
	uint8_t hdr[16];
	memcpy(hdr, "EMBERWAL\x01\x00\x00\x00", 12);
	uint32_t c = crc32c(0, hdr, 12);
	for (int i = 0; i < 4; i++)
		hdr[12 + i] = (uint8_t)(c >> (8 * i));
	/* A zero-length file, a header only, and half a header (torn while being created). */
	size_t sizes[] = {0, 16, 7};
	for (size_t k = 0; k < EMBER_ARRAY_LEN(sizes); k++) {
		char *dir = make_tmpdir();
		write_file(seg_path(dir, 1), hdr, sizes[k]);
		log_set_level(LOG_ERROR);
		struct wal *w = reopen(dir, 1 << 20, &S);
		log_set_level(LOG_INFO);
		assert_int_equal(S.n, 0);
		assert_int_equal(file_size(seg_path(dir, 1)), 16);
		uint64_t lsn;
		append_id(w, 5, &lsn);
		assert_int_equal(lsn, (UINT64_C(1) << 40) | 16);
		wal_close(w);
		w = reopen(dir, 1 << 20, &S);
		assert_int_equal(S.n, 1);
		assert_int_equal(S.ids[0], 5);
		wal_close(w);
		rm_rf(dir);
		free(dir);
	}
}

static void test_cut_and_remove(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct wal *w = reopen(dir, 1 << 20, &S);
	uint64_t seg = 99, lsn;
	/* Nothing written yet: no segment holds records. */
	assert_int_equal(wal_cut(w, &seg), 0);
	assert_int_equal(seg, 0);
	for (uint64_t id = 0; id < 5; id++)
		append_id(w, id, &lsn);
	assert_int_equal(wal_cut(w, &seg), 0);
	assert_int_equal(seg, 1);
	for (uint64_t id = 5; id < 10; id++) {
		append_id(w, id, &lsn);
		assert_int_equal(wal_lsn_segment(lsn), 2);
	}
	assert_int_equal(wal_cut(w, &seg), 0);
	assert_int_equal(seg, 2);
	/* A cut of an empty segment does not make another one. */
	assert_int_equal(wal_cut(w, &seg), 0);
	assert_int_equal(seg, 2);
	assert_int_equal(count_segments(dir), 3);
	struct wal_stats st;
	wal_stats(w, &st);
	assert_int_equal(st.segments, 3);
	assert_int_equal(st.current_segment, 3);

	assert_int_equal(wal_remove_through(w, 3), EMBER_EINVAL); /* the live segment */
	assert_int_equal(wal_remove_through(w, 1), 0);
	assert_int_equal(count_segments(dir), 2);
	assert_int_equal(access(seg_path(dir, 1), F_OK), -1);
	assert_int_equal(wal_remove_through(w, 1), 0); /* idempotent */
	wal_stats(w, &st);
	assert_int_equal(st.segments, 2);
	off_t sz2 = file_size(seg_path(dir, 2));
	off_t sz3 = file_size(seg_path(dir, 3));
	assert_int_equal(st.total_size, (uint64_t)(sz2 + sz3));
	append_id(w, 10, &lsn);
	assert_int_equal(wal_lsn_segment(lsn), 3);
	wal_close(w);

	w = reopen(dir, 1 << 20, &S);
	assert_int_equal(S.n, 6);
	for (uint64_t i = 0; i < 6; i++)
		assert_int_equal(S.ids[i], 5 + i);
	assert_int_equal(wal_remove_through(w, 2), 0);
	wal_close(w);
	w = reopen(dir, 1 << 20, &S);
	assert_int_equal(S.n, 1);
	assert_int_equal(S.ids[0], 10);
	wal_close(w);
	rm_rf(dir);
	free(dir);
}

static void test_misuse_and_errors(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct wal *w = open_wal(dir, 1 << 20, false);
	/* Only one handle per directory. */
	struct wal *w2 = NULL;
	log_set_level(LOG_ERROR + 1);
	assert_int_equal(wal_open(dir, NULL, &w2), EMBER_ESTATE);
	log_set_level(LOG_INFO);
	assert_null(w2);
	uint64_t lsn, seg;
	assert_int_equal(wal_append(w, "abcdefgh", 8, &lsn), EMBER_ESTATE); /* before replay */
	assert_int_equal(wal_cut(w, &seg), EMBER_ESTATE);
	assert_int_equal(wal_replay(w, NULL, NULL), 0);
	assert_int_equal(wal_replay(w, NULL, NULL), EMBER_ESTATE); /* twice */
	assert_int_equal(wal_append(w, "", 0, &lsn), EMBER_EINVAL);
	/* The size is checked before any byte is read. */
	struct iovec big[2] = {{(void *)"x", WAL_MAX_RECORD}, {(void *)"y", 1}};
	assert_int_equal(wal_append_vec(w, big, 2, &lsn), EMBER_ETOOBIG);
	for (uint64_t id = 0; id < 6; id++)
		append_id(w, id, &lsn);
	wal_close(w);

	/* A callback error stops replay and leaves the log read-only. */
	w = open_wal(dir, 1 << 20, false);
	memset(&S, 0, sizeof(S));
	S.stop_at = 3;
	assert_int_equal(wal_replay(w, collect, &S), EMBER_ECORRUPT);
	assert_int_equal(S.n, 3);
	assert_int_equal(wal_append(w, "abcdefgh", 8, &lsn), EMBER_ESTATE);
	wal_close(w);

	/* A segment of a newer format is refused, not truncated. */
	uint8_t hdr[16];
	memcpy(hdr, "EMBERWAL\x02\x00\x00\x00", 12);
	uint32_t c = crc32c(0, hdr, 12);
	for (int i = 0; i < 4; i++)
		hdr[12 + i] = (uint8_t)(c >> (8 * i));
	write_file(seg_path(dir, 2), hdr, 16);
	w = open_wal(dir, 1 << 20, false);
	log_set_level(LOG_ERROR + 1);
	assert_int_equal(wal_replay(w, NULL, NULL), EMBER_EUNSUP);
	log_set_level(LOG_INFO);
	wal_close(w);
	assert_int_equal(file_size(seg_path(dir, 2)), 16);
	wal_close(NULL);
	rm_rf(dir);
	free(dir);
}

static void test_scan_direct(void **state)
{
	(void)state;
	struct wal_scan_result res;
	assert_int_equal(wal_segment_scan(NULL, 0, 1, NULL, NULL, &res), 0);
	assert_int_equal(res.valid_len, 0);
	uint8_t seg[64] = "EMBERWAL\x01\x00\x00\x00";
	uint32_t c = crc32c(0, seg, 12);
	for (int i = 0; i < 4; i++)
		seg[12 + i] = (uint8_t)(c >> (8 * i));
	/* Zero bytes after the header (a preallocated or zero-filled tail) are not records. */
	assert_int_equal(wal_segment_scan(seg, 40, 1, NULL, NULL, &res), EMBER_ECORRUPT);
	assert_int_equal(res.valid_len, 16);
	assert_string_equal(res.reason, "zero record length");
	/* An absurd length. */
	seg[16] = 0xff, seg[17] = 0xff, seg[18] = 0xff, seg[19] = 0x7f;
	assert_int_equal(wal_segment_scan(seg, 40, 1, NULL, NULL, &res), EMBER_ECORRUPT);
	assert_string_equal(res.reason, "record length over limit");
	seg[0] = 'X';
	assert_int_equal(wal_segment_scan(seg, 40, 1, NULL, NULL, &res), EMBER_ECORRUPT);
	assert_int_equal(res.valid_len, 0);
	assert_string_equal(res.reason, "bad segment magic");
}

/* ---- crash simulation ---------------------------------------------------------------- */

struct ack {
	uint64_t id;
	uint64_t lsn;
};

struct child_arg {
	struct wal *w;
	int fd;
	uint64_t base;
};

static void *child_thread(void *p)
{
	struct child_arg *a = p;
	for (uint64_t i = 0; i < 1000000; i++) {
		struct ack k = {a->base + i, 0};
		uint8_t buf[256];
		size_t n = rec_len(k.id);
		make_rec(buf, k.id, n);
		if (wal_append(a->w, buf, n, &k.lsn) != 0)
			_exit(3);
		/* Written only after the append returned: an acknowledgement. */
		if (write(a->fd, &k, sizeof(k)) != (ssize_t)sizeof(k))
			_exit(4);
	}
	return NULL;
}

static void test_crash_sigkill(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	srand(seed);
	int delay_ms = 30 + rand() % 300;
	print_message("crash test: seed %u, kill after %d ms\n", seed, delay_ms);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		struct wal *w = open_wal(dir, 8 << 10, true);
		if (wal_replay(w, NULL, NULL) != 0)
			_exit(2);
		pthread_t th[4];
		struct child_arg args[4];
		for (int t = 0; t < 4; t++) {
			args[t] = (struct child_arg){w, pfd[1], (uint64_t)t << 32};
			pthread_create(&th[t], NULL, child_thread, &args[t]);
		}
		for (int t = 0; t < 4; t++)
			pthread_join(th[t], NULL);
		_exit(0);
	}
	close(pfd[1]);
	struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	static struct ack acks[400000];
	size_t nacks = 0, got = 0;
	ssize_t r;
	while ((r = read(pfd[0], (uint8_t *)acks + got, sizeof(acks) - got)) > 0)
		got += (size_t)r;
	close(pfd[0]);
	nacks = got / sizeof(struct ack);
	assert_int_equal(got % sizeof(struct ack), 0);

	log_set_level(LOG_ERROR);
	struct wal *w = reopen(dir, 8 << 10, &S);
	log_set_level(LOG_INFO);
	print_message("crash test: %zu acknowledged, %zu replayed\n", nacks, S.n);
	assert_true(nacks > 0);
	assert_true(S.n >= nacks);
	/* Every acknowledged record is there, at the LSN the child was given. */
	for (size_t i = 0; i < nacks; i++) {
		/* Replayed LSNs are strictly increasing (collect checks), so search by LSN. */
		size_t lo = 0, hi = S.n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (S.lsns[mid] < acks[i].lsn)
				lo = mid + 1;
			else
				hi = mid;
		}
		assert_true(lo < S.n);
		assert_int_equal(S.lsns[lo], acks[i].lsn);
		assert_int_equal(S.ids[lo], acks[i].id);
	}
	/* And the log takes appends again. */
	uint64_t lsn;
	append_id(w, 12345, &lsn);
	assert_true(S.n == 0 || lsn > S.lsns[S.n - 1]);
	wal_close(w);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_segments),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_torn_tail_every_offset),
		cmocka_unit_test(test_bit_flip),
		cmocka_unit_test(test_empty_and_header_only),
		cmocka_unit_test(test_cut_and_remove),
		cmocka_unit_test(test_misuse_and_errors),
		cmocka_unit_test(test_scan_direct),
		cmocka_unit_test(test_crash_sigkill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
