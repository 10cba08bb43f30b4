/*
 * The database commands: transact, import, export, stats and check.  They
 * go through the public API (datalite.h) like any application would; the
 * importer's CSV and multi-file session come from src/api/api_int.h.
 *
 * Bad input changes nothing, and a database that did not exist is not
 * created: transact reads and checks all of its input (and import its
 * mappings) before it opens the database; import does not read its large
 * input twice, but is one write transaction that any error aborts, and
 * removes a database it created if nothing was committed.
 */
#include "cli.h"

#include "api/api_int.h"
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- shared ---------------------------------------------------------------- */

int cli_exit_code(int rc)
{
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

static int fail(int rc)
{
	const char *msg = dl_errmsg();
	fprintf(stderr, "error: %s\n", msg[0] ? msg : dl_errstr(rc));
	return cli_exit_code(rc);
}

int cli_open_db(dl_db **out, const char *path, bool write)
{
	dl_db_opts o = DL_DB_OPTS_INIT;
	o.read_only = !write;
	o.create = write;
	int rc = dl_db_open(out, path, &o);
	if (rc == 0)
		return 0;
	/* whatever keeps a database from opening (missing, locked, not a
	 * database, unreadable) is a database error */
	const char *msg = dl_errmsg();
	fprintf(stderr, "error: %s\n", msg[0] ? msg : dl_errstr(rc));
	return rc == DL_ENOMEM ? CLI_EXIT_USER : CLI_EXIT_DB;
}

static bool is_option(const char *a) { return a[0] == '-' && a[1] == '-'; }

static const char *source_name(const char *path)
{
	return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

/* An input file, mapped when it is a regular file (so a large import does
 * not hold it in memory), read otherwise (stdin, pipes). */
typedef struct input {
	const char *path;
	char *text;
	size_t len;
	bool mapped;
	size_t dropped; /* mapped: bytes from the start whose pages were let go */
	bool csv;
	int map; /* index of its --map, or -1 */
} input;

static int input_load(input *in)
{
	if (strcmp(in->path, "-") != 0) {
		int fd = open(in->path, O_RDONLY);
		if (fd < 0) {
			fprintf(stderr, "error: %s: %s\n", in->path, strerror(errno));
			return -1;
		}
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			in->len = (size_t)st.st_size;
			if (in->len) {
				void *p = mmap(NULL, in->len, PROT_READ, MAP_PRIVATE, fd, 0);
				if (p == MAP_FAILED) {
					fprintf(stderr, "error: %s: %s\n", in->path, strerror(errno));
					close(fd);
					return -1;
				}
				madvise(p, in->len, MADV_SEQUENTIAL);
				in->text = p;
				in->mapped = true;
			}
			close(fd);
			return 0;
		}
		close(fd);
	}
	in->text = cli_read_file(in->path, &in->len);
	return in->text ? 0 : -1;
}

static void input_free(input *in)
{
	if (in->mapped)
		munmap(in->text, in->len);
	else
		free(in->text);
	in->text = NULL;
}

/* ---- transact --------------------------------------------------------------- */

const char cli_help_transact[] =
	"FILE (or stdin, with - or no FILE) holds EDN tx-data: any number of\n"
	"vectors of tx forms ([:db/add e a v], [:db/retract e a v], maps, ...),\n"
	"each one transaction, applied in order.  For each, a report:\n"
	"  {:tx T :tempids {\"tempid\" entity-id, ...} :datoms N}\n"
	"N counts the datoms written, the transaction's :db/txInstant included.\n"
	"DB is created if it is missing.\n"
	"\n"
	"The input is all or nothing: it is read whole first (malformed EDN, or a\n"
	"top-level form that is not a vector, changes nothing), then every vector\n"
	"runs as its own transaction (its own tx, :db/txInstant and tempids,\n"
	"seeing what the ones before it wrote) and they are committed together,\n"
	"after the last one; the reports are printed then.  If any fails, none is\n"
	"written: the database is as it was.\n"
	"\n"
	"Errors: error: <source>:<line>:<col>: <message> on stderr, where\n"
	"line:col is the transaction's vector (or, for bad EDN, the spot); with\n"
	"several vectors the message begins \"transaction K of N: \".\n"
	"Exit codes: 0 ok, 1 bad EDN or tx-data, 2 usage, 3 database error.\n";

typedef struct form {
	dl_value v;
	unsigned line, col;
} form;

int cli_print_tx_report(FILE *f, const dl_tx_result *r)
{
	dl_buf b = DL_BUF_INIT;
	int rc = dl_buf_printf(&b, "{:tx %" PRId64 " :tempids {", dl_tx_result_tx(r));
	for (size_t i = 0; rc == 0 && i < dl_tx_result_ntempids(r); i++) {
		int64_t e;
		dl_value t = dl_tx_result_tempid(r, i, &e);
		if (i)
			rc = dl_buf_puts(&b, ", ");
		if (rc == 0)
			rc = dl_edn_print(&b, &t);
		if (rc == 0)
			rc = dl_buf_printf(&b, " %" PRId64, e);
	}
	if (rc == 0)
		rc = dl_buf_printf(&b, "} :datoms %zu}\n", dl_tx_result_ndatoms(r));
	if (rc == 0)
		fwrite(b.data, 1, b.len, f);
	dl_buf_free(&b);
	return rc;
}

int cli_cmd_transact(const cli_command *self, int argc, char **argv)
{
	const char *db_path = NULL, *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (is_option(argv[i]))
			return cli_usage_error(self, "unknown option");
		if (!db_path)
			db_path = argv[i];
		else if (!file)
			file = argv[i];
		else
			return cli_usage_error(self, "too many arguments");
	}
	if (!db_path)
		return cli_usage_error(self, "which database?");
	if (!file)
		file = "-";
	const char *src = source_name(file);
	size_t len;
	char *text = cli_read_file(file, &len);
	if (!text)
		return CLI_EXIT_USER;

	int code = CLI_EXIT_OK, rc = 0;
	dl_arena a = DL_ARENA_INIT;
	form *forms = NULL;
	dl_value *vals = NULL;
	const char **where = NULL;
	size_t nforms = 0, cap = 0;
	dl_db *db = NULL;
	dl_tx_results *res = NULL;
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	eo.source = src;
	dl_edn_reader r;
	dl_edn_reader_init(&r, text, len, &eo);
	for (;;) {
		dl_api_skip_ws(&r);
		form f = {dl_nil(), r.line, r.col};
		if ((rc = dl_edn_reader_next(&r, &f.v, &a)) == DL_ENOTFOUND)
			break;
		if (rc < 0) {
			code = fail(rc);
			goto out;
		}
		if (f.v.type != DL_VECTOR && f.v.type != DL_LIST) {
			fprintf(stderr, "error: %s:%u:%u: tx-data must be a vector of tx forms\n", src,
				f.line, f.col);
			code = CLI_EXIT_USER;
			goto out;
		}
		if (nforms == cap) {
			cap = cap ? cap * 2 : 16;
			form *n = realloc(forms, cap * sizeof *n);
			if (!n) {
				code = fail(DL_ENOMEM);
				goto out;
			}
			forms = n;
		}
		forms[nforms++] = f;
	}
	/* each transaction's name in messages: "source:line:col" */
	if (nforms && !(vals = malloc(nforms * sizeof *vals))) {
		code = fail(DL_ENOMEM);
		goto out;
	}
	if (nforms && !(where = malloc(nforms * sizeof *where))) {
		code = fail(DL_ENOMEM);
		goto out;
	}
	for (size_t i = 0; i < nforms; i++) {
		char buf[64];
		int bl = snprintf(buf, sizeof buf, ":%u:%u", forms[i].line, forms[i].col);
		size_t sl = strlen(src);
		char *w = dl_arena_alloc(&a, sl + (size_t)bl + 1);
		if (!w) {
			code = fail(DL_ENOMEM);
			goto out;
		}
		memcpy(w, src, sl);
		memcpy(w + sl, buf, (size_t)bl + 1);
		where[i] = w;
		vals[i] = forms[i].v;
	}
	if ((code = cli_open_db(&db, db_path, true)))
		goto out;
	if ((rc = dl_db_transact_many_values(&res, db, vals, nforms, where)) < 0) {
		code = fail(rc);
		if (nforms > 1)
			fprintf(stderr, "note: nothing was written: the input's %zu transactions "
				"are committed all together or not at all\n", nforms);
		goto out;
	}
	/* committed: the reports */
	for (size_t i = 0; i < dl_tx_results_count(res); i++)
		cli_print_tx_report(stdout, dl_tx_results_get(res, i));
	if (fflush(stdout) != 0)
		code = CLI_EXIT_USER;
out:
	dl_tx_results_free(res);
	dl_db_close(db);
	free(where);
	free(vals);
	free(forms);
	dl_arena_free(&a);
	free(text);
	return code;
}

