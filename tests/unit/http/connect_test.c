/* connect: content types, error mapping, request decoding (proto/JSON, gzip, limits) and
 * response encoding. Protobuf bytes are cross-checked with protoc itself (the independent
 * encoder/decoder): `protoc --encode` produces what we must decode, `protoc --decode` reads
 * what we encode. Run from the repository root (make unit does); without protoc or proto/
 * those cases are skipped. */
#include "testutil.h"

#include <protobuf-c/protobuf-c.h>
#include <unistd.h>

#include "http/connect.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"
#include "util/gzip.h"

static void test_content_types(void **state)
{
	(void)state;
	static const struct {
		const char *ct;
		int rc;
		enum connect_codec codec;
	} cases[] = {
		{"application/proto", 0, CONNECT_PROTO},
		{"application/json", 0, CONNECT_JSON},
		{"application/json; charset=utf-8", 0, CONNECT_JSON},
		{"application/json;charset=UTF-8", 0, CONNECT_JSON},
		{"application/json; charset=\"utf-8\"", 0, CONNECT_JSON},
		{"Application/JSON", 0, CONNECT_JSON},
		{"APPLICATION/PROTO", 0, CONNECT_PROTO},
		{" application/proto ", 0, CONNECT_PROTO},
		{"application/json; foo=bar", 0, CONNECT_JSON},
		{"application/json;", 0, CONNECT_JSON},
		{"application/json; charset=latin1", EMBER_EUNSUP, 0},
		{"application/proto; charset=utf-8", EMBER_EUNSUP, 0},
		{"application/json; garbage", EMBER_EUNSUP, 0},
		{"application/connect+proto", EMBER_EUNSUP, 0},
		{"application/connect+json", EMBER_EUNSUP, 0},
		{"application/grpc", EMBER_EUNSUP, 0},
		{"application/grpc+proto", EMBER_EUNSUP, 0},
		{"application/grpc-web+json", EMBER_EUNSUP, 0},
		{"application/protobuf", EMBER_EUNSUP, 0},
		{"application/x-protobuf", EMBER_EUNSUP, 0},
		{"application/octet-stream", EMBER_EUNSUP, 0},
		{"text/plain", EMBER_EUNSUP, 0},
		{"application/jsonx", EMBER_EUNSUP, 0},
		{"", EMBER_EUNSUP, 0},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		enum connect_codec c = (enum connect_codec)99;
		int rc = connect_codec_from_content_type(slice_cstr(cases[i].ct), &c);
		if (rc != cases[i].rc)
			fail_msg("content type \"%s\": rc %d, want %d", cases[i].ct, rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(c, cases[i].codec);
	}
	assert_string_equal(connect_codec_content_type(CONNECT_PROTO), "application/proto");
	assert_string_equal(connect_codec_content_type(CONNECT_JSON), "application/json");
}

static void test_codes(void **state)
{
	(void)state;
	/* pyroscope-api.md §2.1 (connect-go's protocol_connect.go code → HTTP status) */
	static const struct {
		enum connect_code code;
		const char *name;
		int status;
	} cases[] = {
		{CONNECT_CANCELED, "canceled", 499},
		{CONNECT_UNKNOWN, "unknown", 500},
		{CONNECT_INVALID_ARGUMENT, "invalid_argument", 400},
		{CONNECT_DEADLINE_EXCEEDED, "deadline_exceeded", 504},
		{CONNECT_NOT_FOUND, "not_found", 404},
		{CONNECT_ALREADY_EXISTS, "already_exists", 409},
		{CONNECT_PERMISSION_DENIED, "permission_denied", 403},
		{CONNECT_RESOURCE_EXHAUSTED, "resource_exhausted", 429},
		{CONNECT_FAILED_PRECONDITION, "failed_precondition", 400},
		{CONNECT_ABORTED, "aborted", 409},
		{CONNECT_OUT_OF_RANGE, "out_of_range", 400},
		{CONNECT_UNIMPLEMENTED, "unimplemented", 501},
		{CONNECT_INTERNAL, "internal", 500},
		{CONNECT_UNAVAILABLE, "unavailable", 503},
		{CONNECT_DATA_LOSS, "data_loss", 500},
		{CONNECT_UNAUTHENTICATED, "unauthenticated", 401},
	};
	assert_int_equal(EMBER_ARRAY_LEN(cases), 16);
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++) {
		assert_int_equal(cases[i].code, (int)i + 1); /* gRPC numbering */
		assert_string_equal(connect_code_name(cases[i].code), cases[i].name);
		assert_int_equal(connect_code_http_status(cases[i].code), cases[i].status);
		struct buf b = BUF_INIT;
		connect_error_json(cases[i].code, "bad \"x\"\n", &b);
		char want[128];
		snprintf(want, sizeof(want), "{\"code\":\"%s\",\"message\":\"bad \\\"x\\\"\\n\"}", cases[i].name);
		assert_string_equal(buf_cstr(&b), want);
		buf_release(&b);
	}
	assert_string_equal(connect_code_name((enum connect_code)0), "unknown");
	assert_string_equal(connect_code_name((enum connect_code)17), "unknown");
	assert_int_equal(connect_code_http_status((enum connect_code)99), 500);
	struct buf b = BUF_INIT;
	connect_error_json(CONNECT_UNIMPLEMENTED, NULL, &b);
	assert_string_equal(buf_cstr(&b), "{\"code\":\"unimplemented\"}");
	buf_release(&b);
	connect_error_json(CONNECT_INTERNAL, "", &b);
	assert_string_equal(buf_cstr(&b), "{\"code\":\"internal\"}");
	buf_release(&b);

	assert_int_equal(connect_code_from_error(EMBER_EINVAL), CONNECT_INVALID_ARGUMENT);
	assert_int_equal(connect_code_from_error(EMBER_ECORRUPT), CONNECT_INVALID_ARGUMENT);
	assert_int_equal(connect_code_from_error(EMBER_ETOOBIG), CONNECT_RESOURCE_EXHAUSTED);
	assert_int_equal(connect_code_from_error(EMBER_ELIMIT), CONNECT_RESOURCE_EXHAUSTED);
	assert_int_equal(connect_code_from_error(EMBER_EUNSUP), CONNECT_UNIMPLEMENTED);
	assert_int_equal(connect_code_from_error(EMBER_ENOTFOUND), CONNECT_NOT_FOUND);
	assert_int_equal(connect_code_from_error(EMBER_EAUTH), CONNECT_UNAUTHENTICATED);
	assert_int_equal(connect_code_from_error(EMBER_ESTATE), CONNECT_FAILED_PRECONDITION);
	assert_int_equal(connect_code_from_error(EMBER_EIO), CONNECT_INTERNAL);
}

