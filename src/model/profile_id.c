#include <sys/random.h>
#include <time.h>

#include "model/profile_id.h"

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

/* n hex digit pairs from p into out; false on a non-hex character. */
static bool hex_bytes(const uint8_t *p, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

int profile_id_parse(struct slice s, uint8_t out[PROFILE_ID_LEN])
{
	if (s.n == 32)
		return hex_bytes(s.p, 16, out) ? 0 : EMBER_EINVAL;
	if (s.n == 45 && !memcmp(s.p, "urn:uuid:", 9)) {
		s.p += 9;
		s.n -= 9;
	} else if (s.n == 38 && s.p[0] == '{' && s.p[37] == '}') {
		s.p++;
		s.n -= 2;
	}
	if (s.n != 36 || s.p[8] != '-' || s.p[13] != '-' || s.p[18] != '-' || s.p[23] != '-')
		return EMBER_EINVAL;
	static const uint8_t at[] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
	for (size_t i = 0; i < PROFILE_ID_LEN; i++)
		if (!hex_bytes(s.p + at[i], 1, out + i))
			return EMBER_EINVAL;
	return 0;
}

void profile_id_random(uint8_t out[PROFILE_ID_LEN])
{
	size_t got = 0;
	while (got < PROFILE_ID_LEN) {
		ssize_t r = getrandom(out + got, PROFILE_ID_LEN - got, 0);
		if (r > 0) {
			got += (size_t)r;
		} else if (r < 0 && errno != EINTR) {
			/* No getrandom (very old kernel): ids need to be unique, not secret. */
			static uint64_t counter;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
				     __atomic_add_fetch(&counter, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
			for (size_t i = got; i < PROFILE_ID_LEN; i++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				out[i] = (uint8_t)(x >> 56);
			}
			got = PROFILE_ID_LEN;
		}
	}
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

void profile_id_format(const uint8_t id[PROFILE_ID_LEN], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < PROFILE_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 15];
	}
	out[o] = '\0';
}

int profile_span_parse(struct slice s, uint64_t *out)
{
	uint8_t b[8];
	if (s.n != 16 || !hex_bytes(s.p, 8, b))
		return EMBER_EINVAL;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	*out = v;
	return 0;
}
