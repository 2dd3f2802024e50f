/* symbolize: per-process snapshots of /proc/<pid>/maps over a build-id keyed cache of
 * parsed ELF files, perf maps for JIT code, kallsyms for the kernel; see symbolize.h
 * and docs/internals/symbolize.md. */
#include <sys/stat.h>
#include <unistd.h>

#include "agent/elfsym.h"
#include "agent/perfmap.h"
#include "agent/symbolize.h"
#include "agent/symtab.h"
#include "util/arena.h"
#include "util/common.h"

#define MAPS_MAX_BYTES (16u << 20)
#define PID_BUCKETS 1024

struct elf_entry {
	struct elfsym *es;
	char *build_id;          /* "" when none */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	size_t refs;             /* mappings of live snapshots that use it */
	uint64_t last_used;
};

struct mapping {
	uint64_t start, end, offset;
	const char *path;        /* as in maps (arena) */
	const char *module;      /* basename (arena) */
	struct elf_entry *elf;   /* NULL: anonymous, special or unreadable */
};

struct pid_entry {
	int pid;
	struct pid_entry *next;  /* bucket chain */
	uint64_t last_used;
	struct mapping *maps;
	size_t n_maps;
	struct symtab perfmap;
	bool has_perfmap;
	struct arena arena;
};

struct symbolizer {
	struct symbolizer_opts o;
	char *proc_root;
	struct pid_entry *buckets[PID_BUCKETS];
	size_t n_pids;
	struct elf_entry **elfs;
	size_t n_elfs, cap_elfs;
	uint64_t tick;
	struct symtab kallsyms;
	bool kallsyms_loaded;
	struct symbolizer_stats stats;
};

struct symbolizer *symbolizer_new(const struct symbolizer_opts *opts)
{
	struct symbolizer *s = xcalloc(1, sizeof(*s));
	if (opts)
		s->o = *opts;
	s->proc_root = xstrdup(s->o.proc_root ? s->o.proc_root : "/proc");
	s->o.proc_root = s->proc_root;
	if (!s->o.max_pids)
		s->o.max_pids = 4096;
	if (!s->o.max_elfs)
		s->o.max_elfs = 256;
	symtab_init(&s->kallsyms);
	return s;
}

static void elf_entry_free(struct elf_entry *e)
{
	if (!e)
		return;
	elfsym_free(e->es);
	free(e->build_id);
	free(e);
}

static void pid_entry_free(struct pid_entry *p)
{
	for (size_t i = 0; i < p->n_maps; i++)
		if (p->maps[i].elf)
			p->maps[i].elf->refs--;
	free(p->maps);
	symtab_release(&p->perfmap);
	arena_release(&p->arena);
	free(p);
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < PID_BUCKETS; b++) {
		struct pid_entry *p = s->buckets[b];
		while (p) {
			struct pid_entry *next = p->next;
			pid_entry_free(p);
			p = next;
		}
	}
	for (size_t i = 0; i < s->n_elfs; i++)
		elf_entry_free(s->elfs[i]);
	free(s->elfs);
	symtab_release(&s->kallsyms);
	free(s->proc_root);
	free(s);
}