/* ---- protoc cross-checks ------------------------------------------------------------------- */

static bool have_protoc(void)
{
	return access("proto/push.proto", R_OK) == 0 && system("protoc --version >/dev/null 2>&1") == 0;
}

/* Runs `protoc <mode>=<type> -I proto proto/<file>` over `in`, returning its stdout. */
static uint8_t *run_protoc(const char *mode, const char *type, const char *file, const void *in, size_t inlen,
			   size_t *outlen)
{
	char dir[] = "/tmp/connect_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char inp[64], outp[64], cmd[512];
	snprintf(inp, sizeof(inp), "%s/in", dir);
	snprintf(outp, sizeof(outp), "%s/out", dir);
	FILE *f = fopen(inp, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(in, 1, inlen, f), inlen);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "protoc %s=%s -I proto proto/%s < %s > %s", mode, type, file, inp, outp);
	assert_int_equal(system(cmd), 0);
	uint8_t *out = test_read_file(outp, outlen);
	unlink(inp);
	unlink(outp);
	rmdir(dir);
	return out;
}

static const char push_text[] =
	"series {\n"
	"  labels { name: \"__name__\" value: \"process_cpu\" }\n"
	"  labels { name: \"service_name\" value: \"svc \\303\\251\" }\n"
	"  samples { raw_profile: \"\\037\\213\\010hello\" ID: \"734FD599\" }\n"
	"  samples { raw_profile: \"\" }\n"
	"  annotations { key: \"k\" value: \"v\" }\n"
	"}\n"
	"series { }\n";

static void check_push(const Push__V1__PushRequest *p)
{
	assert_int_equal(p->n_series, 2);
	const Push__V1__RawProfileSeries *s = p->series[0];
	assert_int_equal(s->n_labels, 2);
	assert_string_equal(s->labels[0]->name, "__name__");
	assert_string_equal(s->labels[0]->value, "process_cpu");
	assert_string_equal(s->labels[1]->value, "svc \xc3\xa9");
	assert_int_equal(s->n_samples, 2);
	assert_int_equal(s->samples[0]->raw_profile.len, 8);
	assert_memory_equal(s->samples[0]->raw_profile.data, "\x1f\x8b\x08hello", 8);
	assert_string_equal(s->samples[0]->id, "734FD599");
	assert_int_equal(s->samples[1]->raw_profile.len, 0);
	assert_int_equal(s->n_annotations, 1);
	assert_int_equal(p->series[1]->n_labels, 0);
}