/* ---- import ------------------------------------------------------------------ */

const char cli_help_import[] =
	"Bulk-loads FILEs in order into DB (created if missing).  A file is EDN\n"
	"tx-data (any number of vectors, as for transact; - is stdin) unless its\n"
	"name ends in .csv.\n"
	"\n"
	"Vectors that only assert new entities (maps without :db/id or with a\n"
	"tempid; declared attributes; refs as ids, idents, lookup refs or tempids;\n"
	"unique values that are new) are written in sorted batches straight to\n"
	"the indexes, several small vectors sharing a transaction of up to\n"
	"--batch datoms (a longer vector stays one transaction).  Any other vector\n"
	"is transacted as `transact` would.  Use transact when every vector must\n"
	"be its own transaction with a report.\n"
	"\n"
	"CSV: RFC 4180 (commas, double quotes, LF or CRLF).  Without --map the\n"
	"first row names the attributes of the columns (:person/name or\n"
	"person/name); a :db/id column gives the row's entity an id that other\n"
	"rows and files of the same import refer to: a cell of a ref attribute is\n"
	"such an id.  Cells are parsed by the attribute's declared type (instants\n"
	"as ms since the epoch or RFC 3339; undeclared: long, double or string);\n"
	"an empty cell is no value.  Attributes must exist (import the schema, as\n"
	"EDN, first).\n"
	"\n"
	"--map M (EDN) maps the columns of the CSV files after it:\n"
	"  {:header true                 ; the first row is a header (default)\n"
	"   :columns {\"id\"        :db/id          ; by header name, or 1, 2, ...\n"
	"             \"ticker\"    :symbol/ticker  ; an attribute\n"
	"             \"symbol_id\" :price/symbol   ; a ref: another row's :db/id\n"
	"             \"sym\"       {:attr :price/symbol :lookup :symbol/ticker}\n"
	"             \"time_ms\"   {:attr :price/time :type :instant}\n"
	"             \"note\"      nil}}           ; unmapped columns are skipped\n"
	"  :type is one of :string :long :double :boolean :instant :keyword\n"
	"  :symbol :uuid :bytes (default: the attribute's type).\n"
	"\n"
	"Options:\n"
	"  --map M       the mapping for the CSV files that follow\n"
	"  --batch N     datoms per bulk transaction [1048576]\n"
	"  --quiet       no progress bar (it is shown only when stderr is a terminal)\n"
	"\n"
	"All or nothing: the whole import (every FILE) is one LMDB write\n"
	"transaction, committed at its end.  If anything fails (malformed EDN or\n"
	"CSV anywhere, a type error, a unique conflict, ...), nothing is written\n"
	"(a DB the import created is removed again); if the process dies, DB is\n"
	"as it was.  Readers see DB as it was until the commit; other writers\n"
	"wait for it.  The transactions inside it (each with its tx id and\n"
	":db/txInstant) commit together.  The last line on stdout is\n"
	"  imported N datoms in T s (R datoms/s)\n";

