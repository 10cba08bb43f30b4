/*
 * datalite DB: the interactive shell (REPL).
 *
 * A statement is read until its brackets balance (outside strings,
 * character literals and ; comments), then each form in it runs in turn: a
 * vector starting with :find (or a map with :find) is a query, printed in
 * the current format; any other vector or list is tx-data, transacted and
 * reported like `datalite transact`.  A line starting with '.' is a
 * dot-command (.help lists them).  Errors print
 * "error: <source>:<line>:<col>: <message>" and the session goes on.
 *
 * On a terminal, lines are edited with libedit and kept in a history file
 * ($DATALITE_HISTORY, or ~/.datalite_history).  Otherwise statements are
 * read from stdin without prompts, and the exit code says whether any of
 * them failed (1, or 3 for a database error).
 *
 * Ctrl-C.  While a query runs, the terminal is in its normal (cooked) mode,
 * so Ctrl-C raises SIGINT; the handler calls dl_stmt_cancel on the running
 * statement, which only stores an atomic flag that the executor polls, and
 * the query returns DL_ECANCELED ("canceled").  The handler may run on any
 * thread (the executor's workers too), so it counts itself in g_in_handler
 * and the statement is finalized only after it is unpublished and no
 * handler is still looking at it.  While a line is being edited, the tty
 * raises no signals (libedit's edit mode gets "-isig") and ^C is an editor
 * key instead: it drops the line (and any unfinished statement) and shows
 * a fresh prompt.
 */
#include "api/api_int.h"
#include "cli.h"
#include "output.h"
#include "query/exec.h"

#include <errno.h>
#include <histedit.h>
#include <inttypes.h>
#include <locale.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The answer behind a statement, for the output formats (api/query.c). */
const dl_qresult *dl_stmt_qresult(const dl_stmt *st);

#define PROMPT "datalite> "
#define PROMPT_MORE "     ...> "

/* ---- Ctrl-C while a statement runs -------------------------------------- */

_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "the SIGINT handler needs lock-free atomics");

static _Atomic(dl_stmt *) g_running;  /* what a SIGINT cancels, or NULL */
static atomic_int g_in_handler;        /* handlers between their load and store */
static volatile sig_atomic_t g_batch;  /* stdin is not a terminal */

