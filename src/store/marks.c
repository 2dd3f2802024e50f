/* marks: deletion-mark.json files and removing block directories (see marks.h). */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/marks.h"

void mark_format(const char *ulid, int64_t deletion_time_s, const char *details, struct buf *out)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(ulid));
	json_object_set_new(o, "version", json_integer(1));
	if (details && details[0])
		json_object_set_new(o, "details", json_string(details));
	json_object_set_new(o, "deletion_time", json_integer(deletion_time_s));
	char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
	buf_append_cstr(out, s);
	buf_append_cstr(out, "\n");
	free(s);
	json_decref(o);
}

int mark_parse(struct slice json, int64_t *deletion_time_s)
{
	if (json.n > MARK_MAX_BYTES)
		return EMBER_ECORRUPT;
	json_error_t je;
	json_t *o = json_loadb((const char *)json.p, json.n, JSON_REJECT_DUPLICATES, &je);
	int rc = EMBER_ECORRUPT;
	if (!o || !json_is_object(o))
		goto out;
	json_t *id = json_object_get(o, "id"), *t = json_object_get(o, "deletion_time"),
	       *v = json_object_get(o, "version");
	if (!json_is_string(id) || !json_is_integer(t) || (v && (!json_is_integer(v) || json_integer_value(v) != 1)))
		goto out;
	*deletion_time_s = json_integer_value(t);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return EMBER_EIO;
	int rc = fsync(fd) ? EMBER_EIO : 0;
	close(fd);
	return rc;
}

int mark_write_local(const char *block_dir, const char *ulid, int64_t deletion_time_s, const char *details)
{
	struct buf b = BUF_INIT;
	mark_format(ulid, deletion_time_s, details, &b);
	char *tmp = xasprintf("%s/.%s.tmp", block_dir, MARK_FILE);
	char *path = xasprintf("%s/%s", block_dir, MARK_FILE);
	int rc = EMBER_EIO;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	size_t done = 0;
	while (done < b.n) {
		ssize_t w = write(fd, b.p + done, b.n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	bool ok = done == b.n && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		goto out;
	}
	rc = fsync_dir(block_dir);
out:
	free(tmp);
	free(path);
	buf_release(&b);
	return rc;
}

bool mark_exists_local(const char *block_dir)
{
	char *path = xasprintf("%s/%s", block_dir, MARK_FILE);
	struct stat st;
	bool yes = stat(path, &st) == 0;
	free(path);
	return yes;
}

int mark_read_local(const char *block_dir, int64_t *deletion_time_s)
{
	char *path = xasprintf("%s/%s", block_dir, MARK_FILE);
	FILE *f = fopen(path, "rb");
	free(path);
	if (!f)
		return errno == ENOENT ? EMBER_ENOTFOUND : EMBER_EIO;
	char data[MARK_MAX_BYTES + 1];
	size_t n = fread(data, 1, sizeof(data), f);
	fclose(f);
	return mark_parse(slice_make(data, n), deletion_time_s);
}

int mark_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : EMBER_EIO;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : EMBER_EIO;
	int rc = 0;
	DIR *d = opendir(path);
	if (!d)
		return EMBER_EIO;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", path, e->d_name);
		if (mark_rm_rf(p))
			rc = EMBER_EIO;
		free(p);
	}
	closedir(d);
	if (rmdir(path) != 0 && errno != ENOENT)
		rc = EMBER_EIO;
	return rc;
}

int mark_remove_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *parent = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	char *dead = xasprintf("%s/.deleting-%s", parent, slash ? slash + 1 : path);
	int rc = EMBER_EIO;
	if (rename(path, dead) != 0) {
		rc = errno == ENOENT ? 0 : EMBER_EIO;
		goto out;
	}
	fsync_dir(parent);
	rc = mark_rm_rf(dead);
out:
	free(parent);
	free(dead);
	return rc;
}