typedef struct prog {
	bool on;
	bool drawn;
	input *ins; /* the inputs, in order */
	size_t nin;
} prog;

/* The importer has read the inputs up to `done` bytes (all inputs counted
 * in order): let go of the mapped pages well behind that, so a large file
 * does not stay resident.  The importer may read a vector again from its
 * start (to transact it whole), which just faults its pages back in. */
static void drop_read(prog *p, uint64_t done)
{
	const size_t keep = (size_t)64 << 20, pg = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t base = 0;
	for (size_t k = 0; k < p->nin; k++) {
		input *in = &p->ins[k];
		uint64_t end = base + in->len;
		if (in->mapped && done > base) {
			size_t upto = done >= end ? in->len : (size_t)(done - base);
			upto = upto > keep ? (upto - keep) / pg * pg : 0;
			if (upto > in->dropped) {
				madvise(in->text + in->dropped, upto - in->dropped, MADV_DONTNEED);
				in->dropped = upto;
			}
		}
		base = end;
	}
}

static void human(char *buf, size_t n, double x)
{
	if (x >= 1e9)
		snprintf(buf, n, "%.2fG", x / 1e9);
	else if (x >= 1e6)
		snprintf(buf, n, "%.2fM", x / 1e6);
	else if (x >= 1e4)
		snprintf(buf, n, "%.0fk", x / 1e3);
	else
		snprintf(buf, n, "%.0f", x);
}

/* [####....]  42%  1.20M datoms  950k datoms/s  ETA 0:07
 * The bar is the input read; the rate is datoms written; the ETA divides
 * the datoms still to write (the total estimated from what was read so
 * far) by that rate. */
static void draw_progress(void *ud, const dl_import_stat *st)
{
	prog *p = ud;
	drop_read(p, st->bytes_done);
	if (!p->on)
		return;
	double frac = st->bytes_total ? (double)st->bytes_done / (double)st->bytes_total : 1;
	if (frac > 1)
		frac = 1;
	double rate = st->seconds > 0 ? (double)st->datoms / st->seconds : 0;
	double seen = (double)(st->datoms + st->pending);
	double total = frac > 0.01 ? seen / frac : seen;
	char bar[31], d[32], r[32], eta[32];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = 0;
	human(d, sizeof d, (double)st->datoms);
	human(r, sizeof r, rate);
	if (rate > 0 && total >= (double)st->datoms) {
		int s = (int)((total - (double)st->datoms) / rate + 0.5);
		snprintf(eta, sizeof eta, "%d:%02d", s / 60, s % 60);
	} else {
		snprintf(eta, sizeof eta, "-:--");
	}
	fprintf(stderr, "\r[%s] %3d%%  %s datoms  %s datoms/s  ETA %s\033[K", bar,
		(int)(frac * 100), d, r, eta);
	fflush(stderr);
	p->drawn = true;
}

