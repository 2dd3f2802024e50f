/* libFuzzer target: arbitrary bytes as protojson into a few request descriptors.
 * Byte 0 picks the descriptor (low 3 bits) and, with bit 7 set, also feeds the rest to the
 * protobuf path of connect_decode_request. Checks: no crash/leak/UB; whatever decodes
 * re-encodes to JSON our decoder accepts, and the second round trip is a fixed point. */
#include <protobuf-c/protobuf-c.h>

#include "http/connect.h"
#include "http/protojson.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"
#include "version.pb-c.h"

static const ProtobufCMessageDescriptor *const descs[8] = {
	&querier__v1__select_merge_stacktraces_request__descriptor,
	&push__v1__push_request__descriptor,
	&querier__v1__series_request__descriptor,
	&querier__v1__select_series_request__descriptor,
	&querier__v1__diff_request__descriptor,
	&version__v1__versions__descriptor,
	&types__v1__series__descriptor,
	&querier__v1__select_merge_stacktraces_response__descriptor,
};

static char *encode(const ProtobufCMessage *m, size_t *n)
{
	struct buf b = BUF_INIT;
	if (protojson_encode(m, &b) != 0)
		abort();
	buf_cstr(&b);
	*n = b.n;
	return (char *)b.p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = descs[data[0] & 7];
	struct slice body = slice_make(data + 1, size - 1);
	char err[256];
	ProtobufCMessage *m = NULL;

	if (data[0] & 0x80) {
		if (connect_decode_request(d, CONNECT_PROTO, slice_cstr(""), body, 1 << 20, &m, err, sizeof(err)) == 0)
			protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
	}

	if (protojson_decode(d, body, &m, err, sizeof(err)) != 0) {
		if (m || !err[0])
			abort(); /* failure leaves no message and always explains itself */
		return 0;
	}
	/* The message must be a well-formed protobuf-c message. */
	size_t pn = protobuf_c_message_get_packed_size(m);
	uint8_t *pb = malloc(pn + 1);
	if (protobuf_c_message_pack(m, pb) != pn)
		abort();
	free(pb);

	size_t n1, n2, n3;
	char *j1 = encode(m, &n1);
	ProtobufCMessage *m2 = NULL, *m3 = NULL;
	if (protojson_decode(d, slice_make(j1, n1), &m2, err, sizeof(err)) != 0)
		abort(); /* our own output must decode */
	char *j2 = encode(m2, &n2);
	if (protojson_decode(d, slice_make(j2, n2), &m3, err, sizeof(err)) != 0)
		abort();
	char *j3 = encode(m3, &n3);
	if (n2 != n3 || memcmp(j2, j3, n2) != 0)
		abort();
	free(j1);
	free(j2);
	free(j3);
	protobuf_c_message_free_unpacked(m, NULL);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(m3, NULL);
	return 0;
}
