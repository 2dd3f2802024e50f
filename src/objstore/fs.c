/* objstore filesystem backend: key "a/b/c" is the file <root>/a/b/c.
 *
 * Puts write "<dir>/.ember-tmp-<pid>-<n>" next to the target, fsync it, rename it over the
 * target and fsync the directory, so a reader (or a crash) sees the old file or the new
 * one. Deletes remove the file, then the directories left empty up to the root, so a
 * deleted block leaves nothing behind. A put racing with such an rmdir retries its mkdir. */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "objstore/objstore_internal.h"

struct fs_store {
	struct objstore base;
	char *root; /* without a trailing '/' */
	atomic_uint_fast64_t seq;
};

static char *fs_path(const struct fs_store *fs, const char *key)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/%s", fs->root, key);
	return buf_cstr(&b);
}

/* mkdir -p of path's parent directories (everything before the last '/'). */
static int mkdir_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0755);
		int e = errno;
		*p = '/';
		if (r != 0 && e != EEXIST) {
			errno = e;
			return -1;
		}
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, EMBER_MIN(n, (size_t)1 << 30));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes a temporary file in the target's directory through fill(), then renames it over
 * the target durably. */
typedef int (*fill_fn)(int fd, void *ctx, const char *key);

static int fs_put_with(struct fs_store *fs, const char *key, fill_fn fill, void *ctx)
{
	int rc = EMBER_EIO;
	int fd = -1;
	char *path = fs_path(fs, key);
	struct buf tmp = BUF_INIT;
	char *slash = strrchr(path, '/');
	size_t dirlen = (size_t)(slash - path);
	buf_printf(&tmp, "%.*s/%s-%ld-%llu", (int)dirlen, path, OBJSTORE_TMP_PREFIX, (long)getpid(),
		   (unsigned long long)atomic_fetch_add(&fs->seq, 1));
	char *tmppath = buf_cstr(&tmp);
	/* A concurrent delete may remove a directory we just created: try again. */
	for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
		if (mkdir_parents(path) != 0) {
			if (errno == ENOENT)
				continue;
			rc = objstore__fail(EMBER_EIO, "put %s: cannot create directories for %s: %s", key, path,
					    strerror(errno));
			goto out;
		}
		fd = open(tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 && errno != ENOENT)
			break;
	}
	if (fd < 0) {
		rc = objstore__fail(EMBER_EIO, "put %s: cannot create %s: %s", key, tmppath, strerror(errno));
		goto out;
	}
	rc = fill(fd, ctx, key);
	if (rc)
		goto out;
	if (fsync(fd) != 0) {
		rc = objstore__fail(EMBER_EIO, "put %s: fsync: %s", key, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmppath, path) != 0) {
		rc = objstore__fail(EMBER_EIO, "put %s: rename to %s: %s", key, path, strerror(errno));
		goto out;
	}
	tmppath = NULL;
	*slash = '\0';
	if (fsync_dir(path) != 0) {
		rc = objstore__fail(EMBER_EIO, "put %s: fsync of directory %s: %s", key, path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmppath && rc)
		unlink(tmppath);
	buf_release(&tmp);
	free(path);
	return rc;
}

static int fill_slice(int fd, void *ctx, const char *key)
{
	const struct slice *s = ctx;
	if (write_all(fd, s->p, s->n) != 0)
		return objstore__fail(EMBER_EIO, "put %s: write: %s", key, strerror(errno));
	return 0;
}

static int fs_put(struct objstore *os, const char *key, struct slice data)
{
	return fs_put_with((struct fs_store *)os, key, fill_slice, &data);
}

struct file_src {
	const char *path;
	int fd;
};

