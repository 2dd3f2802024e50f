/* uigen: turns the web UI's files into a C source holding the asset table declared in
 * src/api/ui_assets.h, so the binary serves the UI with no file or network access.
 *
 *   uigen OUT.c UI_DIR FILE...      (each FILE is UI_DIR/<relative path>)
 *
 * For each file: its content type from the extension, its bytes, a gzip copy (libdeflate
 * level 12) when that saves at least 10%, and strong ETags (XXH3-64 of the bytes). The
 * top-level index.html has its references to ui/... rewritten to ui/v-<version>/..., where
 * the version hashes every other file, so that assets can be cached for a year and a new
 * build still loads new ones. Output goes to OUT.c.tmp and is renamed at the end, so a
 * failed run leaves no half-written source. Build-time tool: it exits on any error. */
#include <errno.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct file {
	char *rel;     /* path relative to UI_DIR */
	uint8_t *data; /* malloc'd */
	size_t len;
	uint8_t *gz;   /* malloc'd or NULL */
	size_t gz_len;
};

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "uigen: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

static void *xalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory", NULL);
	return p;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(strerror(errno), path);
	size_t cap = 65536, n = 0;
	uint8_t *p = xalloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			uint8_t *q = realloc(p, cap);
			if (!q)
				die("out of memory", NULL);
			p = q;
		}
		size_t got = fread(p + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		die("read error", path);
	fclose(f);
	*len = n;
	return p;
}

/* The paths become C strings and URL paths: keep them to a plain, unambiguous set. */
static int path_ok(const char *s)
{
	if (!*s || *s == '/' || strstr(s, "..") || strstr(s, "//"))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("._-/", *s)))
			return 0;
	return 1;
}

static const char *content_type(const char *path)
{
	static const char *const types[][2] = {
		{".html", "text/html; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".woff2", "font/woff2"},
		{".woff", "font/woff"},
		{".txt", "text/plain; charset=utf-8"},
		{".md", "text/plain; charset=utf-8"},
		{".wasm", "application/wasm"},
	};
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(dot, types[i][0]) == 0)
				return types[i][1];
	return "application/octet-stream";
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->rel, ((const struct file *)b)->rel);
}

/* index.html: "ui/, 'ui/, "./ui/, './ui/, "/ui/, '/ui/ gain the v-<version>/ segment. */
static void version_index(struct file *f, const char *version)
{
	size_t cap = f->len * 2 + 64, n = 0;
	uint8_t *out = xalloc(cap);
	static const char *const pats[] = {"\"ui/", "'ui/", "\"./ui/", "'./ui/", "\"/ui/", "'/ui/"};
	for (size_t i = 0; i < f->len;) {
		size_t m = 0;
		for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]) && !m; k++) {
			size_t pl = strlen(pats[k]);
			if (f->len - i >= pl && memcmp(f->data + i, pats[k], pl) == 0)
				m = pl;
		}
		if (n + m + 32 > cap) {
			cap = cap * 2 + m + 32;
			uint8_t *q = realloc(out, cap);
			if (!q)
				die("out of memory", NULL);
			out = q;
		}
		if (m) {
			memcpy(out + n, f->data + i, m);
			n += m;
			n += (size_t)snprintf((char *)out + n, cap - n, "v-%s/", version);
			i += m;
		} else {
			out[n++] = f->data[i++];
		}
	}
	free(f->data);
	f->data = out;
	f->len = n;
}

