/* Unit tests of the agent's pieces that need no BPF: service names from cgroup files,
 * durations, the PushRequest a collect turns into (report.c), the pusher's bounded queue. */
#include "testutil.h"

#include <unistd.h>

#include "agent/agent.h"
#include "agent/procinfo.h"
#include "agent/pusher.h"
#include "agent/report.h"
#include "pprof/pprof.h"
#include "push.pb-c.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/gzip.h"

static void test_service_from_cgroup(void **state)
{
	(void)state;
	char out[128];
	const char *docker = "0::/system.slice/docker-"
			     "3f4e8a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789ab.scope\n";
	assert_true(procinfo_service_from_cgroup(docker, strlen(docker), out, sizeof(out)));
	assert_string_equal(out, "container/3f4e8a1b2c3d");
	const char *k8s = "12:memory:/kubepods/burstable/pod1234/"
			  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
			  "0::/\n";
	assert_true(procinfo_service_from_cgroup(k8s, strlen(k8s), out, sizeof(out)));
	assert_string_equal(out, "container/0123456789ab");
	const char *cri = "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-"
			  "aaaaaaaaaaaabbbbbbbbbbbbccccccccccccddddddddddddeeeeeeeeeeee0000.scope";
	assert_true(procinfo_service_from_cgroup(cri, strlen(cri), out, sizeof(out)));
	assert_string_equal(out, "container/aaaaaaaaaaaa");
	const char *unit = "1:name=systemd:/system.slice/nginx.service\n0::/system.slice/nginx.service\n";
	assert_true(procinfo_service_from_cgroup(unit, strlen(unit), out, sizeof(out)));
	assert_string_equal(out, "nginx.service");
	/* a user session scope, a 32-hex id (not a container id), the root: nothing */
	const char *none = "0::/user.slice/user-0.slice/session-3.scope\n"
			   "4:memory:/process_api/a271499c485378964aacb29537740cff\n9:name=systemd:/\n";
	assert_false(procinfo_service_from_cgroup(none, strlen(none), out, sizeof(out)));
	assert_string_equal(out, "");
	/* uppercase hex is not a container id */
	const char *upper = "0::/docker/3F4E8A1B2C3D4E5F60718293A4B5C6D7E8F90123456789ABCDEF0123456789AB\n";
	assert_false(procinfo_service_from_cgroup(upper, strlen(upper), out, sizeof(out)));
	/* truncated output stays NUL-terminated */
	char small[8];
	assert_true(procinfo_service_from_cgroup(unit, strlen(unit), small, sizeof(small)));
	assert_string_equal(small, "nginx.s");
	/* a process that does not exist falls back to its comm */
	procinfo_service_name("/nonexistent-proc", 12345, "myapp", out, sizeof(out));
	assert_string_equal(out, "myapp");
}