static void on_sigint(int sig)
{
	int saved = errno;
	atomic_fetch_add(&g_in_handler, 1);
	dl_stmt *st = atomic_load(&g_running);
	if (st)
		dl_stmt_cancel(st);
	atomic_fetch_sub(&g_in_handler, 1);
	if (!st && g_batch) {
		/* nothing to cancel while reading a script: Ctrl-C ends the
		 * process as it would without the handler (the signal is
		 * blocked until the handler returns, then delivered) */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	errno = saved;
}

static void running_begin(dl_stmt *st) { atomic_store(&g_running, st); }

static void running_end(void)
{
	atomic_store(&g_running, (dl_stmt *)NULL);
	/* a handler that loaded the pointer before it was cleared may still
	 * be storing into the statement: wait until it is done */
	while (atomic_load(&g_in_handler))
		sched_yield();
}

/* ---- the session ---------------------------------------------------------- */

typedef struct repl {
	dl_db *db;
	cli_format fmt;
	bool timer, explain;
	dl_db_view view;    /* what queries see (.as-of) */
	char as_of[128];    /* .as-of's argument as written, "" for current */
	bool batch;         /* stdin is not a terminal */
	int status;         /* batch exit code: the worst failure */
	dl_buf pending;     /* the statement read so far */
	unsigned line;      /* stdin lines read */
	unsigned first;     /* the line the pending statement starts on */
	/* line editing */
	EditLine *el;
	History *hist;
	char *hist_path;
	bool interrupted;   /* ^C while editing: drop the line */
	bool quit;
} repl;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Print the error (or "canceled") for rc, noting the batch exit code. */
static void report(repl *R, int rc)
{
	fflush(stdout);
	if (rc == DL_ECANCELED) {
		fprintf(stderr, "canceled\n");
	} else {
		const char *msg = dl_errmsg();
		fprintf(stderr, "error: %s\n", msg[0] ? msg : dl_errstr(rc));
	}
	int code = cli_exit_code(rc);
	if (code > R->status)
		R->status = code;
}

static bool is_keyword(const dl_value *v, const char *name)
{
	if (v->type != DL_KEYWORD)
		return false;
	size_t n;
	const char *s = dl_intern_name(v->u.id, &n, NULL);
	return s && n == strlen(name) && memcmp(s, name, n) == 0;
}

/* [:find ...] or {:find ... } */
static bool is_query(const dl_value *v)
{
	if (v->type == DL_VECTOR)
		return v->len > 0 && is_keyword(&v->u.items[0], "find");
	if (v->type == DL_MAP)
		for (uint32_t i = 0; i < v->len; i++)
			if (is_keyword(&v->u.items[2 * i], "find"))
				return true;
	return false;
}

/* One form of a statement: its text and where it starts. */
typedef struct form {
	const dl_value *v;
	const char *text;
	size_t len;
	const char *source;
	unsigned line, col;
} form;

static int run_query(repl *R, const form *f, bool plan_only)
{
	/* the query parser counts from 1:1; blank space in front of the text
	 * puts its positions where the form really is */
	dl_buf q = DL_BUF_INIT, plan = DL_BUF_INIT;
	dl_stmt *st = NULL;
	dl_snapshot *snap = NULL;
	int rc = dl_buf_reserve(&q, f->line + f->col + f->len);
	for (unsigned i = 1; rc == 0 && i < f->line; i++)
		rc = dl_buf_append(&q, "\n", 1);
	for (unsigned i = 1; rc == 0 && i < f->col; i++)
		rc = dl_buf_append(&q, " ", 1);
	if (rc == 0)
		rc = dl_buf_append(&q, f->text, f->len);
	if (rc == 0)
		rc = dl_stmt_prepare(&st, q.data, q.len, f->source);
	if (rc == 0 && dl_stmt_ninputs(st))
		rc = dl_error(DL_EINVAL,
			      "%s:%u:%u: the REPL runs queries on $ alone; for :in inputs use "
			      "`datalite query DB QUERY ARG...`",
			      f->source, f->line, f->col);
	if (rc == 0)
		rc = dl_db_snapshot(&snap, R->db, &R->view);
	if (rc == 0) {
		running_begin(st);
		if (plan_only || R->explain)
			rc = dl_stmt_explain(st, snap, true, &plan);
		else
			rc = dl_stmt_step(st, snap);
		running_end();
	}
	dl_snapshot_end(snap);
	if (rc >= 0) {
		rc = 0;
		if (!plan_only) {
			dl_qresult res = *dl_stmt_qresult(st);
			dl_qresult_sort(&res);
			rc = cli_print_result(stdout, &res, R->fmt, cli_term_width(stdout));
		}
		if (rc == 0 && plan.len) {
			fwrite(plan.data, 1, plan.len, stdout);
			if (plan.data[plan.len - 1] != '\n')
				fputc('\n', stdout);
		}
	}
	dl_stmt_finalize(st);
	dl_buf_free(&q);
	dl_buf_free(&plan);
	return rc;
}

static int run_tx(repl *R, const form *f)
{
	char where[512];
	snprintf(where, sizeof where, "%s:%u:%u", f->source, f->line, f->col);
	dl_tx_result *res;
	int rc = dl_db_transact_value(&res, R->db, f->v, where);
	if (rc < 0)
		return rc;
	rc = cli_print_tx_report(stdout, res);
	dl_tx_result_free(res);
	return rc;
}

/* Run every form of text[0..len) (which starts at line:col of source), in
 * order, stopping at the first that fails.  Returns 0 or the error, which
 * has been reported. */
static int run_text(repl *R, const char *text, size_t len, const char *source, unsigned line,
		    unsigned col, bool plan_only)
{
	dl_arena a = DL_ARENA_INIT;
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	eo.source = source;
	dl_edn_reader r;
	dl_edn_reader_init(&r, text, len, &eo);
	r.line = line;
	r.col = col;
	int rc = 0;
	for (;;) {
		dl_api_skip_ws(&r);
		form f = {NULL, text + r.pos, 0, source, r.line, r.col};
		dl_value v;
		rc = dl_edn_reader_next(&r, &v, &a);
		if (rc == DL_ENOTFOUND) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		f.v = &v;
		f.len = (size_t)(text + r.pos - f.text);
		double t0 = now_ms();
		if (is_query(&v))
			rc = run_query(R, &f, plan_only);
		else if (plan_only)
			rc = dl_error(DL_EINVAL, "%s:%u:%u: .explain takes a query ([:find ...])",
				      source, f.line, f.col);
		else if (v.type == DL_VECTOR || v.type == DL_LIST)
			rc = run_tx(R, &f);
		else
			rc = dl_error(DL_EINVAL,
				      "%s:%u:%u: expected a query ([:find ...] or {:find ...}) or "
				      "tx-data (a vector of tx forms)",
				      source, f.line, f.col);
		if (rc < 0)
			break;
		if (R->timer)
			printf("Run time: %.3f ms\n", now_ms() - t0);
		dl_arena_reset(&a);
	}
	if (rc < 0)
		report(R, rc);
	fflush(stdout);
	dl_arena_free(&a);
	return rc;
}

/* ---- dot-commands ----------------------------------------------------------- */

static const char k_help[] =
	"Type a query ([:find ...] or {:find ...}) or tx-data (any other vector of\n"
	"tx forms); a statement runs once its brackets balance.  Dot-commands:\n"
	"  .help                     this text\n"
	"  .schema                   the attributes: type, cardinality, unique, flags, doc\n"
	"  .format edn|json|csv|table\n"
	"                            how query answers print (table on a terminal)\n"
	"  .timer on|off             print each statement's run time\n"
	"  .explain [on|off]         toggle printing EXPLAIN ANALYZE after each query\n"
	"  .explain QUERY            run QUERY and print its plan with actual figures\n"
	"  .as-of T                  query the database as of T (a tx id, a t, or\n"
	"                            #inst \"...\"); .as-of alone: the current database\n"
	"                            (transactions always go to the current one)\n"
	"  .read FILE                run every form in FILE (stops at the first error)\n"
	"  .quit                     leave (or Ctrl-D)\n"
	"Ctrl-C cancels a running query, or clears the line being typed.\n";

static int print_schema(repl *R)
{
	static const char *const cols[] = {"attribute", "type", "cardinality", "unique", "flags",
					   "doc"};
	enum { NC = 6 };
	dl_snapshot *s = NULL;
	dl_arena a = DL_ARENA_INIT;
	const dl_db_attr *attrs;
	size_t n = 0;
	int rc = dl_db_snapshot(&s, R->db, &R->view);
	if (rc == 0)
		rc = dl_snapshot_attrs(&attrs, &n, s);
	dl_qresult q;
	memset(&q, 0, sizeof q);
	q.find_spec = DL_FIND_REL;
	q.ordered = true;
	q.ncols = NC;
	q.colnames = (const char **)cols;
	if (rc == 0 && !(q.rows = DL_ARENA_NEW(&a, (n ? n : 1) * NC, dl_value)))
		rc = DL_ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const dl_db_attr *at = &attrs[i];
		if (at->builtin)
			continue;
		dl_value *row = &q.rows[q.nrows++ * NC];
		row[0] = at->ident;
		row[1] = at->value_type;
		const char *card = at->many ? "db.cardinality/many" : "db.cardinality/one";
		rc = dl_keyword(&row[2], card, strlen(card));
		row[3] = dl_nil();
		if (rc == 0 && at->unique) {
			const char *u = at->unique == DL_DB_UNIQUE_IDENTITY ? "db.unique/identity"
									    : "db.unique/value";
			rc = dl_keyword(&row[3], u, strlen(u));
		}
		char flags[80];
		snprintf(flags, sizeof flags, "%s%s%s%s", at->indexed ? " index" : "",
			 at->component ? " component" : "", at->no_history ? " noHistory" : "",
			 at->declared ? "" : " undeclared");
		size_t fl = strlen(flags);
		char *fs = fl ? dl_arena_strndup(&a, flags + 1, fl - 1) : NULL;
		if (fl && !fs)
			rc = DL_ENOMEM;
		row[4] = fs ? dl_string(fs, fl - 1) : dl_nil();
		row[5] = at->doc;
	}
	if (rc == 0)
		rc = cli_print_result(stdout, &q, R->fmt, cli_term_width(stdout));
	dl_snapshot_end(s);
	dl_arena_free(&a);
	return rc;
}