static bool ends_with_csv(const char *p)
{
	size_t n = strlen(p);
	return n >= 4 && strcasecmp(p + n - 4, ".csv") == 0;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int cli_cmd_import(const cli_command *self, int argc, char **argv)
{
	/* the summary times the whole command: reading, checking, writing */
	double t0 = now_s();
	const char *db_path = NULL;
	input *ins = calloc((size_t)argc, sizeof *ins);
	const char **maps = calloc((size_t)argc, sizeof *maps);
	dl_csv_map *cmaps = NULL;
	size_t nin = 0, nmaps = 0, batch = 0;
	bool quiet = false;
	int code = CLI_EXIT_OK, rc = 0, cur_map = -1;
	dl_db *db = NULL;
	dl_imp *im = NULL;
	prog pg = {false, false, NULL, 0};
	bool created = false, committed = false;
	if (!ins || !maps) {
		code = fail(DL_ENOMEM);
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--map") == 0 || strcmp(a, "--batch") == 0) {
			if (i + 1 >= argc) {
				code = cli_usage_error(self, "an option needs a value");
				goto out;
			}
			const char *v = argv[++i];
			if (a[2] == 'm') {
				maps[nmaps] = v;
				cur_map = (int)nmaps++;
			} else {
				char *end;
				errno = 0;
				unsigned long long n = strtoull(v, &end, 10);
				if (*end || errno || n == 0 || v[0] == '-' || n > (1ull << 31)) {
					code = cli_usage_error(self, "--batch takes a number of datoms "
								     "(1 to 2147483648)");
					goto out;
				}
				batch = (size_t)n;
			}
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = true;
		} else if (is_option(a)) {
			code = cli_usage_error(self, "unknown option");
			goto out;
		} else if (!db_path) {
			db_path = a;
		} else {
			input *in = &ins[nin++];
			in->path = a;
			in->csv = ends_with_csv(a);
			in->map = in->csv ? cur_map : -1;
		}
	}
	if (!db_path) {
		code = cli_usage_error(self, "which database?");
		goto out;
	}
	if (!nin) {
		code = cli_usage_error(self, "no input files");
		goto out;
	}

	/* read everything through before writing anything */
	cmaps = calloc(nmaps ? nmaps : 1, sizeof *cmaps);
	if (!cmaps) {
		code = fail(DL_ENOMEM);
		goto out;
	}
	for (size_t k = 0; k < nmaps; k++) {
		size_t len;
		char *t = cli_read_file(maps[k], &len);
		if (!t) {
			code = CLI_EXIT_USER;
			goto out;
		}
		rc = dl_imp_csv_map(&cmaps[k], t, len, maps[k]);
		free(t);
		if (rc < 0) {
			code = fail(rc);
			goto out;
		}
	}
	uint64_t total = 0;
	for (size_t k = 0; k < nin; k++) {
		input *in = &ins[k];
		if (input_load(in) < 0) {
			code = CLI_EXIT_USER;
			goto out;
		}
		total += in->len;
	}

	/* no separate syntax check (a whole extra read of the input): the
	 * import is one write transaction, so an error anywhere, syntax
	 * included, leaves the database unchanged; a database the import
	 * created is removed again */
	struct stat dbst;
	created = stat(db_path, &dbst) != 0 && errno == ENOENT;
	if ((code = cli_open_db(&db, db_path, true))) {
		created = false;
		goto out;
	}
	pg.ins = ins;
	pg.nin = nin;
	dl_import_opts o = DL_IMPORT_OPTS_INIT;
	o.batch = batch;
	pg.on = !quiet && isatty(STDERR_FILENO);
	o.progress = draw_progress;
	o.ud = &pg;
	if ((rc = dl_imp_begin(&im, db, &o, total)) < 0) {
		code = fail(rc);
		goto out;
	}
	for (size_t k = 0; k < nin && rc == 0; k++) {
		input *in = &ins[k];
		if (in->csv)
			rc = dl_imp_csv(im, in->text, in->len, in->path,
					in->map >= 0 ? &cmaps[in->map] : NULL);
		else
			rc = dl_imp_edn(im, in->text, in->len, source_name(in->path));
	}
	dl_import_stat st;
	if (rc == 0)
		committed = (rc = dl_imp_finish(im, &st)) == 0;
	else
		dl_imp_stat(im, &st);
	if (pg.drawn)
		fprintf(stderr, "\r\033[K");
	if (rc < 0) {
		code = fail(rc);
		if (st.transactions)
			fprintf(stderr,
				"note: nothing was written: the %" PRIu64 " transaction%s (%" PRIu64
				" datoms) before the error %s dropped with it\n", st.transactions,
				st.transactions == 1 ? "" : "s", st.datoms,
				st.transactions == 1 ? "was" : "were");
		goto out;
	}
	double secs = now_s() - t0;
	printf("imported %" PRIu64 " datoms in %.3f s (%.0f datoms/s)\n", st.datoms, secs,
	       secs > 0 ? (double)st.datoms / secs : 0.0);
out:
	dl_imp_free(im);
	dl_db_close(db);
	if (created && !committed) {
		size_t n = strlen(db_path);
		char *lock = malloc(n + 6);
		unlink(db_path);
		if (lock) {
			memcpy(lock, db_path, n);
			memcpy(lock + n, "-lock", 6);
			unlink(lock);
			free(lock);
		}
	}
	for (size_t k = 0; ins && k < nin; k++)
		input_free(&ins[k]);
	for (size_t k = 0; cmaps && k < nmaps; k++)
		dl_csv_map_free(&cmaps[k]);
	free(cmaps);
	free(ins);
	free(maps);
	return code;
}

