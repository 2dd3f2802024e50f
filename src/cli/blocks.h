/* blocks: `ember blocks ls|inspect|verify|compact`, offline tools over the blocks of a data
 * directory (filesystem backend) or a bucket (-storage.backend=s3 -storage.s3.*). See
 * docs/cli.md and docs/internals/compaction.md. */
#ifndef EMBER_CLI_BLOCKS_H
#define EMBER_CLI_BLOCKS_H

/** Runs `ember blocks` with argv[0..argc) the arguments after "blocks". Tables go to
 * stdout, progress lines and errors to stderr. Returns the exit status: 0 success, 1 a
 * failure (a bad block for verify, an I/O or compaction error), 2 bad usage. */
int blocks_main(int argc, char **argv);

#endif
