/* objstore: the backend-independent half: key rules, per-thread error messages, dispatch. */
#include "objstore/objstore_internal.h"

static _Thread_local char errmsg[1024];

int objstore__fail(int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

const char *objstore_errmsg(void)
{
	return errmsg;
}

int objstore_key_check(const char *key)
{
	if (!key || !*key)
		return objstore__fail(EMBER_EINVAL, "empty object key");
	size_t n = strlen(key);
	if (n > OBJSTORE_MAX_KEY)
		return objstore__fail(EMBER_EINVAL, "object key longer than %d bytes", OBJSTORE_MAX_KEY);
	if (key[0] == '/')
		return objstore__fail(EMBER_EINVAL, "object key %s starts with '/'", key);
	if (key[n - 1] == '/')
		return objstore__fail(EMBER_EINVAL, "object key %s ends with '/'", key);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c < 0x20 || c == 0x7f)
			return objstore__fail(EMBER_EINVAL, "object key has a control character (byte 0x%02x at %zu)",
					      c, i);
	}
	for (const char *seg = key; seg;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len == 0)
			return objstore__fail(EMBER_EINVAL, "object key %s has an empty segment", key);
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return objstore__fail(EMBER_EINVAL, "object key %s has a '.' or '..' segment", key);
		if (len >= strlen(OBJSTORE_TMP_PREFIX) && !strncmp(seg, OBJSTORE_TMP_PREFIX, strlen(OBJSTORE_TMP_PREFIX)))
			return objstore__fail(EMBER_EINVAL, "object key %s has a segment starting with %s (reserved)",
					      key, OBJSTORE_TMP_PREFIX);
		seg = slash ? slash + 1 : NULL;
	}
	return 0;
}

int objstore_open(const struct objstore_config *cfg, struct objstore **out, char *err, size_t errlen)
{
	*out = NULL;
	const char *b = cfg->backend && *cfg->backend ? cfg->backend : "filesystem";
	int rc;
	if (!strcmp(b, "filesystem"))
		rc = objstore__fs_open(cfg, out, err, errlen);
	else if (!strcmp(b, "s3"))
		rc = objstore__s3_open(cfg, out, err, errlen);
	else {
		snprintf(err, errlen, "unknown storage backend %s (supported: filesystem, s3)", b);
		return EMBER_EINVAL;
	}
	if (rc == 0)
		(*out)->max_get_bytes = cfg->max_get_bytes ? cfg->max_get_bytes : (uint64_t)4 << 30;
	return rc;
}

int objstore_config_check(const struct objstore_config *cfg, char *err, size_t errlen)
{
	const char *b = cfg->backend && *cfg->backend ? cfg->backend : "filesystem";
	if (!strcmp(b, "filesystem")) {
		if (!cfg->fs_dir || !*cfg->fs_dir) {
			snprintf(err, errlen, "filesystem storage needs a directory (-storage.filesystem.dir)");
			return EMBER_EINVAL;
		}
		return 0;
	}
	if (!strcmp(b, "s3"))
		return objstore__s3_check(cfg, err, errlen);
	snprintf(err, errlen, "unknown storage backend %s (supported: filesystem, s3)", b);
	return EMBER_EINVAL;
}

void objstore_close(struct objstore *os)
{
	if (os)
		os->ops->close(os);
}

const char *objstore_backend(const struct objstore *os)
{
	return os->ops->name;
}

int objstore_put(struct objstore *os, const char *key, struct slice data)
{
	errmsg[0] = '\0';
	int rc = objstore_key_check(key);
	return rc ? rc : os->ops->put(os, key, data);
}

int objstore_put_file(struct objstore *os, const char *key, const char *path)
{
	errmsg[0] = '\0';
	int rc = objstore_key_check(key);
	return rc ? rc : os->ops->put_file(os, key, path);
}

static int get_common(struct objstore *os, const char *key, bool whole, uint64_t off, uint64_t len,
		      struct buf *out)
{
	errmsg[0] = '\0';
	int rc = objstore_key_check(key);
	if (rc)
		return rc;
	size_t n0 = out->n;
	rc = os->ops->get_range(os, key, whole, off, len, out);
	if (rc)
		out->n = n0;
	return rc;
}

int objstore_get(struct objstore *os, const char *key, struct buf *out)
{
	return get_common(os, key, true, 0, 0, out);
}

int objstore_get_range(struct objstore *os, const char *key, uint64_t off, uint64_t len, struct buf *out)
{
	if (len > os->max_get_bytes)
		len = os->max_get_bytes + 1; /* the backend reports ETOOBIG if that much is there */
	return get_common(os, key, false, off, len, out);
}

int objstore_stat(struct objstore *os, const char *key, uint64_t *size)
{
	errmsg[0] = '\0';
	int rc = objstore_key_check(key);
	return rc ? rc : os->ops->stat(os, key, size);
}

int objstore_list(struct objstore *os, const char *prefix, objstore_list_fn fn, void *ctx)
{
	errmsg[0] = '\0';
	if (!prefix)
		prefix = "";
	if (strlen(prefix) > OBJSTORE_MAX_KEY)
		return objstore__fail(EMBER_EINVAL, "list prefix longer than %d bytes", OBJSTORE_MAX_KEY);
	if (prefix[0] == '/')
		return objstore__fail(EMBER_EINVAL, "list prefix %s starts with '/'", prefix);
	return os->ops->list(os, prefix, fn, ctx);
}

int objstore_delete(struct objstore *os, const char *key)
{
	errmsg[0] = '\0';
	int rc = objstore_key_check(key);
	return rc ? rc : os->ops->del(os, key);
}
