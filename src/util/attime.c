#include "util/attime.h"

#define ATTIME_MAX 64
#define NS_PER_S INT64_C(1000000000)

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool valid_date(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12 || d < 1)
		return false;
	int max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

static bool mul_add(int64_t a, int64_t b, int64_t c, int64_t *out)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
		return false;
	*out = r;
	return true;
}

static int parse_digits(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return EMBER_EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return EMBER_EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int64_t unit_seconds(const char *u, size_t n)
{
	static const struct {
		const char *name;
		int64_t secs;
	} units[] = {
		{"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
		{"m", 60}, {"min", 60}, {"mins", 60}, {"minute", 60}, {"minutes", 60},
		{"h", 3600}, {"hour", 3600}, {"hours", 3600},
		{"d", 86400}, {"day", 86400}, {"days", 86400},
		{"w", 7 * 86400}, {"week", 7 * 86400}, {"weeks", 7 * 86400},
		{"M", 30 * 86400}, {"mon", 30 * 86400}, {"month", 30 * 86400},
		{"months", 30 * 86400},
		{"y", 365 * 86400}, {"year", 365 * 86400}, {"years", 365 * 86400},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(units); i++)
		if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0)
			return units[i].secs;
	return -1;
}

int attime_parse(struct slice in, int64_t now_ns, int64_t *out_ns)
{
	char s[ATTIME_MAX];
	size_t n = 0, b = 0, e = in.n;
	while (b < e && is_space(in.p[b]))
		b++;
	while (e > b && is_space(in.p[e - 1]))
		e--;
	for (size_t i = b; i < e; i++) {
		uint8_t c = in.p[i];
		if (c == '_' || c == ',' || c == ' ')
			continue;
		if (n == ATTIME_MAX)
			return EMBER_EINVAL;
		s[n++] = (char)c;
	}
	if (n == 0) {
		*out_ns = now_ns;
		return 0;
	}
	bool digits = true;
	for (size_t i = 0; i < n && digits; i++)
		digits = s[i] >= '0' && s[i] <= '9';
	if (digits) {
		int64_t v;
		if (n == 8) {
			int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
			int m = (s[4] - '0') * 10 + (s[5] - '0');
			int d = (s[6] - '0') * 10 + (s[7] - '0');
			if (y > 1900 && valid_date(y, m, d)) {
				*out_ns = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 * NS_PER_S;
				return 0;
			}
		}
		if (parse_digits(s, n, &v))
			return EMBER_EINVAL;
		int64_t mul = n == 13 ? 1000000 : n == 16 ? 1000 : n == 19 ? 1 : NS_PER_S;
		return mul_add(v, mul, 0, out_ns) ? 0 : EMBER_EINVAL;
	}
	/* <ref><offset>: the reference ends at the first '+' or '-'. */
	size_t r = 0;
	while (r < n && s[r] != '+' && s[r] != '-')
		r++;
	if (!(r == 0 || (r == 3 && memcmp(s, "now", 3) == 0)))
		return EMBER_EINVAL;
	int64_t t = now_ns;
	if (r == n) {
		*out_ns = t;
		return 0;
	}
	int64_t sign = s[r] == '-' ? -1 : 1;
	size_t i = r + 1;
	if (i == n)
		return EMBER_EINVAL;
	int64_t total = 0; /* seconds */
	while (i < n) {
		size_t d0 = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d0)
			return EMBER_EINVAL;
		int64_t num;
		if (parse_digits(s + d0, i - d0, &num))
			return EMBER_EINVAL;
		size_t u0 = i;
		while (i < n && !(s[i] >= '0' && s[i] <= '9'))
			i++;
		int64_t mult = 0;
		if (i > u0) {
			mult = unit_seconds(s + u0, i - u0);
			if (mult < 0)
				return EMBER_EINVAL;
		}
		if (!mul_add(num, mult, total, &total))
			return EMBER_EINVAL;
	}
	int64_t off;
	if (!mul_add(total, sign * NS_PER_S, 0, &off) || __builtin_add_overflow(t, off, &t))
		return EMBER_EINVAL;
	*out_ns = t;
	return 0;
}
