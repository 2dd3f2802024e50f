#include "model/profile_type.h"

int profile_type_parse(struct slice s, struct profile_type *out, char *err, size_t errlen)
{
	struct slice parts[6];
	size_t n = 0, start = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i <= s.n; i++) {
		if (i < s.n && s.p[i] != ':')
			continue;
		if (n == 6) {
			n = 7;
			break;
		}
		parts[n++] = slice_make(s.p ? s.p + start : NULL, i - start);
		start = i + 1;
	}
	if (n != 5 && n != 6) {
		if (n == 7) { /* count them all for the message, as Pyroscope does */
			n = 1;
			for (size_t i = 0; i < s.n; i++)
				n += s.p[i] == ':';
		}
		int shown = (int)EMBER_MIN(s.n, (size_t)200);
		snprintf(err, errlen,
			 "profile-type selection must be of the form "
			 "<name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), "
			 "got(%zu): \"%.*s%s\"",
			 n, shown, s.p ? (const char *)s.p : "", s.n > 200 ? "..." : "");
		return EMBER_EINVAL;
	}
	out->id = s;
	out->name = parts[0];
	out->sample_type = parts[1];
	out->sample_unit = parts[2];
	out->period_type = parts[3];
	out->period_unit = parts[4];
	if (n == 6) {
		out->suffix = parts[5];
		out->has_suffix = true;
	}
	return 0;
}

void profile_type_format(const struct profile_type *pt, struct buf *out)
{
	const struct slice *p[5] = {&pt->name, &pt->sample_type, &pt->sample_unit,
				    &pt->period_type, &pt->period_unit};
	for (int i = 0; i < 5; i++) {
		if (i)
			buf_append_byte(out, ':');
		if (p[i]->n)
			buf_append(out, p[i]->p, p[i]->n);
	}
}

struct profile_type profile_type_make(struct slice name, struct slice sample_type,
				      struct slice sample_unit, struct slice period_type,
				      struct slice period_unit)
{
	struct profile_type pt = {0};
	pt.name = name;
	pt.sample_type = sample_type;
	pt.sample_unit = sample_unit;
	pt.period_type = period_type;
	pt.period_unit = period_unit;
	return pt;
}

void profile_type_set_labels(const struct profile_type *pt, struct labels *ls, struct arena *a)
{
	struct buf b = BUF_INIT;
	profile_type_format(pt, &b);
	char *id = arena_strndup(a, b.p ? (const char *)b.p : "", b.n);
	struct slice ids = slice_make(id, b.n);
	buf_release(&b);
	labels_set(ls, a, slice_cstr(LABEL_NAME), pt->name);
	labels_set(ls, a, slice_cstr(LABEL_PROFILE_TYPE), ids);
	labels_set(ls, a, slice_cstr(LABEL_TYPE), pt->sample_type);
	labels_set(ls, a, slice_cstr(LABEL_UNIT), pt->sample_unit);
	labels_set(ls, a, slice_cstr(LABEL_PERIOD_TYPE), pt->period_type);
	labels_set(ls, a, slice_cstr(LABEL_PERIOD_UNIT), pt->period_unit);
}
