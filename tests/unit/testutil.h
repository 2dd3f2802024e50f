/* Shared includes for unit tests (cmocka). Each *_test.c is one executable. */
#ifndef EMBER_TESTUTIL_H
#define EMBER_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Reads a whole file into a malloc'd buffer; fails the test if it cannot. */
static inline uint8_t *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Path of the shared test data folder; the Makefile passes the resolved path. */
#ifndef TESTDATA_DIR
#define TESTDATA_DIR "../shared/testdata"
#endif

#endif
