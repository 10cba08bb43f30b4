/*
 * datalite query / explain / pull: run a query (EDN text or @file) with its
 * inputs, print its plan (EXPLAIN) or plan with actual figures (EXPLAIN
 * ANALYZE), or pull one entity -- all through the public API (dl_stmt,
 * dl_snapshot_pull) on a snapshot of the view the options ask for.
 * `query --bench N` times N runs of the query after a warm-up, each as an
 * application's query would run: prepared from its text, inputs bound from
 * their EDN, planned, executed and stepped through every row.
 */
#include "api/api_int.h"
#include "cli.h"
#include "output.h"
#include "query/exec.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	int threads;  /* 0: the engine's default */
	int bench;    /* timed runs; 0: just run */
	bool analyze;
} qargs;

typedef enum qmode { QM_QUERY, QM_EXPLAIN, QM_PULL } qmode;

/* A positive count from an option's value no larger than max; -1 if not. */
static long parse_count(const char *text, long max)
{
	char *end;
	long n = strtol(text, &end, 10);
	return *text && !*end && n > 0 && n <= max ? n : -1;
}

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

static int parse_args(qargs *qa, const cli_command *self, int argc, char **argv, qmode mode)
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
		} else if (mode == QM_EXPLAIN && !strcmp(s, "--analyze")) {
			qa->analyze = true;
		} else if (mode != QM_PULL && !strcmp(s, "--threads") && has_next) {
			long n = parse_count(argv[++i], DL_MAX_THREADS);
			if (n < 0) {
				char msg[96];
				snprintf(msg, sizeof msg, "--threads takes a number from 1 to %d, not '%s'",
					 DL_MAX_THREADS, argv[i]);
				return cli_usage_error(self, msg);
			}
			qa->threads = (int)n;
		} else if (mode == QM_QUERY && !strcmp(s, "--bench") && has_next) {
			long n = parse_count(argv[++i], 1000000);
			if (n < 0) {
				char msg[120];
				snprintf(msg, sizeof msg,
					 "--bench takes a number of runs from 1 to 1000000, not '%s'", argv[i]);
				return cli_usage_error(self, msg);
			}
			qa->bench = (int)n;
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

/* A statement for the query text with the command line's inputs, timeout
 * and threads: what every run of the query starts from. */
static int prepare(dl_stmt **st, const qargs *qa, const char *text, size_t len,
		   const char *source)
{
	int rc = dl_stmt_prepare(st, text, len, source);
	if (rc)
		return rc;
	if ((unsigned)qa->nargs != dl_stmt_ninputs(*st))
		return dl_error(DL_EINVAL, "%s: the query takes %u input%s after $ (:in), got %d",
				source, dl_stmt_ninputs(*st), dl_stmt_ninputs(*st) == 1 ? "" : "s",
				qa->nargs);
	for (int i = 0; i < qa->nargs; i++)
		if ((rc = dl_stmt_bind_edn(*st, (unsigned)i, qa->args[i], strlen(qa->args[i]))))
			return rc;
	dl_stmt_set_timeout(*st, qa->timeout_ms);
	dl_stmt_set_threads(*st, qa->threads);
	return 0;
}

/* Run *st on snap to the end of its answer; *rows gets the rows stepped. */
static int step_all(size_t *rows, dl_stmt *st, dl_snapshot *snap)
{
	int rc;
	*rows = 0;
	while ((rc = dl_stmt_step(st, snap)) == DL_ROW)
		(*rows)++;
	return rc == DL_DONE ? 0 : rc;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* --bench: *st (prepared) runs once to warm up, then qa->bench times, each
 * from the text again (bench/bench_query.c's run: parse, bind, plan,
 * execute, every row), all on snap.  *st is left holding the last answer
 * and the figures line goes to stderr. */
static int bench(dl_stmt **st, const qargs *qa, dl_snapshot *snap, const char *text,
		 size_t len, const char *source)
{
	size_t rows;
	int rc = step_all(&rows, *st, snap);
	double *ms = malloc((size_t)qa->bench * sizeof *ms);
	if (!ms && !rc)
		rc = dl_error(DL_ENOMEM, "out of memory for %d run times", qa->bench);
	for (int r = 0; r < qa->bench && !rc; r++) {
		dl_stmt_finalize(*st);
		*st = NULL;
		double t0 = now_ms();
		if (!(rc = prepare(st, qa, text, len, source)))
			rc = step_all(&rows, *st, snap);
		ms[r] = now_ms() - t0;
	}
	if (!rc) {
		int n = qa->bench;
		qsort(ms, (size_t)n, sizeof *ms, cmp_double);
		double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
		fprintf(stderr, "bench: %d runs, median %.3f ms, min %.3f ms, max %.3f ms, rows %zu\n", n,
			median, ms[0], ms[n - 1], rows);
	}
	free(ms);
	return rc;
}

static int run_query(const cli_command *self, int argc, char **argv, qmode mode)
{
	qargs qa;
	int ex = parse_args(&qa, self, argc, argv, mode);
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
	if ((rc = prepare(&st, &qa, text ? text : qa.query, len, source)))
		goto fail;
	if ((ex = open_snapshot(&db, &snap, &qa)))
		goto done;
	if (mode == QM_EXPLAIN) {
		if ((rc = dl_stmt_explain(st, snap, qa.analyze, &out)))
			goto fail;
		fwrite(out.data, 1, out.len, stdout);
		goto done;
	}
	if (qa.bench)
		rc = bench(&st, &qa, snap, text ? text : qa.query, len, source);
	else
		rc = dl_stmt_step(st, snap);
	if (rc < 0)
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
	"  --timeout MS                  give up after MS milliseconds (each run, with --bench)\n"
	"  --threads N                   worker threads for parallel steps (nested q), 1-16;\n"
	"                                default: one per processor\n"
	"  --bench N                     time N runs after one warm-up, all on one snapshot;\n"
	"                                each prepares, plans and runs the query from its text\n"
	"                                and steps every row.  The answer prints once; stderr\n"
	"                                gets one line:\n"
	"                                bench: N runs, median X ms, min Y ms, max Z ms, rows R\n"
	"\nexample:\n"
	"  datalite query my.db '[:find ?n :in $ ?min :where [?e :age ?a] [(> ?a ?min)] [?e :name ?n]]' 30\n"
	"  datalite query my.db --bench 20 --format csv '[:find ?e :where [?e :age 30]]' >/dev/null\n";

const char cli_help_explain[] =
	"Print the plan the query would run: for each step the strategy (scan,\n"
	"index-nested-loop, merge, scan+hash-probe, filter, function, subquery,\n"
	"anti-join, union, rule), the index, and estimated rows and cost (datoms read).\n"
	"With --analyze the query runs and each step also shows actual rows, datoms\n"
	"scanned and milliseconds (rule calls: tuples derived and rounds).  Takes the\n"
	"options of `datalite query` but --bench.\n";

const char cli_help_pull[] =
	"PATTERN is a pull pattern as EDN ([:person/name {:person/friend [*]}], with\n"
	":as :limit :default options and recursion ... or a depth).  The entity is an\n"
	"id, an ident keyword or a lookup ref [:attr value].  Prints the map as EDN\n"
	"(or JSON with --format json).  Takes --as-of, --since and --history.\n";

int cli_cmd_query(const cli_command *self, int argc, char **argv)
{
	return run_query(self, argc, argv, QM_QUERY);
}

int cli_cmd_explain(const cli_command *self, int argc, char **argv)
{
	return run_query(self, argc, argv, QM_EXPLAIN);
}

int cli_cmd_pull(const cli_command *self, int argc, char **argv)
{
	qargs qa;
	int ex = parse_args(&qa, self, argc, argv, QM_PULL);
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
