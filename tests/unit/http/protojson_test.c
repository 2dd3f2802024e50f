/* protojson: encode/decode over generated descriptors and a hand-written one covering the
 * remaining field kinds. Expected JSON for the API messages was produced by an independent
 * implementation: Python protobuf 4.21.12 json_format.MessageToDict (Debian
 * python3-protobuf) over the same .proto files, dumped with separators (',', ':').
 * Float formatting follows Go's protojson (encoding/json rules), read from
 * google.golang.org/protobuf internal/encoding/json/encode.go appendFloat: Python writes
 * "15.0" and "1e-07" where Go writes "15" and "1e-7", so those literals are Go's. */
#include "testutil.h"

#include <math.h>
#include <protobuf-c/protobuf-c.h>

#include "capabilities.pb-c.h"
#include "http/protojson.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"
#include "version.pb-c.h"

/* ---- helpers ------------------------------------------------------------------------ */

static char *enc(const void *msg)
{
	struct buf b = BUF_INIT;
	assert_int_equal(protojson_encode(msg, &b), 0);
	return buf_cstr(&b); /* caller frees */
}

static void assert_json(const void *msg, const char *want)
{
	char *got = enc(msg);
	assert_string_equal(got, want);
	free(got);
}

static void *dec_ok(const ProtobufCMessageDescriptor *d, const char *json)
{
	ProtobufCMessage *m = NULL;
	char err[256];
	int rc = protojson_decode(d, slice_cstr(json), &m, err, sizeof(err));
	if (rc)
		fail_msg("decode of %s failed: %s", json, err);
	assert_non_null(m);
	assert_ptr_equal(m->descriptor, d);
	return m;
}

static void dec_err(const ProtobufCMessageDescriptor *d, const char *json, size_t n, const char *want_substr)
{
	ProtobufCMessage *m = (ProtobufCMessage *)1;
	char err[256];
	int rc = protojson_decode(d, slice_make(json, n), &m, err, sizeof(err));
	if (rc == 0)
		fail_msg("decode of %.*s unexpectedly succeeded", (int)n, json);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_null(m);
	if (!strstr(err, want_substr))
		fail_msg("error \"%s\" lacks \"%s\"", err, want_substr);
}
#define DEC_ERR(d, lit, sub) dec_err(d, lit, sizeof(lit) - 1, sub)

static void mfree(void *m)
{
	protobuf_c_message_free_unpacked(m, NULL);
}

/* Packed protobuf bytes of m (for equality of two messages). */
static struct buf packed(const void *m)
{
	struct buf b = BUF_INIT;
	size_t n = protobuf_c_message_get_packed_size(m);
	buf_reserve(&b, n + 1);
	b.n = protobuf_c_message_pack(m, b.p);
	return b;
}

/* ---- names -------------------------------------------------------------------------- */