/* .as-of T: T is a tx id, a transaction number or #inst "..." */
static int set_as_of(repl *R, const char *arg)
{
	if (!arg[0]) {
		R->view = (dl_db_view)DL_DB_VIEW_INIT;
		R->as_of[0] = 0;
		printf("queries see the current database\n");
		return 0;
	}
	dl_arena a = DL_ARENA_INIT;
	dl_value x;
	size_t used;
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	o.source = "<as-of>";
	dl_db_view v = DL_DB_VIEW_INIT;
	v.kind = DL_DB_AS_OF;
	int rc = dl_edn_read(&x, &used, &a, arg, strlen(arg), &o);
	if (rc == 0 && (x.type == DL_INT || x.type == DL_INST) && used == strlen(arg)) {
		v.t = x.u.i;
		v.t_is_inst = x.type == DL_INST;
	} else if (rc == 0) {
		rc = dl_error(DL_EINVAL,
			      "<as-of>: a point in time is a tx id, a t, or #inst \"...\", not %s",
			      arg);
	}
	dl_arena_free(&a);
	dl_snapshot *s = NULL;
	if (rc == 0)
		rc = dl_db_snapshot(&s, R->db, &v);
	if (rc == 0) {
		int64_t tx = dl_snapshot_view(s).t;
		R->view = v;
		snprintf(R->as_of, sizeof R->as_of, "%s", arg);
		if (tx)
			printf("queries see the database as of tx %" PRId64 "\n", tx);
		else
			printf("queries see the database as of before its first transaction\n");
	}
	dl_snapshot_end(s);
	return rc;
}

