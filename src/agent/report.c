/* report.c: from drained aggregates to a PushRequest (report.h). */
#include "agent/report.h"
#include "pprof/pprof.h"
#include "push.pb-c.h"
#include "util/buf.h"
#include "util/gzip.h"
#include "util/common.h"

#define MAX_INLINE 16

struct group {
	bool offcpu;
	uint32_t pid;
	char *service, *comm;
	struct pprof_builder b;
	uint64_t *loc_by_str; /* builder string index -> location id (0 = none yet) */
	size_t n_loc_by_str;
};

struct report {
	const struct report_opts *o;
	struct symbolizer *sym;
	struct group *groups;
	size_t n_groups, cap_groups;
	struct report_stats st;
	uint64_t *locs;
	size_t cap_locs;
};

struct report *report_new(const struct report_opts *o, struct symbolizer *sym)
{
	struct report *r = xcalloc(1, sizeof(*r));
	r->o = o;
	r->sym = sym;
	return r;
}

static struct group *group_for(struct report *r, const struct profiler_sample *s, const char *service)
{
	uint32_t pid = r->o->label_pid ? s->tgid : 0;
	const char *comm = r->o->label_comm ? s->comm : "";
	/* Most processes have a few aggregates in a row; a linear scan from the end is fine
	 * for the hundreds of series one host has. */
	for (size_t i = r->n_groups; i-- > 0;) {
		struct group *g = &r->groups[i];
		if (g->offcpu == s->offcpu && g->pid == pid && !strcmp(g->service, service) && !strcmp(g->comm, comm))
			return g;
	}
	XGROW(r->groups, r->cap_groups, r->n_groups + 1);
	struct group *g = &r->groups[r->n_groups++];
	memset(g, 0, sizeof(*g));
	g->offcpu = s->offcpu;
	g->pid = pid;
	g->service = xstrdup(service);
	g->comm = xstrdup(comm);
	pprof_builder_init(&g->b);
	if (s->offcpu) {
		pprof_builder_sample_type(&g->b, "off_cpu", "nanoseconds");
	} else {
		pprof_builder_sample_type(&g->b, "cpu", "nanoseconds");
	}
	return g;
}

static uint64_t location(struct group *g, const char *name)
{
	int64_t si = pprof_builder_cstr(&g->b, name);
	if ((size_t)si >= g->n_loc_by_str) {
		size_t old = g->n_loc_by_str;
		XGROW(g->loc_by_str, g->n_loc_by_str, (size_t)si + 1);
		memset(g->loc_by_str + old, 0, (g->n_loc_by_str - old) * sizeof(*g->loc_by_str));
	}
	if (!g->loc_by_str[si]) {
		uint64_t fid = pprof_builder_function(&g->b, name, "", 0);
		struct pprof_line line = {.function_id = fid, .line = 0};
		g->loc_by_str[si] = pprof_builder_location(&g->b, 0, 0, &line, 1);
	}
	return g->loc_by_str[si];
}

static void push_loc(struct report *r, size_t *n, uint64_t id)
{
	XGROW(r->locs, r->cap_locs, *n + 1);
	r->locs[(*n)++] = id;
}

static void add_frame(struct report *r, struct group *g, size_t *n, const struct sym_frame *f)
{
	char buf[512];
	const char *name = f->function;
	if (f->unknown || !name) {
		name = symbolizer_format_unknown(f, buf, sizeof(buf));
		r->st.unknown_frames++;
	}
	push_loc(r, n, location(g, name));
	r->st.frames++;
}

static bool is_bpf_glue(const char *name)
{
	return !strncmp(name, "bpf_prog_", 9) || !strncmp(name, "bpf_trace_run", 13) ||
	       !strncmp(name, "__bpf_trace_", 12) || !strncmp(name, "__traceiter_", 12);
}

void report_add(struct report *r, const struct profiler_sample *s, const char *service)
{
	struct group *g = group_for(r, s, service);
	size_t n = 0;
	/* pprof wants the leaf first: kernel frames (leaf first), then user frames. */
	bool leaf = true;
	for (size_t i = 0; i < s->n_kernel; i++) {
		struct sym_frame f;
		if (symbolizer_kernel(r->sym, s->kernel[i], &f) != 0)
			f.unknown = true; /* still filled: "[kernel]+0x..." */
		/* An off-CPU stack is taken inside the tracepoint: its leaf frames are the BPF
		 * program and the tracing glue, not where the thread blocked. */
		if (leaf && f.function && is_bpf_glue(f.function))
			continue;
		leaf = false;
		add_frame(r, g, &n, &f);
	}
	for (size_t i = 0; i < s->n_user; i++) {
		struct sym_frame f[MAX_INLINE];
		size_t nf = 0;
		if (symbolizer_user(r->sym, (int)s->tgid, s->user[i], i > 0, f, MAX_INLINE, &nf) != 0 && nf == 0) {
			char name[64];
			snprintf(name, sizeof(name), "[unknown]+0x%llx", (unsigned long long)s->user[i]);
			push_loc(r, &n, location(g, name));
			r->st.unknown_frames++;
			continue;
		}
		for (size_t k = 0; k < nf; k++)
			add_frame(r, g, &n, &f[k]);
	}
	if (s->stack_lost) {
		push_loc(r, &n, location(g, "[lost stack]"));
		r->st.lost_stacks++;
	} else if (!n) {
		push_loc(r, &n, location(g, "[no stack]"));
	}
	int64_t v = (int64_t)s->value;
	if (!s->offcpu)
		v *= (int64_t)(1000000000ull / (r->o->sample_rate ? r->o->sample_rate : 97));
	pprof_builder_sample(&g->b, r->locs, n, &v, 1, NULL, 0);
	r->st.samples++;
}