/* ---- export ------------------------------------------------------------------ */

const char cli_help_export[] =
	"Writes the current state of DB to stdout as EDN tx-data:\n"
	"  1. one vector with the declared attributes and their properties;\n"
	"  2. one vector with every other entity as a map, {:db/id \"e<id>\" ...}:\n"
	"     the string tempid names the entity's id in DB, and references use\n"
	"     the same tempids (or the ident, for schema entities), so the\n"
	"     transaction report of a re-import maps every old id to its new one.\n"
	"Cardinality-many values are sets.  Not exported: the history, the\n"
	"transactions' :db/txInstant (a re-import gets its own), and attributes\n"
	"that were only used, never declared (a re-import declares them again on\n"
	"first use).  `datalite export A | datalite transact B` (or import) gives a\n"
	"database with the same datoms up to entity ids.\n";

typedef struct exporter {
	FILE *f;
	dl_buf b;
	dl_snapshot *s;
	const dl_schema *S;
	int err;
} exporter;

static int ex_flush(exporter *x, bool force)
{
	if ((force || x->b.len >= (1 << 16)) && x->b.len) {
		if (fwrite(x->b.data, 1, x->b.len, x->f) != x->b.len)
			return dl_error(DL_EIO, "writing the export failed");
		x->b.len = 0;
	}
	return 0;
}

/* A reference: schema entities by ident, everything else by tempid. */
static int ex_ref(exporter *x, int64_t e)
{
	uint32_t kw = DL_EID_PART(e) == DL_PART_DB ? dl_schema_ident(x->S, e) : 0;
	if (kw) {
		dl_value k = dl_nil();
		k.type = DL_KEYWORD;
		k.u.id = kw;
		return dl_edn_print(&x->b, &k);
	}
	return dl_buf_printf(&x->b, "\"e%" PRId64 "\"", e);
}

static int ex_value(exporter *x, const dl_value *v)
{
	return v->type == DL_REF ? ex_ref(x, v->u.i) : dl_edn_print(&x->b, v);
}

/* Print the datoms of one entity (d[0..n), sorted by attribute) as the
 * entries of a map: " :a v" or " :a #{v ...}" for cardinality many. */
static int ex_entries(exporter *x, const dl_db_datom *d, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && d[j].aid == d[i].aid)
			j++;
		const dl_attr *at = dl_schema_attr(x->S, d[i].aid);
		DL_TRY(dl_buf_puts(&x->b, " "));
		DL_TRY(dl_edn_print(&x->b, &d[i].a));
		DL_TRY(dl_buf_puts(&x->b, " "));
		bool many = (at && at->many) || j - i > 1;
		if (many)
			DL_TRY(dl_buf_puts(&x->b, "#{"));
		for (size_t k = i; k < j; k++) {
			if (k > i)
				DL_TRY(dl_buf_puts(&x->b, " "));
			DL_TRY(ex_value(x, &d[k].v));
		}
		if (many)
			DL_TRY(dl_buf_puts(&x->b, "}"));
		i = j;
	}
	return 0;
}

/* Gather the datoms of entity after entity from an EAVT iteration. */
typedef struct ent {
	dl_db_datom *d;
	size_t n, cap;
	dl_arena a;
} ent;

static int ent_add(ent *en, const dl_db_datom *d)
{
	if (en->n == en->cap) {
		size_t cap = en->cap ? en->cap * 2 : 16;
		dl_db_datom *p = realloc(en->d, cap * sizeof *p);
		if (!p)
			return dl_error(DL_ENOMEM, "out of memory");
		en->d = p;
		en->cap = cap;
	}
	en->d[en->n] = *d;
	return dl_value_copy(&en->d[en->n++].v, &en->a, &d->v);
}

static bool ex_skip_entity(const dl_schema *S, int64_t e)
{
	/* built-ins, and attributes (written in the schema vector, or
	 * re-created on first use) */
	return DL_EID_PART(e) == DL_PART_DB && (e <= DL_A_BUILTIN_LAST || dl_schema_attr(S, e));
}