static bool on_off(const char *arg, bool *out)
{
	if (strcmp(arg, "on") == 0)
		*out = true;
	else if (strcmp(arg, "off") == 0)
		*out = false;
	else
		return false;
	return true;
}

static void usage_msg(repl *R, const char *msg)
{
	fflush(stdout);
	fprintf(stderr, "error: %s\n", msg);
	if (R->status < CLI_EXIT_USER)
		R->status = CLI_EXIT_USER;
}

/* Run the dot-command in text (NUL-terminated, one line, or more for
 * .explain QUERY); `line` is where it starts. */
static void dot_command(repl *R, char *text, unsigned line)
{
	char *p = text;
	while (*p == ' ' || *p == '\t')
		p++;
	char *name = p;
	while (*p && *p != ' ' && *p != '\t' && *p != '\n')
		p++;
	size_t nlen = (size_t)(p - name);
	while (*p == ' ' || *p == '\t')
		p++;
	char *arg = p;
	size_t alen = strlen(arg);
	while (alen && (arg[alen - 1] == '\n' || arg[alen - 1] == ' ' || arg[alen - 1] == '\t' ||
			arg[alen - 1] == '\r'))
		arg[--alen] = 0;
#define IS(s) (nlen == strlen(s) && memcmp(name, s, nlen) == 0)
	int rc = 0;
	if (IS(".quit") || IS(".exit")) {
		R->quit = true;
	} else if (IS(".help")) {
		fputs(k_help, stdout);
	} else if (IS(".schema")) {
		rc = print_schema(R);
	} else if (IS(".format")) {
		if (!arg[0])
			printf("%s\n", (const char *[]){"edn", "json", "csv", "table"}[R->fmt]);
		else if (cli_format_parse(&R->fmt, arg) < 0)
			usage_msg(R, ".format takes edn, json, csv or table");
	} else if (IS(".timer")) {
		if (!arg[0])
			printf("timer is %s\n", R->timer ? "on" : "off");
		else if (!on_off(arg, &R->timer))
			usage_msg(R, ".timer takes on or off");
	} else if (IS(".explain")) {
		if (!arg[0]) {
			R->explain = !R->explain;
			printf("explain is %s\n", R->explain ? "on" : "off");
		} else if (!on_off(arg, &R->explain)) {
			unsigned col = (unsigned)(arg - text) + 1;
			run_text(R, arg, alen, "<stdin>", line, col, true);
			return;
		}
	} else if (IS(".as-of")) {
		rc = set_as_of(R, arg);
	} else if (IS(".read")) {
		if (!arg[0]) {
			usage_msg(R, ".read takes a file name");
		} else {
			size_t len;
			char *t = cli_read_file(arg, &len);
			if (!t) {
				if (R->status < CLI_EXIT_USER)
					R->status = CLI_EXIT_USER;
			} else {
				run_text(R, t, len, arg, 1, 1, false);
				free(t);
			}
		}
	} else {
		char msg[160];
		snprintf(msg, sizeof msg, "unknown command '%.*s' (.help lists them)",
			 (int)(nlen > 100 ? 100 : nlen), name);
		usage_msg(R, msg);
	}
#undef IS
	if (rc < 0)
		report(R, rc);
	fflush(stdout);
}

