/* Symboliser tests on ELF files built at run time with the system compilers (g++/gcc):
 * a C++ program (PIE and non-PIE, with -g, and a stripped copy) that calls into a C
 * shared library, prints its pid and a few addresses, then waits on stdin. Expected
 * names and lines come from the sources written here; addr2line and nm (binutils)
 * cross-check them as independent readers. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/elfsym.h"
#include "agent/perfmap.h"
#include "agent/symbolize.h"
#include "agent/symtab.h"

static char dir[256];

static const char *prog_src =
	"#include <cstdio>\n"
	"#include <unistd.h>\n"
	"#include <sys/mman.h>\n"
	"extern \"C\" int foo_func(int);\n"
	"extern \"C\" void *foo_inner_addr;\n"
	"void *volatile ret_addr;\n"
	"extern \"C\" __attribute__((noinline)) void leaf_fn(void) {\n"
	"  ret_addr = __builtin_return_address(0); asm volatile(\"\");\n"
	"}\n"
	"static inline __attribute__((always_inline)) void inl_fn(void) {\n"
	"  leaf_fn(); /*@INL*/\n"
	"  asm volatile(\"\");\n"
	"}\n"
	"namespace ns { struct Widget { int compute(int x); };\n"
	"__attribute__((noinline)) int Widget::compute(int x) {\n"
	"  inl_fn(); /*@OUTER*/\n"
	"  return x + foo_func(x);\n"
	"} }\n"
	"int main() {\n"
	"  alarm(120); /* never outlive a failed test for long */\n"
	"  ns::Widget w; int r = w.compute(3);\n"
	"  void *jit = mmap(0, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);\n"
	"  printf(\"%d %p %p %p %p\\n\", (int)getpid(), ret_addr, (void *)leaf_fn,\n"
	"         foo_inner_addr, jit);\n"
	"  fflush(stdout);\n"
	"  char c; while (read(0, &c, 1) > 0) {}\n"
	"  return r == 0;\n"
	"}\n";

static const char *lib_src =
	"void *foo_inner_addr;\n"
	"static __attribute__((noinline)) int foo_inner(int a)\n"
	"{\n"
	"  volatile int v = a * 2; /*@FOO*/\n"
	"  return v + 1;\n"
	"}\n"
	"int foo_func(int a) { foo_inner_addr = (void *)foo_inner; return foo_inner(a); }\n";