static int ex_schema(exporter *x)
{
	const dl_db_attr *attrs;
	size_t n;
	DL_TRY(dl_snapshot_attrs(&attrs, &n, x->s));
	bool any = false;
	ent en = {NULL, 0, 0, DL_ARENA_INIT};
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (attrs[i].builtin || !attrs[i].declared)
			continue;
		dl_value e = dl_int(attrs[i].id);
		dl_datoms *it;
		if ((rc = dl_db_datoms(&it, x->s, DL_DB_EAVT, &e, 1)) < 0)
			break;
		const dl_db_datom *d;
		en.n = 0;
		dl_arena_reset(&en.a);
		while ((rc = dl_datoms_next(it, &d)) > 0)
			if ((rc = ent_add(&en, d)) < 0)
				break;
		dl_datoms_close(it);
		if (rc < 0)
			break;
		/* :db/ident first, so the map reads as a declaration */
		rc = dl_buf_puts(&x->b, any ? "\n {" : "[{");
		if (rc == 0)
			rc = dl_buf_puts(&x->b, ":db/ident ");
		if (rc == 0)
			rc = dl_edn_print(&x->b, &attrs[i].ident);
		size_t k = 0;
		dl_db_datom *rest = en.d;
		for (size_t m = 0; m < en.n; m++)
			if (en.d[m].aid != DL_A_IDENT)
				rest[k++] = en.d[m];
		if (rc == 0)
			rc = ex_entries(x, rest, k);
		if (rc == 0)
			rc = dl_buf_puts(&x->b, "}");
		if (rc == 0)
			rc = ex_flush(x, false);
		any = true;
	}
	if (rc == 0 && any)
		rc = dl_buf_puts(&x->b, "]\n");
	free(en.d);
	dl_arena_free(&en.a);
	return rc;
}

static int ex_entity(exporter *x, ent *en, bool *any)
{
	/* transactions keep everything but their txInstant; composite tuples
	 * are left to the import to rebuild from their components */
	size_t k = 0;
	for (size_t m = 0; m < en->n; m++) {
		const dl_attr *at = dl_schema_attr(x->S, en->d[m].aid);
		if (at && at->composite)
			continue;
		if (!(DL_EID_PART(en->d[m].e) == DL_PART_TX && en->d[m].aid == DL_A_TX_INSTANT))
			en->d[k++] = en->d[m];
	}
	if (!k)
		return 0;
	DL_TRY(dl_buf_printf(&x->b, "%s{:db/id \"e%" PRId64 "\"", *any ? "\n " : "[",
			     en->d[0].e));
	DL_TRY(ex_entries(x, en->d, k));
	DL_TRY(dl_buf_puts(&x->b, "}"));
	*any = true;
	return ex_flush(x, false);
}

static int ex_entities(exporter *x)
{
	dl_datoms *it;
	DL_TRY(dl_db_datoms(&it, x->s, DL_DB_EAVT, NULL, 0));
	ent en = {NULL, 0, 0, DL_ARENA_INIT};
	bool any = false;
	int rc;
	const dl_db_datom *d;
	while ((rc = dl_datoms_next(it, &d)) > 0) {
		if (ex_skip_entity(x->S, d->e))
			continue;
		if (en.n && en.d[0].e != d->e) {
			if ((rc = ex_entity(x, &en, &any)) < 0)
				break;
			en.n = 0;
			dl_arena_reset(&en.a);
		}
		if ((rc = ent_add(&en, d)) < 0)
			break;
	}
	if (rc == 0 && en.n)
		rc = ex_entity(x, &en, &any);
	if (rc == 0 && any)
		rc = dl_buf_puts(&x->b, "]\n");
	dl_datoms_close(it);
	free(en.d);
	dl_arena_free(&en.a);
	return rc;
}

int cli_cmd_export(const cli_command *self, int argc, char **argv)
{
	const char *db_path = NULL;
	for (int i = 1; i < argc; i++) {
		if (is_option(argv[i]))
			return cli_usage_error(self, "unknown option");
		if (db_path)
			return cli_usage_error(self, "too many arguments");
		db_path = argv[i];
	}
	if (!db_path)
		return cli_usage_error(self, "which database?");
	dl_db *db;
	int code = cli_open_db(&db, db_path, false);
	if (code)
		return code;
	exporter x = {stdout, DL_BUF_INIT, NULL, NULL, 0};
	int rc = dl_db_snapshot(&x.s, db, NULL);
	if (rc == 0) {
		x.S = dl_snapshot_schema(x.s);
		rc = ex_schema(&x);
		if (rc == 0)
			rc = ex_entities(&x);
		if (rc == 0)
			rc = ex_flush(&x, true);
		if (rc == 0 && fflush(stdout) != 0)
			rc = dl_error(DL_EIO, "writing the export failed");
	}
	if (rc < 0)
		code = fail(rc);
	dl_buf_free(&x.b);
	dl_snapshot_end(x.s);
	dl_db_close(db);
	return code;
}

/* ---- stats -------------------------------------------------------------------- */

const char cli_help_stats[] =
	"Shows the database's totals (datoms, history, transactions, file size)\n"
	"and, for every declared or used attribute, its schema and counts: current\n"
	"datoms, distinct values and entities having it (kept exact by every\n"
	"transaction).\n"
	"\n"
	"Options:\n"
	"  --format table|edn|json|csv   [table]; edn and json give one map with\n"
	"                                the totals and :attributes; csv the\n"
	"                                attribute table alone\n"
	"  --all                         include the built-in :db/... attributes\n";