/* ---- reading statements ------------------------------------------------------ */

enum { ST_EMPTY, ST_MORE, ST_DONE };

/* Whether s[0..n) is a whole statement: its brackets balance outside
 * strings, character literals (\[) and ; comments.  Too many closing
 * brackets count as done (the reader then says what is wrong). */
static int statement_state(const char *s, size_t n)
{
	long depth = 0;
	bool content = false;
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case ';':
			while (i + 1 < n && s[i + 1] != '\n')
				i++;
			break;
		case '"':
			content = true;
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			if (i >= n)
				return ST_MORE; /* inside a string */
			break;
		case '\\':
			content = true;
			i++; /* the character it names */
			break;
		case '(': case '[': case '{':
			content = true;
			depth++;
			break;
		case ')': case ']': case '}':
			content = true;
			depth--;
			break;
		case ' ': case '\t': case '\n': case '\r': case ',': case '\f': case '\v':
			break;
		default:
			content = true;
		}
	}
	if (!content)
		return ST_EMPTY;
	return depth > 0 ? ST_MORE : ST_DONE;
}

static char *prompt_fn(EditLine *el)
{
	repl *R = NULL;
	el_get(el, EL_CLIENTDATA, &R);
	return R && R->pending.len ? PROMPT_MORE : PROMPT;
}

/* ^C while editing: show it, end the line, and have it dropped. */
static unsigned char on_ctrl_c(EditLine *el, int ch)
{
	repl *R = NULL;
	el_get(el, EL_CLIENTDATA, &R);
	R->interrupted = true;
	const LineInfo *li = el_line(el);
	el_cursor(el, (int)(li->lastchar - li->cursor));
	el_insertstr(el, "^C");
	el_push(el, "\n");
	return CC_REFRESH;
}

static char *history_file(void)
{
	const char *env = getenv("DATALITE_HISTORY");
	if (env)
		return env[0] ? strdup(env) : NULL; /* set but empty: no history file */
	const char *home = getenv("HOME");
	if (!home || !home[0]) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return NULL;
	size_t n = strlen(home) + sizeof "/.datalite_history";
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/.datalite_history", home);
	return p;
}

