/* perfmap: /tmp/perf-<pid>.map and /proc/kallsyms parsers; see perfmap.h. */
#include <fcntl.h>
#include <unistd.h>

#include "agent/perfmap.h"
#include "util/common.h"

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses a hex number at p[*i..n) (optional 0x); false when none or over 64 bits. */
static bool parse_hex(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
	size_t j = *i;
	if (j + 1 < n && p[j] == '0' && (p[j + 1] == 'x' || p[j + 1] == 'X'))
		j += 2;
	size_t start = j;
	uint64_t v = 0;
	while (j < n && hexval(p[j]) >= 0) {
		if (j - start >= 16)
			return false;
		v = v << 4 | (uint64_t)hexval(p[j]);
		j++;
	}
	if (j == start)
		return false;
	*i = j;
	*out = v;
	return true;
}

static size_t skip_blanks(const uint8_t *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

int perfmap_parse(struct slice text, struct symtab *t, size_t *bad)
{
	size_t nbad = 0;
	int rc = 0;
	size_t first = t->n;
	const uint8_t *p = text.p;
	size_t pos = 0;
	while (pos < text.n) {
		const uint8_t *nl = memchr(p + pos, '\n', text.n - pos);
		size_t end = nl ? (size_t)(nl - p) : text.n;
		const uint8_t *l = p + pos;
		size_t n = end - pos;
		pos = end + 1;
		if (n && l[n - 1] == '\r')
			n--;
		size_t i = skip_blanks(l, n, 0);
		if (i == n)
			continue;
		uint64_t addr, size;
		if (!parse_hex(l, n, &i, &addr) || i >= n || (l[i] != ' ' && l[i] != '\t')) {
			nbad++;
			continue;
		}
		i = skip_blanks(l, n, i);
		if (!parse_hex(l, n, &i, &size) || i >= n || (l[i] != ' ' && l[i] != '\t')) {
			nbad++;
			continue;
		}
		i = skip_blanks(l, n, i);
		size_t nlen = n - i;
		if (nlen == 0 || memchr(l + i, '\0', nlen)) {
			nbad++;
			continue;
		}
		if (size == 0 || addr + size < addr)
			size = 1;
		/* aux orders aliases at one address: later lines first (JITs re-use code). */
		rc = symtab_add(t, addr, size, (const char *)l + i, nlen,
				UINT32_MAX - (uint32_t)EMBER_MIN(t->n - first, UINT32_MAX));
		if (rc < 0)
			break;
	}
	symtab_finish(t);
	if (bad)
		*bad = nbad;
	return rc;
}

int kallsyms_parse(struct slice text, struct symtab *t)
{
	int rc = 0;
	const uint8_t *p = text.p;
	size_t pos = 0;
	while (pos < text.n) {
		const uint8_t *nl = memchr(p + pos, '\n', text.n - pos);
		size_t end = nl ? (size_t)(nl - p) : text.n;
		const uint8_t *l = p + pos;
		size_t n = end - pos;
		pos = end + 1;
		size_t i = 0;
		uint64_t addr;
		if (!parse_hex(l, n, &i, &addr) || addr == 0)
			continue;
		i = skip_blanks(l, n, i);
		if (i >= n)
			continue;
		uint8_t type = l[i++];
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		i = skip_blanks(l, n, i);
		size_t ns = i;
		while (i < n && l[i] != ' ' && l[i] != '\t')
			i++;
		if (i == ns || memchr(l + ns, '\0', i - ns))
			continue;
		size_t ne = i;
		uint32_t aux = 0;
		i = skip_blanks(l, n, i);
		if (i < n && l[i] == '[') {
			const uint8_t *close = memchr(l + i, ']', n - i);
			if (close) {
				int64_t off = symtab_add_name(t, (const char *)l + i,
							      (size_t)(close - (l + i)) + 1);
				if (off < 0) {
					rc = (int)off;
					break;
				}
				aux = (uint32_t)off + 1;
			}
		}
		rc = symtab_add(t, addr, 0, (const char *)l + ns, ne - ns, aux);
		if (rc < 0)
			break;
	}
	symtab_finish(t);
	return rc;
}

int perfmap_read_file(const char *path, size_t max, char **out, size_t *n)
{
	int rc = EMBER_EIO;
	char *b = NULL;
	size_t len = 0, cap = 0;
	*out = NULL;
	*n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? EMBER_ENOTFOUND : EMBER_EIO;
	for (;;) {
		if (len == max) {
			rc = EMBER_ETOOBIG;
			break;
		}
		XGROW(b, cap, EMBER_MIN(len + 65536, max) + 1);
		ssize_t r = read(fd, b + len, EMBER_MIN(cap - 1, max) - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (r == 0) {
			rc = 0;
			break;
		}
		len += (size_t)r;
	}
	if (!b)
		b = xmalloc(1);
	b[len] = '\0';
	*out = b;
	*n = len;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}
