/* procinfo: what the agent labels a process with, read from /proc/<pid>: its
 * service_name (systemd unit or container id from /proc/<pid>/cgroup, else comm) and comm.
 * Pure parsing functions are separate from the /proc readers so that tests feed text. */
#ifndef EMBER_AGENT_PROCINFO_H
#define EMBER_AGENT_PROCINFO_H

#include "util/common.h"

/** Derives a service name from the text of a /proc/<pid>/cgroup file (v1 or v2 lines
 * "id:controllers:path"): a container id (64 hex digits in a path segment such as
 * "docker-<id>.scope", "cri-containerd-<id>.scope", "/docker/<id>", "/kubepods/.../<id>")
 * gives "container/<first 12 digits>"; else the last systemd unit "<name>.service" in
 * the path gives "<name>.service". Writes a NUL-terminated name into out (truncated to
 * outlen) and returns true when one was found; false otherwise (out is then ""). */
bool procinfo_service_from_cgroup(const char *text, size_t n, char *out, size_t outlen);

/** The service name of pid: procinfo_service_from_cgroup of /proc/<pid>/cgroup, else
 * `comm`. proc_root is "/proc" when NULL. Writes into out (NUL-terminated). */
void procinfo_service_name(const char *proc_root, int pid, const char *comm, char *out, size_t outlen);

#endif
