/*
 * The datalite command-line tool.  Each command is one entry in k_commands;
 * exit codes follow the CLI contract: 0 success, 1 user error (bad EDN,
 * query or tx-data), 2 usage, 3 database error.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_command k_commands[] = {
	{"demo", cli_cmd_demo, "demo", "Run the built-in example and show its output.", NULL},
	{"edn", cli_cmd_edn, "edn [FILE|-]",
	 "Read EDN (a file, or stdin) and print it back canonically, one form per line.", NULL},
	{"gen", cli_cmd_gen, "gen KIND [OPTIONS]", "Write benchmark data (ohlc, social, graph, genealogy) as EDN or CSV; 'datalite gen' lists the options.", NULL},
	{"transact", cli_cmd_transact, "transact DB [FILE|-]",
	 "Apply EDN tx-data (each top-level vector is one transaction) and print each tx report.",
	 cli_help_transact},
	{"query", cli_cmd_query, "query DB QUERY [ARG...] [--format F] [--bench N]",
	 "Run a query and print its answer (edn, json, csv or table); --bench N times it.",
	 cli_help_query},
	{"pull", cli_cmd_pull, "pull DB PATTERN EID-OR-LOOKUP-REF",
	 "Pull one entity with a pull pattern and print the map.", cli_help_pull},
	{"explain", cli_cmd_explain, "explain DB [--analyze] QUERY [ARG...]",
	 "Print the query plan; with --analyze, run it and show actual figures per step.",
	 cli_help_explain},
	{"import", cli_cmd_import, "import DB [--map M] FILE...",
	 "Bulk-load EDN tx-data or CSV files, with progress and a summary.", cli_help_import},
	{"export", cli_cmd_export, "export DB",
	 "Write the database as EDN tx-data (schema, then entities) that re-imports to an equal one.",
	 cli_help_export},
	{"stats", cli_cmd_stats, "stats DB", "Show totals and per-attribute statistics and schema.",
	 cli_help_stats},
	{"check", cli_cmd_check, "check DB",
	 "Verify that all indexes, the history and the log agree (exit 3 if not).", cli_help_check},
};

#define N_COMMANDS (sizeof k_commands / sizeof *k_commands)

static void usage(FILE *f)
{
	fprintf(f, "usage: datalite COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const cli_command *c = &k_commands[i];
		if (strlen(c->usage) > 28) /* a long usage gets a line of its own */
			fprintf(f, "  %s\n  %-28s %s\n", c->usage, "", c->help);
		else
			fprintf(f, "  %-28s %s\n", c->usage, c->help);
	}
	fprintf(f, "  %-28s %s\n", "DB", "Open an interactive session (REPL) on the database DB.");
	fprintf(f, "\n  --help                       this text (or COMMAND --help)\n"
		   "  --version                    print the version\n"
		   "\nexit codes: 0 success, 1 user error (bad EDN, query or tx-data), 2 usage,\n"
		   "3 database error (locked, corrupt, I/O, full)\n");
}

int cli_usage_error(const cli_command *cmd, const char *msg)
{
	fprintf(stderr, "datalite %s: %s\nusage: datalite %s\n", cmd->name, msg, cmd->usage);
	return CLI_EXIT_USAGE;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int cli_report_error(int rc)
{
	const char *msg = dl_errmsg();
	fprintf(stderr, "error: %s\n", msg[0] ? msg : dl_errstr(rc));
	switch (rc) {
	case DL_EIO:
	case DL_ECORRUPT:
	case DL_EFULL:
	case DL_EBUSY:
		return CLI_EXIT_DB;
	default:
		return CLI_EXIT_USER;
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("datalite %s\n", dl_version());
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const cli_command *c = &k_commands[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (cli_wants_help(argc - 1, argv + 1)) {
			printf("usage: datalite %s\n\n%s\n", c->usage, c->help);
			if (c->details)
				printf("\n%s", c->details);
			return 0;
		}
		return c->run(c, argc - 1, argv + 1);
	}
	if (cli_repl_wants(argv[1]))
		return cli_repl(argc - 1, argv + 1);
	fprintf(stderr, "datalite: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