static struct pid_entry **pid_slot(struct symbolizer *s, int pid)
{
	struct pid_entry **pp = &s->buckets[(unsigned)pid % PID_BUCKETS];
	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

void symbolizer_forget_pid(struct symbolizer *s, int pid)
{
	struct pid_entry **pp = pid_slot(s, pid);
	struct pid_entry *p = *pp;
	if (!p)
		return;
	*pp = p->next;
	pid_entry_free(p);
	s->n_pids--;
}

static void evict_pids(struct symbolizer *s)
{
	while (s->n_pids >= s->o.max_pids) {
		struct pid_entry *oldest = NULL;
		for (size_t b = 0; b < PID_BUCKETS; b++)
			for (struct pid_entry *p = s->buckets[b]; p; p = p->next)
				if (!oldest || p->last_used < oldest->last_used)
					oldest = p;
		if (!oldest)
			return;
		symbolizer_forget_pid(s, oldest->pid);
	}
}

/* Drops least recently used ELF files that no snapshot references, down to the cap. */
static void evict_elfs(struct symbolizer *s)
{
	while (s->n_elfs >= s->o.max_elfs) {
		size_t victim = SIZE_MAX;
		for (size_t i = 0; i < s->n_elfs; i++)
			if (s->elfs[i]->refs == 0 &&
			    (victim == SIZE_MAX || s->elfs[i]->last_used < s->elfs[victim]->last_used))
				victim = i;
		if (victim == SIZE_MAX)
			return; /* everything in use: go over the cap rather than break snapshots */
		elf_entry_free(s->elfs[victim]);
		s->elfs[victim] = s->elfs[--s->n_elfs];
	}
}

/* The cached ELF for a file (same inode, size and mtime, or same build-id), parsing it
 * on a miss. NULL when the file cannot be read as ELF. */
static struct elf_entry *elf_get(struct symbolizer *s, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return NULL;
	for (size_t i = 0; i < s->n_elfs; i++) {
		struct elf_entry *e = s->elfs[i];
		if (e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
		    e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			s->stats.elf_hits++;
			return e;
		}
	}
	struct elfsym *es = NULL;
	if (elfsym_open(path, s->o.no_dwarf, s->o.no_demangle, &es) < 0)
		return NULL;
	const char *bid = elfsym_build_id(es);
	if (*bid) {
		for (size_t i = 0; i < s->n_elfs; i++) {
			if (strcmp(s->elfs[i]->build_id, bid) == 0) {
				/* Same binary seen through another path or namespace. */
				elfsym_free(es);
				s->stats.elf_hits++;
				return s->elfs[i];
			}
		}
	}
	s->stats.elf_misses++;
	evict_elfs(s);
	struct elf_entry *e = xcalloc(1, sizeof(*e));
	e->es = es;
	e->build_id = xstrdup(bid);
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime = st.st_mtim;
	XGROW(s->elfs, s->cap_elfs, s->n_elfs + 1);
	s->elfs[s->n_elfs++] = e;
	return e;
}

/* Parses one maps line: "start-end perms offset dev inode   path". */
static bool parse_maps_line(char *l, uint64_t *start, uint64_t *end, uint64_t *off, bool *exec,
			    char **path)
{
	unsigned long long a, b, o, ino;
	char perms[8];
	int pos = 0;
	if (sscanf(l, "%llx-%llx %7s %llx %*s %llu %n", &a, &b, perms, &o, &ino, &pos) < 5)
		return false;
	*start = a;
	*end = b;
	*off = o;
	*exec = perms[2] == 'x';
	*path = l + pos;
	size_t n = strlen(*path);
	while (n && ((*path)[n - 1] == '\n' || (*path)[n - 1] == ' '))
		(*path)[--n] = '\0';
	return true;
}

int symbolizer_snapshot_pid(struct symbolizer *s, int pid)
{
	int rc = EMBER_EIO;
	char *text = NULL;
	size_t n = 0;
	struct pid_entry *p = NULL;
	char *fn = xasprintf("%s/%d/maps", s->proc_root, pid);
	rc = perfmap_read_file(fn, MAPS_MAX_BYTES, &text, &n);
	free(fn);
	if (rc == EMBER_ETOOBIG)
		rc = 0; /* use what fit */
	if (rc < 0)
		goto out;
	if (n == 0) {
		rc = EMBER_ENOTFOUND; /* kernel thread or a process being reaped */
		goto out;
	}
	symbolizer_forget_pid(s, pid);
	evict_pids(s);
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	arena_init(&p->arena, 0);
	symtab_init(&p->perfmap);
	size_t cap = 0;
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		uint64_t start, end, off;
		bool exec;
		char *path;
		if (parse_maps_line(line, &start, &end, &off, &exec, &path) && exec) {
			struct mapping m = {start, end, off, NULL, NULL, NULL};
			size_t plen = strlen(path);
			m.path = arena_strndup(&p->arena, path, plen);
			const char *slash = strrchr(m.path, '/');
			m.module = plen == 0 ? "[anon]" : slash ? slash + 1 : m.path;
			if (path[0] == '/') {
				/* Through the process's root so other mount namespaces work; a
				 * deleted file is still reachable through map_files (root only). */
				char *fp = xasprintf("%s/%d/root%s", s->proc_root, pid, path);
				m.elf = elf_get(s, fp);
				free(fp);
				if (!m.elf && plen > 10 && strcmp(path + plen - 10, " (deleted)") == 0) {
					fp = xasprintf("%s/%d/map_files/%llx-%llx", s->proc_root, pid,
						       (unsigned long long)start, (unsigned long long)end);
					m.elf = elf_get(s, fp);
					free(fp);
				}
				if (m.elf) {
					m.elf->refs++;
					m.elf->last_used = ++s->tick;
				}
			}
			XGROW(p->maps, cap, p->n_maps + 1);
			p->maps[p->n_maps++] = m;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!s->o.no_perfmap) {
		/* perf maps are written by the process into its own /tmp. */
		char *pm = xasprintf("%s/%d/root/tmp/perf-%d.map", s->proc_root, pid, pid);
		char *pt = NULL;
		size_t pn = 0;
		int prc = perfmap_read_file(pm, PERFMAP_MAX_BYTES, &pt, &pn);
		if (prc == 0 || prc == EMBER_ETOOBIG) {
			size_t bad = 0;
			if (perfmap_parse(slice_make(pt, pn), &p->perfmap, &bad) < 0) {
				/* keep what fit */
			}
			p->has_perfmap = p->perfmap.n > 0;
		}
		free(pt);
		free(pm);
	}
	p->last_used = ++s->tick;
	struct pid_entry **slot = pid_slot(s, pid);
	*slot = p;
	s->n_pids++;
	p = NULL;
	rc = 0;
out:
	free(text);
	return rc;
}

static void unknown_frame(struct sym_frame *f, const char *module, uint64_t off)
{
	*f = (struct sym_frame){.module = module, .module_offset = off, .unknown = true};
}

int symbolizer_user(struct symbolizer *s, int pid, uint64_t ip, bool is_return_addr,
		    struct sym_frame *out, size_t max_frames, size_t *n)
{
	*n = 0;
	if (max_frames == 0)
		return EMBER_EINVAL;
	struct pid_entry *p = *pid_slot(s, pid);
	if (!p) {
		int rc = symbolizer_snapshot_pid(s, pid);
		if (rc < 0) {
			unknown_frame(&out[0], "[unknown]", ip);
			*n = 1;
			s->stats.unknown++;
			return EMBER_ENOTFOUND;
		}
		p = *pid_slot(s, pid);
	}
	p->last_used = ++s->tick;
	uint64_t addr = is_return_addr && ip > 0 ? ip - 1 : ip;
	/* Binary search: mappings in /proc/<pid>/maps are sorted by start. */
	const struct mapping *m = NULL;
	size_t lo = 0, hi = p->n_maps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->maps[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->n_maps && p->maps[lo].start <= addr && addr < p->maps[lo].end)
		m = &p->maps[lo];
	if (p->has_perfmap && (!m || !m->elf)) {
		const struct symtab_entry *e = symtab_lookup(&p->perfmap, addr, 1);
		if (e) {
			out[0] = (struct sym_frame){.function = symtab_name(&p->perfmap, e),
						    .module = m ? m->module : "[jit]",
						    .module_offset = addr - e->addr};
			*n = 1;
			s->stats.perfmap_hits++;
			return 0;
		}
	}
	if (!m) {
		unknown_frame(&out[0], "[unknown]", addr);
		*n = 1;
		s->stats.unknown++;
		return 0;
	}
	uint64_t file_off = addr - m->start + m->offset;
	uint64_t vaddr;
	if (!m->elf || !elfsym_offset_to_vaddr(m->elf->es, file_off, &vaddr)) {
		unknown_frame(&out[0], m->module, file_off);
		*n = 1;
		s->stats.unknown++;
		return 0;
	}
	m->elf->last_used = s->tick;
	size_t k = elfsym_lookup(m->elf->es, vaddr, out, max_frames);
	for (size_t i = 0; i < k; i++)
		out[i].module = m->module;
	if (k == 1 && out[0].unknown)
		s->stats.unknown++;
	*n = k;
	return 0;
}

static void load_kallsyms(struct symbolizer *s)
{
	s->kallsyms_loaded = true;
	char *text = NULL;
	size_t n = 0;
	const char *path = s->o.kallsyms_path ? s->o.kallsyms_path : "/proc/kallsyms";
	int rc = perfmap_read_file(path, 256u << 20, &text, &n);
	if (rc == 0 || rc == EMBER_ETOOBIG) {
		if (kallsyms_parse(slice_make(text, n), &s->kallsyms) < 0) {
			/* keep what fit */
		}
	}
	free(text);
}

int symbolizer_kernel(struct symbolizer *s, uint64_t ip, struct sym_frame *out)
{
	if (!s->kallsyms_loaded)
		load_kallsyms(s);
	/* Unsized kallsyms entries: the last one (end of module text) covers at most 1 MiB. */
	const struct symtab_entry *e = symtab_lookup(&s->kallsyms, ip, 1u << 20);
	if (!e) {
		unknown_frame(out, "[kernel]", ip);
		s->stats.unknown++;
		return EMBER_ENOTFOUND;
	}
	*out = (struct sym_frame){.function = symtab_name(&s->kallsyms, e),
				  .module = e->aux ? s->kallsyms.names + e->aux - 1 : "[kernel]",
				  .module_offset = ip - e->addr};
	return 0;
}

const char *symbolizer_format_unknown(const struct sym_frame *f, char *buf, size_t size)
{
	if (!f->unknown && f->function)
		return f->function;
	if (size)
		snprintf(buf, size, "%s+0x%llx", f->module ? f->module : "[unknown]",
			 (unsigned long long)f->module_offset);
	return buf;
}

void symbolizer_get_stats(const struct symbolizer *s, struct symbolizer_stats *out)
{
	*out = s->stats;
	out->pids = s->n_pids;
	out->elfs = s->n_elfs;
}
