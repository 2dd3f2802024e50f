/* query: `ember query`. Each subcommand is one function that builds a request, makes one
 * call (two for none) and prints the reply; flags are parsed once into struct qopts by a
 * table that also says which subcommand accepts which flag, so `--help` per subcommand and
 * the "flag not valid here" errors come from the same place. */
#include <curl/curl.h>
#include <jansson.h>
#include <time.h>
#include <unistd.h>

#include "querier.pb-c.h"

#include "cli/client.h"
#include "cli/flame.h"
#include "cli/query.h"
#include "cli/table.h"
#include "util/attime.h"
#include "util/buf.h"
#include "util/common.h"

#define DEFAULT_URL "http://127.0.0.1:4040"
#define DEFAULT_TYPE "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
#define MAX_NODES_LIMIT 1048576 /* the server's cap on max_nodes */
#define EXIT_FAIL 1
#define EXIT_USAGE 2

enum flag_id {
	F_URL,
	F_TYPE,
	F_QUERY,
	F_FROM,
	F_UNTIL,
	F_TENANT,
	F_OUTPUT,
	F_STEP,
	F_GROUP_BY,
	F_MAX_NODES,
	F_MIN_SHARE,
	F_LIMIT,
	F_FORMAT,
	F_OUT,
	F_HELP,
	F__COUNT
};

#define BIT(f) (1u << (f))
#define COMMON (BIT(F_URL) | BIT(F_TENANT) | BIT(F_FROM) | BIT(F_UNTIL) | BIT(F_HELP))
#define SELECT (COMMON | BIT(F_TYPE) | BIT(F_QUERY))

static const struct flagdef {
	const char *name;
	bool takes_value;
	const char *arg;
	const char *help;
} flags[F__COUNT] = {
	[F_URL] = {"url", true, "URL", "server address (default " DEFAULT_URL ")"},
	[F_TYPE] = {"type", true, "ID", "profile type ID (default " DEFAULT_TYPE ")"},
	[F_QUERY] = {"query", true, "SELECTOR", "label selector, e.g. '{service_name=\"api\"}' (default {})"},
	[F_FROM] = {"from", true, "TIME", "start: now-1h style, or a unix time in s/ms/us/ns (default now-1h)"},
	[F_UNTIL] = {"until", true, "TIME", "end, same forms (default now)"},
	[F_TENANT] = {"tenant", true, "ID", "tenant, sent as X-Scope-OrgID"},
	[F_OUTPUT] = {"output", true, "text|json", "text tables (default) or the server's JSON reply"},
	[F_STEP] = {"step", true, "DURATION", "resolution of the points: 15s, 1m, 500ms or seconds (default range/60, at least 10s)"},
	[F_GROUP_BY] = {"group-by", true, "LABEL", "one series per value of LABEL (repeat or comma-separate for several)"},
	[F_MAX_NODES] = {"max-nodes", true, "N", "nodes the server keeps, the rest folded into \"other\" (default 8192; export: 1048576)"},
	[F_MIN_SHARE] = {"min-share", true, "FRACTION", "hide nodes under this share of the total: 0.005 or 0.5% (default 0.5%)"},
	[F_LIMIT] = {"limit", true, "N", "number of functions, 1 to 1000 (default 20)"},
	[F_FORMAT] = {"format", true, "pprof|folded|json", "export format (required)"},
	[F_OUT] = {"out", true, "FILE", "write to FILE instead of stdout"},
	[F_HELP] = {"help", false, NULL, "this help"},
};

struct qopts {
	const char *val[F__COUNT];
	bool set[F__COUNT];
	const char *group_by[32];
	size_t n_group_by;
	const char *args[4];
	size_t n_args;
	/* derived */
	int64_t from_ms, until_ms;
	bool json;
};

struct subcmd;
typedef int (*subcmd_fn)(struct client *c, struct qopts *o);

struct subcmd {
	const char *name;
	const char *args; /* usage of positionals */
	size_t min_args, max_args;
	unsigned accepts;
	subcmd_fn fn;
	const char *summary;
};

static int cmd_types(struct client *c, struct qopts *o);
static int cmd_labels(struct client *c, struct qopts *o);
static int cmd_series(struct client *c, struct qopts *o);
static int cmd_flamegraph(struct client *c, struct qopts *o);
static int cmd_top(struct client *c, struct qopts *o);
static int cmd_hottest(struct client *c, struct qopts *o);
static int cmd_export(struct client *c, struct qopts *o);