static void emit_bytes(FILE *o, const char *name, const uint8_t *p, size_t n)
{
	fprintf(o, "static const uint8_t %s[%zu] = {", name, n ? n : 1);
	for (size_t i = 0; i < n; i++)
		fprintf(o, "%s%u,", i % 24 ? "" : "\n", p[i]);
	fprintf(o, "%s};\n", n ? "\n" : "0");
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: uigen OUT.c UI_DIR FILE...", NULL);
	const char *out_path = argv[1];
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", argv[2]);
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dir[--dl] = 0;

	size_t nf = (size_t)(argc - 3);
	struct file *files = xalloc(nf * sizeof(*files));
	for (size_t i = 0; i < nf; i++) {
		const char *p = argv[3 + i];
		if (strncmp(p, dir, dl) != 0 || p[dl] != '/')
			die("file is not under the UI directory", p);
		files[i].rel = (char *)p + dl + 1;
		if (!path_ok(files[i].rel))
			die("unsupported file name (use letters, digits, '.', '_', '-', '/')", p);
		files[i].data = read_all(p, &files[i].len);
		files[i].gz = NULL;
		files[i].gz_len = 0;
	}
	qsort(files, nf, sizeof(*files), cmp_file);
	for (size_t i = 1; i < nf; i++)
		if (strcmp(files[i - 1].rel, files[i].rel) == 0)
			die("file given twice", files[i].rel);

	/* The version covers every file but index.html (which changes with it). */
	XXH3_state_t *st = XXH3_createState();
	if (!st)
		die("out of memory", NULL);
	XXH3_64bits_reset(st);
	for (size_t i = 0; i < nf; i++) {
		if (strcmp(files[i].rel, "index.html") == 0)
			continue;
		XXH3_64bits_update(st, files[i].rel, strlen(files[i].rel) + 1);
		uint64_t len = files[i].len;
		XXH3_64bits_update(st, &len, sizeof(len));
		XXH3_64bits_update(st, files[i].data, files[i].len);
	}
	char version[17];
	snprintf(version, sizeof(version), "%016llx", (unsigned long long)XXH3_64bits_digest(st));
	XXH3_freeState(st);
	for (size_t i = 0; i < nf; i++)
		if (strcmp(files[i].rel, "index.html") == 0)
			version_index(&files[i], version);

	struct libdeflate_compressor *c = libdeflate_alloc_compressor(12);
	if (!c)
		die("out of memory", NULL);
	for (size_t i = 0; i < nf; i++) {
		struct file *f = &files[i];
		size_t bound = libdeflate_gzip_compress_bound(c, f->len);
		uint8_t *z = xalloc(bound);
		size_t zn = f->len ? libdeflate_gzip_compress(c, f->data, f->len, z, bound) : 0;
		if (zn && zn < f->len - f->len / 10) {
			f->gz = z;
			f->gz_len = zn;
		} else {
			free(z);
		}
	}
	libdeflate_free_compressor(c);

	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
	FILE *o = fopen(tmp, "w");
	if (!o)
		die(strerror(errno), tmp);
	fprintf(o, "/* Generated by tools/uigen.c from %s/ (%zu files): do not edit. */\n", dir, nf);
	fprintf(o, "#include \"api/ui_assets.h\"\n\nconst char ui_version[] = \"%s\";\n\n", version);
	for (size_t i = 0; i < nf; i++) {
		char name[32];
		snprintf(name, sizeof(name), "d%zu", i);
		emit_bytes(o, name, files[i].data, files[i].len);
		if (files[i].gz) {
			snprintf(name, sizeof(name), "z%zu", i);
			emit_bytes(o, name, files[i].gz, files[i].gz_len);
		}
	}
	fprintf(o, "\nconst struct ui_asset ui_assets[%zu] = {\n", nf ? nf : 1);
	for (size_t i = 0; i < nf; i++) {
		const struct file *f = &files[i];
		unsigned long long h = (unsigned long long)XXH3_64bits(f->data, f->len);
		fprintf(o, "\t{\"%s\", \"%s\", d%zu, %zu, ", f->rel, content_type(f->rel), i, f->len);
		if (f->gz)
			fprintf(o, "z%zu, %zu, ", i, f->gz_len);
		else
			fprintf(o, "NULL, 0, ");
		fprintf(o, "\"\\\"%016llx\\\"\", \"\\\"%016llx-gz\\\"\"},\n", h, h);
	}
	if (!nf)
		fprintf(o, "\t{NULL, NULL, NULL, 0, NULL, 0, NULL, NULL},\n");
	fprintf(o, "};\nconst size_t ui_assets_n = %zu;\n", nf);
	if (fclose(o) != 0)
		die("write error", tmp);
	if (rename(tmp, out_path) != 0)
		die(strerror(errno), out_path);
	for (size_t i = 0; i < nf; i++) {
		free(files[i].data);
		free(files[i].gz);
	}
	free(files);
	return 0;
}
