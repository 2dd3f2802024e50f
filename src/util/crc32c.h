/* CRC32C (Castagnoli), as used by the WAL and block files. */
#ifndef EMBER_UTIL_CRC32C_H
#define EMBER_UTIL_CRC32C_H

#include "util/common.h"

/** Extends crc (start with 0) over p[0..n). Uses SSE4.2 when the CPU has it. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