static const struct subcmd subcmds[] = {
	{"types", "", 0, 0, COMMON | BIT(F_OUTPUT), cmd_types, "profile types that have data"},
	{"labels", "[NAME]", 0, 1, SELECT | BIT(F_OUTPUT), cmd_labels,
	 "label names, or the values of label NAME (--type narrows only when given)"},
	{"series", "", 0, 0, SELECT | BIT(F_OUTPUT) | BIT(F_STEP) | BIT(F_GROUP_BY), cmd_series,
	 "time series of the profile totals, one line per series"},
	{"flamegraph", "", 0, 0, SELECT | BIT(F_OUTPUT) | BIT(F_MAX_NODES) | BIT(F_MIN_SHARE), cmd_flamegraph,
	 "the merged call tree as indented text, with total, self and share"},
	{"top", "", 0, 0, SELECT | BIT(F_OUTPUT) | BIT(F_LIMIT), cmd_top, "functions with the most self time/value"},
	{"hottest-path", "", 0, 0, SELECT | BIT(F_OUTPUT), cmd_hottest,
	 "the path from the root through the heaviest child at each level"},
	{"export", "", 0, 0, SELECT | BIT(F_FORMAT) | BIT(F_OUT) | BIT(F_MAX_NODES), cmd_export,
	 "the merged profile as pprof, folded stacks or the flame graph JSON"},
};

/* ---- usage -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "Usage: ember query <subcommand> [flags]\n\n"
		   "Reads profiles from a running Ember (or Pyroscope) server.\n\nSubcommands:\n");
	for (size_t i = 0; i < EMBER_ARRAY_LEN(subcmds); i++) {
		char head[64];
		snprintf(head, sizeof(head), "%s %s", subcmds[i].name, subcmds[i].args);
		fprintf(f, "  %-16s %s\n", head, subcmds[i].summary);
	}
	fprintf(f, "\nCommon flags:\n");
	for (int k = 0; k < F__COUNT; k++) {
		if (!(SELECT & BIT(k)) && k != F_OUTPUT)
			continue;
		char head[64];
		snprintf(head, sizeof(head), "--%s%s%s", flags[k].name, flags[k].arg ? " " : "",
			 flags[k].arg ? flags[k].arg : "");
		fprintf(f, "  %-22s %s\n", head, flags[k].help);
	}
	fprintf(f, "\n`ember query <subcommand> --help` lists a subcommand's own flags.\n");
}

static void usage_sub(FILE *f, const struct subcmd *s)
{
	fprintf(f, "Usage: ember query %s %s%s[flags]\n\n%s.\n\nFlags:\n", s->name, s->args, *s->args ? " " : "",
		s->summary);
	for (int k = 0; k < F__COUNT; k++) {
		if (!(s->accepts & BIT(k)))
			continue;
		char head[64];
		snprintf(head, sizeof(head), "--%s%s%s", flags[k].name, flags[k].arg ? " " : "",
			 flags[k].arg ? flags[k].arg : "");
		fprintf(f, "  %-22s %s\n", head, flags[k].help);
	}
}

EMBER_PRINTF(1, 2) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ember query: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

EMBER_PRINTF(1, 2) static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ember query: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
	return EXIT_FAIL;
}

/* ---- flags -------------------------------------------------------------------------- */

static int find_flag(const char *name, size_t n)
{
	for (int k = 0; k < F__COUNT; k++)
		if (strlen(flags[k].name) == n && !memcmp(flags[k].name, name, n))
			return k;
	return -1;
}

/* Parses argv into o: flags (`--x v`, `--x=v`, one dash too) anywhere, positionals in
 * order, `--` ends flags. Returns 0, or EXIT_USAGE after printing why. */
static int parse_args(int argc, char **argv, struct qopts *o)
{
	bool flags_done = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (flags_done || a[0] != '-' || !a[1]) {
			if (o->n_args == EMBER_ARRAY_LEN(o->args))
				return usage_error("too many arguments (at %s)", a);
			o->args[o->n_args++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			flags_done = true;
			continue;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		if (!strcmp(name, "h"))
			name = "help";
		size_t n = strcspn(name, "=");
		int k = find_flag(name, n);
		if (k < 0)
			return usage_error("unknown flag %s (see ember query --help)", a);
		const char *v = NULL;
		if (name[n] == '=') {
			if (!flags[k].takes_value)
				return usage_error("flag --%s takes no value", flags[k].name);
			v = name + n + 1;
		} else if (flags[k].takes_value) {
			if (i + 1 >= argc)
				return usage_error("flag --%s needs a value (%s)", flags[k].name, flags[k].arg);
			v = argv[++i];
		}
		if (k == F_GROUP_BY) {
			/* Repeatable and comma-separated; the pieces point into argv. */
			char *copy = (char *)v;
			for (char *p = copy; *p;) {
				size_t len = strcspn(p, ",");
				if (len) {
					if (o->n_group_by == EMBER_ARRAY_LEN(o->group_by))
						return usage_error("too many --group-by labels");
					o->group_by[o->n_group_by++] = p;
				}
				if (!p[len])
					break;
				p[len] = 0;
				p += len + 1;
			}
		}
		o->val[k] = v;
		o->set[k] = true;
	}
	return 0;
}

static const char *opt(const struct qopts *o, enum flag_id k, const char *dflt)
{
	return o->set[k] && o->val[k] ? o->val[k] : dflt;
}

static int parse_time(const char *flag, const char *s, int64_t now_ns, int64_t *ms)
{
	int64_t ns;
	if (attime_parse(slice_cstr(s), now_ns, &ns) != 0)
		return usage_error("bad --%s %s: use now, now-1h, now-30m, or a unix time", flag, s);
	*ms = ns / 1000000;
	return 0;
}

/* A duration for --step: a number with an optional unit ms, s, m, h, d (bare = seconds). */
static bool parse_duration_s(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v > 0) || v > 1e9)
		return false;
	static const struct {
		const char *unit;
		double s;
	} units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"m", 60}, {"h", 3600}, {"d", 86400}};
	for (size_t i = 0; i < EMBER_ARRAY_LEN(units); i++) {
		if (!strcmp(end, units[i].unit)) {
			*out = v * units[i].s;
			return true;
		}
	}
	return false;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* ---- shared helpers ----------------------------------------------------------------- */

