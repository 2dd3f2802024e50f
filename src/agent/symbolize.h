/* symbolize: turns instruction pointers from the eBPF profiler into function names,
 * file:line and module+offset.
 *
 * User space: per process, /proc/<pid>/maps is captured (symbolizer_snapshot_pid) and
 * each ip is mapped to (module, file offset) -> ELF virtual address using the load bias
 * of the PT_LOAD segment that contains the mapping's file offset. Names come from the
 * ELF .symtab (else .dynsym) through libelf, file:line and inlined frames from DWARF
 * through libdw when debug info is present. Parsed ELF files are cached by build-id
 * (or by path+inode+size+mtime when there is none), so that processes running the same
 * binary share one symbol table. JIT code is resolved through /tmp/perf-<pid>.map.
 * Files of processes in other mount namespaces are read through /proc/<pid>/root/.
 * Kernel space: /proc/kallsyms, sorted once, binary searched.
 *
 * Unknown frames are never dropped: they come back with `unknown = true`, `function`
 * NULL and `module`/`module_offset` set (render them as "libfoo.so+0x1234" with
 * symbolizer_format_unknown), or module "[unknown]" when the ip is in no mapping.
 * C++ and Rust (legacy and v0) names are demangled; the Rust legacy hash is stripped.
 *
 * Threading: a symbolizer is not thread-safe; use one per thread or lock around it.
 * Design notes: docs/internals/symbolize.md. */
#ifndef EMBER_AGENT_SYMBOLIZE_H
#define EMBER_AGENT_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symbolizer;

struct symbolizer_opts {
	/* Root of procfs ("/proc" when NULL); tests may point it elsewhere. */
	const char *proc_root;
	/* Most processes kept (LRU beyond it); 0 = 4096. */
	size_t max_pids;
	/* Most parsed ELF files kept (LRU beyond it, unreferenced ones only); 0 = 256. */
	size_t max_elfs;
	/* Skip DWARF (file:line, inline frames): names from the symbol tables only. */
	bool no_dwarf;
	/* Do not demangle C++/Rust names. */
	bool no_demangle;
	/* Do not read /tmp/perf-<pid>.map files. */
	bool no_perfmap;
	/* Kernel symbol file ("/proc/kallsyms" when NULL). */
	const char *kallsyms_path;
};

/* One resolved frame. Strings are owned by the symbolizer's caches: they stay valid
 * until symbolizer_free, or until the next symbolizer_snapshot_pid /
 * symbolizer_forget_pid / LRU eviction of the pid whose frame it was (perf-map names
 * and module names belong to the pid's snapshot; ELF names to the shared ELF cache,
 * which only evicts files no live pid uses). Copy them (e.g. into a pprof string
 * table) before the next snapshot/forget call if they must live longer. */
struct sym_frame {
	const char *function; /* demangled name; NULL when unknown */
	const char *file;     /* source file from DWARF; NULL when absent */
	int line;             /* source line from DWARF; 0 when absent */
	const char *module;   /* basename of the mapped file, "[kernel]", "[unknown]" ... */
	uint64_t module_offset; /* ip as an offset into the module's file (ELF vaddr for
				 * ELF files); kernel: ip - kernel module base, 0 if none */
	bool unknown;         /* no symbol found: render "module+0xoffset" */
	bool inlined;         /* an inlined function (not the outermost frame of this ip) */
};

/** Creates a symbolizer. opts may be NULL (all defaults). Caller owns the result and
 * frees it with symbolizer_free. Never fails (aborts on out of memory). */
struct symbolizer *symbolizer_new(const struct symbolizer_opts *opts);

/** Frees the symbolizer and every string it handed out. NULL-safe. */
void symbolizer_free(struct symbolizer *s);

/** Captures /proc/<pid>/maps, the files' build-ids and ELF symbol tables (parsed into
 * the shared cache), and /tmp/perf-<pid>.map, so that a process that exits before its
 * samples are symbolised still gets names. Re-snapshotting a known pid refreshes it
 * (call again after an exec or when an ip falls outside every known mapping).
 * Returns 0, EMBER_ENOTFOUND if the process is gone, EMBER_EIO on other read errors. */
int symbolizer_snapshot_pid(struct symbolizer *s, int pid) __attribute__((warn_unused_result));

/** Drops the pid's snapshot (and its perf map). Strings from that pid's frames become
 * invalid. Unknown pids are ignored. */
void symbolizer_forget_pid(struct symbolizer *s, int pid);

/** Symbolises one user-space ip of pid into up to max_frames frames, innermost
 * (deepest inlined) first, outermost last; *n receives the count (>= 1 on success).
 * An unknown pid is snapshotted on the fly. A return address ip should be passed as is:
 * the symbolizer looks up ip - 1 for every frame but the leaf when `is_return_addr` is
 * set, so that a call at the end of a function is attributed to the caller's line.
 * Returns 0 (with unknown frames for addresses without symbols), EMBER_EINVAL when
 * max_frames is 0, EMBER_ENOTFOUND when the pid is unknown and gone (out[0] is then an
 * unknown frame with module "[unknown]" and *n = 1). */
int symbolizer_user(struct symbolizer *s, int pid, uint64_t ip, bool is_return_addr,
		    struct sym_frame *out, size_t max_frames, size_t *n)
	__attribute__((warn_unused_result));

/** Symbolises one kernel ip from /proc/kallsyms (loaded on first use). Always fills
 * *out; returns 0, or EMBER_ENOTFOUND when no symbol covers ip (then out->unknown and
 * module "[kernel]"). Names of kernel modules' symbols carry module = "[<module>]". */
int symbolizer_kernel(struct symbolizer *s, uint64_t ip, struct sym_frame *out)
	__attribute__((warn_unused_result));

/** Renders an unknown frame as "module+0x1234" into buf (NUL-terminated, truncated to
 * size); returns buf. For a known frame returns its function name. */
const char *symbolizer_format_unknown(const struct sym_frame *f, char *buf, size_t size);

/** Counters for logs and /metrics. */
struct symbolizer_stats {
	size_t pids, elfs, elf_hits, elf_misses, perfmap_hits, unknown;
};
void symbolizer_get_stats(const struct symbolizer *s, struct symbolizer_stats *out);

#endif
