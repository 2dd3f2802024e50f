/* ui_assets: the web UI's static files, built into the binary. The table is generated at
 * build time by tools/uigen.c from every file under ui/ ($(BUILD)/gen/ui_assets.c), so the
 * server never reads ui/ at run time and needs no network. See docs/internals/ui.md. */
#ifndef EMBER_API_UI_ASSETS_H
#define EMBER_API_UI_ASSETS_H

#include <stddef.h>
#include <stdint.h>

#include "http/request.h"
#include "util/common.h"

/** One file of ui/. Everything is static data of the binary. */
struct ui_asset {
	const char *path;         /* relative to ui/, e.g. "index.html", "js/app.js" */
	const char *content_type; /* from the extension, e.g. "text/javascript; charset=utf-8" */
	const uint8_t *data;      /* the bytes (index.html with its ui/ references versioned) */
	size_t len;
	const uint8_t *gz;        /* gzip of data (libdeflate level 12), or NULL when gzip does
				   * not make it at least 10% smaller */
	size_t gz_len;
	const char *etag;         /* strong ETag of data: "\"<xxh3 hex>\"" */
	const char *etag_gz;      /* strong ETag of the gzip variant: "\"<xxh3 hex>-gz\"" */
};

/** The table, sorted by path (strcmp order); ui_assets_n may be 0 (built without a UI). */
extern const struct ui_asset ui_assets[];
extern const size_t ui_assets_n;
/** 16 hex digits: a hash of every asset but index.html. index.html's references to
 * "ui/..." are rewritten at build time to "ui/v-<ui_version>/...", so a new build gets new
 * asset URLs and old ones can be cached for a long time. */
extern const char ui_version[];

/** The asset at path (relative to ui/, no leading '/'), or NULL. Binary search. */
const struct ui_asset *ui_asset_find(struct slice path);

/** Serves GET/HEAD "/" (index.html) and "/ui/<path>" from the table: Content-Type, ETag,
 * Cache-Control ("no-cache" for index.html and unversioned paths; one year, immutable, under
 * /ui/v-<ui_version>/), If-None-Match -> 304, gzip when Accept-Encoding allows it (Vary:
 * Accept-Encoding). Unknown files get a 404 JSON error, other methods 405 with Allow.
 * Thread-safe (reads static data only). The caller routes only "/" and "/ui/..." here. */
void api_ui_serve(struct http_request *req, struct http_response *resp);

#endif