static void set_range(json_t *req, const struct qopts *o, const char *start_key, const char *end_key)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", (long long)o->from_ms);
	json_object_set_new(req, start_key, json_string(b));
	snprintf(b, sizeof(b), "%lld", (long long)o->until_ms);
	json_object_set_new(req, end_key, json_string(b));
}

static json_t *select_request(const struct qopts *o)
{
	json_t *req = json_object();
	json_object_set_new(req, "profileTypeID", json_string(opt(o, F_TYPE, DEFAULT_TYPE)));
	json_object_set_new(req, "labelSelector", json_string(opt(o, F_QUERY, "{}")));
	set_range(req, o, "start", "end");
	return req;
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s) {
		puts(s);
		free(s);
	}
}

/* Makes a Connect call, printing the error line on failure. */
static int call(struct client *c, const char *method, json_t *req, json_t **reply)
{
	char path[128];
	snprintf(path, sizeof(path), "/querier.v1.QuerierService/%s", method);
	int rc = client_call_json(c, path, req, reply);
	json_decref(req);
	if (rc)
		return fail("%s", c->err);
	return 0;
}

static int64_t jint(const json_t *v)
{
	int64_t x = 0;
	return client_json_int64(v, &x) ? x : 0;
}

static double pct(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0;
}

static void format_time_ms(char *out, size_t n, int64_t ms, bool with_date)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(out, n, with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
}

static void print_range_header(const struct qopts *o, const char *what)
{
	char a[32], b[32];
	format_time_ms(a, sizeof(a), o->from_ms, true);
	format_time_ms(b, sizeof(b), o->until_ms, true);
	printf("%s %s%s  from %s to %s\n", what, opt(o, F_TYPE, DEFAULT_TYPE), opt(o, F_QUERY, "{}"), a, b);
}

/* ---- types, labels, series ---------------------------------------------------------- */

static int cmd_types(struct client *c, struct qopts *o)
{
	json_t *req = json_object(), *r = NULL;
	set_range(req, o, "start", "end");
	int rc = call(c, "ProfileTypes", req, &r);
	if (rc)
		return rc;
	if (o->json) {
		print_json(r);
	} else {
		struct table t;
		table_init(&t, "lllll");
		table_cell(&t, "PROFILE TYPE");
		table_cell(&t, "NAME");
		table_cell(&t, "SAMPLE");
		table_cell(&t, "UNIT");
		table_cell(&t, "PERIOD");
		size_t i;
		json_t *pt;
		json_array_foreach(json_object_get(r, "profileTypes"), i, pt)
		{
			const char *f[5] = {"ID", "name", "sampleType", "sampleUnit", "periodType"};
			for (int k = 0; k < 5; k++) {
				const char *s = json_string_value(json_object_get(pt, f[k]));
				table_cell(&t, "%s", s && *s ? s : "-");
			}
		}
		if (t.n > t.ncols)
			table_print(&t, stdout);
		else
			fprintf(stderr, "no profile types with data between --from and --until\n");
		table_release(&t);
	}
	json_decref(r);
	return 0;
}

