/* procinfo.c: service names from /proc/<pid>/cgroup (procinfo.h). */
#include <ctype.h>

#include "agent/procinfo.h"
#include "util/common.h"

static bool is_hex64(const char *p, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return false;
	return true;
}

/* A container id inside one path segment: the segment itself, or "<prefix>-<id>.scope". */
static bool segment_container(const char *seg, size_t n, const char **id)
{
	if (is_hex64(seg, n)) {
		*id = seg;
		return true;
	}
	if (n > 6 && !memcmp(seg + n - 6, ".scope", 6)) {
		size_t m = n - 6;
		if (m >= 65 && seg[m - 65] == '-' && is_hex64(seg + m - 64, 64)) {
			*id = seg + m - 64;
			return true;
		}
	}
	return false;
}

bool procinfo_service_from_cgroup(const char *text, size_t n, char *out, size_t outlen)
{
	const char *unit = NULL, *container = NULL;
	size_t unit_n = 0;
	if (outlen)
		out[0] = 0;
	for (size_t i = 0; i < n;) {
		size_t e = i;
		while (e < n && text[e] != '\n')
			e++;
		/* the path is after the second ':' */
		size_t c1 = i;
		while (c1 < e && text[c1] != ':')
			c1++;
		size_t c2 = c1 + 1;
		while (c2 < e && text[c2] != ':')
			c2++;
		for (size_t s = c2 + 1; s < e;) {
			while (s < e && text[s] == '/')
				s++;
			size_t t = s;
			while (t < e && text[t] != '/')
				t++;
			if (t > s) {
				const char *id;
				if (!container && segment_container(text + s, t - s, &id))
					container = id;
				if (t - s > 8 && !memcmp(text + t - 8, ".service", 8)) {
					unit = text + s;
					unit_n = t - s;
				}
			}
			s = t;
		}
		i = e + 1;
	}
	if (container) {
		snprintf(out, outlen, "container/%.12s", container);
		return true;
	}
	if (unit) {
		snprintf(out, outlen, "%.*s", (int)unit_n, unit);
		return true;
	}
	return false;
}

void procinfo_service_name(const char *proc_root, int pid, const char *comm, char *out, size_t outlen)
{
	char path[256], text[8192];
	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root ? proc_root : "/proc", pid);
	FILE *f = fopen(path, "r");
	if (f) {
		size_t n = fread(text, 1, sizeof(text), f);
		fclose(f);
		if (procinfo_service_from_cgroup(text, n, out, outlen))
			return;
	}
	snprintf(out, outlen, "%s", comm && comm[0] ? comm : "unknown");
}
