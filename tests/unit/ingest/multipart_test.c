#include "testutil.h"

#include "ingest/multipart.h"
#include "util/buf.h"

#define FIX "tests/unit/ingest/fixtures/"

static struct arena A;
static char err[256];
static struct multipart_part *parts;
static size_t np;

static int parse(const void *body, size_t n, const char *ct)
{
	return multipart_parse(slice_make(body, n), slice_cstr(ct), &A, NULL, &parts, &np, err, sizeof(err));
}
static int parse_s(const char *body, const char *ct)
{
	return parse(body, strlen(body), ct);
}

static void test_go_writer_body(void **state)
{
	(void)state;
	/* Made by a Go 1.19 program with mime/multipart.Writer (CreateFormFile, WriteField),
	 * as pyroscope-go does. Expected values printed by Go's own multipart.Reader over
	 * the same file (FormName, FileName, Header.Get("Content-Type"), len):
	 *   profile / profile.pprof / application/octet-stream / 41
	 *   sample_type_config / sample_type_config.json / application/octet-stream / 68
	 *   note / "" / "" / 12
	 *   we"ird\name / C:\dir\f.txt / application/octet-stream / 0 */
	size_t n;
	uint8_t *body = test_read_file(FIX "go_multipart.bin", &n);
	assert_int_equal(parse(body, n, "multipart/form-data; boundary=a2b7e6b0c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0e1f2"), 0);
	assert_int_equal(np, 4);
	assert_true(slice_eq_cstr(parts[0].name, "profile"));
	assert_true(slice_eq_cstr(parts[0].filename, "profile.pprof"));
	assert_true(slice_eq_cstr(parts[0].content_type, "application/octet-stream"));
	assert_int_equal(parts[0].data.n, 41);
	assert_memory_equal(parts[0].data.p, "\x1f\x8b\x08\x00\r\n--a2b7e6b0c3d4e5f6X\x00\x01\x02profile-bytes", 41);
	assert_true(parts[0].data.p >= body && parts[0].data.p < body + n); /* zero-copy */
	assert_true(slice_eq_cstr(parts[1].name, "sample_type_config"));
	assert_true(slice_eq_cstr(parts[1].filename, "sample_type_config.json"));
	assert_int_equal(parts[1].data.n, 68);
	assert_true(slice_eq_cstr(parts[2].name, "note"));
	assert_false(parts[2].has_filename);
	assert_false(multipart_part_is_file(&parts[2]));
	assert_int_equal(parts[2].content_type.n, 0);
	assert_true(slice_eq_cstr(parts[2].data, "a value part"));
	assert_true(slice_eq_cstr(parts[3].name, "we\"ird\\name"));
	assert_true(slice_eq_cstr(parts[3].filename, "C:\\dir\\f.txt"));
	assert_int_equal(parts[3].data.n, 0);
	assert_ptr_equal(multipart_find_file(parts, np, "profile"), &parts[0]);
	assert_ptr_equal(multipart_find_file(parts, np, "sample_type_config"), &parts[1]);
	assert_null(multipart_find_file(parts, np, "note")); /* a value part, not a file */
	assert_null(multipart_find_file(parts, np, "prev_profile"));
	/* every truncation of the body is an error, never a crash */
	for (size_t cut = 0; cut + 2 < n; cut++) {
		int rc = parse(body, cut, "multipart/form-data; boundary=a2b7e6b0c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0e1f2");
		if (rc == 0)
			fail_msg("truncated at %zu parsed", cut);
	}
	free(body);
}

static void test_node_formdata_body(void **state)
{
	(void)state;
	/* Made by Node 20's fetch FormData (undici), as @pyroscope/nodejs does:
	 * fd.append('profile', new Blob([bytes]), 'profile'). */
	size_t n;
	uint8_t *body = test_read_file(FIX "node_formdata.bin", &n);
	assert_int_equal(parse(body, n, "multipart/form-data; boundary=----formdata-undici-078901388157"), 0);
	assert_int_equal(np, 1);
	const struct multipart_part *p = multipart_find_file(parts, np, "profile");
	assert_non_null(p);
	assert_true(slice_eq_cstr(p->filename, "profile"));
	assert_true(slice_eq_cstr(p->content_type, "application/octet-stream"));
	assert_int_equal(p->data.n, 11);
	assert_memory_equal(p->data.p, "\x1f\x8b\x08\x00\r\n--\x00\xff\x41", 11);
	free(body);
}

