/*
 * The REPL (`datalite DB`) driven through a pseudo-terminal: a transaction
 * then a query, multi-line input, history across sessions (Up-arrow, and the
 * history file), .timer, .format, .schema, .as-of, .explain, .help, an
 * error that keeps the session alive, Ctrl-C at the prompt and on a long
 * query, .read, Ctrl-D and .quit; then the REPL reading a script from a
 * pipe.
 *
 *   test_repl path/to/datalite [TMPDIR]
 *
 * Prints one line per failure and a closing "N passed, N failed" line;
 * exits non-zero if anything failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 30000 /* for anything but Ctrl-C (ASan builds are slow) */

static const char *g_dl;
static char g_dir[4096];
static int g_pass, g_fail;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	if (ok) {
		g_pass++;
		return;
	}
	g_fail++;
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", g_dir, name);
}

/* ---- a session on a pty ---------------------------------------------------- */

typedef struct sess {
	pid_t pid;
	int fd;
	char *out; /* everything read, NUL-terminated */
	size_t len, cap;
	size_t mark; /* expect() searches from here */
	bool eof;
} sess;

static void sess_start(sess *s, const char *db)
{
	memset(s, 0, sizeof *s);
	s->cap = 1 << 16;
	s->out = calloc(1, s->cap);
	if (!s->out)
		abort();
	struct winsize ws = {.ws_row = 40, .ws_col = 100};
	char hist[4200];
	path(hist, sizeof hist, "history");
	s->pid = forkpty(&s->fd, NULL, NULL, &ws);
	if (s->pid < 0) {
		perror("forkpty");
		exit(2);
	}
	if (s->pid == 0) {
		setenv("TERM", "xterm", 1);
		setenv("HOME", g_dir, 1); /* no ~/.editrc of the user's */
		setenv("DATALITE_HISTORY", hist, 1);
		unsetenv("COLUMNS");
		unsetenv("LINES");
		unsetenv("EDITRC");
		execl(g_dl, g_dl, db, (char *)NULL);
		perror("exec");
		_exit(127);
	}
}

/* Read what arrives within ms milliseconds, returning after the first
 * chunk. */
static void sess_read(sess *s, int ms)
{
	double end = now_ms() + ms;
	while (!s->eof) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			break;
		struct pollfd p = {s->fd, POLLIN, 0};
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (s->len + 4097 > s->cap) {
			s->cap *= 2;
			s->out = realloc(s->out, s->cap);
			if (!s->out)
				abort();
		}
		ssize_t n = read(s->fd, s->out + s->len, 4096);
		if (n <= 0) { /* EIO: the child has gone */
			s->eof = true;
			break;
		}
		s->len += (size_t)n;
		s->out[s->len] = 0;
		return; /* let the caller look at it */
	}
}

/* Read for ms milliseconds. */
static void sess_pause(sess *s, int ms)
{
	double end = now_ms() + ms;
	while (!s->eof && now_ms() < end)
		sess_read(s, (int)(end - now_ms()) + 1);
}

/* Wait until `text` appears after the mark; on success the mark moves past
 * it.  Returns whether it appeared within ms. */
static bool sess_expect(sess *s, const char *text, int ms)
{
	double end = now_ms() + ms;
	for (;;) {
		char *hit = strstr(s->out + s->mark, text);
		if (hit) {
			s->mark = (size_t)(hit - s->out) + strlen(text);
			return true;
		}
		if (s->eof || now_ms() >= end)
			return false;
		sess_read(s, (int)(end - now_ms()) + 1);
	}
}

