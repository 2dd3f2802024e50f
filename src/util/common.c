#include "util/common.h"

const char *ember_strerror(int err)
{
	switch (err) {
	case EMBER_OK: return "success";
	case EMBER_EINVAL: return "invalid input";
	case EMBER_ENOMEM: return "out of memory";
	case EMBER_EIO: return "i/o error";
	case EMBER_ETOOBIG: return "size limit exceeded";
	case EMBER_ENOTFOUND: return "not found";
	case EMBER_EUNSUP: return "not supported";
	case EMBER_ECORRUPT: return "data corrupt";
	case EMBER_ELIMIT: return "limit exceeded";
	case EMBER_EAUTH: return "unauthenticated";
	case EMBER_ESTATE: return "invalid state";
	}
	return "unknown error";
}

static void oom(size_t n)
{
	fprintf(stderr, "ember: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	char *p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void xgrow(void **array, size_t *cap, size_t need, size_t elem_size)
{
	if (need <= *cap)
		return;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / elem_size)
		oom(SIZE_MAX);
	*array = xrealloc(*array, ncap * elem_size);
	*cap = ncap;
}

int slice_cmp(struct slice a, struct slice b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}
