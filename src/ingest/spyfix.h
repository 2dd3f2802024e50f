/* spyfix: the rewrites Pyroscope applies to pprof from some profilers before validating it
 * (pyroscope-api.md §1, `spyName`): scripting spies get "file function" names, and .NET's
 * profiler gets its function ids and sample type names repaired. Strings and arrays the
 * rewrites add live in the arena; the profile is re-resolved. */
#ifndef EMBER_INGEST_SPYFIX_H
#define EMBER_INGEST_SPYFIX_H

#include "pprof/pprof.h"

/** True for pyspy, rbspy and scripting, whose function names get their file prepended. */
bool spyfix_is_scripting(struct slice spy);

/** Renames every function used by a location line to "<filename> <name>" (one new function
 * per distinct new name), skipping absolute file names for pyspy. Returns 0 or EMBER_ENOMEM. */
int spyfix_scripting_names(struct pprof_profile *p, struct arena *a, bool pyspy) EMBER_WUR;

/** .NET fixes: when every function id is 0 and there are as many functions as locations,
 * function i takes location i's id; '-' in sample type names becomes '_'. Returns 0 or
 * EMBER_ENOMEM. */
int spyfix_dotnet(struct pprof_profile *p, struct arena *a) EMBER_WUR;

#endif