static void sess_send(sess *s, const char *keys)
{
	size_t n = strlen(keys);
	while (n) {
		ssize_t w = write(s->fd, keys, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		keys += w;
		n -= (size_t)w;
	}
}

/* The output since the mark (for failure messages), shortened. */
static const char *sess_tail(sess *s)
{
	static char buf[600];
	const char *t = s->out + s->mark;
	size_t n = strlen(t);
	if (n > 500)
		t += n - 500;
	size_t j = 0;
	for (; *t && j + 4 < sizeof buf; t++)
		if (*t == '\n')
			buf[j++] = '|';
		else if ((unsigned char)*t >= 0x20 && *t != 0x7f)
			buf[j++] = *t;
	buf[j] = 0;
	return buf;
}

#define EXPECT(s, text, what)                                                         \
	check(sess_expect((s), (text), TIMEOUT_MS), "%s: no '%s' in: %s", (what), (text), \
	      sess_tail(s))

/* Send a line, then wait for its text and the next prompt. */
static void line(sess *s, const char *text)
{
	sess_send(s, text);
	sess_send(s, "\r");
}

static void prompt(sess *s, const char *what) { EXPECT(s, "datalite> ", what); }

/* The exit status, or -1 if it has not exited within ms. */
static int sess_wait(sess *s, int ms)
{
	double end = now_ms() + ms;
	int st;
	for (;;) {
		pid_t r = waitpid(s->pid, &st, WNOHANG);
		if (r == s->pid)
			break;
		if (now_ms() >= end) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			return -1;
		}
		sess_read(s, 50); /* drain, so it never blocks writing */
	}
	sess_read(s, 100);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Close the session, keeping its transcript in the test directory. */
static void sess_end(sess *s, const char *name)
{
	char p[4200];
	path(p, sizeof p, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fwrite(s->out, 1, s->len, f);
		fclose(f);
	}
	close(s->fd);
	free(s->out);
}

/* ---- the tests --------------------------------------------------------------- */

static const char k_schema[] =
	"[{:db/ident :person/name :db/valueType :db.type/string"
	" :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}"
	" {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]";

static void session_one(const char *db)
{
	sess s;
	sess_start(&s, db);
	prompt(&s, "first prompt");

	/* a transaction, then a query */
	line(&s, k_schema);
	EXPECT(&s, ":tempids {} :datoms", "schema transaction report");
	prompt(&s, "prompt after the schema");
	line(&s, "[{:person/name \"Ann\" :person/age 30} {:db/id \"b\" :person/name \"Bob\" :person/age 41}]");
	EXPECT(&s, ":tempids {\"b\" ", "data transaction report with its tempid");
	prompt(&s, "prompt after the data");
	line(&s, "[:find ?n ?a :where [?e :person/name ?n] [?e :person/age ?a]]");
	EXPECT(&s, "Ann", "query answer (Ann)");
	EXPECT(&s, "Bob", "query answer (Bob)");
	EXPECT(&s, "(2 rows)", "a table on a terminal");
	prompt(&s, "prompt after a query");

	/* a query over three lines */
	line(&s, "[:find ?n");
	EXPECT(&s, "...> ", "continuation prompt (line 2)");
	line(&s, " :where [?e :person/name ?n]");
	EXPECT(&s, "...> ", "continuation prompt (line 3)");
	line(&s, "        [?e :person/age 41]]");
	EXPECT(&s, "Bob", "multi-line query answer");
	EXPECT(&s, "(1 row)", "multi-line query row count");
	prompt(&s, "prompt after the multi-line query");

	/* brackets inside strings, characters and comments do not count */
	size_t m0 = s.mark;
	line(&s, "[:find ?n . :where [?e :person/name ?n] [(str ?n \"]]\") ?s] [(= ?n \"Ann\")]] ; ]]");
	check(sess_expect(&s, "datalite> ", TIMEOUT_MS) &&
		      !memmem(s.out + m0, s.mark - m0, "...> ", 5) &&
		      memmem(s.out + m0, s.mark - m0, "(1 row)", 7),
	      "a balanced line with brackets in a string and a comment runs at once: %s",
	      sess_tail(&s));

	/* .timer */
	line(&s, ".timer on");
	prompt(&s, ".timer on");
	line(&s, "[:find (count ?e) . :where [?e :person/name]]");
	EXPECT(&s, "Run time: ", ".timer on prints the time");
	{
		double ms = -1;
		char unit[8] = "";
		int got = sscanf(s.out + s.mark, "%lf %7s", &ms, unit);
		check(got == 2 && ms >= 0 && strcmp(unit, "ms") == 0, ".timer: 'Run time: N ms', got: %s",
		      sess_tail(&s));
	}
	prompt(&s, "prompt after .timer");
	line(&s, ".timer off");
	prompt(&s, ".timer off");

	/* .format json */
	line(&s, ".format json");
	prompt(&s, ".format json");
	line(&s, "[:find ?n . :where [?e :person/age 30] [?e :person/name ?n]]");
	EXPECT(&s, "\"Ann\"", ".format json: a scalar as a JSON string");
	prompt(&s, "prompt after a JSON answer");
	line(&s, "[:find ?a :where [_ :person/age ?a]]");
	EXPECT(&s, "[30]", ".format json: rows as arrays");
	prompt(&s, "prompt after JSON rows");
	line(&s, ".format table");
	prompt(&s, ".format table");

	/* .schema */
	line(&s, ".schema");
	EXPECT(&s, "attribute", ".schema header");
	EXPECT(&s, ":person/name", ".schema lists :person/name");
	EXPECT(&s, ":db.type/string", ".schema shows the type");
	EXPECT(&s, ":db.unique/identity", ".schema shows uniqueness");
	EXPECT(&s, ":person/age", ".schema lists :person/age");
	prompt(&s, "prompt after .schema");

	/* .as-of: transaction 1 is the schema, so nobody yet */
	line(&s, ".as-of 1");
	EXPECT(&s, "as of tx ", ".as-of 1 says which transaction");
	prompt(&s, "prompt after .as-of 1");
	line(&s, "[:find ?n :where [?e :person/name ?n]]");
	EXPECT(&s, "(0 rows)", "as of the schema transaction there are no people");
	prompt(&s, "prompt after an as-of query");
	line(&s, ".as-of");
	EXPECT(&s, "current database", ".as-of alone goes back to the current database");
	prompt(&s, "prompt after .as-of");
	line(&s, "[:find ?n :where [?e :person/name ?n]]");
	EXPECT(&s, "(2 rows)", "after .as-of the current database again");
	prompt(&s, "prompt after a current query");

	/* errors print source:line:col and the REPL goes on */
	line(&s, "[:find ?x :where [?e :person/name ?n]]");
	EXPECT(&s, "error: <stdin>:", "a query error is reported");
	{
		unsigned l = 0, c = 0;
		char colon = 0;
		int got = sscanf(s.out + s.mark, "%u:%u%c", &l, &c, &colon);
		check(got == 3 && l > 0 && c > 0 && colon == ':',
		      "error format error: <stdin>:<line>:<col>: <message>, got: %s", sess_tail(&s));
	}
	prompt(&s, "prompt after an error");
	line(&s, "[[:db/add \"x\" :person/age \"old\"]]");
	EXPECT(&s, "error: <stdin>:", "a transaction error is reported");
	prompt(&s, "prompt after a transaction error");
	line(&s, "[:find ?n :where [?e :person/name ?n]]");
	EXPECT(&s, "(2 rows)", "the REPL is alive after errors (and nothing was written)");
	prompt(&s, "prompt after errors");

	/* .explain QUERY, .explain toggle, .help */
	line(&s, ".explain [:find ?n :where [?e :person/name ?n]]");
	EXPECT(&s, "strategy", ".explain QUERY prints a plan");
	EXPECT(&s, "[?e :person/name ?n]", ".explain QUERY names the clause");
	prompt(&s, "prompt after .explain QUERY");
	line(&s, ".explain");
	EXPECT(&s, "explain is on", ".explain toggles on");
	prompt(&s, "prompt after .explain");
	line(&s, "[:find ?n :where [?e :person/name ?n]]");
	EXPECT(&s, "(2 rows)", "a query with .explain on still answers");
	EXPECT(&s, "strategy", "and prints its plan");
	prompt(&s, "prompt after an explained query");
	line(&s, ".explain");
	EXPECT(&s, "explain is off", ".explain toggles off");
	prompt(&s, "prompt after .explain off");
	line(&s, ".help");
	EXPECT(&s, ".as-of", ".help lists the dot-commands");
	prompt(&s, "prompt after .help");

	/* Ctrl-C at the prompt drops the unfinished statement */
	line(&s, "[:find ?n");
	EXPECT(&s, "...> ", "continuation prompt before Ctrl-C");
	sess_send(&s, " :where [zzz");
	sess_pause(&s, 200);
	sess_send(&s, "\x03");
	EXPECT(&s, "datalite> ", "Ctrl-C at the prompt gives a fresh prompt");
	line(&s, "[:find ?n :where [?e :person/name ?n]]");
	EXPECT(&s, "(2 rows)", "after Ctrl-C at the prompt the next statement runs alone");
	prompt(&s, "prompt after Ctrl-C at the prompt");

	/* the last line of this session, for the next one's Up-arrow */
	line(&s, "[:find ?n . :where [?e :person/age 41] [?e :person/name ?n]]");
	EXPECT(&s, "Bob", "the query to recall");
	prompt(&s, "prompt before Ctrl-D");
	sess_send(&s, "\x04");
	int st = sess_wait(&s, TIMEOUT_MS);
	check(st == 0, "Ctrl-D ends the session with exit 0 (got %d): %s", st, sess_tail(&s));
	sess_end(&s, "session1.log");

	/* the history file has the session's statements */
	char hist[4200];
	path(hist, sizeof hist, "history");
	FILE *f = fopen(hist, "r");
	check(f != NULL, "history file %s exists", hist);
	if (f) {
		char text[1 << 16];
		size_t n = fread(text, 1, sizeof text - 1, f);
		text[n] = 0;
		fclose(f);
		check(strstr(text, ":find") != NULL, "history file has the queries");
		check(strstr(text, ".timer") != NULL, "history file has the dot-commands");
		check(strstr(text, "41]") != NULL, "history file has the last query");
		check(strstr(text, "zzz") == NULL, "history file has no interrupted line");
		struct stat sb;
		check(stat(hist, &sb) == 0 && (sb.st_mode & 077) == 0,
		      "history file is private (mode %o)", (unsigned)(sb.st_mode & 0777));
	}
}

static void session_two(const char *db)
{
	/* 3000 entities with :n, for a long query */
	char nfile[4200];
	path(nfile, sizeof nfile, "n.edn");
	FILE *f = fopen(nfile, "w");
	if (!f) {
		perror(nfile);
		exit(2);
	}
	fprintf(f, "[{:db/ident :n :db/valueType :db.type/long :db/cardinality "
		   ":db.cardinality/one}]\n[");
	for (int i = 0; i < 3000; i++)
		fprintf(f, "{:n %d}%s", i, i % 10 == 9 ? "\n" : " ");
	fprintf(f, "]\n");
	fclose(f);

	sess s;
	sess_start(&s, db);
	prompt(&s, "second session prompt");

	/* history: Up-arrow brings back the first session's last query */
	sess_send(&s, "\x1b[A");
	EXPECT(&s, "41]", "Up-arrow shows the previous session's last line");
	sess_send(&s, "\r");
	EXPECT(&s, "Bob", "the recalled query ran again");
	prompt(&s, "prompt after the recalled query");

	/* .read */
	char cmd[4300];
	snprintf(cmd, sizeof cmd, ".read %s", nfile);
	line(&s, cmd);
	EXPECT(&s, ":datoms 3001}", ".read runs every form in the file");
	prompt(&s, "prompt after .read");

	/* Ctrl-C on a long query */
	line(&s, "[:find (count ?c) . :where [?x :n ?a] [?y :n ?b] [(+ ?a ?b) ?c]]");
	sess_pause(&s, 700); /* let it get going */
	check(strstr(s.out + s.mark, "datalite> ") == NULL,
	      "the long query is still running after 0.7 s: %s", sess_tail(&s));
	double t0 = now_ms();
	sess_send(&s, "\x03");
	/* a second is typical; allow for a loaded machine (ASan, ctest -j) */
	bool canceled = sess_expect(&s, "canceled", 5000);
	double took = now_ms() - t0;
	check(canceled, "Ctrl-C on a long query prints 'canceled' within 5 s (%.0f ms): %s",
	      took, sess_tail(&s));
	check(sess_expect(&s, "datalite> ", 5000),
	      "Ctrl-C on a long query returns to the prompt within 5 s: %s", sess_tail(&s));
	printf("note: Ctrl-C canceled the long query in %.0f ms\n", took);
	line(&s, "[:find (count ?x) . :where [?x :n]]");
	EXPECT(&s, "3000", "the REPL works after a canceled query");
	prompt(&s, "prompt after the count");

	/* Ctrl-D typed while a query runs (the terminal is then in canonical
	 * mode) ends the session once the answer is printed */
	line(&s, "[:find (count ?c) . :with ?x ?y :where [?x :n ?a] [(< ?a 1000)] [?y :n ?b] [(+ ?a ?b) ?c]]");
	sess_pause(&s, 100);
	sess_send(&s, "\x04");
	EXPECT(&s, "3000000", "the query before a typed-ahead Ctrl-D answers");
	int st = sess_wait(&s, TIMEOUT_MS);
	check(st == 0, "a typed-ahead Ctrl-D ends the session with exit 0 (got %d): %s", st,
	      sess_tail(&s));
	sess_end(&s, "session2.log");
}

static void session_three(const char *db)
{
	sess s;
	sess_start(&s, db);
	prompt(&s, "third session prompt");

	/* .quit */
	line(&s, ".quit");
	int st = sess_wait(&s, TIMEOUT_MS);
	check(st == 0, ".quit ends the session with exit 0 (got %d): %s", st, sess_tail(&s));
	sess_end(&s, "session3.log");
}

/* ---- stdin that is not a terminal ------------------------------------------- */

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	if (!f)
		return strdup("");
	char *b = calloc(1, 1 << 16);
	size_t n = fread(b, 1, (1 << 16) - 1, f);
	b[n] = 0;
	fclose(f);
	return b;
}

