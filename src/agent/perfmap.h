/* perfmap: parser of JIT symbol files /tmp/perf-<pid>.map (one "START SIZE name" line
 * per symbol, START and SIZE in hex with or without 0x, as written by node
 * --perf-basic-prof, the JVM's perf-map-agent, .NET, LuaJIT ...). */
#ifndef EMBER_AGENT_PERFMAP_H
#define EMBER_AGENT_PERFMAP_H

#include "agent/symtab.h"
#include "util/common.h"

/** Most bytes of a perf map file read; longer files are truncated at a line boundary. */
#define PERFMAP_MAX_BYTES (64u << 20)

/** Parses text into t (entries appended, names copied; caller then owns and releases t;
 * symtab_finish is called). Malformed lines are skipped and counted in *bad (may be
 * NULL). Returns 0, or EMBER_ETOOBIG when the symtab caps were reached (t holds what
 * fit). Later lines win over earlier ones at the same address (JITs re-use code). */
int perfmap_parse(struct slice text, struct symtab *t, size_t *bad) EMBER_WUR;

/** Parses /proc/kallsyms text ("ffffffff81000000 T _stext [module]") into t, keeping
 * text symbols (t/T/w/W) with a non-zero address; the module name goes into aux (name
 * offset + 1). Returns 0 or EMBER_ETOOBIG. */
int kallsyms_parse(struct slice text, struct symtab *t) EMBER_WUR;

/** Reads a whole file into a heap buffer (caller frees *out), at most max bytes.
 * Returns 0, EMBER_ENOTFOUND, EMBER_EIO, or EMBER_ETOOBIG (the first max bytes are
 * returned anyway). */
int perfmap_read_file(const char *path, size_t max, char **out, size_t *n) EMBER_WUR;

#endif