/* The --query selector with __profile_type__ added when --type was given explicitly. */
static char *labels_selector(const struct qopts *o)
{
	const char *q = opt(o, F_QUERY, "{}");
	if (!o->set[F_TYPE])
		return xstrdup(q);
	struct buf b = BUF_INIT;
	const char *inner = q;
	size_t n = strlen(q);
	while (n && (*inner == ' ' || *inner == '{')) {
		inner++, n--;
		if (inner[-1] == '{')
			break;
	}
	while (n && (inner[n - 1] == ' ' || inner[n - 1] == '}')) {
		n--;
		if (inner[n] == '}')
			break;
	}
	buf_append_cstr(&b, "{__profile_type__=");
	const char *t = opt(o, F_TYPE, DEFAULT_TYPE);
	buf_append_json_string(&b, t, strlen(t));
	if (n) {
		buf_append_byte(&b, ',');
		buf_append(&b, inner, n);
	}
	buf_append_byte(&b, '}');
	return buf_cstr(&b);
}

static int cmd_labels(struct client *c, struct qopts *o)
{
	json_t *req = json_object(), *r = NULL;
	set_range(req, o, "start", "end");
	char *sel = labels_selector(o);
	if (strcmp(sel, "{}") != 0) {
		json_t *m = json_array();
		json_array_append_new(m, json_string(sel));
		json_object_set_new(req, "matchers", m);
	}
	free(sel);
	if (o->n_args)
		json_object_set_new(req, "name", json_string(o->args[0]));
	int rc = call(c, o->n_args ? "LabelValues" : "LabelNames", req, &r);
	if (rc)
		return rc;
	if (o->json) {
		print_json(r);
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(r, "names"), i, v) puts(json_string_value(v) ? json_string_value(v) : "");
	}
	json_decref(r);
	return 0;
}

static void format_labels(struct buf *b, const json_t *labels)
{
	size_t i;
	json_t *l;
	buf_append_byte(b, '{');
	json_array_foreach(labels, i, l)
	{
		const char *n = json_string_value(json_object_get(l, "name"));
		const char *v = json_string_value(json_object_get(l, "value"));
		if (i)
			buf_append_cstr(b, ", ");
		buf_append_cstr(b, n ? n : "");
		buf_append_byte(b, '=');
		buf_append_json_string(b, v ? v : "", v ? strlen(v) : 0);
	}
	buf_append_byte(b, '}');
}