static void test_field_names(void **state)
{
	(void)state;
	static const char *cases[][2] = {
		{"profile_typeID", "profileTypeID"}, {"labels_set", "labelsSet"}, {"ID", "ID"},
		{"leftTicks", "leftTicks"}, {"max_nodes", "maxNodes"}, {"raw_profile", "rawProfile"},
		{"QuerierAPI", "QuerierAPI"}, {"y_min", "yMin"}, {"a__b", "aB"}, {"x_1", "x1"},
		{"trailing_", "trailing"}, {"total_bytes_in_time_range", "totalBytesInTimeRange"},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		char out[64];
		size_t n = protojson_field_name(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
		assert_int_equal(n, strlen(cases[i][1]));
	}
	char small[4];
	assert_int_equal(protojson_field_name("profile_typeID", small, sizeof(small)), 13);
	assert_string_equal(small, "pro");
}

/* ---- encode: API messages vs Python json_format ----------------------------------------- */

static void test_encode_profile_types(void **state)
{
	(void)state;
	Types__V1__ProfileType pt = TYPES__V1__PROFILE_TYPE__INIT;
	pt.id = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
	pt.name = "process_cpu";
	pt.sample_type = "cpu";
	pt.sample_unit = "nanoseconds";
	pt.period_type = "cpu";
	pt.period_unit = "nanoseconds";
	Types__V1__ProfileType *pts[] = {&pt};
	Querier__V1__ProfileTypesResponse r = QUERIER__V1__PROFILE_TYPES_RESPONSE__INIT;
	r.n_profile_types = 1;
	r.profile_types = pts;
	assert_json(&r, "{\"profileTypes\":[{\"ID\":\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\","
			"\"name\":\"process_cpu\",\"sampleType\":\"cpu\",\"sampleUnit\":\"nanoseconds\","
			"\"periodType\":\"cpu\",\"periodUnit\":\"nanoseconds\"}]}");
	Querier__V1__ProfileTypesResponse empty = QUERIER__V1__PROFILE_TYPES_RESPONSE__INIT;
	assert_json(&empty, "{}");
}

static void test_encode_series(void **state)
{
	(void)state;
	Types__V1__LabelPair l1 = TYPES__V1__LABEL_PAIR__INIT, l2 = TYPES__V1__LABEL_PAIR__INIT;
	l1.name = "service_name";
	l1.value = "a\"b\n";
	l2.name = "__profile_type__";
	l2.value = "x";
	Types__V1__LabelPair *lp[] = {&l1, &l2};
	Types__V1__Labels ls1 = TYPES__V1__LABELS__INIT, ls2 = TYPES__V1__LABELS__INIT;
	ls1.n_labels = 2;
	ls1.labels = lp;
	Types__V1__Labels *set[] = {&ls1, &ls2};
	Querier__V1__SeriesResponse r = QUERIER__V1__SERIES_RESPONSE__INIT;
	r.n_labels_set = 2;
	r.labels_set = set;
	assert_json(&r, "{\"labelsSet\":[{\"labels\":[{\"name\":\"service_name\",\"value\":\"a\\\"b\\n\"},"
			"{\"name\":\"__profile_type__\",\"value\":\"x\"}]},{}]}");
}

static void test_encode_select_merge_request(void **state)
{
	(void)state;
	Types__V1__Location loc = TYPES__V1__LOCATION__INIT;
	loc.name = "main";
	Types__V1__Location *locs[] = {&loc};
	Types__V1__GoPGO pgo = TYPES__V1__GO_PGO__INIT;
	pgo.keep_locations = 4294967295u;
	pgo.aggregate_callees = 1;
	Types__V1__StackTraceSelector sel = TYPES__V1__STACK_TRACE_SELECTOR__INIT;
	sel.n_call_site = 1;
	sel.call_site = locs;
	sel.go_pgo = &pgo;
	Querier__V1__AsyncQueryRequest async = QUERIER__V1__ASYNC_QUERY_REQUEST__INIT;
	char *pids[] = {"a", ""};
	char *spans[] = {"00f067aa0ba902b7"};
	Querier__V1__SelectMergeStacktracesRequest m = QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST__INIT;
	m.profile_typeid = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
	m.label_selector = "{service_name=\"x\"}";
	m.start = 1000;
	m.end = -4000;
	m.max_nodes = 8192;
	m.format = QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE;
	m.stack_trace_selector = &sel;
	m.n_profile_id_selector = 2;
	m.profile_id_selector = pids;
	m.async = &async;
	m.n_span_selector = 1;
	m.span_selector = spans;
	static const char want[] =
		"{\"profileTypeID\":\"process_cpu:cpu:nanoseconds:cpu:nanoseconds\",\"labelSelector\":"
		"\"{service_name=\\\"x\\\"}\",\"start\":\"1000\",\"end\":\"-4000\",\"maxNodes\":\"8192\","
		"\"format\":\"PROFILE_FORMAT_TREE\",\"stackTraceSelector\":{\"callSite\":[{\"name\":\"main\"}],"
		"\"goPgo\":{\"keepLocations\":4294967295,\"aggregateCallees\":true}},\"profileIdSelector\":"
		"[\"a\",\"\"],\"async\":{},\"spanSelector\":[\"00f067aa0ba902b7\"]}";
	assert_json(&m, want);

	/* And back: every value survives, and re-encoding gives the same text. */
	Querier__V1__SelectMergeStacktracesRequest *d =
		dec_ok(&querier__v1__select_merge_stacktraces_request__descriptor, want);
	assert_string_equal(d->profile_typeid, m.profile_typeid);
	assert_int_equal(d->start, 1000);
	assert_int_equal(d->end, -4000);
	assert_int_equal(d->max_nodes, 8192);
	assert_int_equal(d->format, QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE);
	assert_int_equal(d->stack_trace_selector->go_pgo->keep_locations, 4294967295u);
	assert_string_equal(d->stack_trace_selector->call_site[0]->name, "main");
	assert_int_equal(d->n_profile_id_selector, 2);
	assert_string_equal(d->profile_id_selector[1], "");
	assert_non_null(d->async);
	assert_json(d, want);
	mfree(d);
}

static void test_encode_response_kinds(void **state)
{
	(void)state;
	/* bytes, int64 extremes, empty repeated element, string */
	char *names[] = {"total", "a"};
	int64_t v0[] = {0, 5, 0, 0};
	Querier__V1__Level lv0 = QUERIER__V1__LEVEL__INIT, lv1 = QUERIER__V1__LEVEL__INIT;
	lv0.n_values = 4;
	lv0.values = v0;
	Querier__V1__Level *lvs[] = {&lv0, &lv1};
	Querier__V1__FlameGraph fg = QUERIER__V1__FLAME_GRAPH__INIT;
	fg.n_names = 2;
	fg.names = names;
	fg.n_levels = 2;
	fg.levels = lvs;
	fg.total = 5;
	fg.max_self = INT64_MAX;
	uint8_t tree[] = {0, 1, 2, 0xfb, 0xff};
	Querier__V1__SelectMergeStacktracesResponse r = QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
	r.flamegraph = &fg;
	r.tree.data = tree;
	r.tree.len = sizeof(tree);
	r.dot = "digraph";
	assert_json(&r, "{\"flamegraph\":{\"names\":[\"total\",\"a\"],\"levels\":[{\"values\":[\"0\",\"5\",\"0\","
			"\"0\"]},{}],\"total\":\"5\",\"maxSelf\":\"9223372036854775807\"},\"tree\":\"AAEC+/8=\","
			"\"dot\":\"digraph\"}");

	Querier__V1__FlameGraphDiff d = QUERIER__V1__FLAME_GRAPH_DIFF__INIT;
	d.leftticks = 3;
	d.rightticks = INT64_MIN;
	assert_json(&d, "{\"leftTicks\":\"3\",\"rightTicks\":\"-9223372036854775808\"}");

	/* uint64 max, bool */
	Querier__V1__QueryScope qs = QUERIER__V1__QUERY_SCOPE__INIT;
	qs.component_type = "x";
	qs.component_count = UINT64_MAX;
	qs.block_count = 1;
	Querier__V1__QueryScope *qsp[] = {&qs};
	Querier__V1__QueryImpact qi = QUERIER__V1__QUERY_IMPACT__INIT;
	qi.deduplication_needed = 1;
	Querier__V1__AnalyzeQueryResponse a = QUERIER__V1__ANALYZE_QUERY_RESPONSE__INIT;
	a.n_query_scopes = 1;
	a.query_scopes = qsp;
	a.query_impact = &qi;
	assert_json(&a, "{\"queryScopes\":[{\"componentType\":\"x\",\"componentCount\":\"18446744073709551615\","
			"\"blockCount\":\"1\"}],\"queryImpact\":{\"deduplicationNeeded\":true}}");

	/* int32 (negative), repeated string */
	char *src[] = {"s1"};
	Types__V1__BlockCompaction bc = TYPES__V1__BLOCK_COMPACTION__INIT;
	bc.level = -3;
	bc.n_sources = 1;
	bc.sources = src;
	assert_json(&bc, "{\"level\":-3,\"sources\":[\"s1\"]}");

	/* enums from another package, double, int64 */
	char *gb[] = {"service_name"};
	Querier__V1__SelectSeriesRequest ss = QUERIER__V1__SELECT_SERIES_REQUEST__INIT;
	ss.n_group_by = 1;
	ss.group_by = gb;
	ss.step = 15.0;
	ss.aggregation = TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
	ss.limit = 10;
	ss.exemplar_type = TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_SPAN;
	assert_json(&ss, "{\"groupBy\":[\"service_name\"],\"step\":15,\"aggregation\":"
			 "\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\",\"limit\":\"10\",\"exemplarType\":"
			 "\"EXEMPLAR_TYPE_SPAN\"}");

	/* An enum number outside the enum stays a number (open enum). */
	Querier__V1__SelectMergeSpanProfileRequest sp = QUERIER__V1__SELECT_MERGE_SPAN_PROFILE_REQUEST__INIT;
	sp.format = 42;
	assert_json(&sp, "{\"format\":42}");

	/* uint64 with a capitalised proto name */
	Version__V1__VersionResponse vr = VERSION__V1__VERSION_RESPONSE__INIT;
	vr.querierapi = 1;
	assert_json(&vr, "{\"QuerierAPI\":\"1\"}");

	/* Push: nested repeated + bytes */
	uint8_t raw[] = "\x1f\x8b\x08hello";
	Push__V1__RawSample s = PUSH__V1__RAW_SAMPLE__INIT;
	s.raw_profile.data = raw;
	s.raw_profile.len = 8;
	s.id = "734FD599";
	Push__V1__RawSample *sp2[] = {&s};
	Types__V1__LabelPair lp = TYPES__V1__LABEL_PAIR__INIT;
	lp.name = "__name__";
	lp.value = "process_cpu";
	Types__V1__LabelPair *lps[] = {&lp};
	Push__V1__RawProfileSeries se = PUSH__V1__RAW_PROFILE_SERIES__INIT;
	se.n_labels = 1;
	se.labels = lps;
	se.n_samples = 1;
	se.samples = sp2;
	Push__V1__RawProfileSeries *ses[] = {&se};
	Push__V1__PushRequest pr = PUSH__V1__PUSH_REQUEST__INIT;
	pr.n_series = 1;
	pr.series = ses;
	assert_json(&pr, "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"process_cpu\"}],"
			 "\"samples\":[{\"rawProfile\":\"H4sIaGVsbG8=\",\"ID\":\"734FD599\"}]}]}");
}

static void test_encode_floats(void **state)
{
	(void)state;
	/* Go's protojson: shortest round-trip digits, plain notation in [1e-6, 1e21), e-notation
	 * outside with "e-7"/"e+21" exponents; NaN and infinities as strings; -0 is set. */
	double ys[] = {0.5, -1.25, 1e21, 1e-7, 123456789.0, 0.1, 1e20, 1e-6, 0.000123, 5e-324, 1.7976931348623157e308, 2.5e-10};
	int32_t counts[] = {INT32_MIN, 0, INT32_MAX};
	Types__V1__HeatmapSlot h = TYPES__V1__HEATMAP_SLOT__INIT;
	h.timestamp = 1;
	h.n_y_min = EMBER_ARRAY_LEN(ys);
	h.y_min = ys;
	h.n_counts = 3;
	h.counts = counts;
	assert_json(&h, "{\"timestamp\":\"1\",\"yMin\":[0.5,-1.25,1e+21,1e-7,123456789,0.1,100000000000000000000,"
			"0.000001,0.000123,5e-324,1.7976931348623157e+308,2.5e-10],\"counts\":[-2147483648,0,2147483647]}");

	Types__V1__Point p = TYPES__V1__POINT__INIT;
	p.value = NAN;
	p.timestamp = 1;
	assert_json(&p, "{\"value\":\"NaN\",\"timestamp\":\"1\"}");
	p.value = -INFINITY;
	p.timestamp = 0;
	assert_json(&p, "{\"value\":\"-Infinity\"}");
	p.value = INFINITY;
	assert_json(&p, "{\"value\":\"Infinity\"}");
	p.value = -0.0;
	assert_json(&p, "{\"value\":-0}");
	p.value = 0.0;
	assert_json(&p, "{}");

	/* And each reads back bit-exactly. */
	char *js = enc(&h);
	Types__V1__HeatmapSlot *d = dec_ok(&types__v1__heatmap_slot__descriptor, js);
	assert_int_equal(d->n_y_min, EMBER_ARRAY_LEN(ys));
	assert_memory_equal(d->y_min, ys, sizeof(ys));
	mfree(d);
	free(js);
	Types__V1__Point *pn = dec_ok(&types__v1__point__descriptor, "{\"value\":\"NaN\"}");
	assert_true(isnan(pn->value));
	mfree(pn);
	pn = dec_ok(&types__v1__point__descriptor, "{\"value\":\"-Infinity\"}");
	assert_true(isinf(pn->value) && pn->value < 0);
	mfree(pn);
	pn = dec_ok(&types__v1__point__descriptor, "{\"value\":\"1.5e3\"}");
	assert_true(pn->value == 1500.0);
	mfree(pn);
}

static void test_encode_decode_map(void **state)
{
	(void)state;
	Version__V1__InstanceVersion iv = VERSION__V1__INSTANCE_VERSION__INIT;
	iv.id = "1";
	iv.querierapi = 2;
	Version__V1__Versions__InstancesEntry e = VERSION__V1__VERSIONS__INSTANCES_ENTRY__INIT;
	e.key = "ing-1";
	e.value = &iv;
	Version__V1__Versions__InstancesEntry *es[] = {&e};
	Version__V1__Versions v = VERSION__V1__VERSIONS__INIT;
	v.n_instances = 1;
	v.instances = es;
	assert_json(&v, "{\"instances\":{\"ing-1\":{\"ID\":\"1\",\"QuerierAPI\":\"2\"}}}");

	Version__V1__Versions *d = dec_ok(&version__v1__versions__descriptor,
					  "{\"instances\":{\"ing-2\":{\"left\":true},\"ing-1\":{\"ID\":\"1\",\"QuerierAPI\":\"2\"},\"\":{}}}");
	assert_int_equal(d->n_instances, 3);
	int seen = 0;
	for (size_t i = 0; i < d->n_instances; i++) {
		if (strcmp(d->instances[i]->key, "ing-1") == 0) {
			assert_string_equal(d->instances[i]->value->id, "1");
			assert_int_equal(d->instances[i]->value->querierapi, 2);
			seen |= 1;
		} else if (strcmp(d->instances[i]->key, "ing-2") == 0) {
			assert_true(d->instances[i]->value->left);
			seen |= 2;
		} else {
			assert_string_equal(d->instances[i]->key, "");
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	mfree(d);
	DEC_ERR(&version__v1__versions__descriptor, "{\"instances\":[]}", "instances");
	DEC_ERR(&version__v1__versions__descriptor, "{\"instances\":{\"a\":null}}", "null map value");
	/* A repeated message that is not a map is an array. */
	DEC_ERR(&capabilities__v1__get_feature_flags_response__descriptor, "{\"featureFlags\":{}}", "array");
}

/* ---- decode ----------------------------------------------------------------------------- */

static void test_decode_names_and_ints(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &querier__v1__select_merge_stacktraces_request__descriptor;
	/* lowerCamelCase names, int64 as strings */
	Querier__V1__SelectMergeStacktracesRequest *a = dec_ok(d,
		"{\"profileTypeID\":\"p:c:n:c:n\",\"labelSelector\":\"{}\",\"start\":\"1000\",\"end\":\"-2\","
		"\"maxNodes\":\"1e3\",\"format\":\"PROFILE_FORMAT_DOT\"}");
	/* original names, int64 as numbers, enum by number */
	Querier__V1__SelectMergeStacktracesRequest *b = dec_ok(d,
		"{\"profile_typeID\":\"p:c:n:c:n\",\"label_selector\":\"{}\",\"start\":1000,\"end\":-2,"
		"\"max_nodes\":1000.0,\"format\":3}");
	assert_string_equal(a->profile_typeid, "p:c:n:c:n");
	assert_string_equal(b->profile_typeid, "p:c:n:c:n");
	assert_int_equal(a->start, 1000);
	assert_int_equal(a->end, -2);
	assert_int_equal(a->max_nodes, 1000);
	assert_int_equal(a->format, QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_DOT);
	struct buf pa = packed(a), pb = packed(b);
	assert_int_equal(pa.n, pb.n);
	assert_memory_equal(pa.p, pb.p, pa.n);
	buf_release(&pa);
	buf_release(&pb);
	mfree(a);
	mfree(b);

	/* Extremes and exact-integer forms of int64/uint64/int32/uint32. */
	Querier__V1__FlameGraphDiff *f = dec_ok(&querier__v1__flame_graph_diff__descriptor,
		"{\"leftTicks\":\"-9223372036854775808\",\"rightTicks\":9223372036854775807,\"total\":\"12.0e1\","
		"\"maxSelf\":\"-0\"}");
	assert_true(f->leftticks == INT64_MIN);
	assert_true(f->rightticks == INT64_MAX);
	assert_int_equal(f->total, 120);
	assert_int_equal(f->max_self, 0);
	mfree(f);
	Querier__V1__QueryScope *q = dec_ok(&querier__v1__query_scope__descriptor,
					    "{\"componentCount\":\"18446744073709551615\",\"blockCount\":\"1000000000000000000e1\"}");
	assert_true(q->component_count == UINT64_MAX);
	assert_true(q->block_count == 10000000000000000000ull);
	mfree(q);
	Types__V1__GoPGO *g = dec_ok(&types__v1__go_pgo__descriptor, "{\"keepLocations\":4294967295}");
	assert_int_equal(g->keep_locations, 4294967295u);
	mfree(g);
	Types__V1__BlockCompaction *bc = dec_ok(&types__v1__block_compaction__descriptor, "{\"level\":\"-2147483648\"}");
	assert_int_equal(bc->level, INT32_MIN);
	mfree(bc);
}

static void test_decode_enums_bytes_unknown_null(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &querier__v1__select_series_request__descriptor;
	Querier__V1__SelectSeriesRequest *s = dec_ok(d,
		"{\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\",\"exemplarType\":2,\"step\":\"15\","
		"\"unknownField\":{\"deep\":[1,{\"x\":null}]},\"groupBy\":null,\"stackTraceSelector\":null,"
		"\"label_selector\":null}");
	assert_int_equal(s->aggregation, 1);
	assert_int_equal(s->exemplar_type, 2);
	assert_true(s->step == 15.0);
	assert_int_equal(s->n_group_by, 0);
	assert_null(s->stack_trace_selector);
	assert_string_equal(s->label_selector, "");
	mfree(s);
	/* Unknown enum name: ignored like an unknown field (DiscardUnknown). */
	s = dec_ok(d, "{\"aggregation\":\"NOPE\",\"limit\":5}");
	assert_int_equal(s->aggregation, 0);
	assert_int_equal(s->limit, 5);
	mfree(s);

	/* 0xfb 0xff: standard "+/8=", URL-safe "-_8=", and unpadded forms. */
	static const char *forms[] = {"+/8=", "-_8=", "+/8", "-_8"};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(forms); i++) {
		char js[64];
		snprintf(js, sizeof(js), "{\"tree\":\"%s\"}", forms[i]);
		Querier__V1__SelectMergeStacktracesResponse *r =
			dec_ok(&querier__v1__select_merge_stacktraces_response__descriptor, js);
		assert_int_equal(r->tree.len, 2);
		assert_int_equal(r->tree.data[0], 0xfb);
		assert_int_equal(r->tree.data[1], 0xff);
		mfree(r);
	}
	Push__V1__RawSample *rs = dec_ok(&push__v1__raw_sample__descriptor, "{\"raw_profile\":\"H4sIaGVsbG8=\",\"ID\":\"u\"}");
	assert_int_equal(rs->raw_profile.len, 8);
	assert_memory_equal(rs->raw_profile.data, "\x1f\x8b\x08hello", 8);
	assert_string_equal(rs->id, "u");
	mfree(rs);
	rs = dec_ok(&push__v1__raw_sample__descriptor, "{\"rawProfile\":\"aGk\"}");
	assert_int_equal(rs->raw_profile.len, 2);
	assert_memory_equal(rs->raw_profile.data, "hi", 2);
	mfree(rs);
	rs = dec_ok(&push__v1__raw_sample__descriptor, "{\"rawProfile\":\"\"}");
	assert_int_equal(rs->raw_profile.len, 0);
	mfree(rs);
	DEC_ERR(&push__v1__raw_sample__descriptor, "{\"rawProfile\":\"+_8=\"}", "rawProfile: invalid base64");
	DEC_ERR(&push__v1__raw_sample__descriptor, "{\"rawProfile\":\"a\"}", "invalid base64");
	DEC_ERR(&push__v1__raw_sample__descriptor, "{\"rawProfile\":\"ab=c\"}", "invalid base64");
	DEC_ERR(&push__v1__raw_sample__descriptor, "{\"rawProfile\":\"a b\"}", "invalid base64");
	DEC_ERR(&push__v1__raw_sample__descriptor, "{\"rawProfile\":5}", "base64");
}

static void test_decode_errors(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d = &querier__v1__select_merge_stacktraces_request__descriptor;
	DEC_ERR(d, "", "empty");
	DEC_ERR(d, "[]", "expected a JSON object");
	DEC_ERR(d, "{\"start\":", "invalid JSON");
	DEC_ERR(d, "{\"start\":1} x", "invalid JSON");
	DEC_ERR(d, "{\"start\":{}}", "field start: expected an integer");
	DEC_ERR(d, "{\"start\":true}", "field start");
	DEC_ERR(d, "{\"start\":\"abc\"}", "field start: not an integer");
	DEC_ERR(d, "{\"start\":\" 1\"}", "field start: not an integer");
	DEC_ERR(d, "{\"start\":\"01\"}", "field start: not an integer");
	DEC_ERR(d, "{\"maxNodes\":1.5}", "field maxNodes: not an integer");
	DEC_ERR(d, "{\"maxNodes\":\"1.5\"}", "field maxNodes: not an integer");
	DEC_ERR(d, "{\"start\":\"9223372036854775808\"}", "field start: integer out of range");
	DEC_ERR(d, "{\"start\":\"-9223372036854775809\"}", "field start: integer out of range");
	DEC_ERR(d, "{\"start\":\"99999999999999999999999\"}", "field start: not an integer");
	DEC_ERR(d, "{\"start\":\"1e99999999\"}", "field start: not an integer");
	DEC_ERR(d, "{\"start\":99999999999999999999}", "field start: integer out of range");
	/* A huge literal elsewhere makes jansson read all numbers as doubles: int64 fields then
	 * refuse unquoted values past 2^53 rather than round them. */
	DEC_ERR(d, "{\"start\":9007199254740993,\"x\":1e400}", "invalid JSON");
	DEC_ERR(d, "{\"start\":9007199254740993,\"x\":100000000000000000000}", "field start: integer too large");
	DEC_ERR(d, "{\"start\":1e300}", "field start: integer out of range");
	DEC_ERR(d, "{\"start\":1.5e0}", "field start: not an integer");
	DEC_ERR(d, "{\"profileTypeID\":1}", "field profileTypeID: expected a string");
	DEC_ERR(d, "{\"profileTypeID\":\"\xff\"}", "invalid JSON");   /* invalid UTF-8 */
	DEC_ERR(d, "{\"profileTypeID\":\"a\\u0000b\"}", "invalid JSON"); /* NUL cannot be a C string */
	DEC_ERR(d, "{\"profileIdSelector\":\"a\"}", "field profileIdSelector: expected an array");
	DEC_ERR(d, "{\"profileIdSelector\":[\"a\",null]}", "null in array");
	DEC_ERR(d, "{\"profileIdSelector\":[\"a\",1]}", "expected a string");
	DEC_ERR(d, "{\"format\":true}", "field format: expected an enum");
	DEC_ERR(d, "{\"format\":4294967296}", "field format: integer out of range");
	DEC_ERR(d, "{\"stackTraceSelector\":[]}", "field stackTraceSelector: expected an object");
	DEC_ERR(d, "{\"stackTraceSelector\":{\"goPgo\":{\"keepLocations\":-1}}}", "field keepLocations: integer out of range");
	DEC_ERR(d, "{\"stackTraceSelector\":{\"goPgo\":{\"aggregateCallees\":1}}}", "field aggregateCallees: expected true");
	DEC_ERR(d, "{\"start\":1,\"start\":2}", "invalid JSON"); /* duplicate key */
	DEC_ERR(d, "{\"maxNodes\":1,\"max_nodes\":2}", "given twice");
	DEC_ERR(&types__v1__block_compaction__descriptor, "{\"level\":2147483648}", "field level: integer out of range");
	DEC_ERR(&types__v1__point__descriptor, "{\"value\":\"1e999\"}", "field value: number out of range");
	DEC_ERR(&types__v1__point__descriptor, "{\"value\":\"nan\"}", "field value: not a number");
	DEC_ERR(&types__v1__point__descriptor, "{\"value\":[]}", "field value: expected a number");
	/* Unknown fields may nest; jansson itself stops past 2048 levels. */
	struct buf deep = BUF_INIT;
	buf_append_cstr(&deep, "{\"x\":");
	for (int i = 0; i < 100000; i++)
		buf_append_byte(&deep, '[');
	dec_err(d, (const char *)deep.p, deep.n, "invalid JSON");
	buf_release(&deep);
	/* err may be NULL */
	ProtobufCMessage *m;
	assert_int_equal(protojson_decode(d, slice_cstr("{\"start\":{}}"), &m, NULL, 0), EMBER_EINVAL);
	assert_null(m);
}

static void test_round_trip(void **state)
{
	(void)state;
	static const struct {
		const ProtobufCMessageDescriptor *d;
		const char *json;
	} cases[] = {
		{&querier__v1__diff_request__descriptor,
		 "{\"left\":{\"profile_typeID\":\"a:b:c:d:e\",\"start\":\"1\",\"end\":2,\"stackTraceSelector\":"
		 "{\"callSite\":[{\"name\":\"x\"},{}]}},\"right\":{\"labelSelector\":\"{a=\\\"\\u00e9\\ud83d\\udd25\\\"}\","
		 "\"traceIdSelector\":[\"4bf92f3577b34da6a3ce929d0e0e4736\"]}}"},
		{&push__v1__push_request__descriptor,
		 "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"cpu\"}],\"samples\":[{\"rawProfile\":"
		 "\"AAECAwQFBgcICQ==\"},{}],\"annotations\":[{\"key\":\"k\",\"value\":\"v\"}]},{}]}"},
		{&types__v1__series__descriptor,
		 "{\"labels\":[{\"name\":\"a\",\"value\":\"b\"}],\"points\":[{\"value\":1.5,\"timestamp\":\"1000\","
		 "\"exemplars\":[{\"timestamp\":\"3\",\"profileId\":\"p\",\"value\":\"-7\",\"labels\":[{}],"
		 "\"traceId\":\"t\"}]},{\"value\":\"Infinity\"}]}"},
		{&types__v1__get_profile_stats_response__descriptor,
		 "{\"dataIngested\":true,\"oldestProfileTime\":\"-1\",\"newestProfileTime\":\"9223372036854775807\"}"},
		{&capabilities__v1__get_feature_flags_response__descriptor,
		 "{\"featureFlags\":[{\"name\":\"allowUtf8LabelNames\",\"enabled\":true,\"description\":\"d\"}]}"},
		{&version__v1__versions__descriptor,
		 "{\"instances\":{\"a\":{\"Timestamp\":\"5\",\"left\":false},\"b\":{}}}"},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		ProtobufCMessage *m1 = dec_ok(cases[i].d, cases[i].json);
		char *j1 = enc(m1);
		ProtobufCMessage *m2 = dec_ok(cases[i].d, j1);
		char *j2 = enc(m2);
		assert_string_equal(j1, j2);
		struct buf p1 = packed(m1), p2 = packed(m2);
		assert_int_equal(p1.n, p2.n);
		assert_memory_equal(p1.p, p2.p, p1.n);
		/* The protobuf-c wire round trip agrees too. */
		ProtobufCMessage *m3 = protobuf_c_message_unpack(cases[i].d, NULL, p1.n, p1.p);
		assert_non_null(m3);
		char *j3 = enc(m3);
		assert_string_equal(j1, j3);
		free(j1);
		free(j2);
		free(j3);
		buf_release(&p1);
		buf_release(&p2);
		mfree(m1);
		mfree(m2);
		mfree(m3);
	}
	Querier__V1__DiffRequest *dr = dec_ok(&querier__v1__diff_request__descriptor, cases[0].json);
	assert_string_equal(dr->right->label_selector, "{a=\"\xc3\xa9\xf0\x9f\x94\xa5\"}");
	assert_int_equal(dr->left->stack_trace_selector->n_call_site, 2);
	assert_string_equal(dr->left->stack_trace_selector->call_site[1]->name, "");
	mfree(dr);
}

/* ---- a hand-written descriptor for the kinds the API protos lack -------------------------- */

typedef struct AllKinds AllKinds;
struct AllKinds {
	ProtobufCMessage base;
	float f;
	int32_t s32;
	int64_t s64;
	uint32_t fx32;
	uint64_t fx64;
	int32_t sf32;
	int64_t sf64;
	uint32_t o_case;
	union {
		char *os;
		int32_t oi;
	};
	size_t n_rf;
	float *rf;
	protobuf_c_boolean has_opt;
	int32_t opt;
	AllKinds *child;
};

extern const ProtobufCMessageDescriptor allkinds_descriptor;

static void allkinds_init(AllKinds *m)
{
	memset(m, 0, sizeof(*m));
	m->base.descriptor = &allkinds_descriptor;
}

#define FD(nm, id, label, type, q, member, desc, def, flags) \
	{nm, id, label, type, q, offsetof(AllKinds, member), desc, def, flags, 0, NULL, NULL}
static const ProtobufCFieldDescriptor allkinds_fields[12] = {
	FD("f", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT, 0, f, NULL, NULL, 0),
	FD("s32", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SINT32, 0, s32, NULL, NULL, 0),
	FD("s64", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SINT64, 0, s64, NULL, NULL, 0),
	FD("fx32", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FIXED32, 0, fx32, NULL, NULL, 0),
	FD("fx64", 5, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FIXED64, 0, fx64, NULL, NULL, 0),
	FD("sf32", 6, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SFIXED32, 0, sf32, NULL, NULL, 0),
	FD("sf64", 7, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SFIXED64, 0, sf64, NULL, NULL, 0),
	FD("os", 8, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, offsetof(AllKinds, o_case), os, NULL,
	   &protobuf_c_empty_string, PROTOBUF_C_FIELD_FLAG_ONEOF),
	FD("oi", 9, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, offsetof(AllKinds, o_case), oi, NULL, NULL,
	   PROTOBUF_C_FIELD_FLAG_ONEOF),
	FD("rf", 10, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_FLOAT, offsetof(AllKinds, n_rf), rf, NULL, NULL,
	   PROTOBUF_C_FIELD_FLAG_PACKED),
	FD("opt", 11, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32, offsetof(AllKinds, has_opt), opt, NULL,
	   NULL, 0),
	FD("child", 12, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, child, &allkinds_descriptor, NULL, 0),
};
static const unsigned allkinds_by_name[12] = {11, 0, 3, 4, 8, 10, 7, 9, 1, 2, 5, 6};
static const ProtobufCIntRange allkinds_ranges[2] = {{1, 0}, {0, 12}};
const ProtobufCMessageDescriptor allkinds_descriptor = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.AllKinds", "AllKinds", "AllKinds", "test",
	sizeof(AllKinds), 12, allkinds_fields, allkinds_by_name, 1, allkinds_ranges,
	(ProtobufCMessageInit)allkinds_init, NULL, NULL, NULL,
};

static void test_all_kinds(void **state)
{
	(void)state;
	static const char js[] =
		"{\"f\":1.5,\"s32\":-5,\"s64\":\"-6\",\"fx32\":4294967295,\"fx64\":\"18446744073709551615\","
		"\"sf32\":-2147483648,\"sf64\":\"-9223372036854775808\",\"os\":\"one\",\"rf\":[0.1,\"NaN\",-3],"
		"\"opt\":0,\"child\":{\"oi\":7,\"child\":{}}}";
	AllKinds *m = dec_ok(&allkinds_descriptor, js);
	assert_true(m->f == 1.5f);
	assert_int_equal(m->s32, -5);
	assert_int_equal(m->s64, -6);
	assert_int_equal(m->fx32, 4294967295u);
	assert_true(m->fx64 == UINT64_MAX);
	assert_int_equal(m->sf32, INT32_MIN);
	assert_true(m->sf64 == INT64_MIN);
	assert_int_equal(m->o_case, 8);
	assert_string_equal(m->os, "one");
	assert_int_equal(m->n_rf, 3);
	assert_true(m->rf[0] == 0.1f && isnan(m->rf[1]) && m->rf[2] == -3.0f);
	assert_true(m->has_opt); /* proto2 presence: an explicit 0 is set */
	assert_int_equal(m->opt, 0);
	assert_int_equal(m->child->o_case, 9);
	assert_int_equal(m->child->oi, 7);
	assert_non_null(m->child->child);
	/* float32 prints with float32 shortest digits (0.1, not 0.10000000149011612) */
	assert_json(m, "{\"f\":1.5,\"s32\":-5,\"s64\":\"-6\",\"fx32\":4294967295,\"fx64\":\"18446744073709551615\","
		       "\"sf32\":-2147483648,\"sf64\":\"-9223372036854775808\",\"os\":\"one\",\"rf\":[0.1,\"NaN\",-3],"
		       "\"opt\":0,\"child\":{\"oi\":7,\"child\":{}}}");
	/* protobuf-c's own pack/unpack agree with the decoded values. */
	struct buf p = packed(m);
	AllKinds *u = (AllKinds *)protobuf_c_message_unpack(&allkinds_descriptor, NULL, p.n, p.p);
	assert_non_null(u);
	char *j1 = enc(m), *j2 = enc(u);
	assert_string_equal(j1, j2);
	free(j1);
	free(j2);
	buf_release(&p);
	mfree(u);
	mfree(m);

	/* oneof: an empty string member is set; two members is an error */
	m = dec_ok(&allkinds_descriptor, "{\"os\":\"\"}");
	assert_int_equal(m->o_case, 8);
	assert_string_equal(m->os, "");
	assert_json(m, "{\"os\":\"\"}");
	mfree(m);
	DEC_ERR(&allkinds_descriptor, "{\"os\":\"a\",\"oi\":1}", "field oi: another member of its oneof");
	DEC_ERR(&allkinds_descriptor, "{\"oi\":1,\"os\":\"a\"}", "field os: another member of its oneof");
	DEC_ERR(&allkinds_descriptor, "{\"f\":1e39}", "field f: number out of float range");
	DEC_ERR(&allkinds_descriptor, "{\"child\":{\"child\":{\"fx32\":-1}}}", "field fx32: integer out of range");

	/* Depth cap: PROTOJSON_MAX_DEPTH levels decode, one more does not. */
	struct buf b = BUF_INIT;
	for (int i = 1; i < PROTOJSON_MAX_DEPTH; i++)
		buf_append_cstr(&b, "{\"child\":");
	buf_append_cstr(&b, "{\"s32\":1}");
	for (int i = 1; i < PROTOJSON_MAX_DEPTH; i++)
		buf_append_byte(&b, '}');
	m = dec_ok(&allkinds_descriptor, buf_cstr(&b));
	char *j = enc(m);
	assert_string_equal(j, buf_cstr(&b));
	free(j);
	/* one more level on the encode side fails cleanly */
	AllKinds top;
	allkinds_init(&top);
	top.child = m;
	struct buf o = BUF_INIT;
	assert_int_equal(protojson_encode(&top.base, &o), EMBER_EINVAL);
	buf_release(&o);
	mfree(m);
	buf_release(&b);
	for (int i = 0; i < PROTOJSON_MAX_DEPTH; i++)
		buf_append_cstr(&b, "{\"child\":");
	buf_append_cstr(&b, "{}");
	for (int i = 0; i < PROTOJSON_MAX_DEPTH; i++)
		buf_append_byte(&b, '}');
	dec_err(&allkinds_descriptor, (const char *)b.p, b.n, "nested deeper than");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_names),
		cmocka_unit_test(test_encode_profile_types),
		cmocka_unit_test(test_encode_series),
		cmocka_unit_test(test_encode_select_merge_request),
		cmocka_unit_test(test_encode_response_kinds),
		cmocka_unit_test(test_encode_floats),
		cmocka_unit_test(test_encode_decode_map),
		cmocka_unit_test(test_decode_names_and_ints),
		cmocka_unit_test(test_decode_enums_bytes_unknown_null),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_all_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