static int editor_open(repl *R)
{
	HistEvent ev;
	R->hist = history_init();
	if (!R->hist)
		return -1;
	history(R->hist, &ev, H_SETSIZE, 1000);
	history(R->hist, &ev, H_SETUNIQUE, 1);
	R->hist_path = history_file();
	if (R->hist_path)
		history(R->hist, &ev, H_LOAD, R->hist_path); /* a missing file is fine */
	/* the editor draws on stdout, or on stderr when stdout is redirected */
	FILE *out = isatty(STDOUT_FILENO) ? stdout : stderr;
	R->el = el_init("datalite", stdin, out, stderr);
	if (!R->el)
		return -1;
	el_set(R->el, EL_CLIENTDATA, R);
	el_set(R->el, EL_EDITOR, "emacs");
	el_set(R->el, EL_SIGNAL, 1);
	el_set(R->el, EL_HIST, history, R->hist);
	el_set(R->el, EL_PROMPT, prompt_fn);
	el_source(R->el, NULL); /* ~/.editrc, if any */
	/* while editing, ^C is a key (not SIGINT) that drops the line */
	el_set(R->el, EL_SETTY, "-d", "-isig", NULL);
	/* (the wide call: the narrow one copies the two names and leaks them) */
	el_wset(R->el, EL_ADDFN, L"datalite-interrupt", L"drop the line being edited", on_ctrl_c);
	el_set(R->el, EL_BIND, "^C", "datalite-interrupt", NULL);
	/* libedit puts the terminal in raw mode only when it reads the first
	 * key, after drawing the prompt; in between (and while a statement
	 * runs) the terminal is canonical, and a ^D typed then reaches us as
	 * the kernel's end-of-file marker, a NUL byte.  Make NUL mean what ^D
	 * means, or a typed-ahead ^D would be lost and the session would not
	 * end (^@ loses its emacs set-mark). */
	el_set(R->el, EL_BIND, "^@", "em-delete-or-list", NULL);
	return 0;
}

static void editor_close(repl *R)
{
	if (R->el)
		el_end(R->el);
	if (R->hist)
		history_end(R->hist);
	free(R->hist_path);
}

static void remember(repl *R, const char *text, size_t len)
{
	if (!R->hist)
		return;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	char *s = malloc(len + 1);
	if (!s)
		return;
	memcpy(s, text, len);
	s[len] = 0;
	HistEvent ev;
	history(R->hist, &ev, H_ENTER, s);
	free(s);
	if (R->hist_path) {
		mode_t old = umask(077); /* the history is the user's alone */
		history(R->hist, &ev, H_SAVE, R->hist_path);
		umask(old);
	}
}

/* The next line (with its newline), or NULL at the end of input. */
static const char *next_line(repl *R, char **buf, size_t *cap, size_t *len)
{
	fflush(stdout);
	if (R->batch) {
		ssize_t n = getline(buf, cap, stdin);
		if (n < 0)
			return NULL;
		*len = (size_t)n;
		return *buf;
	}
	int n = 0;
	errno = 0;
	const char *s = el_gets(R->el, &n);
	if (n < 0 && errno == EINTR) {
		/* a signal from elsewhere (kill -INT) while editing: drop the
		 * line as ^C does */
		fputc('\n', stdout);
		R->interrupted = true;
		*len = 0;
		return "";
	}
	if (!s || n <= 0)
		return NULL;
	*len = (size_t)n;
	return s;
}