static void test_decode_protoc_push(void **state)
{
	(void)state;
	if (!have_protoc())
		skip();
	size_t n;
	uint8_t *bin = run_protoc("--encode", "push.v1.PushRequest", "push.proto", push_text, strlen(push_text), &n);
	char err[256];
	ProtobufCMessage *m = NULL;
	assert_int_equal(connect_decode_request(&push__v1__push_request__descriptor, CONNECT_PROTO, slice_cstr(""),
						slice_make(bin, n), 1 << 20, &m, err, sizeof(err)),
			 0);
	check_push((Push__V1__PushRequest *)m);
	protobuf_c_message_free_unpacked(m, NULL);

	/* The same bytes gzipped, with Content-Encoding: gzip (any case, spaces). */
	struct buf z = BUF_INIT;
	gzip_deflate(slice_make(bin, n), 6, &z);
	assert_int_equal(connect_decode_request(&push__v1__push_request__descriptor, CONNECT_PROTO,
						slice_cstr(" GZIP "), slice_make(z.p, z.n), 1 << 20, &m, err,
						sizeof(err)),
			 0);
	check_push((Push__V1__PushRequest *)m);
	protobuf_c_message_free_unpacked(m, NULL);

	/* The cap is on the inflated size: n-1 bytes is too few. */
	int rc = connect_decode_request(&push__v1__push_request__descriptor, CONNECT_PROTO, slice_cstr("gzip"),
					slice_make(z.p, z.n), n - 1, &m, err, sizeof(err));
	assert_int_equal(rc, EMBER_ETOOBIG);
	assert_null(m);
	assert_int_equal(connect_code_from_error(rc), CONNECT_RESOURCE_EXHAUSTED);
	buf_release(&z);

	/* Identity, and a truncated protobuf. */
	assert_int_equal(connect_decode_request(&push__v1__push_request__descriptor, CONNECT_PROTO,
						slice_cstr("identity"), slice_make(bin, n), n, &m, err, sizeof(err)),
			 0);
	protobuf_c_message_free_unpacked(m, NULL);
	rc = connect_decode_request(&push__v1__push_request__descriptor, CONNECT_PROTO, slice_cstr(""),
				    slice_make(bin, n - 3), n, &m, err, sizeof(err));
	assert_int_equal(rc, EMBER_EINVAL);
	assert_null(m);
	assert_non_null(strstr(err, "invalid protobuf"));
	free(bin);
}