static int kw(dl_value *out, const char *name) { return dl_keyword(out, name, strlen(name)); }

static int last_tx_instant(dl_snapshot *s, int64_t tx, dl_value *out)
{
	*out = dl_nil();
	if (!tx)
		return 0;
	dl_value comps[2];
	comps[0] = dl_int(tx);
	DL_TRY(kw(&comps[1], "db/txInstant"));
	dl_datoms *it;
	DL_TRY(dl_db_datoms(&it, s, DL_DB_EAVT, comps, 2));
	const dl_db_datom *d;
	int rc = dl_datoms_next(it, &d);
	if (rc > 0)
		*out = d->v;
	dl_datoms_close(it);
	return rc < 0 ? rc : 0;
}

static const char *const k_stat_cols[] = {"attribute", "type",  "cardinality", "unique",
					  "datoms",    "values", "entities",    "flags"};

int cli_cmd_stats(const cli_command *self, int argc, char **argv)
{
	const char *db_path = NULL;
	cli_format fmt = CLI_FMT_TABLE;
	bool all = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--format") == 0 || strncmp(argv[i], "--format=", 9) == 0) {
			const char *v = argv[i][8] == '=' ? argv[i] + 9 : i + 1 < argc ? argv[++i] : "";
			if (cli_format_parse(&fmt, v) < 0)
				return cli_usage_error(self, "--format is table, edn, json or csv");
		} else if (strcmp(argv[i], "--all") == 0) {
			all = true;
		} else if (is_option(argv[i])) {
			return cli_usage_error(self, "unknown option");
		} else if (db_path) {
			return cli_usage_error(self, "too many arguments");
		} else {
			db_path = argv[i];
		}
	}
	if (!db_path)
		return cli_usage_error(self, "which database?");
	dl_db *db;
	int code = cli_open_db(&db, db_path, false);
	if (code)
		return code;
	dl_snapshot *s = NULL;
	dl_arena a = DL_ARENA_INIT;
	dl_buf b = DL_BUF_INIT;
	dl_db_stat st;
	const dl_db_attr *attrs;
	size_t n;
	int rc;
	dl_value inst;
	if ((rc = dl_db_snapshot(&s, db, NULL)) < 0 || (rc = dl_snapshot_stat(&st, s)) < 0 ||
	    (rc = dl_snapshot_attrs(&attrs, &n, s)) < 0 ||
	    (rc = last_tx_instant(s, st.basis, &inst)) < 0)
		goto out;

	/* the attribute table: one row of 8 values per attribute */
	dl_qresult q;
	memset(&q, 0, sizeof q);
	q.find_spec = DL_FIND_REL;
	q.ordered = true;
	q.ncols = 8;
	q.colnames = (const char **)k_stat_cols;
	q.rows = DL_ARENA_NEW(&a, (n ? n : 1) * 8, dl_value);
	if (!q.rows) {
		rc = DL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const dl_db_attr *at = &attrs[i];
		if (at->builtin && !all)
			continue;
		dl_value *row = &q.rows[q.nrows++ * 8];
		row[0] = at->ident;
		row[1] = at->value_type;
		if ((rc = kw(&row[2], at->many ? "db.cardinality/many" : "db.cardinality/one")) < 0)
			goto out;
		row[3] = dl_nil();
		if (at->unique && (rc = kw(&row[3], at->unique == DL_DB_UNIQUE_IDENTITY
							     ? "db.unique/identity"
							     : "db.unique/value")) < 0)
			goto out;
		row[4] = dl_int((int64_t)at->datoms);
		row[5] = dl_int((int64_t)at->values);
		row[6] = dl_int((int64_t)at->entities);
		char flags[80];
		snprintf(flags, sizeof flags, "%s%s%s%s", at->indexed ? "index " : "",
			 at->component ? "component " : "", at->no_history ? "noHistory " : "",
			 at->declared ? "" : "undeclared ");
		size_t fl = strlen(flags);
		if (fl)
			fl--; /* the trailing blank */
		char *fs = dl_arena_strndup(&a, flags, fl);
		if (!fs) {
			rc = DL_ENOMEM;
			goto out;
		}
		row[7] = fl ? dl_string(fs, fl) : dl_nil();
	}

	if (fmt == CLI_FMT_TABLE) {
		char when[64] = "";
		if (inst.type == DL_INST) {
			dl_buf t = DL_BUF_INIT;
			if (cli_format_value(&t, &inst, CLI_FMT_CSV) == 0)
				snprintf(when, sizeof when, " at %s", t.data);
			dl_buf_free(&t);
		}
		printf("database      %s\n", dl_db_path(db));
		printf("file          %" PRIu64 " bytes\n", st.file_bytes);
		printf("datoms        %" PRIu64 " current, %" PRIu64 " in history\n", st.datoms,
		       st.history);
		printf("transactions  %" PRIu64 " (last %" PRId64 "%s)\n", st.transactions,
		       st.basis, when);
		printf("attributes    %zu\n\n", q.nrows);
		rc = cli_print_result(stdout, &q, CLI_FMT_TABLE, cli_term_width(stdout));
	} else if (fmt == CLI_FMT_CSV) {
		rc = cli_print_result(stdout, &q, CLI_FMT_CSV, 0);
	} else {
		/* {:path .. :file-bytes .. :datoms .. :history .. :transactions ..
		 *  :basis-tx .. :last-tx-instant .. :attributes [{...} ...]} */
		static const char *const keys[] = {"db/ident", "db/valueType", "db/cardinality",
						   "db/unique", "datoms", "values", "entities",
						   "flags"};
		dl_value *ams = DL_ARENA_NEW(&a, q.nrows ? q.nrows : 1, dl_value);
		dl_value *top = DL_ARENA_NEW(&a, 16, dl_value);
		if (!ams || !top) {
			rc = DL_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < q.nrows; i++) {
			dl_value *kv = DL_ARENA_NEW(&a, 16, dl_value);
			if (!kv) {
				rc = DL_ENOMEM;
				goto out;
			}
			uint32_t m = 0;
			for (int c = 0; c < 8; c++) {
				const dl_value *v = &q.rows[i * 8 + (size_t)c];
				if (v->type == DL_NIL)
					continue;
				if ((rc = kw(&kv[2 * m], keys[c])) < 0)
					goto out;
				kv[2 * m + 1] = *v;
				m++;
			}
			ams[i] = dl_nil();
			ams[i].type = DL_MAP;
			ams[i].len = m;
			ams[i].u.items = kv;
		}
		const char *tk[] = {"path", "file-bytes", "datoms", "history", "transactions",
				    "basis-tx", "last-tx-instant", "attributes"};
		dl_value vec = dl_nil();
		vec.type = DL_VECTOR;
		vec.len = (uint32_t)q.nrows;
		vec.u.items = ams;
		const char *path = dl_db_path(db);
		dl_value tv[8] = {dl_string(path, strlen(path)), dl_int((int64_t)st.file_bytes),
				  dl_int((int64_t)st.datoms), dl_int((int64_t)st.history),
				  dl_int((int64_t)st.transactions), dl_int(st.basis), inst, vec};
		for (int i = 0; i < 8; i++) {
			if ((rc = kw(&top[2 * i], tk[i])) < 0)
				goto out;
			top[2 * i + 1] = tv[i];
		}
		dl_value m = dl_nil();
		m.type = DL_MAP;
		m.len = 8;
		m.u.items = top;
		if ((rc = cli_format_value(&b, &m, fmt)) < 0)
			goto out;
		printf("%s\n", b.data);
	}