/* Run datalite DB with stdin from `input`; returns the exit status and
 * leaves stdout and stderr in *out and *err (the caller frees them). */
static int run_piped(const char *db, const char *input, char **out, char **err)
{
	char in[4200], o[4200], e[4200];
	path(in, sizeof in, "pipe.in");
	path(o, sizeof o, "pipe.out");
	path(e, sizeof e, "pipe.err");
	FILE *f = fopen(in, "w");
	if (!f)
		exit(2);
	fputs(input, f);
	fclose(f);
	pid_t pid = fork();
	if (pid == 0) {
		/* a pipe, not a file, on stdin: the shape of `echo ... | datalite DB` */
		int p[2];
		if (pipe(p) < 0)
			_exit(126);
		pid_t w = fork();
		if (w == 0) {
			close(p[0]);
			int fd = open(in, O_RDONLY);
			char buf[4096];
			ssize_t n;
			while ((n = read(fd, buf, sizeof buf)) > 0)
				if (write(p[1], buf, (size_t)n) != n)
					break;
			_exit(0);
		}
		close(p[1]);
		dup2(p[0], 0);
		close(p[0]);
		int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fo, 1);
		dup2(fe, 2);
		close(fo);
		close(fe);
		setenv("HOME", g_dir, 1);
		execl(g_dl, g_dl, db, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	*out = slurp(o);
	*err = slurp(e);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void piped(const char *db)
{
	char *out, *err;
	int st = run_piped(db, "[:find ?n :where [?e :person/name ?n]]\n", &out, &err);
	check(st == 0, "piped query: exit 0 (got %d, stderr %s)", st, err);
	check(strcmp(out, "#{[\"Ann\"]\n [\"Bob\"]}\n") == 0,
	      "piped query prints EDN without prompts, got '%s'", out);
	free(out);
	free(err);

	st = run_piped(db,
		       "[:find ?n\n :where [?e :person/name ?n]\n [?e :person/age 30]]\n"
		       "[:find ?x :where [?e :person/name ?n]]\n"
		       ".format json\n[:find ?n . :where [?e :person/age 41] [?e :person/name ?n]]\n",
		       &out, &err);
	check(st == 1, "a failed piped statement: exit 1 (got %d)", st);
	check(strcmp(out, "#{[\"Ann\"]}\n\"Bob\"\n") == 0,
	      "piped statements run in order, past an error, got '%s'", out);
	check(strncmp(err, "error: <stdin>:4:8: ", 20) == 0,
	      "piped error names <stdin>:line:col, got '%s'", err);
	free(out);
	free(err);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_repl path/to/datalite [TMPDIR]\n");
		return 2;
	}
	g_dl = argv[1];
	const char *base = argc > 2 ? argv[2] : "/tmp";
	mkdir(base, 0700);
	snprintf(g_dir, sizeof g_dir, "%s/repl.XXXXXX", base);
	if (!mkdtemp(g_dir)) {
		perror(g_dir);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	char db[4200];
	path(db, sizeof db, "repl.db");
	session_one(db);
	session_two(db);
	session_three(db);
	piped(db);
	if (!g_fail) {
		char cmd[4400];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
		if (system(cmd) != 0)
			printf("note: could not remove %s\n", g_dir);
	} else {
		printf("note: the sessions' files are in %s\n", g_dir);
	}
	printf("%d passed, %d failed\n", g_pass, g_fail);
	return g_fail ? 1 : 0;
}
