/* server: `ember server`. Wires config, WAL, head, ingest, the HTTP API and signals
 * together, replays the WAL on start and shuts down gracefully on SIGTERM/SIGINT. */
#ifndef EMBER_SERVER_SERVER_H
#define EMBER_SERVER_SERVER_H

/** Runs `ember server` with the flags in argv[0..argc) (after the subcommand). Returns
 * the process exit status. */
int server_main(int argc, char **argv);

#endif