static int fill_file(int fd, void *ctx, const char *key)
{
	struct file_src *src = ctx;
	size_t cap = 1 << 20;
	uint8_t *chunk = xmalloc(cap);
	int rc = EMBER_EIO;
	for (;;) {
		ssize_t r = read(src->fd, chunk, cap);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = objstore__fail(EMBER_EIO, "put %s: read %s: %s", key, src->path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (write_all(fd, chunk, (size_t)r) != 0) {
			rc = objstore__fail(EMBER_EIO, "put %s: write: %s", key, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	free(chunk);
	return rc;
}

static int fs_put_file(struct objstore *os, const char *key, const char *path)
{
	struct file_src src = {path, open(path, O_RDONLY | O_CLOEXEC)};
	if (src.fd < 0)
		return objstore__fail(errno == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO, "put %s: cannot open %s: %s", key,
				      path, strerror(errno));
	int rc = fs_put_with((struct fs_store *)os, key, fill_file, &src);
	close(src.fd);
	return rc;
}

/* Opens a key's file for reading; a directory is not an object. */
static int open_object(struct fs_store *fs, const char *key, int *fd_out, uint64_t *size)
{
	char *path = fs_path(fs, key);
	int rc = EMBER_EIO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			rc = objstore__fail(EMBER_ENOTFOUND, "%s: no such object", key);
		else
			rc = objstore__fail(EMBER_EIO, "%s: cannot open %s: %s", key, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = objstore__fail(EMBER_EIO, "%s: fstat: %s", key, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = objstore__fail(EMBER_ENOTFOUND, "%s: no such object (a directory)", key);
		goto out;
	}
	*size = (uint64_t)st.st_size;
	*fd_out = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int fs_get_range(struct objstore *os, const char *key, bool whole, uint64_t off, uint64_t len,
			struct buf *out)
{
	struct fs_store *fs = (struct fs_store *)os;
	int fd = -1;
	uint64_t size;
	int rc = open_object(fs, key, &fd, &size);
	if (rc)
		return rc;
	if (whole) {
		off = 0;
		len = size;
	} else if (off >= size && len > 0) {
		rc = objstore__fail(EMBER_EINVAL, "%s: range starts at %llu, past the end (%llu bytes)", key,
				    (unsigned long long)off, (unsigned long long)size);
		goto out;
	}
	uint64_t n = EMBER_MIN(len, size - off);
	if (n > os->max_get_bytes) {
		rc = objstore__fail(EMBER_ETOOBIG, "%s: %llu bytes is more than the %llu-byte read limit", key,
				    (unsigned long long)n, (unsigned long long)os->max_get_bytes);
		goto out;
	}
	buf_reserve(out, (size_t)n);
	uint64_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, out->p + out->n, (size_t)EMBER_MIN(n - done, (uint64_t)1 << 30),
				  (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = objstore__fail(EMBER_EIO, "%s: read: %s", key, strerror(errno));
			goto out;
		}
		if (r == 0) /* the file shrank: only possible if someone else writes into our tree */
			break;
		out->n += (size_t)r;
		done += (uint64_t)r;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static int fs_stat(struct objstore *os, const char *key, uint64_t *size)
{
	int fd = -1;
	int rc = open_object((struct fs_store *)os, key, &fd, size);
	if (rc == 0)
		close(fd);
	return rc;
}

struct entry {
	char *key;
	uint64_t size;
};

struct walk {
	const char *prefix;
	size_t prefix_len;
	struct entry *v;
	size_t n, cap;
};

/* A temporary file untouched for an hour was left by a crashed put: remove it. (A live put
 * writes continuously, which keeps its mtime fresh.) */
static void sweep_tmp(const char *dir, const char *name)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, name);
	struct stat st;
	if (lstat(buf_cstr(&p), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime + 3600 < time(NULL))
		unlink(buf_cstr(&p));
	buf_release(&p);
}

/* Walks dir (holding keys starting with kp, kp either "" or ending in '/'). Only descends
 * where keys can still match the prefix. */
static int walk_dir(struct walk *w, const char *dir, struct buf *kp)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* nothing there (or removed meanwhile) */
		return objstore__fail(EMBER_EIO, "list: cannot open directory %s: %s", dir, strerror(errno));
	}
	int rc = 0;
	size_t kp0 = kp->n;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!strncmp(name, OBJSTORE_TMP_PREFIX, strlen(OBJSTORE_TMP_PREFIX))) {
			sweep_tmp(dir, name);
			continue;
		}
		kp->n = kp0;
		buf_append_cstr(kp, name);
		struct buf child = BUF_INIT;
		buf_printf(&child, "%s/%s", dir, name);
		struct stat st;
		if (lstat(buf_cstr(&child), &st) != 0) {
			buf_release(&child);
			continue; /* removed meanwhile */
		}
		if (S_ISDIR(st.st_mode)) {
			buf_append_byte(kp, '/');
			size_t m = EMBER_MIN(kp->n, w->prefix_len);
			if (!memcmp(kp->p, w->prefix, m))
				rc = walk_dir(w, buf_cstr(&child), kp);
		} else if (S_ISREG(st.st_mode) && kp->n >= w->prefix_len &&
			   !memcmp(kp->p, w->prefix, w->prefix_len)) {
			XGROW(w->v, w->cap, w->n + 1);
			w->v[w->n].key = xstrndup((const char *)kp->p, kp->n);
			w->v[w->n].size = (uint64_t)st.st_size;
			w->n++;
		}
		buf_release(&child);
		if (rc)
			break;
	}
	kp->n = kp0;
	closedir(d);
	return rc;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

static int fs_list(struct objstore *os, const char *prefix, objstore_list_fn fn, void *ctx)
{
	struct fs_store *fs = (struct fs_store *)os;
	struct walk w = {prefix, strlen(prefix), NULL, 0, 0};
	/* Start at the deepest directory the prefix names ("a/b/c" -> <root>/a/b). */
	const char *last = strrchr(prefix, '/');
	struct buf kp = BUF_INIT, dir = BUF_INIT;
	if (last)
		buf_append(&kp, prefix, (size_t)(last - prefix) + 1);
	buf_printf(&dir, "%s/%.*s", fs->root, (int)kp.n, kp.p ? (const char *)kp.p : "");
	int rc = walk_dir(&w, buf_cstr(&dir), &kp);
	if (rc == 0) {
		if (w.n)
			sort_n(w.v, w.n, sizeof(*w.v), entry_cmp);
		for (size_t i = 0; i < w.n && rc == 0; i++)
			rc = fn(ctx, w.v[i].key, w.v[i].size);
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.v[i].key);
	free(w.v);
	buf_release(&kp);
	buf_release(&dir);
	return rc;
}

static int fs_delete(struct objstore *os, const char *key)
{
	struct fs_store *fs = (struct fs_store *)os;
	char *path = fs_path(fs, key);
	int rc = 0;
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		goto out; /* "a" when only "a/b" exists: no such object */
	if (unlink(path) != 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = objstore__fail(EMBER_EIO, "delete %s: %s", key, strerror(errno));
		goto out;
	}
	/* Remove the directories this leaves empty, up to (not including) the root. */
	size_t rootlen = strlen(fs->root);
	for (char *slash = strrchr(path, '/'); slash && (size_t)(slash - path) > rootlen; slash = strrchr(path, '/')) {
		*slash = '\0';
		if (rmdir(path) != 0)
			break;
	}
out:
	free(path);
	return rc;
}

static void fs_close(struct objstore *os)
{
	struct fs_store *fs = (struct fs_store *)os;
	free(fs->root);
	free(fs);
}

static const struct objstore_ops fs_ops = {
	.name = "filesystem",
	.put = fs_put,
	.put_file = fs_put_file,
	.get_range = fs_get_range,
	.stat = fs_stat,
	.list = fs_list,
	.del = fs_delete,
	.close = fs_close,
};

int objstore__fs_open(const struct objstore_config *cfg, struct objstore **out, char *err, size_t errlen)
{
	if (!cfg->fs_dir || !*cfg->fs_dir) {
		snprintf(err, errlen, "filesystem storage needs a directory (-storage.filesystem.dir)");
		return EMBER_EINVAL;
	}
	char *root = xstrdup(cfg->fs_dir);
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		root[--n] = '\0';
	/* mkdir -p of the root itself: mkdir_parents makes everything before the last '/'. */
	struct buf probe = BUF_INIT;
	buf_printf(&probe, "%s/x", root);
	int r = mkdir_parents(buf_cstr(&probe));
	buf_release(&probe);
	struct stat st;
	const char *why = NULL;
	if (r != 0 || stat(root, &st) != 0)
		why = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		why = "not a directory";
	if (why) {
		snprintf(err, errlen, "cannot use %s as the storage directory: %s", root, why);
		free(root);
		return EMBER_EIO;
	}
	struct fs_store *fs = xcalloc(1, sizeof(*fs));
	fs->base.ops = &fs_ops;
	fs->root = root;
	atomic_init(&fs->seq, 0);
	*out = &fs->base;
	return 0;
}
