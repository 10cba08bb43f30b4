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
	const char *details; /* more for `--help` (options, formats), or NULL */
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
int cli_cmd_query(const cli_command *self, int argc, char **argv);
int cli_cmd_explain(const cli_command *self, int argc, char **argv);
int cli_cmd_pull(const cli_command *self, int argc, char **argv);
extern const char cli_help_query[], cli_help_explain[], cli_help_pull[];
int cli_cmd_gen(const cli_command *self, int argc, char **argv);

/* repl.c: `datalite DB`, the interactive shell; argv[0] is the database.
 * cli_repl_wants: whether a first argument that is no command is meant as
 * a database (it has a '/' or a '.', or names an existing file). */
int cli_repl(int argc, char **argv);
bool cli_repl_wants(const char *arg);

/* cmd_db.c: the database commands */
int cli_cmd_transact(const cli_command *self, int argc, char **argv);
int cli_cmd_stats(const cli_command *self, int argc, char **argv);
int cli_cmd_check(const cli_command *self, int argc, char **argv);
int cli_cmd_export(const cli_command *self, int argc, char **argv);
int cli_cmd_import(const cli_command *self, int argc, char **argv);
extern const char cli_help_transact[], cli_help_stats[], cli_help_check[],
	cli_help_export[], cli_help_import[];
/* Open the database at path for a command, printing the error; returns 0
 * or the exit code.  `write`: create it if missing and allow transactions. */
int cli_open_db(dl_db **out, const char *path, bool write);
/* Print a tx report as `{:tx T :tempids {"a" 1, ...} :datoms N}` and a newline
 * (what `transact` and the REPL print). */
int cli_print_tx_report(FILE *f, const dl_tx_result *r);
/* The exit code for error rc (3 for database errors, 1 otherwise). */
int cli_exit_code(int rc);

#endif
