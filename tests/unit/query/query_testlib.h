/* Helpers shared by the query unit tests: a reader over a bare head, and appending a
 * hand-built CPU profile of one service. Static functions: each test is one program. */
#ifndef EMBER_TESTS_QUERY_TESTLIB_H
#define EMBER_TESTS_QUERY_TESTLIB_H

#include "testutil.h"

#include "store/head.h"
#include "store/reader.h"

#define TEST_CPU_TYPE "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

/* Queries read through a struct reader; these tests read a bare head. */
static const struct reader *rd_of(struct head *h)
{
	static struct reader r;
	r = reader_of_head(h);
	return &r;
}

/* Appends every sample of p (at most 16) as one CPU profile of service at time t. */
static void head_add(struct head *h, const char *tenant, const char *service, const struct pprof_profile *p,
		     int64_t t)
{
	struct arena a;
	arena_init(&a, 0);
	struct labels ls = {0};
	labels_set(&ls, &a, slice_cstr("__name__"), slice_cstr("process_cpu"));
	labels_set(&ls, &a, slice_cstr("__profile_type__"), slice_cstr(TEST_CPU_TYPE));
	labels_set(&ls, &a, slice_cstr("service_name"), slice_cstr(service));
	labels_sort(&ls);
	uint32_t idx[16];
	assert_true(p->n_samples <= 16);
	for (size_t i = 0; i < p->n_samples; i++)
		idx[i] = (uint32_t)i;
	struct head_append_item it = {.labels = &ls, .time_ns = t, .samples = idx, .n_samples = p->n_samples, .scale = 1};
	assert_int_equal(head_append(h, slice_cstr(tenant), p, &it, 1), 0);
	arena_release(&a);
}

#endif