static int src_line(const char *src, const char *marker)
{
	const char *m = strstr(src, marker);
	assert_non_null(m);
	int line = 1;
	for (const char *p = src; p < m; p++)
		line += *p == '\n';
	return line;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Runs cmd and returns its first output line (static buffer). */
static const char *run1(const char *cmd)
{
	static char line[4096];
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	line[0] = '\0';
	char *r = fgets(line, sizeof(line), p);
	(void)r;
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

struct child {
	pid_t pid;
	int in_fd;
	unsigned long long ret_addr, leaf, foo, jit;
};

static void child_start(const char *exe, struct child *c)
{
	int in[2], out[2];
	/* Close-on-exec, so a later child does not inherit this one's stdin writer. */
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(exe, exe, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	int rpid = 0;
	assert_int_equal(fscanf(f, "%d %llx %llx %llx %llx", &rpid, &c->ret_addr, &c->leaf, &c->foo,
				&c->jit),
			 5);
	fclose(f);
	assert_int_equal(rpid, pid);
	c->pid = pid;
	c->in_fd = in[1];
}

static void child_stop(struct child *c)
{
	close(c->in_fd);
	int st;
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ember-symtest-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char p[512];
	snprintf(p, sizeof(p), "%s/prog.cpp", dir);
	write_file(p, prog_src);
	snprintf(p, sizeof(p), "%s/foo.c", dir);
	write_file(p, lib_src);
	if (sh("cd %s && gcc -g -O1 -fPIC -shared -Wl,--build-id -o libfoo.so foo.c", dir) ||
	    sh("cd %s && g++ -g -O2 -fPIE -pie -Wl,--build-id -o prog_pie prog.cpp -L. -lfoo "
	       "-Wl,-rpath,%s", dir, dir) ||
	    sh("cd %s && g++ -g -O2 -fno-pie -no-pie -Wl,--build-id -o prog_nopie prog.cpp -L. -lfoo "
	       "-Wl,-rpath,%s", dir, dir) ||
	    sh("cd %s && cp prog_pie prog_stripped && strip prog_stripped && cp prog_pie prog_copy",
	       dir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh("rm -rf %s", dir);
	return 0;
}

/* The inline chain of the return address of leaf_fn: inl_fn (at the call of leaf_fn)
 * inlined into ns::Widget::compute(int) (at the call of inl_fn). */
static void check_program(const char *exe_name, bool pie)
{
	char exe[512];
	snprintf(exe, sizeof(exe), "%s/%s", dir, exe_name);
	struct child c;
	child_start(exe, &c);
	struct symbolizer *s = symbolizer_new(NULL);
	assert_int_equal(symbolizer_snapshot_pid(s, c.pid), 0);

	struct sym_frame fr[8];
	size_t n = 0;
	assert_int_equal(symbolizer_user(s, c.pid, c.ret_addr, true, fr, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(fr[0].function, "inl_fn");
	assert_true(fr[0].inlined);
	assert_int_equal(fr[0].line, src_line(prog_src, "/*@INL*/"));
	assert_non_null(strstr(fr[0].file, "prog.cpp"));
	assert_string_equal(fr[1].function, "ns::Widget::compute(int)");
	assert_false(fr[1].inlined);
	assert_int_equal(fr[1].line, src_line(prog_src, "/*@OUTER*/"));
	assert_string_equal(fr[1].module, exe_name);

	/* Independent reader: addr2line on the same virtual address. */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "addr2line -f -i -C -e %s 0x%llx | sed -n 4p", exe,
		 (unsigned long long)fr[0].module_offset);
	char expect[64];
	snprintf(expect, sizeof(expect), "prog.cpp:%d", fr[1].line);
	assert_non_null(strstr(run1(cmd), expect));
	snprintf(cmd, sizeof(cmd), "addr2line -f -i -C -e %s 0x%llx | sed -n 2p", exe,
		 (unsigned long long)fr[0].module_offset);
	snprintf(expect, sizeof(expect), "prog.cpp:%d", fr[0].line);
	assert_non_null(strstr(run1(cmd), expect));

	/* Function entry of leaf_fn; its vaddr equals nm's (the load bias is right). */
	assert_int_equal(symbolizer_user(s, c.pid, c.leaf, false, fr, 8, &n), 0);
	assert_string_equal(fr[n - 1].function, "leaf_fn");
	snprintf(cmd, sizeof(cmd), "nm %s | awk '$3==\"leaf_fn\"{print $1}'", exe);
	assert_int_equal(strtoull(run1(cmd), NULL, 16), fr[n - 1].module_offset);
	if (pie)
		assert_true(c.leaf != fr[n - 1].module_offset); /* relocated */
	else
		assert_int_equal(c.leaf, fr[n - 1].module_offset);

	/* The shared library (a local function, .symtab only): name, module, file:line of
	 * the first statement. */
	assert_int_equal(symbolizer_user(s, c.pid, c.foo, false, fr, 8, &n), 0);
	assert_string_equal(fr[n - 1].function, "foo_inner");
	assert_string_equal(fr[n - 1].module, "libfoo.so");
	snprintf(cmd, sizeof(cmd), "nm %s/libfoo.so | awk '$3==\"foo_inner\"{print $1}'", dir);
	assert_int_equal(strtoull(run1(cmd), NULL, 16), fr[n - 1].module_offset);
	assert_non_null(strstr(fr[n - 1].file, "foo.c"));
	assert_true(fr[n - 1].line >= 1 && fr[n - 1].line <= src_line(lib_src, "/*@FOO*/"));

	/* Unknown: an address in the anonymous page, no perf map yet. */
	assert_int_equal(symbolizer_user(s, c.pid, c.jit + 16, false, fr, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_true(fr[0].unknown);
	char buf[128];
	assert_string_equal(symbolizer_format_unknown(&fr[0], buf, sizeof(buf)), "[anon]+0x10");

	/* The process exits: its snapshot still resolves (ELF cached). */
	child_stop(&c);
	assert_int_equal(symbolizer_user(s, c.pid, c.ret_addr, true, fr, 8, &n), 0);
	assert_string_equal(fr[n - 1].function, "ns::Widget::compute(int)");
	symbolizer_forget_pid(s, c.pid);
	assert_int_equal(symbolizer_user(s, c.pid, c.ret_addr, true, fr, 8, &n), EMBER_ENOTFOUND);
	assert_true(fr[0].unknown);
	symbolizer_free(s);
}

static void test_pie(void **state)
{
	(void)state;
	check_program("prog_pie", true);
}

static void test_nopie(void **state)
{
	(void)state;
	check_program("prog_nopie", false);
}

static void test_stripped_and_shared_cache(void **state)
{
	(void)state;
	char exe[512];
	struct symbolizer *s = symbolizer_new(NULL);
	/* Two processes of the same binary (two paths, same build-id) share one ELF. */
	struct child a, b, st;
	snprintf(exe, sizeof(exe), "%s/prog_pie", dir);
	child_start(exe, &a);
	snprintf(exe, sizeof(exe), "%s/prog_copy", dir);
	child_start(exe, &b);
	snprintf(exe, sizeof(exe), "%s/prog_stripped", dir);
	child_start(exe, &st);
	assert_int_equal(symbolizer_snapshot_pid(s, a.pid), 0);
	struct symbolizer_stats stats;
	symbolizer_get_stats(s, &stats);
	size_t elfs_before = stats.elfs;
	assert_int_equal(symbolizer_snapshot_pid(s, b.pid), 0);
	symbolizer_get_stats(s, &stats);
	assert_int_equal(stats.elfs, elfs_before); /* prog_copy = prog_pie by build-id */
	assert_int_equal(symbolizer_snapshot_pid(s, st.pid), 0);

	struct sym_frame fr[8];
	size_t n;
	assert_int_equal(symbolizer_user(s, b.pid, b.leaf, false, fr, 8, &n), 0);
	assert_string_equal(fr[n - 1].function, "leaf_fn");
	assert_string_equal(fr[n - 1].module, "prog_copy");
	/* The stripped copy has the same build-id, so here it shares the unstripped
	 * twin's symbol table (a feature: debug builds cached first name stripped ones). */
	assert_int_equal(symbolizer_user(s, st.pid, st.leaf, false, fr, 8, &n), 0);
	assert_string_equal(fr[n - 1].function, "leaf_fn");
	assert_string_equal(fr[n - 1].module, "prog_stripped");
	/* A fresh symbolizer that only sees the stripped file. */
	symbolizer_free(s);
	s = symbolizer_new(NULL);
	assert_int_equal(symbolizer_snapshot_pid(s, st.pid), 0);

	/* Stripped: leaf_fn is not in .dynsym; the frame is module+vaddr, and that vaddr
	 * is nm's address of leaf_fn in the unstripped twin. */
	assert_int_equal(symbolizer_user(s, st.pid, st.leaf, false, fr, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_true(fr[0].unknown);
	char cmd[1024], buf[128], expect[128];
	snprintf(cmd, sizeof(cmd), "nm %s/prog_pie | awk '$3==\"leaf_fn\"{print $1}'", dir);
	snprintf(expect, sizeof(expect), "prog_stripped+0x%llx",
		 (unsigned long long)strtoull(run1(cmd), NULL, 16));
	assert_string_equal(symbolizer_format_unknown(&fr[0], buf, sizeof(buf)), expect);
	/* The shared library still has its symbols. */
	assert_int_equal(symbolizer_user(s, st.pid, st.foo, false, fr, 8, &n), 0);
	assert_string_equal(fr[n - 1].function, "foo_inner");

	/* A perf map for JIT code in the anonymous page (written after the snapshot: a
	 * new snapshot picks it up). */
	char pm[128];
	snprintf(pm, sizeof(pm), "/tmp/perf-%d.map", (int)st.pid);
	FILE *f = fopen(pm, "w");
	assert_non_null(f);
	fprintf(f, "%llx 40 LazyCompile:*hot /app.js:10\n0x%llx 0x20 Builtin:Old\n"
		"%llx 20 Builtin:New\n", st.jit, st.jit + 0x40, st.jit + 0x40);
	fclose(f);
	assert_int_equal(symbolizer_snapshot_pid(s, st.pid), 0);
	assert_int_equal(symbolizer_user(s, st.pid, st.jit + 0x3f, false, fr, 8, &n), 0);
	assert_string_equal(fr[0].function, "LazyCompile:*hot /app.js:10");
	assert_int_equal(symbolizer_user(s, st.pid, st.jit + 0x41, false, fr, 8, &n), 0);
	assert_string_equal(fr[0].function, "Builtin:New");
	assert_int_equal(symbolizer_user(s, st.pid, st.jit + 0x61, false, fr, 8, &n), 0);
	assert_true(fr[0].unknown);
	unlink(pm);

	child_stop(&a);
	child_stop(&b);
	child_stop(&st);
	symbolizer_free(s);
}

static void test_perfmap_parse(void **state)
{
	(void)state;
	const char *text = "1000 10 a\n"
			   "0x2000 0x8 b c d\r\n"
			   "garbage\n"
			   "3000 zz x\n"
			   "\n"
			   "4000 4 old\n"
			   "4000 4 new\n";
	struct symtab t;
	symtab_init(&t);
	size_t bad = 0;
	assert_int_equal(perfmap_parse(slice_cstr(text), &t, &bad), 0);
	assert_int_equal(bad, 2);
	const struct symtab_entry *e = symtab_lookup(&t, 0x100f, 1);
	assert_non_null(e);
	assert_string_equal(symtab_name(&t, e), "a");
	assert_null(symtab_lookup(&t, 0x1010, 1));
	e = symtab_lookup(&t, 0x2007, 1);
	assert_string_equal(symtab_name(&t, e), "b c d");
	assert_null(symtab_lookup(&t, 0x2008, 1));
	assert_string_equal(symtab_name(&t, symtab_lookup(&t, 0x4001, 1)), "new");
	symtab_release(&t);
}

static void test_kallsyms(void **state)
{
	(void)state;
	const char *text = "ffffffff81000000 T _stext\n"
			   "ffffffff81000100 t helper\n"
			   "ffffffff81000200 D some_data\n"
			   "ffffffff81000300 T schedule\n"
			   "ffffffffc0001000 t nf_hook [nf_tables]\n"
			   "0000000000000000 T hidden\n";
	char path[512];
	snprintf(path, sizeof(path), "%s/kallsyms", dir);
	write_file(path, text);
	struct symbolizer_opts o = {.kallsyms_path = path};
	struct symbolizer *s = symbolizer_new(&o);
	struct sym_frame f;
	assert_int_equal(symbolizer_kernel(s, 0xffffffff81000250ull, &f), 0);
	assert_string_equal(f.function, "helper"); /* data symbols are not text */
	assert_int_equal(f.module_offset, 0x150);
	assert_int_equal(symbolizer_kernel(s, 0xffffffff81000300ull, &f), 0);
	assert_string_equal(f.function, "schedule");
	assert_string_equal(f.module, "[kernel]");
	assert_int_equal(symbolizer_kernel(s, 0xffffffffc0001010ull, &f), 0);
	assert_string_equal(f.function, "nf_hook");
	assert_string_equal(f.module, "[nf_tables]");
	assert_int_equal(symbolizer_kernel(s, 0x1000, &f), EMBER_ENOTFOUND);
	assert_true(f.unknown);
	symbolizer_free(s);
}

static void test_demangle(void **state)
{
	(void)state;
	/* Examples from the Itanium ABI and the Rust symbol-mangling RFC 2603. */
	char *d = symbolize_demangle("_ZN2ns6Widget7computeEi");
	assert_string_equal(d, "ns::Widget::compute(int)");
	free(d);
	d = symbolize_demangle("_ZN4core3fmt5write17h0123456789abcdefE");
	assert_string_equal(d, "core::fmt::write"); /* legacy hash stripped */
	free(d);
	d = symbolize_demangle("_RNvCs15kBYyAo9fc_7mycrate7example");
	assert_string_equal(d, "mycrate::example");
	free(d);
	assert_null(symbolize_demangle("main"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perfmap_parse),
		cmocka_unit_test(test_kallsyms),
		cmocka_unit_test(test_demangle),
		cmocka_unit_test(test_pie),
		cmocka_unit_test(test_nopie),
		cmocka_unit_test(test_stripped_and_shared_cache),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