static void test_decode_protoc_query(void **state)
{
	(void)state;
	if (!have_protoc())
		skip();
	static const char text[] =
		"profile_typeID: \"process_cpu:cpu:nanoseconds:cpu:nanoseconds\"\n"
		"label_selector: \"{service_name=\\\"x\\\"}\"\n"
		"start: 1700000000000 end: -1 max_nodes: 8192 format: PROFILE_FORMAT_PPROF\n"
		"stack_trace_selector { call_site { name: \"main\" } go_pgo { keep_locations: 4294967295 aggregate_callees: true } }\n"
		"profile_id_selector: \"a\" profile_id_selector: \"b\"\n"
		"async { request_id: \"r\" type: ASYNC_QUERY_TYPE_FORCE }\n"
		"trace_id_selector: \"4bf92f3577b34da6a3ce929d0e0e4736\" span_selector: \"00f067aa0ba902b7\"\n";
	size_t n;
	uint8_t *bin = run_protoc("--encode", "querier.v1.SelectMergeStacktracesRequest", "querier.proto", text,
				  strlen(text), &n);
	char err[256];
	ProtobufCMessage *m = NULL;
	assert_int_equal(connect_decode_request(&querier__v1__select_merge_stacktraces_request__descriptor,
						CONNECT_PROTO, slice_cstr(""), slice_make(bin, n), n, &m, err,
						sizeof(err)),
			 0);
	Querier__V1__SelectMergeStacktracesRequest *r = (Querier__V1__SelectMergeStacktracesRequest *)m;
	assert_string_equal(r->profile_typeid, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	assert_string_equal(r->label_selector, "{service_name=\"x\"}");
	assert_true(r->start == 1700000000000LL);
	assert_int_equal(r->end, -1);
	assert_int_equal(r->max_nodes, 8192);
	assert_int_equal(r->format, QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF);
	assert_string_equal(r->stack_trace_selector->call_site[0]->name, "main");
	assert_int_equal(r->stack_trace_selector->go_pgo->keep_locations, 4294967295u);
	assert_true(r->stack_trace_selector->go_pgo->aggregate_callees);
	assert_int_equal(r->n_profile_id_selector, 2);
	assert_string_equal(r->profile_id_selector[1], "b");
	assert_string_equal(r->async->request_id, "r");
	assert_int_equal(r->async->type, QUERIER__V1__ASYNC_QUERY_TYPE__ASYNC_QUERY_TYPE_FORCE);
	assert_string_equal(r->trace_id_selector[0], "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(r->span_selector[0], "00f067aa0ba902b7");

	/* The JSON encoding of it reads back to the same protobuf bytes. */
	struct buf js = BUF_INIT;
	assert_int_equal(connect_encode_response(m, CONNECT_JSON, &js), 0);
	ProtobufCMessage *m2 = NULL;
	assert_int_equal(connect_decode_request(&querier__v1__select_merge_stacktraces_request__descriptor,
						CONNECT_JSON, slice_cstr(""), slice_make(js.p, js.n), js.n, &m2, err,
						sizeof(err)),
			 0);
	struct buf pb = BUF_INIT;
	assert_int_equal(connect_encode_response(m2, CONNECT_PROTO, &pb), 0);
	assert_int_equal(pb.n, n);
	assert_memory_equal(pb.p, bin, n); /* protoc and protobuf-c both write in field order */
	buf_release(&pb);
	buf_release(&js);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	free(bin);
}

static void test_encode_protoc_decodes(void **state)
{
	(void)state;
	if (!have_protoc())
		skip();
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
	fg.max_self = -1;
	char *st[] = {"", "cpu"};
	Google__V1__Profile prof = GOOGLE__V1__PROFILE__INIT;
	prof.n_string_table = 2;
	prof.string_table = st;
	prof.period = 10;
	Querier__V1__PprofProfile pp = QUERIER__V1__PPROF_PROFILE__INIT;
	pp.profile = &prof;
	uint8_t tree[] = {0, 1, 0xfb};
	Querier__V1__SelectMergeStacktracesResponse r = QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
	r.flamegraph = &fg;
	r.tree.data = tree;
	r.tree.len = 3;
	r.dot = "digraph";
	r.pprof = &pp;
	struct buf b = BUF_INIT;
	assert_int_equal(connect_encode_response(&r.base, CONNECT_PROTO, &b), 0);
	size_t n;
	char *text = (char *)run_protoc("--decode", "querier.v1.SelectMergeStacktracesResponse", "querier.proto", b.p,
					b.n, &n);
	text[n] = '\0';
	assert_string_equal(text, "flamegraph {\n  names: \"total\"\n  names: \"a\"\n  levels {\n    values: 0\n"
				  "    values: 5\n    values: 0\n    values: 0\n  }\n  levels {\n  }\n  total: 5\n"
				  "  max_self: -1\n}\ntree: \"\\000\\001\\373\"\ndot: \"digraph\"\npprof {\n"
				  "  profile {\n    string_table: \"\"\n    string_table: \"cpu\"\n    period: 10\n  }\n}\n");
	free(text);
	buf_release(&b);
}

/* ---- JSON and error paths --------------------------------------------------------------------- */

static int decode(const ProtobufCMessageDescriptor *d, enum connect_codec codec, const char *enc, const void *body,
		  size_t n, size_t max, ProtobufCMessage **m, char *err)
{
	return connect_decode_request(d, codec, slice_cstr(enc), slice_make(body, n), max, m, err, 256);
}

static void test_decode_json_and_errors(void **state)
{
	(void)state;
	char err[256];
	ProtobufCMessage *m = NULL;
	const ProtobufCMessageDescriptor *d = &types__v1__label_values_request__descriptor;
	static const char js[] = "{\"name\":\"service_name\",\"matchers\":[\"{a=\\\"b\\\"}\"],\"start\":\"1000\",\"end\":4000}";
	assert_int_equal(decode(d, CONNECT_JSON, "", js, strlen(js), 1024, &m, err), 0);
	Types__V1__LabelValuesRequest *lv = (Types__V1__LabelValuesRequest *)m;
	assert_string_equal(lv->name, "service_name");
	assert_string_equal(lv->matchers[0], "{a=\"b\"}");
	assert_int_equal(lv->start, 1000);
	assert_int_equal(lv->end, 4000);
	protobuf_c_message_free_unpacked(m, NULL);

	/* gzip JSON */
	struct buf z = BUF_INIT;
	gzip_deflate(slice_cstr(js), 6, &z);
	assert_int_equal(decode(d, CONNECT_JSON, "gzip", z.p, z.n, 1024, &m, err), 0);
	assert_int_equal(((Types__V1__LabelValuesRequest *)m)->end, 4000);
	protobuf_c_message_free_unpacked(m, NULL);
	/* corrupt gzip → invalid_argument */
	z.p[z.n / 2] ^= 0x55;
	z.p[z.n - 5] ^= 0x55; /* and the CRC/size trailer */
	int rc = decode(d, CONNECT_JSON, "gzip", z.p, z.n, 1024, &m, err);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_null(m);
	assert_non_null(strstr(err, "gzip"));
	rc = decode(d, CONNECT_JSON, "gzip", "not gzip", 8, 1024, &m, err);
	assert_int_equal(rc, EMBER_EINVAL);
	buf_release(&z);

	/* empty JSON body → invalid_argument; {} is the empty message */
	rc = decode(d, CONNECT_JSON, "", "", 0, 1024, &m, err);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_int_equal(connect_code_from_error(rc), CONNECT_INVALID_ARGUMENT);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(decode(d, CONNECT_JSON, "", "{}", 2, 1024, &m, err), 0);
	assert_string_equal(((Types__V1__LabelValuesRequest *)m)->name, "");
	protobuf_c_message_free_unpacked(m, NULL);
	/* empty proto body is a valid empty message */
	assert_int_equal(decode(d, CONNECT_PROTO, "", NULL, 0, 1024, &m, err), 0);
	assert_int_equal(((Types__V1__LabelValuesRequest *)m)->n_matchers, 0);
	protobuf_c_message_free_unpacked(m, NULL);
	/* JSON type error names the field */
	rc = decode(d, CONNECT_JSON, "", "{\"start\":[]}", 12, 1024, &m, err);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_non_null(strstr(err, "start"));

	/* unknown encodings → unimplemented */
	rc = decode(d, CONNECT_JSON, "br", "{}", 2, 1024, &m, err);
	assert_int_equal(rc, EMBER_EUNSUP);
	assert_int_equal(connect_code_from_error(rc), CONNECT_UNIMPLEMENTED);
	assert_non_null(strstr(err, "unknown compression \"br\""));
	assert_null(m);
	rc = decode(d, CONNECT_PROTO, "deflate", "", 0, 1024, &m, err);
	assert_int_equal(rc, EMBER_EUNSUP);

	/* raw body over the cap → resource_exhausted */
	rc = decode(d, CONNECT_JSON, "", js, strlen(js), 10, &m, err);
	assert_int_equal(rc, EMBER_ETOOBIG);
	assert_int_equal(connect_code_http_status(connect_code_from_error(rc)), 429);

	/* invalid UTF-8 inside a protobuf string (field name=1, "\xff") → invalid_argument */
	static const uint8_t bad[] = {0x0a, 0x01, 0xff};
	rc = decode(d, CONNECT_PROTO, "", bad, sizeof(bad), 1024, &m, err);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_non_null(strstr(err, "UTF-8"));
	static const uint8_t badrep[] = {0x12, 0x02, 'o', 'k', 0x12, 0x02, 0xc3, 0x28};
	rc = decode(d, CONNECT_PROTO, "", badrep, sizeof(badrep), 1024, &m, err);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_non_null(strstr(err, "matchers"));
	/* nested: PushRequest.series[0].labels[0].value */
	static const uint8_t badnest[] = {0x0a, 0x05, 0x0a, 0x03, 0x12, 0x01, 0x80};
	rc = decode(&push__v1__push_request__descriptor, CONNECT_PROTO, "", badnest, sizeof(badnest), 1024, &m, err);
	assert_int_equal(rc, EMBER_EINVAL);
	assert_non_null(strstr(err, "value"));
}

static void test_gzip_bomb(void **state)
{
	(void)state;
	/* 64 MiB of spaces inside a JSON object compress to ~64 KiB; with a 4 MiB cap the
	 * inflate stops at the cap: resource_exhausted (429), as connect-go answers a message
	 * over its read limit. */
	size_t big = 64u << 20;
	uint8_t *plain = malloc(big);
	assert_non_null(plain);
	memset(plain, ' ', big);
	plain[0] = '{';
	plain[big - 1] = '}';
	struct buf z = BUF_INIT;
	gzip_deflate(slice_make(plain, big), 6, &z);
	free(plain);
	assert_true(z.n < big / 100);
	char err[256];
	ProtobufCMessage *m = NULL;
	int rc = connect_decode_request(&push__v1__push_request__descriptor, CONNECT_JSON, slice_cstr("gzip"),
					slice_make(z.p, z.n), 4u << 20, &m, err, sizeof(err));
	assert_int_equal(rc, EMBER_ETOOBIG);
	assert_null(m);
	assert_int_equal(connect_code_from_error(rc), CONNECT_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(err, "larger than configured max 4194304"));
	/* With room for it, the same body is a valid empty message. */
	rc = connect_decode_request(&push__v1__push_request__descriptor, CONNECT_JSON, slice_cstr("gzip"),
				    slice_make(z.p, z.n), big, &m, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(((Push__V1__PushRequest *)m)->n_series, 0);
	protobuf_c_message_free_unpacked(m, NULL);
	buf_release(&z);
}

static void test_encode_response(void **state)
{
	(void)state;
	char *names[] = {"service_name", "__name__"};
	Types__V1__LabelNamesResponse r = TYPES__V1__LABEL_NAMES_RESPONSE__INIT;
	r.n_names = 2;
	r.names = names;
	struct buf b = BUF_INIT;
	assert_int_equal(connect_encode_response(&r.base, CONNECT_JSON, &b), 0);
	assert_string_equal(buf_cstr(&b), "{\"names\":[\"service_name\",\"__name__\"]}");
	buf_release(&b);
	assert_int_equal(connect_encode_response(&r.base, CONNECT_PROTO, &b), 0);
	/* field 1, length-delimited: 0a 0c "service_name" 0a 08 "__name__" */
	assert_int_equal(b.n, 2 + 12 + 2 + 8);
	assert_memory_equal(b.p, "\x0a\x0cservice_name\x0a\x08__name__", b.n);
	buf_release(&b);
	/* The empty message: no bytes in proto, {} in JSON. */
	Push__V1__PushResponse e = PUSH__V1__PUSH_RESPONSE__INIT;
	assert_int_equal(connect_encode_response(&e.base, CONNECT_PROTO, &b), 0);
	assert_int_equal(b.n, 0);
	assert_int_equal(connect_encode_response(&e.base, CONNECT_JSON, &b), 0);
	assert_string_equal(buf_cstr(&b), "{}");
	buf_release(&b);
}

static void test_response_gzip(void **state)
{
	(void)state;
	static const struct {
		const char *ae;
		bool ok;
	} cases[] = {
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"*", true},
		{"identity", false},
		{"", false},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0.001", true},
		{"deflate, gzip;q=0, *;q=0.1", false},
		{"deflate, *;q=0.1", true},
		{"*;q=0", false},
		{"x-gzip", false},
		{"gzipx", false},
	};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(cases); i++)
		if (connect_accepts_gzip(slice_cstr(cases[i].ae)) != cases[i].ok)
			fail_msg("Accept-Encoding \"%s\": want %d", cases[i].ae, cases[i].ok);

	struct buf b = BUF_INIT;
	buf_append_cstr(&b, "{\"names\":[]}");
	assert_false(connect_compress_response(slice_cstr("gzip"), &b)); /* too small */
	assert_string_equal(buf_cstr(&b), "{\"names\":[]}");
	buf_release(&b);
	for (int i = 0; i < 200; i++)
		buf_printf(&b, "label_%d,", i);
	size_t orig = b.n;
	uint8_t *copy = malloc(orig);
	memcpy(copy, b.p, orig);
	assert_false(connect_compress_response(slice_cstr("identity"), &b));
	assert_int_equal(b.n, orig);
	assert_true(connect_compress_response(slice_cstr("gzip"), &b));
	assert_true(gzip_is_gzip(slice_make(b.p, b.n)));
	assert_true(b.n < orig);
	struct buf back = BUF_INIT;
	assert_int_equal(gzip_inflate(slice_make(b.p, b.n), orig, &back), 0);
	assert_int_equal(back.n, orig);
	assert_memory_equal(back.p, copy, orig);
	buf_release(&back);
	buf_release(&b);
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_types),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_decode_protoc_push),
		cmocka_unit_test(test_decode_protoc_query),
		cmocka_unit_test(test_encode_protoc_decodes),
		cmocka_unit_test(test_decode_json_and_errors),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_encode_response),
		cmocka_unit_test(test_response_gzip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