void report_finish(struct report *r, int64_t time_ns, int64_t duration_ns, uint8_t **body, size_t *out_n,
		   struct report_stats *stats)
{
	*body = NULL;
	*out_n = 0;
	r->st.series = r->n_groups;
	if (stats)
		*stats = r->st;
	if (!r->n_groups)
		return;
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
	req.n_series = r->n_groups;
	req.series = xcalloc(r->n_groups, sizeof(*req.series));
	Push__V1__RawProfileSeries *series = xcalloc(r->n_groups, sizeof(*series));
	Push__V1__RawSample *samples = xcalloc(r->n_groups, sizeof(*samples));
	Push__V1__RawSample **sample_ptrs = xcalloc(r->n_groups, sizeof(*sample_ptrs));
	size_t max_labels = 4 + r->o->n_extra;
	Types__V1__LabelPair *pairs = xcalloc(r->n_groups * max_labels, sizeof(*pairs));
	Types__V1__LabelPair **pair_ptrs = xcalloc(r->n_groups * max_labels, sizeof(*pair_ptrs));
	struct buf *gz = xcalloc(r->n_groups, sizeof(*gz));
	char (*pids)[16] = xcalloc(r->n_groups, sizeof(*pids));

	for (size_t i = 0; i < r->n_groups; i++) {
		struct group *g = &r->groups[i];
		struct pprof_profile *p = pprof_builder_profile(&g->b);
		p->time_nanos = time_ns;
		p->duration_nanos = duration_ns;
		if (!g->offcpu) {
			p->period_type.type = pprof_builder_cstr(&g->b, "cpu");
			p->period_type.unit = pprof_builder_cstr(&g->b, "nanoseconds");
			p->period = (int64_t)(1000000000ull / (r->o->sample_rate ? r->o->sample_rate : 97));
		}
		struct buf raw;
		buf_init(&raw);
		pprof_encode(p, &raw);
		buf_init(&gz[i]);
		gzip_deflate(slice_make(raw.p, raw.n), 6, &gz[i]);
		buf_release(&raw);

		Push__V1__RawProfileSeries *s = &series[i];
		push__v1__raw_profile_series__init(s);
		push__v1__raw_sample__init(&samples[i]);
		samples[i].raw_profile.data = gz[i].p;
		samples[i].raw_profile.len = gz[i].n;
		sample_ptrs[i] = &samples[i];
		s->samples = &sample_ptrs[i];
		s->n_samples = 1;
		Types__V1__LabelPair *lp = &pairs[i * max_labels];
		Types__V1__LabelPair **lpp = &pair_ptrs[i * max_labels];
		size_t nl = 0;
#define LABEL(k, v)                                     \
	do {                                            \
		types__v1__label_pair__init(&lp[nl]);   \
		lp[nl].name = (char *)(k);              \
		lp[nl].value = (char *)(v);             \
		lpp[nl] = &lp[nl];                      \
		nl++;                                   \
	} while (0)
		LABEL("__name__", g->offcpu ? "off_cpu" : "process_cpu");
		LABEL("service_name", g->service);
		if (r->o->label_pid) {
			snprintf(pids[i], sizeof(pids[i]), "%u", g->pid);
			LABEL("pid", pids[i]);
		}
		if (r->o->label_comm)
			LABEL("comm", g->comm);
		for (size_t k = 0; k < r->o->n_extra; k++)
			LABEL(r->o->extra[2 * k], r->o->extra[2 * k + 1]);
#undef LABEL
		s->labels = lpp;
		s->n_labels = nl;
		req.series[i] = s;
	}
	size_t n = protobuf_c_message_get_packed_size(&req.base);
	*body = xmalloc(n ? n : 1);
	protobuf_c_message_pack(&req.base, *body);
	*out_n = n;

	for (size_t i = 0; i < r->n_groups; i++)
		buf_release(&gz[i]);
	free(gz);
	free(pids);
	free(pairs);
	free(pair_ptrs);
	free(samples);
	free(sample_ptrs);
	free(series);
	free(req.series);
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_groups; i++) {
		struct group *g = &r->groups[i];
		pprof_builder_release(&g->b);
		free(g->loc_by_str);
		free(g->service);
		free(g->comm);
	}
	free(r->groups);
	free(r->locs);
	free(r);
}