static int cmd_series(struct client *c, struct qopts *o)
{
	double step;
	if (o->set[F_STEP]) {
		if (!parse_duration_s(o->val[F_STEP], &step))
			return usage_error("bad --step %s: use 15s, 1m, 500ms or a number of seconds", o->val[F_STEP]);
	} else {
		step = EMBER_MAX(10.0, (double)(o->until_ms - o->from_ms) / 1000.0 / 60.0);
	}
	json_t *req = select_request(o), *r = NULL;
	json_object_set_new(req, "step", json_real(step));
	if (o->n_group_by) {
		json_t *g = json_array();
		for (size_t i = 0; i < o->n_group_by; i++)
			json_array_append_new(g, json_string(o->group_by[i]));
		json_object_set_new(req, "groupBy", g);
	}
	int rc = call(c, "SelectSeries", req, &r);
	if (rc)
		return rc;
	if (o->json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	enum unit_kind u = unit_from_type_id(opt(o, F_TYPE, DEFAULT_TYPE));
	bool dates = o->until_ms - o->from_ms > 86400000;
	struct table t;
	table_init(&t, "lrrl");
	table_cell(&t, "SERIES");
	table_cell(&t, "TOTAL");
	table_cell(&t, "POINTS");
	table_cell(&t, "TIME=VALUE ...");
	size_t i, j;
	json_t *s, *p;
	json_array_foreach(json_object_get(r, "series"), i, s)
	{
		struct buf lb = BUF_INIT, pb = BUF_INIT;
		double total = 0;
		char v[32], ts[32];
		format_labels(&lb, json_object_get(s, "labels"));
		json_array_foreach(json_object_get(s, "points"), j, p)
		{
			double val = json_number_value(json_object_get(p, "value"));
			total += val;
			unit_format(v, sizeof(v), val, u);
			format_time_ms(ts, sizeof(ts), jint(json_object_get(p, "timestamp")), dates);
			buf_printf(&pb, "%s%s=%s", j ? " " : "", ts, v);
		}
		unit_format(v, sizeof(v), total, u);
		table_cell(&t, "%s", buf_cstr(&lb));
		table_cell(&t, "%s", v);
		table_cell(&t, "%zu", json_array_size(json_object_get(s, "points")));
		table_cell(&t, "%s", buf_cstr(&pb));
		buf_release(&lb);
		buf_release(&pb);
	}
	if (t.n > t.ncols)
		table_print(&t, stdout);
	else
		fprintf(stderr, "no data for %s%s between --from and --until\n", opt(o, F_TYPE, DEFAULT_TYPE),
			opt(o, F_QUERY, "{}"));
	table_release(&t);
	json_decref(r);
	return 0;
}

/* ---- flame graph -------------------------------------------------------------------- */

static int fetch_flame(struct client *c, struct qopts *o, long max_nodes, json_t **reply, struct flame *f)
{
	json_t *req = select_request(o);
	if (max_nodes > 0)
		json_object_set_new(req, "maxNodes", json_integer(max_nodes));
	int rc = call(c, "SelectMergeStacktraces", req, reply);
	if (rc)
		return rc;
	char err[256];
	if (flame_decode(json_object_get(*reply, "flamegraph"), f, err, sizeof(err)) != 0) {
		json_decref(*reply);
		*reply = NULL;
		return fail("SelectMergeStacktraces: %s", err);
	}
	return 0;
}

static const struct flame *sort_flame; /* qsort has no context argument */

static int by_total_desc(const void *a, const void *b)
{
	const struct flame_node *x = &sort_flame->nodes[*(const uint32_t *)a];
	const struct flame_node *y = &sort_flame->nodes[*(const uint32_t *)b];
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(sort_flame->names[x->name], sort_flame->names[y->name]);
}

/* Prints the tree depth first, heaviest child first, hiding nodes under min_total; each
 * parent with hidden children gets one summary line. Tree glyphs come from a per-depth
 * "more siblings follow" flag, kept on the explicit stack. */
static void print_tree(const struct flame *f, enum unit_kind u, int64_t min_total, size_t *shown)
{
	struct item {
		uint32_t node;  /* UINT32_MAX = the "hidden" summary line of parent */
		uint32_t depth; /* display depth */
		int64_t hidden_total;
		uint32_t hidden_n;
		bool last;
	};
	struct item *stack = NULL;
	size_t sp = 0, scap = 0;
	uint32_t *kids = xmalloc((f->n ? f->n : 1) * sizeof(uint32_t));
	bool *more = xcalloc(FLAME_MAX_LEVELS + 2, sizeof(bool));
	int64_t root = f->nodes[0].total;
	struct table t;
	table_init(&t, "rrrrl");
	table_cell(&t, "TOTAL");
	table_cell(&t, "TOTAL%%");
	table_cell(&t, "SELF");
	table_cell(&t, "SELF%%");
	table_cell(&t, "CALL TREE");
	XGROW(stack, scap, 1);
	stack[sp++] = (struct item){0, 0, 0, 0, true};
	*shown = 0;
	while (sp) {
		struct item it = stack[--sp];
		struct buf prefix = BUF_INIT;
		for (uint32_t d = 1; d < it.depth; d++)
			buf_append_cstr(&prefix, more[d] ? "│  " : "   ");
		if (it.depth > 0)
			buf_append_cstr(&prefix, it.last ? "└─ " : "├─ ");
		more[it.depth] = !it.last;
		char tot[32], self[32];
		if (it.node == UINT32_MAX) {
			unit_format(tot, sizeof(tot), (double)it.hidden_total, u);
			table_cell(&t, "%s", tot);
			table_cell(&t, "%.2f%%", pct((double)it.hidden_total, (double)root));
			table_cell(&t, "%s", "");
			table_cell(&t, "%s", "");
			table_cell(&t, "%s(%u more under --min-share)", buf_cstr(&prefix), it.hidden_n);
			buf_release(&prefix);
			continue;
		}
		const struct flame_node *nd = &f->nodes[it.node];
		unit_format(tot, sizeof(tot), (double)nd->total, u);
		unit_format(self, sizeof(self), (double)nd->self, u);
		table_cell(&t, "%s", tot);
		table_cell(&t, "%.2f%%", pct((double)nd->total, (double)root));
		table_cell(&t, "%s", self);
		table_cell(&t, "%.2f%%", pct((double)nd->self, (double)root));
		table_cell(&t, "%s%s", buf_cstr(&prefix), flame_name(f, it.node));
		buf_release(&prefix);
		(*shown)++;

		size_t nk = 0, nvis = 0;
		int64_t hidden_total = 0;
		for (uint32_t ch = nd->first_child; ch; ch = f->nodes[ch].next_sibling) {
			if (f->nodes[ch].total >= min_total && f->nodes[ch].total > 0)
				kids[nk++] = ch;
			else
				hidden_total += f->nodes[ch].total;
		}
		nvis = nk;
		uint32_t hidden_n = nd->n_children - (uint32_t)nvis;
		sort_flame = f;
		sort_n(kids, nk, sizeof(uint32_t), by_total_desc);
		uint32_t cd = it.depth + 1 > FLAME_MAX_LEVELS ? FLAME_MAX_LEVELS : it.depth + 1;
		XGROW(stack, scap, sp + nk + 1);
		/* Pushed in reverse: the hidden line last on screen, so first on the stack. */
		if (hidden_n && hidden_total > 0)
			stack[sp++] = (struct item){UINT32_MAX, cd, hidden_total, hidden_n, true};
		bool hidden_line = hidden_n && hidden_total > 0;
		for (size_t k = nk; k-- > 0;)
			stack[sp++] = (struct item){kids[k], cd, 0, 0, k + 1 == nk && !hidden_line};
	}
	table_print(&t, stdout);
	table_release(&t);
	free(stack);
	free(more);
	free(kids);
}

static int parse_min_share(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	if (!strcmp(end, "%"))
		v /= 100;
	else if (*end)
		return -1;
	if (!(v >= 0 && v <= 1))
		return -1;
	*out = v;
	return 0;
}

static int cmd_flamegraph(struct client *c, struct qopts *o)
{
	long max_nodes = 8192;
	double min_share = 0.005;
	if (o->set[F_MAX_NODES] && !parse_long(o->val[F_MAX_NODES], 1, MAX_NODES_LIMIT, &max_nodes))
		return usage_error("bad --max-nodes %s: a number from 1 to %d", o->val[F_MAX_NODES], MAX_NODES_LIMIT);
	if (o->set[F_MIN_SHARE] && parse_min_share(o->val[F_MIN_SHARE], &min_share) != 0)
		return usage_error("bad --min-share %s: a fraction (0.01) or a percentage (1%%)", o->val[F_MIN_SHARE]);
	json_t *r = NULL;
	struct flame f;
	int rc = fetch_flame(c, o, max_nodes, &r, &f);
	if (rc)
		return rc;
	if (o->json) {
		print_json(r);
	} else {
		enum unit_kind u = unit_from_type_id(opt(o, F_TYPE, DEFAULT_TYPE));
		char tot[32];
		unit_format(tot, sizeof(tot), (double)f.nodes[0].total, u);
		print_range_header(o, "Flame graph of");
		if (f.nodes[0].total == 0) {
			printf("No samples.\n");
		} else {
			int64_t min_total = (int64_t)(min_share * (double)f.nodes[0].total);
			size_t shown = 0;
			printf("Total %s in %zu nodes; nodes under %.2f%% of the total are hidden (--min-share)\n\n", tot,
			       f.n, 100 * min_share);
			print_tree(&f, u, min_total, &shown);
		}
	}
	flame_release(&f);
	json_decref(r);
	return 0;
}

/* ---- summary: top, hottest-path ----------------------------------------------------- */

static int fetch_summary(struct client *c, struct qopts *o, long top, json_t **r)
{
	struct buf path = BUF_INIT;
	char q[64];
	buf_append_cstr(&path, "/ember/v1/summary?query=");
	client_append_query_escaped(&path, opt(o, F_TYPE, DEFAULT_TYPE));
	client_append_query_escaped(&path, opt(o, F_QUERY, "{}"));
	snprintf(q, sizeof(q), "&from=%lld&until=%lld", (long long)o->from_ms, (long long)o->until_ms);
	buf_append_cstr(&path, q);
	if (top > 0)
		buf_printf(&path, "&top=%ld", top);
	int rc = client_get_json(c, buf_cstr(&path), r);
	buf_release(&path);
	if (rc)
		return fail("%s", c->err);
	return 0;
}

static enum unit_kind summary_unit(const json_t *r, const struct qopts *o)
{
	const char *u = json_string_value(json_object_get(r, "unit"));
	return u ? unit_from_name(u) : unit_from_type_id(opt(o, F_TYPE, DEFAULT_TYPE));
}

static int cmd_top(struct client *c, struct qopts *o)
{
	long limit = 20;
	if (o->set[F_LIMIT] && !parse_long(o->val[F_LIMIT], 1, 1000, &limit))
		return usage_error("bad --limit %s: a number from 1 to 1000", o->val[F_LIMIT]);
	json_t *r = NULL;
	int rc = fetch_summary(c, o, limit, &r);
	if (rc)
		return rc;
	if (o->json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	enum unit_kind u = summary_unit(r, o);
	int64_t total = jint(json_object_get(r, "total"));
	char v[32];
	unit_format(v, sizeof(v), (double)total, u);
	print_range_header(o, "Top functions of");
	printf("Total %s; flat = self, cum = self and callees\n\n", v);
	struct table t;
	table_init(&t, "rrrrrl");
	table_cell(&t, "flat");
	table_cell(&t, "flat%%");
	table_cell(&t, "sum%%");
	table_cell(&t, "cum");
	table_cell(&t, "cum%%");
	table_cell(&t, "name");
	size_t i;
	json_t *fn;
	int64_t sum = 0;
	json_array_foreach(json_object_get(r, "topFunctions"), i, fn)
	{
		if ((long)i >= limit)
			break;
		int64_t self = jint(json_object_get(fn, "self")), cum = jint(json_object_get(fn, "total"));
		const char *name = json_string_value(json_object_get(fn, "name"));
		sum += self;
		unit_format(v, sizeof(v), (double)self, u);
		table_cell(&t, "%s", v);
		table_cell(&t, "%.2f%%", pct((double)self, (double)total));
		table_cell(&t, "%.2f%%", pct((double)sum, (double)total));
		unit_format(v, sizeof(v), (double)cum, u);
		table_cell(&t, "%s", v);
		table_cell(&t, "%.2f%%", pct((double)cum, (double)total));
		table_cell(&t, "%s", name ? name : "?");
	}
	table_print(&t, stdout);
	table_release(&t);
	json_decref(r);
	return 0;
}

static int cmd_hottest(struct client *c, struct qopts *o)
{
	json_t *r = NULL;
	int rc = fetch_summary(c, o, 0, &r);
	if (rc)
		return rc;
	if (o->json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	enum unit_kind u = summary_unit(r, o);
	int64_t total = jint(json_object_get(r, "total"));
	char v[32];
	print_range_header(o, "Hottest path of");
	putchar('\n');
	struct table t;
	table_init(&t, "rrrl");
	table_cell(&t, "TOTAL");
	table_cell(&t, "SHARE");
	table_cell(&t, "SELF");
	table_cell(&t, "PATH");
	/* The path starts below the root; the root row gives the scale. */
	unit_format(v, sizeof(v), (double)total, u);
	table_cell(&t, "%s", v);
	table_cell(&t, "%s", "100.00%");
	table_cell(&t, "%s", "");
	table_cell(&t, "%s", "total");
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(r, "hottestPath"), i, st)
	{
		const char *name = json_string_value(json_object_get(st, "name"));
		int64_t tot = jint(json_object_get(st, "total")), self = jint(json_object_get(st, "self"));
		unit_format(v, sizeof(v), (double)tot, u);
		table_cell(&t, "%s", v);
		table_cell(&t, "%.2f%%", pct((double)tot, (double)total));
		unit_format(v, sizeof(v), (double)self, u);
		table_cell(&t, "%s", v);
		struct buf nb = BUF_INIT;
		for (size_t d = 0; d < i && d < 200; d++)
			buf_append_cstr(&nb, "   ");
		buf_append_cstr(&nb, "└─ ");
		buf_append_cstr(&nb, name ? name : "?");
		table_cell(&t, "%s", buf_cstr(&nb));
		buf_release(&nb);
	}
	if (total > 0)
		table_print(&t, stdout);
	else
		printf("No samples.\n");
	table_release(&t);
	json_decref(r);
	return 0;
}

/* ---- export ------------------------------------------------------------------------- */

static int write_out(const struct qopts *o, const void *p, size_t n, bool binary)
{
	const char *path = o->val[F_OUT];
	if (!path || !strcmp(path, "-")) {
		if (binary && isatty(STDOUT_FILENO))
			return usage_error("not writing a binary pprof to a terminal: use --out FILE or redirect stdout");
		if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0)
			return fail("cannot write to stdout: %s", strerror(errno));
		return 0;
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return fail("cannot create %s: %s", path, strerror(errno));
	bool ok = fwrite(p, 1, n, f) == n;
	ok = (fclose(f) == 0) && ok;
	if (!ok)
		return fail("cannot write %s: %s", path, strerror(errno));
	return 0;
}

static int export_pprof(struct client *c, struct qopts *o, long max_nodes)
{
	Querier__V1__SelectMergeProfileRequest req = QUERIER__V1__SELECT_MERGE_PROFILE_REQUEST__INIT;
	req.profile_typeid = (char *)opt(o, F_TYPE, DEFAULT_TYPE);
	req.label_selector = (char *)opt(o, F_QUERY, "{}");
	req.start = o->from_ms;
	req.end = o->until_ms;
	req.max_nodes = max_nodes;
	size_t n = querier__v1__select_merge_profile_request__get_packed_size(&req);
	uint8_t *body = xmalloc(n ? n : 1);
	querier__v1__select_merge_profile_request__pack(&req, body);
	struct buf reply = BUF_INIT;
	long status = 0;
	const char *path = "/querier.v1.QuerierService/SelectMergeProfile";
	int rc = client_request(c, "POST", path, "application/proto", body, n, NULL, &status, &reply);
	free(body);
	if (rc) {
		rc = fail("%s", c->err);
	} else if (status != 200) {
		client_set_http_error(c, path, status, &reply);
		rc = fail("%s", c->err);
	} else {
		rc = write_out(o, reply.p, reply.n, true);
	}
	buf_release(&reply);
	return rc;
}

static int cmd_export(struct client *c, struct qopts *o)
{
	long max_nodes = MAX_NODES_LIMIT;
	const char *fmt = o->val[F_FORMAT];
	if (!fmt)
		return usage_error("export needs --format pprof|folded|json");
	if (o->set[F_MAX_NODES] && !parse_long(o->val[F_MAX_NODES], 1, MAX_NODES_LIMIT, &max_nodes))
		return usage_error("bad --max-nodes %s: a number from 1 to %d", o->val[F_MAX_NODES], MAX_NODES_LIMIT);
	if (!strcmp(fmt, "pprof"))
		return export_pprof(c, o, max_nodes);
	if (!strcmp(fmt, "json")) {
		/* The reply exactly as the server sent it. */
		json_t *req = select_request(o);
		json_object_set_new(req, "maxNodes", json_integer(max_nodes));
		char *body = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		struct buf reply = BUF_INIT;
		long status = 0;
		const char *path = "/querier.v1.QuerierService/SelectMergeStacktraces";
		int rc = client_request(c, "POST", path, "application/json", body, strlen(body), NULL, &status, &reply);
		free(body);
		if (rc) {
			rc = fail("%s", c->err);
		} else if (status != 200) {
			client_set_http_error(c, path, status, &reply);
			rc = fail("%s", c->err);
		} else {
			if (!reply.n || reply.p[reply.n - 1] != '\n')
				buf_append_byte(&reply, '\n');
			rc = write_out(o, reply.p, reply.n, false);
		}
		buf_release(&reply);
		return rc;
	}
	if (!strcmp(fmt, "folded")) {
		json_t *r = NULL;
		struct flame f;
		int rc = fetch_flame(c, o, max_nodes, &r, &f);
		if (rc)
			return rc;
		char *text = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&text, &len);
		if (!mem)
			abort();
		flame_write_folded(&f, mem);
		fclose(mem);
		rc = write_out(o, text, len, false);
		free(text);
		flame_release(&f);
		json_decref(r);
		return rc;
	}
	return usage_error("bad --format %s: use pprof, folded or json", fmt);
}

/* ---- entry point -------------------------------------------------------------------- */

static bool is_help_word(const char *a)
{
	return !strcmp(a, "help") || !strcmp(a, "--help") || !strcmp(a, "-help") || !strcmp(a, "-h");
}

int query_main(int argc, char **argv)
{
	struct qopts o;
	memset(&o, 0, sizeof(o));
	if (argc == 0 || (argc == 1 && is_help_word(argv[0]))) {
		usage(argc ? stdout : stderr);
		return argc ? 0 : EXIT_USAGE;
	}
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	if (!o.n_args) {
		if (o.set[F_HELP]) {
			usage(stdout);
			return 0;
		}
		return usage_error("missing subcommand (types, labels, series, flamegraph, top, hottest-path, export; see ember query --help)");
	}
	const struct subcmd *s = NULL;
	for (size_t i = 0; i < EMBER_ARRAY_LEN(subcmds); i++)
		if (!strcmp(o.args[0], subcmds[i].name))
			s = &subcmds[i];
	if (!s) {
		if (!strcmp(o.args[0], "help")) {
			usage(stdout);
			return 0;
		}
		return usage_error("unknown subcommand \"%s\" (see ember query --help)", o.args[0]);
	}
	/* Positionals after the subcommand are its arguments. */
	memmove(o.args, o.args + 1, (o.n_args - 1) * sizeof(o.args[0]));
	o.n_args--;
	if (o.set[F_HELP]) {
		usage_sub(stdout, s);
		return 0;
	}
	for (int k = 0; k < F__COUNT; k++)
		if (o.set[k] && !(s->accepts & BIT(k)))
			return usage_error("flag --%s does not apply to `ember query %s` (see ember query %s --help)",
					   flags[k].name, s->name, s->name);
	if (o.n_args < s->min_args || o.n_args > s->max_args)
		return usage_error("`ember query %s` takes %s (got %zu)", s->name,
				   *s->args ? s->args : "no arguments", o.n_args);
	const char *output = opt(&o, F_OUTPUT, "text");
	if (strcmp(output, "text") && strcmp(output, "json"))
		return usage_error("bad --output %s: use text or json", output);
	o.json = !strcmp(output, "json");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	if ((rc = parse_time("from", opt(&o, F_FROM, "now-1h"), now_ns, &o.from_ms)) ||
	    (rc = parse_time("until", opt(&o, F_UNTIL, "now"), now_ns, &o.until_ms)))
		return rc;
	if (o.from_ms > o.until_ms)
		return usage_error("--from is after --until");
	const char *url = opt(&o, F_URL, DEFAULT_URL);
	if (!*url)
		return usage_error("--url is empty");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return fail("cannot initialise libcurl");
	struct client c;
	client_init(&c, url, o.val[F_TENANT]);
	rc = s->fn(&c, &o);
	curl_global_cleanup();
	return rc;
}