static void test_durations(void **state)
{
	(void)state;
	uint64_t ms;
	assert_int_equal(agent_parse_duration("15s", &ms), 0);
	assert_int_equal(ms, 15000);
	assert_int_equal(agent_parse_duration("15", &ms), 0);
	assert_int_equal(ms, 15000);
	assert_int_equal(agent_parse_duration("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(agent_parse_duration("1.5s", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(agent_parse_duration("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(agent_parse_duration("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(agent_parse_duration("0", &ms), EMBER_EINVAL);
	assert_int_equal(agent_parse_duration("-1s", &ms), EMBER_EINVAL);
	assert_int_equal(agent_parse_duration("5x", &ms), EMBER_EINVAL);
	assert_int_equal(agent_parse_duration("", &ms), EMBER_EINVAL);
	assert_int_equal(agent_parse_duration("25h", &ms), EMBER_EINVAL);
}

__attribute__((noinline)) void agent_test_marker(void);
__attribute__((noinline)) void agent_test_marker(void)
{
	__asm__ volatile("nop; nop; nop; nop");
}

static char tmpdir[] = "/tmp/agent-test-XXXXXX";

/* The label value of name in series s, or NULL. */
static const char *label(const Push__V1__RawProfileSeries *s, const char *name)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (!strcmp(s->labels[i]->name, name))
			return s->labels[i]->value;
	return NULL;
}

static const char *fn_name(const struct pprof_profile *p, uint64_t loc_id)
{
	static char out[256];
	const struct pprof_location *l = pprof_location_by_id(p, loc_id);
	assert_non_null(l);
	assert_true(l->n_lines >= 1);
	const struct pprof_function *f = pprof_function_by_id(p, l->lines[0].function_id);
	assert_non_null(f);
	struct slice s = pprof_string(p, f->name);
	snprintf(out, sizeof(out), "%.*s", (int)s.n, (const char *)s.p);
	return out;
}

static void test_report(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/kallsyms", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("ffffffff81000000 T _stext\n"
	      "ffffffff81000100 T schedule\n"
	      "ffffffff81000200 T do_syscall_64\n"
	      "ffffffff81000300 T bpf_trace_run4\n"
	      "ffffffff81000400 T vfs_read\n",
	      f);
	fclose(f);
	struct symbolizer_opts so = {.kallsyms_path = path};
	struct symbolizer *sym = symbolizer_new(&so);
	const char *extra[] = {"env", "test"};
	struct report_opts ro = {.sample_rate = 100, .label_pid = true, .label_comm = true, .extra = extra, .n_extra = 1};
	struct report *r = report_new(&ro, sym);

	/* CPU: 3 samples of this process, user frame = agent_test_marker (a return address
	 * inside it, as the unwinder reports callers), kernel frame vfs_read <- do_syscall_64. */
	uint64_t user[] = {(uint64_t)(uintptr_t)agent_test_marker + 2, (uint64_t)(uintptr_t)agent_test_marker + 2};
	uint64_t kern[] = {0xffffffff81000410ull, 0xffffffff81000210ull};
	struct profiler_sample s = {.tgid = (uint32_t)getpid(), .value = 3, .user = user, .n_user = 2,
				    .kernel = kern, .n_kernel = 2};
	snprintf(s.comm, sizeof(s.comm), "agent_test");
	report_add(r, &s, "svc-a");
	/* off-CPU: 5 ms; the leaf BPF glue frame is left out */
	uint64_t kern2[] = {0xffffffff81000310ull, 0xffffffff81000110ull};
	struct profiler_sample o = s;
	o.offcpu = true;
	o.value = 5000000;
	o.kernel = kern2;
	o.n_user = 1;
	report_add(r, &o, "svc-a");
	/* a lost stack is kept, as a frame that says so */
	struct profiler_sample l = {.tgid = 999999, .value = 1, .stack_lost = true};
	snprintf(l.comm, sizeof(l.comm), "gone");
	report_add(r, &l, "gone");

	uint8_t *body;
	size_t n;
	struct report_stats st;
	report_finish(r, 1700000000000000000ll, 15000000000ll, &body, &n, &st);
	assert_int_equal(st.series, 3);
	assert_int_equal(st.samples, 3);
	assert_int_equal(st.lost_stacks, 1);
	Push__V1__PushRequest *req = push__v1__push_request__unpack(NULL, n, body);
	assert_non_null(req);
	assert_int_equal(req->n_series, 3);

	/* series 0: CPU */
	const Push__V1__RawProfileSeries *cs = req->series[0];
	assert_string_equal(label(cs, "__name__"), "process_cpu");
	assert_string_equal(label(cs, "service_name"), "svc-a");
	assert_string_equal(label(cs, "comm"), "agent_test");
	assert_string_equal(label(cs, "env"), "test");
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", getpid());
	assert_string_equal(label(cs, "pid"), pid);
	assert_int_equal(cs->n_samples, 1);
	struct slice gz = slice_make(cs->samples[0]->raw_profile.data, cs->samples[0]->raw_profile.len);
	assert_true(gzip_is_gzip(gz));
	struct buf raw;
	buf_init(&raw);
	assert_int_equal(gzip_inflate(gz, 1 << 20, &raw), 0);
	struct arena a;
	arena_init(&a, 0);
	struct pprof_profile p;
	char err[256];
	assert_int_equal(pprof_decode(slice_make(raw.p, raw.n), &a, NULL, &p, err, sizeof(err)), 0);
	assert_int_equal(pprof_validate(&p, err, sizeof(err)), 0);
	assert_int_equal(p.n_sample_types, 1);
	assert_true(slice_eq_cstr(pprof_string(&p, p.sample_types[0].type), "cpu"));
	assert_true(slice_eq_cstr(pprof_string(&p, p.sample_types[0].unit), "nanoseconds"));
	assert_true(slice_eq_cstr(pprof_string(&p, p.period_type.type), "cpu"));
	assert_int_equal(p.period, 10000000); /* 1e9 / 100 Hz */
	assert_int_equal(p.time_nanos, 1700000000000000000ll);
	assert_int_equal(p.duration_nanos, 15000000000ll);
	assert_int_equal(p.n_samples, 1);
	assert_int_equal(p.samples[0].values[0], 3 * 10000000);
	/* leaf first: kernel leaf, kernel caller, then the user frames */
	assert_int_equal(p.samples[0].n_location_ids, 4);
	assert_string_equal(fn_name(&p, p.samples[0].location_ids[0]), "vfs_read");
	assert_string_equal(fn_name(&p, p.samples[0].location_ids[1]), "do_syscall_64");
	assert_string_equal(fn_name(&p, p.samples[0].location_ids[2]), "agent_test_marker");
	assert_string_equal(fn_name(&p, p.samples[0].location_ids[3]), "agent_test_marker");
	/* one location per distinct name */
	assert_int_equal(p.samples[0].location_ids[2], p.samples[0].location_ids[3]);
	arena_release(&a);
	buf_release(&raw);

	/* series 1: off-CPU, no period, BPF glue gone */
	const Push__V1__RawProfileSeries *os = req->series[1];
	assert_string_equal(label(os, "__name__"), "off_cpu");
	buf_init(&raw);
	gz = slice_make(os->samples[0]->raw_profile.data, os->samples[0]->raw_profile.len);
	assert_int_equal(gzip_inflate(gz, 1 << 20, &raw), 0);
	arena_init(&a, 0);
	assert_int_equal(pprof_decode(slice_make(raw.p, raw.n), &a, NULL, &p, err, sizeof(err)), 0);
	assert_true(slice_eq_cstr(pprof_string(&p, p.sample_types[0].type), "off_cpu"));
	assert_int_equal(p.period, 0);
	assert_int_equal(p.samples[0].values[0], 5000000);
	assert_int_equal(p.samples[0].n_location_ids, 2);
	assert_string_equal(fn_name(&p, p.samples[0].location_ids[0]), "schedule");
	assert_string_equal(fn_name(&p, p.samples[0].location_ids[1]), "agent_test_marker");
	arena_release(&a);
	buf_release(&raw);

	/* series 2: the lost stack */
	const Push__V1__RawProfileSeries *ls = req->series[2];
	assert_string_equal(label(ls, "service_name"), "gone");
	buf_init(&raw);
	gz = slice_make(ls->samples[0]->raw_profile.data, ls->samples[0]->raw_profile.len);
	assert_int_equal(gzip_inflate(gz, 1 << 20, &raw), 0);
	arena_init(&a, 0);
	assert_int_equal(pprof_decode(slice_make(raw.p, raw.n), &a, NULL, &p, err, sizeof(err)), 0);
	assert_string_equal(fn_name(&p, p.samples[0].location_ids[0]), "[lost stack]");
	assert_int_equal(p.samples[0].values[0], 10000000);
	arena_release(&a);
	buf_release(&raw);

	push__v1__push_request__free_unpacked(req, NULL);
	free(body);
	report_free(r);

	/* nothing added: no request */
	r = report_new(&ro, sym);
	report_finish(r, 0, 0, &body, &n, NULL);
	assert_null(body);
	assert_int_equal(n, 0);
	report_free(r);
	symbolizer_free(sym);
	unlink(path);
}

static void test_pusher_queue_drops_oldest(void **state)
{
	(void)state;
	char err[256];
	/* Nothing listens on port 1: every attempt fails and is retried after a long backoff. */
	struct pusher_opts o = {.url = "http://127.0.0.1:1", .max_queue_bytes = 100, .timeout_ms = 1000,
				.backoff_min_ms = 60000, .backoff_max_ms = 60000};
	struct pusher *p = pusher_new(&o, err, sizeof(err));
	assert_non_null(p);
	pusher_enqueue(p, xcalloc(1, 60), 60);
	struct pusher_stats st;
	for (int i = 0; i < 500; i++) {
		pusher_get_stats(p, &st);
		if (st.retries)
			break;
		usleep(10000);
	}
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.sent, 0);
	pusher_enqueue(p, xcalloc(1, 60), 60); /* 120 > 100: the first one goes */
	pusher_enqueue(p, xcalloc(1, 30), 30); /* 90: fits */
	pusher_get_stats(p, &st);
	assert_int_equal(st.dropped_full, 1);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.queued_bytes, 90);
	assert_false(pusher_flush(p, 50));
	pusher_free(p); /* frees what is queued */

	assert_null(pusher_new(&(struct pusher_opts){.url = "ftp://x"}, err, sizeof(err)));
	assert_non_null(strstr(err, "http://"));
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_from_cgroup),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_pusher_queue_drops_oldest),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return rc;
}
