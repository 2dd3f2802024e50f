/* ingest/multipart: multipart/form-data bodies (RFC 7578 over RFC 2046), as Go's
 * mime/multipart Reader + Request.ParseMultipartForm read them (pyroscope-api.md §1:
 * the Go SDK's `profile` + `sample_type_config` parts, the Node SDK's FormData, JFR's
 * `jfr` + `labels`). Zero-copy: part data are slices of the body. */
#ifndef EMBER_INGEST_MULTIPART_H
#define EMBER_INGEST_MULTIPART_H

#include "util/arena.h"
#include "util/common.h"

struct multipart_part {
	struct slice name;         /* Content-Disposition name= (form-data only), unescaped */
	struct slice filename;     /* Content-Disposition filename=, unescaped, as sent (no basename) */
	bool has_name;             /* a form-data disposition with a non-empty name */
	bool has_filename;         /* filename= was present (possibly empty) */
	struct slice content_type; /* the part's Content-Type value, trimmed; empty if absent */
	struct slice data;         /* the part body, a slice of the request body */
};

struct multipart_limits {
	size_t max_parts;        /* more parts → EMBER_ETOOBIG (Go: 1000) */
	size_t max_header_bytes; /* bytes of one part's header block → EMBER_ETOOBIG */
};

#define MULTIPART_LIMITS_DEFAULT {1000, 16 * 1024}

/** Extracts the boundary from a Content-Type header value. The media type must be
 * multipart/form-data (case-insensitive); the boundary parameter may be a token or a
 * quoted string (unescaped into arena a if it holds backslashes, else a slice of
 * content_type); 1..70 bytes. Errors: EMBER_EINVAL with the reason in err. */
int multipart_boundary(struct slice content_type, struct arena *a, struct slice *boundary,
		       char *err, size_t errlen) EMBER_WUR;

/** Parses a whole multipart/form-data body. Follows Go's reader: a preamble before the
 * first `--boundary` line and an epilogue after `--boundary--` are ignored; lines end in
 * CRLF, or LF when the first boundary line ends in LF (Go's tolerance); space or tab may
 * follow a boundary; a part's body ends at CRLF--boundary; a body without the closing
 * `--boundary--` is an error, as are header lines without ':' and quoted-printable
 * parts (Go decodes those; nobody sends them here: EMBER_EUNSUP). Content-Disposition
 * parameters are read as Go's mime.ParseMediaType does (tokens or quoted strings, `\`
 * escaping only tspecials); a malformed disposition leaves the part nameless, as Go.
 * Every part is returned, in order; *parts is an array of *n_parts in arena a, its
 * slices point into body (or into a for unescaped names), so body and a must outlive it.
 * Errors: EMBER_EINVAL, EMBER_ETOOBIG (caps in lim, NULL = defaults), EMBER_EUNSUP. */
int multipart_parse(struct slice body, struct slice content_type, struct arena *a,
		    const struct multipart_limits *lim, struct multipart_part **parts,
		    size_t *n_parts, char *err, size_t errlen) EMBER_WUR;

/** True if p is a "file part" in Go's ReadForm sense: a form-data part with a non-empty
 * name and a non-empty filename. Only those are read by Pyroscope's /ingest. */
bool multipart_part_is_file(const struct multipart_part *p);

/** The first file part named name (Go: form.File[name][0]), or NULL. */
const struct multipart_part *multipart_find_file(const struct multipart_part *parts, size_t n,
						 const char *name);

#endif
