/*
 * datalite query / explain / pull: run a query (EDN text or @file) with its
 * inputs, print its plan (EXPLAIN) or plan with actual figures (EXPLAIN
 * ANALYZE), or pull one entity -- all through the public API (dl_stmt,
 * dl_snapshot_pull) on a snapshot of the view the options ask for.
 */
#include "api/api_int.h"
#include "cli.h"
#include "output.h"
#include "query/exec.h"

#include <stdlib.h>
#include <string.h>

/* The answer behind a statement, for the output formats (api/query.c). */
const dl_qresult *dl_stmt_qresult(const dl_stmt *st);

typedef struct qargs {
	const char *db;
	const char *query;
	const char **args;
	int nargs;
	cli_format format;
	dl_db_view view;
	const char *t_arg;
	int64_t timeout_ms;
	bool analyze;
} qargs;

/* T of --as-of / --since: a tx id, a transaction number, or #inst "...". */
static int parse_t(dl_db_view *v, const char *text)
{
	dl_arena a = DL_ARENA_INIT;
	dl_value x;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	o.source = "<T>";
	int rc = dl_edn_read(&x, &used, &a, text, strlen(text), &o);
	if (rc == 0 && x.type == DL_INT) {
		v->t = x.u.i;
	} else if (rc == 0 && x.type == DL_INST) {
		v->t = x.u.i;
		v->t_is_inst = true;
	} else if (rc == 0) {
		rc = dl_error(DL_EINVAL, "<T>: a point in time is a tx id, a t, or #inst \"...\", not %s",
			      text);
	}
	dl_arena_free(&a);
	return rc;
}

static int parse_args(qargs *qa, const cli_command *self, int argc, char **argv, bool explain)
{
	memset(qa, 0, sizeof *qa);
	qa->format = cli_format_default(stdout);
	qa->view = (dl_db_view)DL_DB_VIEW_INIT;
	qa->args = calloc((size_t)argc + 1, sizeof *qa->args);
	if (!qa->args)
		return cli_usage_error(self, "out of memory");
	int pos = 0;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		bool has_next = i + 1 < argc;
		if (!strcmp(s, "--format") && has_next) {
			if (cli_format_parse(&qa->format, argv[++i]))
				return cli_usage_error(self, "--format takes edn, json, csv or table");
		} else if (!strcmp(s, "--as-of") && has_next) {
			qa->view.kind = DL_DB_AS_OF;
			qa->t_arg = argv[++i];
		} else if (!strcmp(s, "--since") && has_next) {
			qa->view.kind = DL_DB_SINCE;
			qa->t_arg = argv[++i];
		} else if (!strcmp(s, "--history")) {
			qa->view.kind = DL_DB_HISTORY;
		} else if (!strcmp(s, "--timeout") && has_next) {
			char *end;
			long long t = strtoll(argv[++i], &end, 10);
			if (*end || t <= 0)
				return cli_usage_error(self,
						       "--timeout takes a positive number of milliseconds");
			qa->timeout_ms = t;
		} else if (explain && !strcmp(s, "--analyze")) {
			qa->analyze = true;
		} else if (s[0] == '-' && s[1] == '-') {
			char msg[160];
			snprintf(msg, sizeof msg, "unknown or incomplete option '%s'", s);
			return cli_usage_error(self, msg);
		} else if (pos == 0) {
			qa->db = s;
			pos++;
		} else if (pos == 1) {
			qa->query = s;
			pos++;
		} else {
			qa->args[qa->nargs++] = s;
		}
	}
	if (!qa->db || !qa->query)
		return cli_usage_error(self, "a database and a query are required");
	return 0;
}

/* Open db and a snapshot of the asked view; 0 or an exit code. */
static int open_snapshot(dl_db **db, dl_snapshot **snap, const qargs *qa)
{
	int code = cli_open_db(db, qa->db, false);
	if (code)
		return code;
	dl_db_view v = qa->view;
	int rc = qa->t_arg ? parse_t(&v, qa->t_arg) : 0;
	if (!rc)
		rc = dl_db_snapshot(snap, *db, &v);
	return rc ? cli_report_error(rc) : 0;
}