static void loop(repl *R)
{
	char *buf = NULL;
	size_t cap = 0, len;
	const char *line;
	while (!R->quit && (line = next_line(R, &buf, &cap, &len))) {
		if (R->interrupted) { /* ^C: forget the line and the statement */
			R->interrupted = false;
			R->pending.len = 0;
			continue;
		}
		unsigned lines = 0;
		for (size_t i = 0; i < len; i++)
			lines += line[i] == '\n';
		if (R->pending.len == 0)
			R->first = R->line + 1;
		R->line += lines ? lines : 1;
		if (dl_buf_append(&R->pending, line, len) || dl_buf_append(&R->pending, "", 1)) {
			report(R, DL_ENOMEM);
			R->pending.len = 0;
			continue;
		}
		R->pending.len--; /* keep the NUL after the text */
		const char *p = R->pending.data;
		while (*p == ' ' || *p == '\t')
			p++;
		bool dot = *p == '.';
		int state = dot ? (strncmp(p, ".explain", 8) == 0
					   ? statement_state(p + 8, R->pending.len - (size_t)(p + 8 - R->pending.data))
					   : ST_DONE)
				: statement_state(R->pending.data, R->pending.len);
		if (state == ST_MORE)
			continue;
		if (state == ST_DONE || dot) {
			remember(R, R->pending.data, R->pending.len);
			if (dot)
				dot_command(R, R->pending.data, R->first);
			else
				run_text(R, R->pending.data, R->pending.len, "<stdin>", R->first, 1, false);
		}
		R->pending.len = 0;
	}
	/* the end of input in the middle of a statement: run it for its error */
	if (!R->quit && R->pending.len) {
		const char *p = R->pending.data;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '.')
			dot_command(R, R->pending.data, R->first);
		else
			run_text(R, R->pending.data, R->pending.len, "<stdin>", R->first, 1, false);
	} else if (!R->quit && !R->batch)
		fputc('\n', stdout); /* Ctrl-D: end the prompt's line */
	free(buf);
}

/* ---- entry points --------------------------------------------------------- */

bool cli_repl_wants(const char *arg)
{
	if (!arg[0] || arg[0] == '-')
		return false;
	/* a path: has a '/' or a '.' in it, or names an existing file */
	return strchr(arg, '/') || strchr(arg, '.') || access(arg, F_OK) == 0;
}

static const char k_repl_usage[] =
	"usage: datalite DB\n\n"
	"Open an interactive session on DB (created if it is missing).  On a terminal,\n"
	"lines are edited with history ($DATALITE_HISTORY, or ~/.datalite_history);\n"
	"otherwise statements are read from stdin, and the exit code is 1 (3 for a\n"
	"database error) if any failed.\n\n";

int cli_repl(int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		fputs(k_repl_usage, stdout);
		fputs(k_help, stdout);
		return CLI_EXIT_OK;
	}
	if (argc != 1) {
		fprintf(stderr, "datalite: the REPL takes just a database\n%s", k_repl_usage);
		return CLI_EXIT_USAGE;
	}
	repl R;
	memset(&R, 0, sizeof R);
	R.view = (dl_db_view)DL_DB_VIEW_INIT;
	R.fmt = cli_format_default(stdout);
	R.batch = !isatty(STDIN_FILENO);
	R.pending = (dl_buf)DL_BUF_INIT;
	int code = cli_open_db(&R.db, argv[0], true);
	if (code)
		return code;
	g_batch = R.batch;
	struct sigaction sa, old_sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	if (!R.batch) {
		setlocale(LC_CTYPE, ""); /* UTF-8 input in the editor */
		if (editor_open(&R) < 0) {
			fprintf(stderr, "datalite: cannot start the line editor; reading without it\n");
			editor_close(&R);
			R.el = NULL;
			R.hist = NULL;
			R.hist_path = NULL;
			R.batch = true;
			g_batch = 1;
		} else {
			printf("datalite %s on %s: .help for help, .quit (or Ctrl-D) to leave\n",
			       dl_version(), argv[0]);
		}
	}
	loop(&R);
	fflush(stdout);
	sigaction(SIGINT, &old_sa, NULL);
	editor_close(&R);
	dl_buf_free(&R.pending);
	dl_db_close(R.db);
	return R.batch ? R.status : CLI_EXIT_OK;
}
