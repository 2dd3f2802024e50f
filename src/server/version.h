/* Build identity, reported by /api/v1/status/buildinfo and `ember --version`. The
 * Makefile passes EMBER_GIT_REVISION, EMBER_GIT_BRANCH and EMBER_BUILD_DATE. */
#ifndef EMBER_SERVER_VERSION_H
#define EMBER_SERVER_VERSION_H

#define EMBER_VERSION "0.1.0"

#ifdef EMBER_GIT_REVISION
#define EMBER_REVISION EMBER_GIT_REVISION
#else
#define EMBER_REVISION "unknown"
#endif
#ifdef EMBER_GIT_BRANCH
#define EMBER_BRANCH EMBER_GIT_BRANCH
#else
#define EMBER_BRANCH "unknown"
#endif
#ifndef EMBER_BUILD_DATE
#define EMBER_BUILD_DATE "unknown"
#endif
#define EMBER_BUILD_USER "ember"
/* Pyroscope reports its Go version here; Ember reports the C compiler it was built with. */
#define EMBER_CC_VERSION "gcc " __VERSION__

#endif
