/* cli: the datalite command-line tool's internal interface. */
#ifndef DL_CLI_H
#define DL_CLI_H

#include "datalite.h"

#include <stdbool.h>
#include <stdio.h>

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_USER = 1,  /* bad EDN, query or tx-data */
	CLI_EXIT_USAGE = 2, /* bad command line */
	CLI_EXIT_DB = 3     /* locked, corrupt, I/O, full */
};

typedef struct cli_command cli_command;
struct cli_command {
	const char *name;
	int (*run)(const cli_command *self, int argc, char **argv); /* argv[0] = name */
	const char *usage;
	const char *help;
};

/* Print "datalite NAME: msg" and the usage line; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *msg);
/* Print "error: <message>" for the thread's last error; returns the exit code. */
int cli_report_error(int rc);
bool cli_wants_help(int argc, char **argv);
/* Read a whole file ("-" is stdin) into a malloc'd buffer. */
char *cli_read_file(const char *path, size_t *len);

int cli_cmd_demo(const cli_command *self, int argc, char **argv);
int cli_cmd_edn(const cli_command *self, int argc, char **argv);
int cli_cmd_gen(const cli_command *self, int argc, char **argv);

#endif