static int run_query(const cli_command *self, int argc, char **argv, bool explain)
{
	qargs qa;
	int ex = parse_args(&qa, self, argc, argv, explain);
	if (ex) {
		free(qa.args);
		return ex;
	}
	dl_db *db = NULL;
	dl_snapshot *snap = NULL;
	dl_stmt *st = NULL;
	char *text = NULL;
	dl_buf out = DL_BUF_INIT;
	int rc;
	const char *source = "<query>";
	size_t len;
	if (qa.query[0] == '@') {
		source = qa.query + 1;
		text = cli_read_file(source, &len);
		if (!text) {
			fprintf(stderr, "error: cannot read %s\n", source);
			ex = CLI_EXIT_USER;
			goto done;
		}
	} else {
		len = strlen(qa.query);
	}
	/* the query and its inputs first: bad text never opens the database */
	if ((rc = dl_stmt_prepare(&st, text ? text : qa.query, len, source)))
		goto fail;
	if ((unsigned)qa.nargs != dl_stmt_ninputs(st)) {
		rc = dl_error(DL_EINVAL, "%s: the query takes %u input%s after $ (:in), got %d",
			      source, dl_stmt_ninputs(st), dl_stmt_ninputs(st) == 1 ? "" : "s",
			      qa.nargs);
		goto fail;
	}
	for (int i = 0; i < qa.nargs; i++)
		if ((rc = dl_stmt_bind_edn(st, (unsigned)i, qa.args[i], strlen(qa.args[i]))))
			goto fail;
	dl_stmt_set_timeout(st, qa.timeout_ms);
	if ((ex = open_snapshot(&db, &snap, &qa)))
		goto done;
	if (explain) {
		if ((rc = dl_stmt_explain(st, snap, qa.analyze, &out)))
			goto fail;
		fwrite(out.data, 1, out.len, stdout);
		goto done;
	}
	if ((rc = dl_stmt_step(st, snap)) < 0)
		goto fail;
	dl_qresult res = *dl_stmt_qresult(st);
	dl_qresult_sort(&res);
	if ((rc = cli_print_result(stdout, &res, qa.format, cli_term_width(stdout))))
		goto fail;
	goto done;
fail:
	ex = cli_report_error(rc);
done:
	dl_stmt_finalize(st);
	dl_snapshot_end(snap);
	if (db)
		dl_db_close(db);
	dl_buf_free(&out);
	free(text);
	free(qa.args);
	return ex;
}

const char cli_help_query[] =
	"QUERY is EDN text (vector or map form) or @FILE.  Each ARG is EDN text bound in\n"
	"order to the :in inputs after $ (for % it is the rules vector).\n"
	"\noptions (anywhere on the line):\n"
	"  --format edn|json|csv|table   output format (table on a terminal, edn otherwise)\n"
	"  --as-of T                     the database as of T (a tx id, a t, or #inst \"...\")\n"
	"  --since T                     only datoms asserted after T\n"
	"  --history                     every assertion and retraction\n"
	"  --timeout MS                  give up after MS milliseconds\n"
	"\nexample:\n"
	"  datalite query my.db '[:find ?n :in $ ?min :where [?e :age ?a] [(> ?a ?min)] [?e :name ?n]]' 30\n";

const char cli_help_explain[] =
	"Print the plan the query would run: for each step the strategy (scan,\n"
	"index-nested-loop, merge, scan+hash-probe, filter, function, subquery,\n"
	"anti-join, union, rule), the index, and estimated rows and cost (datoms read).\n"
	"With --analyze the query runs and each step also shows actual rows, datoms\n"
	"scanned and milliseconds (rule calls: tuples derived and rounds).  Takes the\n"
	"options of `datalite query`.\n";

const char cli_help_pull[] =
	"PATTERN is a pull pattern as EDN ([:person/name {:person/friend [*]}], with\n"
	":as :limit :default options and recursion ... or a depth).  The entity is an\n"
	"id, an ident keyword or a lookup ref [:attr value].  Prints the map as EDN\n"
	"(or JSON with --format json).  Takes --as-of, --since and --history.\n";

int cli_cmd_query(const cli_command *self, int argc, char **argv)
{
	return run_query(self, argc, argv, false);
}

int cli_cmd_explain(const cli_command *self, int argc, char **argv)
{
	return run_query(self, argc, argv, true);
}

int cli_cmd_pull(const cli_command *self, int argc, char **argv)
{
	qargs qa;
	int ex = parse_args(&qa, self, argc, argv, false);
	if (ex) {
		free(qa.args);
		return ex;
	}
	if (qa.nargs != 1) {
		free(qa.args);
		return cli_usage_error(self, "a database, a pattern and an entity are required");
	}
	dl_arena a = DL_ARENA_INIT;
	dl_db *db = NULL;
	dl_snapshot *snap = NULL;
	dl_buf out = DL_BUF_INIT;
	dl_value pattern, ref, res;
	size_t used;
	dl_edn_opts po = DL_EDN_OPTS_INIT, eo = DL_EDN_OPTS_INIT;
	po.source = "<pattern>";
	eo.source = "<entity>";
	int rc = dl_edn_read(&pattern, &used, &a, qa.query, strlen(qa.query), &po);
	if (!rc)
		rc = dl_edn_read(&ref, &used, &a, qa.args[0], strlen(qa.args[0]), &eo);
	if (rc)
		goto fail;
	if ((ex = open_snapshot(&db, &snap, &qa)))
		goto done;
	if ((rc = dl_snapshot_pull(&res, &a, snap, &pattern, &ref)))
		goto fail;
	cli_format f = qa.format == CLI_FMT_JSON ? CLI_FMT_JSON : CLI_FMT_EDN;
	if ((rc = cli_format_value(&out, &res, f)) || (rc = dl_buf_puts(&out, "\n")))
		goto fail;
	fwrite(out.data, 1, out.len, stdout);
	goto done;
fail:
	ex = cli_report_error(rc);
done:
	dl_snapshot_end(snap);
	if (db)
		dl_db_close(db);
	dl_buf_free(&out);
	dl_arena_free(&a);
	free(qa.args);
	return ex;
}
