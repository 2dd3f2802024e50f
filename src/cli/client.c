/* client: libcurl easy handle per request; `ember query` makes a handful of calls, so there
 * is nothing to gain from keeping connections. */
#include <curl/curl.h>

#include "cli/client.h"

void client_init(struct client *c, const char *url, const char *tenant)
{
	memset(c, 0, sizeof(*c));
	c->url = url;
	c->tenant = tenant && *tenant ? tenant : NULL;
	c->timeout_s = 120;
}

struct sink {
	struct buf *b;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	if (s->b->n + n > CLIENT_MAX_REPLY) {
		s->too_big = true;
		return 0; /* aborts the transfer */
	}
	buf_append(s->b, p, n);
	return n;
}

/* The base URL without its trailing slashes, as a length for "%.*s". */
static int base_len(const char *url)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	return (int)EMBER_MIN(n, (size_t)4096);
}

int client_request(struct client *c, const char *method, const char *path, const char *content_type,
		   const void *body, size_t body_len, const char *accept, long *status, struct buf *reply)
{
	int rc = EMBER_EIO;
	struct curl_slist *hdrs = NULL;
	char full[8192], line[512], curl_err[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(c->err, sizeof(c->err), "cannot initialise libcurl");
		goto out;
	}
	if ((size_t)snprintf(full, sizeof(full), "%.*s%s", base_len(c->url), c->url, path) >= sizeof(full)) {
		snprintf(c->err, sizeof(c->err), "URL too long");
		rc = EMBER_ETOOBIG;
		goto out;
	}
	struct sink sink = {reply, false};
	curl_easy_setopt(h, CURLOPT_URL, full);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	if (c->timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ember-query/1");
	/* Replies may be large JSON; let the server compress them. */
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		/* No "Expect: 100-continue" round trip for our small bodies. */
		hdrs = curl_slist_append(hdrs, "Expect:");
		if (content_type) {
			snprintf(line, sizeof(line), "Content-Type: %s", content_type);
			hdrs = curl_slist_append(hdrs, line);
		}
		hdrs = curl_slist_append(hdrs, "Connect-Protocol-Version: 1");
	}
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (c->tenant) {
		snprintf(line, sizeof(line), "X-Scope-OrgID: %s", c->tenant);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	CURLcode cc = curl_easy_perform(h);
	if (sink.too_big) {
		snprintf(c->err, sizeof(c->err), "%.900s: reply larger than %u MiB", full, CLIENT_MAX_REPLY >> 20);
		rc = EMBER_ETOOBIG;
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(c->err, sizeof(c->err), "cannot reach %.*s: %s", base_len(c->url), c->url,
			 curl_err[0] ? curl_err : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

void client_set_http_error(struct client *c, const char *what, long status, const struct buf *reply)
{
	char msg[600] = "";
	json_t *j = reply->n ? json_loadb((const char *)reply->p, reply->n, 0, NULL) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	if (m) {
		snprintf(msg, sizeof(msg), "%s", m);
	} else {
		/* Not Connect JSON: the first line of the body, printable bytes only. */
		size_t k = 0;
		for (size_t i = 0; i < reply->n && reply->p[i] != '\n' && k + 1 < sizeof(msg); i++)
			msg[k++] = reply->p[i] >= 0x20 && reply->p[i] < 0x7f ? (char)reply->p[i] : '?';
		msg[k] = 0;
	}
	json_decref(j);
	snprintf(c->err, sizeof(c->err), "%s: HTTP %ld%s%s", what, status, msg[0] ? ": " : "", msg);
}

static int parse_reply(struct client *c, const char *path, long status, const struct buf *reply, json_t **out)
{
	if (status != 200) {
		client_set_http_error(c, path, status, reply);
		return EMBER_EINVAL;
	}
	json_error_t e;
	*out = json_loadb(reply->n ? (const char *)reply->p : "{}", reply->n ? reply->n : 2, 0, &e);
	if (!*out) {
		snprintf(c->err, sizeof(c->err), "%s: the reply is not JSON (%s)", path, e.text);
		return EMBER_ECORRUPT;
	}
	return 0;
}

int client_call_json(struct client *c, const char *path, json_t *req, json_t **out)
{
	struct buf reply = BUF_INIT;
	long status = 0;
	*out = NULL;
	char *body = json_dumps(req, JSON_COMPACT);
	if (!body) {
		snprintf(c->err, sizeof(c->err), "cannot encode the request");
		return EMBER_EINVAL;
	}
	int rc = client_request(c, "POST", path, "application/json", body, strlen(body), NULL, &status, &reply);
	free(body);
	if (rc == 0)
		rc = parse_reply(c, path, status, &reply, out);
	buf_release(&reply);
	return rc;
}

int client_get_json(struct client *c, const char *path, json_t **out)
{
	struct buf reply = BUF_INIT;
	long status = 0;
	*out = NULL;
	int rc = client_request(c, "GET", path, NULL, NULL, 0, "application/json", &status, &reply);
	if (rc == 0) {
		/* Name the endpoint, not its whole query string, in errors. */
		char what[256];
		size_t n = strcspn(path, "?");
		snprintf(what, sizeof(what), "%.*s", (int)EMBER_MIN(n, (size_t)200), path);
		rc = parse_reply(c, what, status, &reply, out);
	}
	buf_release(&reply);
	return rc;
}

void client_append_query_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '_' || ch == '.' || ch == '~') {
			buf_append_byte(b, ch);
		} else {
			buf_append_byte(b, '%');
			buf_append_byte(b, (uint8_t)hex[ch >> 4]);
			buf_append_byte(b, (uint8_t)hex[ch & 15]);
		}
	}
}

bool client_json_int64(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end || end == s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	*out = (int64_t)x;
	return true;
}