out:
	if (rc < 0)
		code = fail(rc);
	dl_buf_free(&b);
	dl_arena_free(&a);
	dl_snapshot_end(s);
	dl_db_close(db);
	return code;
}

/* ---- check ---------------------------------------------------------------------- */

const char cli_help_check[] =
	"Verifies that EAVT, AEVT, AVET and VAET hold the same datoms, that the\n"
	"history agrees with them, and that the transaction log accounts for\n"
	"every datom.  Each problem is printed on stdout as `problem: ...`.\n"
	"Exit codes: 0 and a summary when the database is sound, 3 when it is\n"
	"damaged (or cannot be read), 2 usage.\n";

typedef struct check_ctx {
	uint64_t n;
} check_ctx;

static void check_report(void *ud, const char *problem)
{
	check_ctx *c = ud;
	c->n++;
	printf("problem: %s\n", problem);
}

int cli_cmd_check(const cli_command *self, int argc, char **argv)
{
	const char *db_path = NULL;
	for (int i = 1; i < argc; i++) {
		if (is_option(argv[i]))
			return cli_usage_error(self, "unknown option");
		if (db_path)
			return cli_usage_error(self, "too many arguments");
		db_path = argv[i];
	}
	if (!db_path)
		return cli_usage_error(self, "which database?");
	dl_db *db;
	int code = cli_open_db(&db, db_path, false);
	if (code)
		return code;
	check_ctx c = {0};
	int rc = dl_db_check(db, check_report, &c);
	fflush(stdout);
	if (rc == DL_ECORRUPT || (rc == 0 && c.n)) {
		fprintf(stderr, "error: %s: %" PRIu64 " problem%s found: the database is damaged\n",
			db_path, c.n, c.n == 1 ? "" : "s");
		code = CLI_EXIT_DB;
	} else if (rc < 0) {
		fail(rc);
		code = CLI_EXIT_DB;
	} else {
		dl_db_stat st;
		if (dl_db_stats(&st, db) == 0)
			printf("ok: %s: %" PRIu64 " datoms, %" PRIu64 " in history, %" PRIu64
			       " transactions; the indexes, the history and the log agree\n",
			       db_path, st.datoms, st.history, st.transactions);
		else
			printf("ok: %s\n", db_path);
	}
	dl_db_close(db);
	return code;
}