static void test_boundary_param(void **state)
{
	(void)state;
	struct slice b;
	assert_int_equal(multipart_boundary(slice_cstr("multipart/form-data; boundary=abc"), &A, &b, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(b, "abc"));
	assert_int_equal(multipart_boundary(slice_cstr("Multipart/Form-Data ;BOUNDARY = \"a b:c\" ; charset=utf-8"), &A, &b, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(b, "a b:c"));
	assert_int_equal(multipart_boundary(slice_cstr("multipart/form-data; boundary=\"a\\\"b\""), &A, &b, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(b, "a\"b"));
	assert_int_equal(multipart_boundary(slice_cstr("multipart/form-data"), &A, &b, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "no multipart boundary param in Content-Type");
	assert_int_equal(multipart_boundary(slice_cstr("multipart/mixed; boundary=x"), &A, &b, err, sizeof(err)), EMBER_EINVAL);
	assert_string_equal(err, "Content-Type is not multipart/form-data");
	assert_int_equal(multipart_boundary(slice_cstr("multipart/form-data; boundary=\"\""), &A, &b, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(multipart_boundary(slice_cstr("multipart/form-data; boundary=\"abc"), &A, &b, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(multipart_boundary(slice_cstr("multipart/form-data; boundary=a; boundary=b"), &A, &b, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(multipart_boundary(slice_cstr("multipart/form-data; boundary=0123456789012345678901234567890123456789012345678901234567890123456789X"), &A, &b, err, sizeof(err)), EMBER_EINVAL);
	assert_int_equal(multipart_boundary(slice_cstr(""), &A, &b, err, sizeof(err)), EMBER_EINVAL);
}

#define CT "multipart/form-data; boundary=XX"

static void test_rfc_details(void **state)
{
	(void)state;
	/* preamble, epilogue, LWSP after the boundary, a look-alike boundary inside data */
	assert_int_equal(parse_s("preamble line\r\n--XX \t\r\nContent-Disposition: form-data; name=a; filename=f\r\n\r\n"
				 "1\r\n--XXnot\r\n2\r\n--XX--  \r\nepilogue",
				 CT), 0);
	assert_int_equal(np, 1);
	assert_true(slice_eq_cstr(parts[0].name, "a"));
	assert_true(slice_eq_cstr(parts[0].data, "1\r\n--XXnot\r\n2"));
	/* LF-only bodies, as Go tolerates */
	assert_int_equal(parse_s("--XX\nContent-Disposition: form-data; name=\"a\"; filename=\"f\"\n\nhello\n--XX--\n", CT), 0);
	assert_int_equal(np, 1);
	assert_true(slice_eq_cstr(parts[0].data, "hello"));
	/* closing boundary without a final CRLF */
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XX--", CT), 0);
	assert_true(slice_eq_cstr(parts[0].data, "v"));
	/* no parts at all */
	assert_int_equal(parse_s("--XX--\r\n", CT), 0);
	assert_int_equal(np, 0);
	/* a folded header and a disposition that is not form-data */
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data;\r\n name=\"a\"; filename=\"f\"\r\n\r\nv\r\n"
				 "--XX\r\nContent-Disposition: attachment; name=\"b\"; filename=\"g\"\r\n\r\nw\r\n--XX--\r\n", CT), 0);
	assert_int_equal(np, 2);
	assert_true(slice_eq_cstr(parts[0].name, "a"));
	assert_true(multipart_part_is_file(&parts[0]));
	assert_false(parts[1].has_name);
	assert_null(multipart_find_file(parts, np, "b"));
	/* filename="" is present but not a file part (Go's FileName() == "") */
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=\"a\"; filename=\"\"\r\n\r\nv\r\n--XX--\r\n", CT), 0);
	assert_true(parts[0].has_filename);
	assert_false(multipart_part_is_file(&parts[0]));
	/* a malformed disposition leaves the part nameless, as Go */
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--XX--\r\n", CT), 0);
	assert_false(parts[0].has_name);
}

static void test_errors(void **state)
{
	(void)state;
	assert_int_equal(parse_s("", CT), EMBER_EINVAL);
	assert_string_equal(err, "multipart: no boundary found in body");
	assert_int_equal(parse_s("just text\r\n", CT), EMBER_EINVAL);
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue with no end", CT), EMBER_EINVAL);
	assert_string_equal(err, "multipart: missing closing boundary");
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XX\r\n", CT), EMBER_EINVAL);
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XX", CT), EMBER_EINVAL);
	assert_string_equal(err, "multipart: missing closing boundary");
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=a\r\n", CT), EMBER_EINVAL);
	assert_string_equal(err, "multipart: unexpected end of body in part headers");
	assert_int_equal(parse_s("--XX\r\nno colon here\r\n\r\nv\r\n--XX--\r\n", CT), EMBER_EINVAL);
	assert_string_equal(err, "multipart: malformed MIME header line: \"no colon here\\x0d\\x0a\"");
	assert_int_equal(parse_s("--XX\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nv\r\n--XX--\r\n", CT), EMBER_EUNSUP);
	assert_int_equal(parse_s("--XX\r\n\r\nv\r\n--XX\r\n\r\nw\r\n--XX junk\r\n", CT), EMBER_EINVAL);
	assert_int_equal(parse_s("--XX--\r\n", "text/plain"), EMBER_EINVAL);
}

static void test_caps(void **state)
{
	(void)state;
	/* 1001 parts against the default 1000 */
	struct buf b = BUF_INIT;
	for (int i = 0; i < 1001; i++)
		buf_printf(&b, "--XX\r\nContent-Disposition: form-data; name=\"p%d\"\r\n\r\n%d\r\n", i, i);
	buf_append_cstr(&b, "--XX--\r\n");
	assert_int_equal(parse(b.p, b.n, CT), EMBER_ETOOBIG);
	assert_string_equal(err, "multipart: more than 1000 parts");
	struct multipart_limits lim = {2000, 16384};
	assert_int_equal(multipart_parse(slice_make(b.p, b.n), slice_cstr(CT), &A, &lim, &parts, &np, err, sizeof(err)), 0);
	assert_int_equal(np, 1001);
	assert_true(slice_eq_cstr(parts[1000].data, "1000"));
	buf_release(&b);
	/* a header block over 16 KiB */
	buf_append_cstr(&b, "--XX\r\nX-Big: ");
	for (int i = 0; i < 20000; i++)
		buf_append_byte(&b, 'a');
	buf_append_cstr(&b, "\r\n\r\nv\r\n--XX--\r\n");
	assert_int_equal(parse(b.p, b.n, CT), EMBER_ETOOBIG);
	buf_release(&b);
	/* a 10 MB part is just a slice */
	size_t big = 10 * 1024 * 1024;
	buf_append_cstr(&b, "--XX\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n\r\n");
	size_t off = b.n;
	buf_reserve(&b, big);
	memset(b.p + b.n, '-', big);
	b.n += big;
	buf_append_cstr(&b, "\r\n--XX--\r\n");
	assert_int_equal(parse(b.p, b.n, CT), 0);
	assert_int_equal(parts[0].data.n, big);
	assert_ptr_equal(parts[0].data.p, b.p + off);
	buf_release(&b);
}

static int setup(void **state)
{
	(void)state;
	arena_init(&A, 0);
	return 0;
}
static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_writer_body),
		cmocka_unit_test(test_node_formdata_body),
		cmocka_unit_test(test_boundary_param),
		cmocka_unit_test(test_rfc_details),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
