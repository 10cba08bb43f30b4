/*
 * `datalite gen KIND`: deterministic benchmark data as EDN tx-data (for
 * datalite and DataScript) or CSV (for SQLite).
 *
 * Kinds: ohlc (one-minute or five-minute price bars), social (DataScript's
 * benchmark people), graph (random directed edges), genealogy (two parents
 * per person) and follows (the trees and chains of DataScript's rules
 * benchmarks).  Everything streams: only per-symbol state is kept, never the
 * dataset, so --large costs no memory.
 *
 * Determinism: one splitmix64 stream per kind, seeded from --seed, and only
 * integer and IEEE +,-,*,/ arithmetic (normals are Irwin-Hall sums, not
 * Box-Muller), so the same arguments give the same bytes on every machine.
 * The EDN and CSV outputs draw the same numbers in the same order, so they
 * hold the same data.
 *
 * CSV entity ids are 1-based, unique across a kind's tables and follow the
 * EDN's emission order (ohlc: symbols 1..S, then bars; graph: nodes 1..N,
 * then edges), so an EAV table can be derived from them in SQL.  follows
 * keeps DataScript's node numbers instead (see gen_follows).
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------ */
/* Output: our own big buffer and hand-rolled number formatting, because      */
/* printf would be most of the run time.                                     */
/* ------------------------------------------------------------------------ */

#define OUT_CAP (1u << 20)
#define OUT_SLACK 4096 /* every record the generators write is shorter */

typedef struct out {
	FILE *f;
	char *path; /* for messages; NULL for stdout */
	char *buf;
	size_t len;
	int err; /* errno of the first failed write, 0 if none */
} out;

static int out_open(out *o, const char *dir, const char *name)
{
	memset(o, 0, sizeof *o);
	if (!dir && (!name || strcmp(name, "-") == 0)) {
		o->f = stdout;
	} else {
		size_t n = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
		o->path = malloc(n);
		if (!o->path)
			return -1;
		snprintf(o->path, n, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
		o->f = fopen(o->path, "wb");
		if (!o->f) {
			fprintf(stderr, "error: %s: %s\n", o->path, strerror(errno));
			free(o->path);
			o->path = NULL;
			return -1;
		}
	}
	o->buf = malloc(OUT_CAP);
	if (!o->buf) {
		fprintf(stderr, "error: out of memory\n");
		if (o->f != stdout)
			fclose(o->f);
		free(o->path);
		return -1;
	}
	return 0;
}

static void out_flush(out *o)
{
	if (o->len && !o->err && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->err = errno ? errno : EIO;
	o->len = 0;
}

/* Make room for one record (at most OUT_SLACK bytes). */
static inline void out_room(out *o)
{
	if (o->len > OUT_CAP - OUT_SLACK)
		out_flush(o);
}

static inline void out_mem(out *o, const void *p, size_t n)
{
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

#define out_lit(o, s) out_mem((o), (s), sizeof(s) - 1)

static inline void out_ch(out *o, char c) { o->buf[o->len++] = c; }

static inline void out_str(out *o, const char *s) { out_mem(o, s, strlen(s)); }

static const char k_digits2[] = "00010203040506070809101112131415161718192021222324"
				"25262728293031323334353637383940414243444546474849"
				"50515253545556575859606162636465666768697071727374"
				"75767778798081828384858687888990919293949596979899";

static inline void out_u64(out *o, uint64_t v)
{
	char tmp[20];
	char *p = tmp + sizeof tmp;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		p -= 2;
		memcpy(p, k_digits2 + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, k_digits2 + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	out_mem(o, p, (size_t)(tmp + sizeof tmp - p));
}

static inline void out_i64(out *o, int64_t v)
{
	if (v < 0) {
		out_ch(o, '-');
		out_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		out_u64(o, (uint64_t)v);
	}
}

/* A price in cents as a decimal with two places ("123.40"): an EDN double,
 * and parsed to the same double by every reader. */
static inline void out_cents(out *o, int64_t cents)
{
	if (cents < 0) {
		out_ch(o, '-');
		cents = -cents;
	}
	out_u64(o, (uint64_t)cents / 100);
	out_ch(o, '.');
	out_mem(o, k_digits2 + 2 * ((uint64_t)cents % 100), 2);
}

/* Two decimal digits; n < 100. */
static inline void out_2d(out *o, unsigned n) { out_mem(o, k_digits2 + 2 * n, 2); }

/* Our strings are plain ASCII; escape what EDN requires anyway. */
static void out_edn_str(out *o, const char *s)
{
	out_ch(o, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			out_ch(o, '\\');
		out_ch(o, *s);
	}
	out_ch(o, '"');
}

static void out_csv_str(out *o, const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		out_str(o, s);
		return;
	}
	out_ch(o, '"');
	for (; *s; s++) {
		if (*s == '"')
			out_ch(o, '"');
		out_ch(o, *s);
	}
	out_ch(o, '"');
}

/* Flush and close; returns 0 or -1 after printing why. */
static int out_close(out *o)
{
	int rc = 0;
	if (!o->f)
		return 0;
	out_flush(o);
	if (fflush(o->f) != 0 && !o->err)
		o->err = errno ? errno : EIO;
	if (o->f != stdout && fclose(o->f) != 0 && !o->err)
		o->err = errno ? errno : EIO;
	if (o->err) {
		fprintf(stderr, "error: %s: %s\n", o->path ? o->path : "<stdout>",
			strerror(o->err));
		rc = -1;
	}
	free(o->buf);
	free(o->path);
	memset(o, 0, sizeof *o);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Random numbers                                                            */
/* ------------------------------------------------------------------------ */

typedef struct rng {
	uint64_t s;
} rng;

static inline uint64_t rng_next(rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Seed a stream; `stream` keeps a kind's independent streams apart. */
static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
	r->s = seed ^ (stream * 0xd1b54a32d192ed03u);
	(void)rng_next(r);
}

/* Uniform in [0, n), n < 2^32 (Lemire's multiply; no division). */
static inline uint32_t rng_below(rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

/* Approximately N(0, 1): the Irwin-Hall sum of twelve 16-bit uniforms.
 * Integer-exact, so identical everywhere; the tails stop at +-6, which a
 * price walk does not miss. */
static inline double rng_normal(rng *r)
{
	int64_t sum = 0;
	for (int i = 0; i < 3; i++) {
		uint64_t x = rng_next(r);
		sum += (int64_t)(x & 0xffff) + (int64_t)((x >> 16) & 0xffff) +
		       (int64_t)((x >> 32) & 0xffff) + (int64_t)(x >> 48);
	}
	return (double)(sum * 2 - 12 * 65535) / 131072.0;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

enum { K_OHLC = 1, K_SOCIAL = 2, K_GRAPH = 4, K_GENEALOGY = 8, K_FOLLOWS = 16 };

typedef struct gen_opts {
	int kind;
	const char *kind_name;
	long long symbols, days, interval, people, nodes, edges, width, depth;
	uint64_t seed;
	bool large, csv;
	bool long_shape; /* follows: chains instead of a tree */
	bool people_attrs; /* follows: nodes are whole social people */
	const char *out;
} gen_opts;

typedef struct opt_spec {
	const char *name;
	size_t field; /* offsetof into gen_opts, a long long */
	long long min, max;
	int kinds;
} opt_spec;

static const opt_spec k_num_opts[] = {
	{"--symbols", offsetof(gen_opts, symbols), 1, 1000000, K_OHLC},
	{"--days", offsetof(gen_opts, days), 1, 100000, K_OHLC},
	{"--interval", offsetof(gen_opts, interval), 1, 5, K_OHLC},
	{"--people", offsetof(gen_opts, people), 1, 1000000000, K_SOCIAL | K_GENEALOGY},
	{"--nodes", offsetof(gen_opts, nodes), 1, 1000000000, K_GRAPH},
	{"--edges", offsetof(gen_opts, edges), 0, 10000000000LL, K_GRAPH},
	{"--width", offsetof(gen_opts, width), 1, 1000000000, K_GENEALOGY | K_FOLLOWS},
	{"--depth", offsetof(gen_opts, depth), 1, 1000000000, K_FOLLOWS},
};

#define N_NUM_OPTS (sizeof k_num_opts / sizeof *k_num_opts)

#define FOLLOWS_MAX_NODES 100000000LL /* wide trees grow fast: a sanity cap */

static const char k_options_help[] =
	"kinds and options (defaults in brackets):\n"
	"  ohlc       [--symbols 10] [--days 20] [--interval 1|5] [--large]\n"
	"             price bars, 9:30-16:00 on weekdays from 2026-01-05;\n"
	"             --large = 100 symbols x 100 days (31M datoms)\n"
	"  social     [--people 20000]   DataScript's benchmark people\n"
	"  graph      [--nodes 1000] [--edges 3000]   random directed edges\n"
	"  genealogy  [--people 1000] [--width 100]   two parents each from the\n"
	"             previous generation of --width people\n"
	"  follows    [--shape wide|long] [--depth D] [--width W]   DataScript's\n"
	"             rules-benchmark data: wide = a tree, each node following its\n"
	"             W children, D levels down [3x3]; long = W chains of D\n"
	"             :follows edges [10x3]; --people-attrs: each node a whole\n"
	"             social person (DataScript's pull-benchmark wide-db 4 5)\n"
	"common:\n"
	"  --seed S            random seed [42]; same arguments, same bytes\n"
	"  --format edn|csv    EDN tx-data [edn], or CSV files for SQLite\n"
	"  --out PATH          EDN: a file [stdout]; CSV: a directory (required)\n";

static int gen_usage(const cli_command *self, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int gen_usage(const cli_command *self, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "datalite %s: ", self->name);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: datalite %s\n%s", self->usage, k_options_help);
	return CLI_EXIT_USAGE;
}

/* A whole decimal number, or false. */
static bool parse_num(const char *s, long long *v)
{
	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return false;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

static int parse_opts(const cli_command *self, int argc, char **argv, gen_opts *o)
{
	memset(o, 0, sizeof *o);
	o->symbols = o->days = o->interval = o->people = o->nodes = o->edges = o->width = -1;
	o->depth = -1;
	o->seed = 42;
	if (argc < 2)
		return gen_usage(self, "which kind? ohlc, social, graph, genealogy or follows");
	static const struct {
		const char *name;
		int kind;
	} kinds[] = {{"ohlc", K_OHLC}, {"social", K_SOCIAL}, {"graph", K_GRAPH},
		     {"genealogy", K_GENEALOGY}, {"follows", K_FOLLOWS}};
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(argv[1], kinds[i].name) == 0) {
			o->kind = kinds[i].kind;
			o->kind_name = kinds[i].name;
		}
	if (!o->kind)
		return gen_usage(self, "unknown kind '%s'", argv[1]);

	for (int i = 2; i < argc; i++) {
		char *name = argv[i], *val = NULL;
		char *eq = strchr(name, '=');
		char namebuf[64];
		if (strncmp(name, "--", 2) == 0 && eq && (size_t)(eq - name) < sizeof namebuf) {
			memcpy(namebuf, name, (size_t)(eq - name));
			namebuf[eq - name] = 0;
			val = eq + 1;
			name = namebuf;
		}
		if (strcmp(name, "--people-attrs") == 0) {
			if (val)
				return gen_usage(self, "%s takes no value", name);
			if (o->kind != K_FOLLOWS)
				return gen_usage(self, "%s applies to follows only", name);
			o->people_attrs = true;
			continue;
		}
		if (strcmp(name, "--large") == 0) {
			if (val)
				return gen_usage(self, "%s takes no value", name);
			if (o->kind != K_OHLC)
				return gen_usage(self, "%s applies to ohlc only", name);
			o->large = true;
			continue;
		}
		/* Every other option takes a value. */
		if (!val) {
			if (i + 1 >= argc)
				return gen_usage(self, "%s needs a value", name);
			val = argv[++i];
		}
		if (strcmp(name, "--seed") == 0) {
			long long s;
			if (!parse_num(val, &s) || s < 0)
				return gen_usage(self, "--seed wants a number >= 0, not '%s'", val);
			o->seed = (uint64_t)s;
		} else if (strcmp(name, "--format") == 0) {
			if (strcmp(val, "csv") == 0)
				o->csv = true;
			else if (strcmp(val, "edn") == 0)
				o->csv = false;
			else
				return gen_usage(self, "--format is edn or csv, not '%s'", val);
		} else if (strcmp(name, "--out") == 0) {
			o->out = val;
		} else if (strcmp(name, "--shape") == 0) {
			if (o->kind != K_FOLLOWS)
				return gen_usage(self, "--shape applies to follows only");
			if (strcmp(val, "wide") == 0)
				o->long_shape = false;
			else if (strcmp(val, "long") == 0)
				o->long_shape = true;
			else
				return gen_usage(self, "--shape is wide or long, not '%s'", val);
		} else {
			const opt_spec *sp = NULL;
			for (size_t k = 0; k < N_NUM_OPTS; k++)
				if (strcmp(name, k_num_opts[k].name) == 0)
					sp = &k_num_opts[k];
			if (!sp)
				return gen_usage(self, "unknown option '%s'", name);
			if (!(sp->kinds & o->kind))
				return gen_usage(self, "%s does not apply to this kind", name);
			long long v;
			if (!parse_num(val, &v) || v < sp->min || v > sp->max)
				return gen_usage(self, "%s wants a number from %lld to %lld, not '%s'",
						 name, sp->min, sp->max, val);
			*(long long *)((char *)o + sp->field) = v;
		}
	}

	/* Defaults, after parsing, so explicit options win over --large. */
	if (o->symbols < 0)
		o->symbols = o->large ? 100 : 10;
	if (o->days < 0)
		o->days = o->large ? 100 : 20;
	if (o->interval < 0)
		o->interval = 1;
	if (o->interval != 1 && o->interval != 5)
		return gen_usage(self, "--interval is 1 or 5");
	if (o->people < 0)
		o->people = o->kind == K_SOCIAL ? 20000 : 1000;
	if (o->nodes < 0)
		o->nodes = 1000;
	if (o->edges < 0)
		o->edges = 3000;
	if (o->width < 0)
		o->width = o->kind == K_FOLLOWS ? 3 : 100;
	if (o->depth < 0)
		o->depth = o->long_shape ? 10 : 3;
	if (o->kind == K_GENEALOGY && o->width < 2)
		return gen_usage(self, "genealogy needs --width >= 2 (two distinct parents)");
	if (o->kind == K_FOLLOWS && !o->long_shape) {
		/* Node w^k's children are w^(k+1)..: width 1 would follow itself. */
		if (o->width < 2)
			return gen_usage(self, "a wide tree needs --width >= 2");
		long long level = 1, total = 1;
		for (long long d = 0; d < o->depth && total <= FOLLOWS_MAX_NODES; d++) {
			level *= o->width; /* both at most FOLLOWS_MAX_NODES * 1e9 */
			total += level;
		}
		if (total > FOLLOWS_MAX_NODES)
			return gen_usage(self, "a wide tree of more than %lld nodes is too big",
					 (long long)FOLLOWS_MAX_NODES);
	}
	if (o->kind == K_FOLLOWS && o->long_shape &&
	    o->width > FOLLOWS_MAX_NODES / (o->depth + 1))
		return gen_usage(self, "long chains of more than %lld nodes in all are too big",
				 (long long)FOLLOWS_MAX_NODES);
	if (o->kind == K_GRAPH && o->edges > 0 && o->nodes < 2)
		return gen_usage(self, "edges need --nodes >= 2 (there are no self-loops)");
	if (o->kind == K_SOCIAL && o->people < 2)
		return gen_usage(self, "social needs --people >= 2");
	if (o->csv && !o->out)
		return gen_usage(self, "--format csv needs --out DIR");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Shared EDN and CSV pieces                                                 */
/* ------------------------------------------------------------------------ */

typedef struct attr_def {
	const char *ident, *type;
	bool many, identity, index;
} attr_def;

/* The effective options (not argv), so equivalent command lines give the
 * same bytes. */
static void edn_header(out *o, const gen_opts *g)
{
	char line[256];
	int n = snprintf(line, sizeof line, ";; datalite gen %s", g->kind_name);
	switch (g->kind) {
	case K_OHLC:
		n += snprintf(line + n, sizeof line - (size_t)n, " --symbols %lld --days %lld --interval %lld",
			      g->symbols, g->days, g->interval);
		break;
	case K_SOCIAL:
		n += snprintf(line + n, sizeof line - (size_t)n, " --people %lld", g->people);
		break;
	case K_GRAPH:
		n += snprintf(line + n, sizeof line - (size_t)n, " --nodes %lld --edges %lld", g->nodes,
			      g->edges);
		break;
	case K_FOLLOWS:
		n += snprintf(line + n, sizeof line - (size_t)n, " --shape %s --depth %lld --width %lld",
			      g->long_shape ? "long" : "wide", g->depth, g->width);
		if (g->people_attrs)
			n += snprintf(line + n, sizeof line - (size_t)n, " --people-attrs");
		break;
	default:
		n += snprintf(line + n, sizeof line - (size_t)n, " --people %lld --width %lld", g->people,
			      g->width);
		break;
	}
	snprintf(line + n, sizeof line - (size_t)n, " --seed %" PRIu64 "\n", g->seed);
	out_str(o, line);
	out_lit(o, ";; deterministic benchmark data: the schema, then entities, one tx per vector\n");
}

static void edn_schema(out *o, const attr_def *attrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const attr_def *a = &attrs[i];
		out_room(o);
		out_str(o, i == 0 ? "[{:db/ident " : " {:db/ident ");
		out_str(o, a->ident);
		out_lit(o, " :db/valueType :db.type/");
		out_str(o, a->type);
		out_str(o, a->many ? " :db/cardinality :db.cardinality/many"
				   : " :db/cardinality :db.cardinality/one");
		if (a->identity)
			out_lit(o, " :db/unique :db.unique/identity");
		if (a->index)
			out_lit(o, " :db/index true");
		out_str(o, i + 1 == n ? "}]\n" : "}\n");
	}
}

/* Start or continue a tx vector: items are one per line. */
static inline void tx_item(out *o, size_t i_in_tx) { out_str(o, i_in_tx ? " " : "["); }
static inline void tx_end(out *o, bool last) { out_str(o, last ? "]\n" : "\n"); }

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* ------------------------------------------------------------------------ */
/* ohlc                                                                      */
/* ------------------------------------------------------------------------ */

static const char *const k_tickers[][2] = {
	{"NVDA", "NVIDIA Corporation"},
	{"AAPL", "Apple Inc."},
	{"MSFT", "Microsoft Corporation"},
	{"AMZN", "Amazon.com Inc."},
	{"GOOG", "Alphabet Inc."},
	{"META", "Meta Platforms Inc."},
	{"TSLA", "Tesla Inc."},
	{"AMD", "Advanced Micro Devices Inc."},
	{"INTC", "Intel Corporation"},
	{"ORCL", "Oracle Corporation"},
	{"NFLX", "Netflix Inc."},
	{"ADBE", "Adobe Inc."},
	{"CRM", "Salesforce Inc."},
	{"CSCO", "Cisco Systems Inc."},
	{"AVGO", "Broadcom Inc."},
	{"QCOM", "Qualcomm Inc."},
	{"TXN", "Texas Instruments Inc."},
	{"IBM", "International Business Machines Corp."},
	{"MU", "Micron Technology Inc."},
	{"ASML", "ASML Holding N.V."},
	{"TSM", "Taiwan Semiconductor Manufacturing Co."},
	{"SAP", "SAP SE"},
	{"UBER", "Uber Technologies Inc."},
	{"SHOP", "Shopify Inc."},
	{"PYPL", "PayPal Holdings Inc."},
	{"JPM", "JPMorgan Chase & Co."},
	{"BAC", "Bank of America Corp."},
	{"V", "Visa Inc."},
	{"MA", "Mastercard Inc."},
	{"WMT", "Walmart Inc."},
	{"KO", "The Coca-Cola Company"},
	{"PEP", "PepsiCo Inc."},
	{"DIS", "The Walt Disney Company"},
	{"XOM", "Exxon Mobil Corporation"},
	{"CVX", "Chevron Corporation"},
	{"PFE", "Pfizer Inc."},
	{"JNJ", "Johnson & Johnson"},
	{"UNH", "UnitedHealth Group Inc."},
	{"HD", "The Home Depot Inc."},
	{"NKE", "Nike Inc."},
	{"MCD", "McDonald's Corporation"},
	{"BA", "The Boeing Company"},
	{"CAT", "Caterpillar Inc."},
	{"GE", "General Electric Company"},
	{"F", "Ford Motor Company"},
	{"GM", "General Motors Company"},
};

#define N_TICKERS (sizeof k_tickers / sizeof *k_tickers)

static const attr_def k_ohlc_schema[] = {
	{":symbol/ticker", "string", false, true, false},
	{":symbol/name", "string", false, false, false},
	{":price/symbol", "ref", false, false, false},
	{":price/time", "instant", false, false, true},
	{":price/minute-of-day", "long", false, false, false},
	{":price/open", "double", false, false, false},
	{":price/high", "double", false, false, false},
	{":price/low", "double", false, false, false},
	{":price/close", "double", false, false, false},
	{":price/volume", "long", false, false, false},
};

typedef struct symbol {
	char ticker[16];
	char name[48];
	char *bar_prefix; /* `{:price/symbol [:symbol/ticker "X"] :price/time #inst "` */
	size_t bar_prefix_len;
	double price; /* the walk, in dollars; printed rounded to cents */
} symbol;

#define EXCHANGE_UTC_OFFSET_MIN 300 /* a fixed -5h: 9:30 exchange time is 14:30Z */
#define OPEN_MIN 570                /* 9:30 */
#define CLOSE_MIN 960               /* 16:00 */

static int64_t to_cents(double dollars)
{
	int64_t c = (int64_t)(dollars * 100.0 + 0.5);
	return c < 1 ? 1 : c;
}

static int gen_ohlc(const gen_opts *g)
{
	size_t ns = (size_t)g->symbols;
	symbol *syms = calloc(ns, sizeof *syms);
	if (!syms) {
		fprintf(stderr, "error: out of memory\n");
		return CLI_EXIT_USER;
	}
	rng r;
	rng_seed(&r, g->seed, 1);
	for (size_t i = 0; i < ns; i++) {
		symbol *s = &syms[i];
		if (i < N_TICKERS) {
			snprintf(s->ticker, sizeof s->ticker, "%s", k_tickers[i][0]);
			snprintf(s->name, sizeof s->name, "%s", k_tickers[i][1]);
		} else {
			unsigned k = (unsigned)(i - N_TICKERS + 1);
			snprintf(s->ticker, sizeof s->ticker, "T%04u", k);
			snprintf(s->name, sizeof s->name, "Synthetic Company %04u", k);
		}
		/* Start between $20 and $500. */
		s->price = 20.0 + (double)rng_below(&r, 48001) / 100.0;
		char pre[128];
		int n = snprintf(pre, sizeof pre,
				 "{:price/symbol [:symbol/ticker \"%s\"] :price/time #inst \"",
				 s->ticker);
		s->bar_prefix = malloc((size_t)n + 1);
		if (!s->bar_prefix) {
			fprintf(stderr, "error: out of memory\n");
			for (size_t j = 0; j < i; j++)
				free(syms[j].bar_prefix);
			free(syms);
			return CLI_EXIT_USER;
		}
		memcpy(s->bar_prefix, pre, (size_t)n + 1);
		s->bar_prefix_len = (size_t)n;
	}

	int rc = CLI_EXIT_USER;
	out eo = {0}, so = {0}, po = {0};
	if (g->csv) {
		if (out_open(&so, g->out, "symbols.csv") || out_open(&po, g->out, "prices.csv"))
			goto done;
	} else if (out_open(&eo, NULL, g->out)) {
		goto done;
	}

	/* Schema, then the symbols (in txs of 1000). */
	if (g->csv) {
		out_lit(&so, "id,ticker,name\n");
		out_lit(&po, "id,symbol_id,time_ms,minute_of_day,open,high,low,close,volume\n");
		for (size_t i = 0; i < ns; i++) {
			out_room(&so);
			out_u64(&so, i + 1);
			out_ch(&so, ',');
			out_csv_str(&so, syms[i].ticker);
			out_ch(&so, ',');
			out_csv_str(&so, syms[i].name);
			out_ch(&so, '\n');
		}
	} else {
		edn_header(&eo, g);
		edn_schema(&eo, k_ohlc_schema, sizeof k_ohlc_schema / sizeof *k_ohlc_schema);
		for (size_t i = 0; i < ns; i++) {
			out_room(&eo);
			tx_item(&eo, i % 1000);
			out_lit(&eo, "{:db/id \"sym-");
			out_str(&eo, syms[i].ticker);
			out_lit(&eo, "\" :symbol/ticker ");
			out_edn_str(&eo, syms[i].ticker);
			out_lit(&eo, " :symbol/name ");
			out_edn_str(&eo, syms[i].name);
			out_ch(&eo, '}');
			tx_end(&eo, i % 1000 == 999 || i + 1 == ns);
		}
	}

	/* Bars: day-major like a feed, one tx per symbol-day. */
	const unsigned step = (unsigned)g->interval;
	const double sigma = g->interval == 1 ? 0.001 : 0.002236067977499790; /* 0.001*sqrt(5) */
	const int64_t start_day = days_from_civil(2026, 1, 5); /* a Monday */
	uint64_t id = ns;
	for (long long day = 0; day < g->days; day++) {
		int64_t cal = start_day + day + 2 * (day / 5); /* skip weekends */
		int y;
		unsigned m, d;
		civil_from_days(cal, &y, &m, &d);
		char date[40]; /* "2026-01-05T" */
		snprintf(date, sizeof date, "%04d-%02u-%02uT", y, m, d);
		int64_t day_ms = cal * 86400000;
		for (size_t si = 0; si < ns; si++) {
			symbol *s = &syms[si];
			for (unsigned mod = OPEN_MIN; mod < CLOSE_MIN; mod += step) {
				double p = s->price;
				int64_t o = to_cents(p);
				p *= 1.0 + sigma * rng_normal(&r);
				if (p < 0.01)
					p = 0.01;
				s->price = p;
				int64_t c = to_cents(p);
				/* Wicks beyond the body, half a sigma on average. */
				int64_t hi = (o > c ? o : c), lo = (o < c ? o : c);
				double wh = rng_normal(&r), wl = rng_normal(&r);
				hi += (int64_t)((wh < 0 ? -wh : wh) * sigma * 0.5 * p * 100.0 + 0.5);
				lo -= (int64_t)((wl < 0 ? -wl : wl) * sigma * 0.5 * p * 100.0 + 0.5);
				if (lo < 1)
					lo = 1;
				uint64_t vol = 100 + rng_below(&r, 999901);
				unsigned utc = mod + EXCHANGE_UTC_OFFSET_MIN;
				id++;
				if (g->csv) {
					out_room(&po);
					out_u64(&po, id);
					out_ch(&po, ',');
					out_u64(&po, si + 1);
					out_ch(&po, ',');
					out_i64(&po, day_ms + (int64_t)utc * 60000);
					out_ch(&po, ',');
					out_u64(&po, mod);
					out_ch(&po, ',');
					out_cents(&po, o);
					out_ch(&po, ',');
					out_cents(&po, hi);
					out_ch(&po, ',');
					out_cents(&po, lo);
					out_ch(&po, ',');
					out_cents(&po, c);
					out_ch(&po, ',');
					out_u64(&po, vol);
					out_ch(&po, '\n');
					continue;
				}
				out_room(&eo);
				out_ch(&eo, mod == OPEN_MIN ? '[' : ' ');
				out_mem(&eo, s->bar_prefix, s->bar_prefix_len);
				out_mem(&eo, date, 11);
				out_2d(&eo, utc / 60);
				out_ch(&eo, ':');
				out_2d(&eo, utc % 60);
				out_lit(&eo, ":00.000Z\" :price/minute-of-day ");
				out_u64(&eo, mod);
				out_lit(&eo, " :price/open ");
				out_cents(&eo, o);
				out_lit(&eo, " :price/high ");
				out_cents(&eo, hi);
				out_lit(&eo, " :price/low ");
				out_cents(&eo, lo);
				out_lit(&eo, " :price/close ");
				out_cents(&eo, c);
				out_lit(&eo, " :price/volume ");
				out_u64(&eo, vol);
				out_str(&eo, mod + step >= CLOSE_MIN ? "}]\n" : "}\n");
			}
		}
	}
	rc = CLI_EXIT_OK;
done:
	if (out_close(&eo) | out_close(&so) | out_close(&po))
		rc = CLI_EXIT_USER;
	for (size_t i = 0; i < ns; i++)
		free(syms[i].bar_prefix);
	free(syms);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* social: DataScript's bench people                                         */
/* ------------------------------------------------------------------------ */

static const char *const k_names[] = {"Ivan", "Petr",   "Sergei", "Oleg",
				      "Yuri", "Dmitry", "Fedor",  "Denis"};
static const char *const k_last_names[] = {"Ivanov",  "Petrov",    "Sidorov",
					   "Kovalev", "Kuznetsov", "Voronoi"};
static const char *const k_aliases[] = {
	"A. C. Q. W.",	   "A. J. Finn",  "A.A. Fair", "Aapeli",     "Aaron Wolfe", "Abigail Van Buren",
	"Jeanne Phillips", "Abram Tertz", "Abu Nuwas", "Acton Bell", "Adunis"};

static const attr_def k_social_schema[] = {
	{":id", "long", false, true, false},	 {":name", "string", false, false, false},
	{":last-name", "string", false, false, false}, {":alias", "string", true, false, false},
	{":sex", "keyword", false, false, false},	 {":age", "long", false, false, false},
	{":salary", "long", false, false, false},	 {":follows", "ref", true, false, false},
};

#define SOCIAL_TX 1000 /* people per tx */
#define LINKS_TX 5000  /* :follows, :edge or parent datoms per tx */
#define MAX_FOLLOWS 4  /* each person follows 0..4 others */

/* One of DataScript's random people (social, and follows --people-attrs). */
typedef struct person {
	const char *name, *last;
	unsigned alias[10], na; /* indexes into k_aliases, no repeats */
	bool male;
	unsigned age, salary;
} person;

static void person_draw(rng *r, person *p)
{
	p->name = k_names[rng_below(r, 8)];
	p->last = k_last_names[rng_below(r, 6)];
	unsigned nalias = rng_below(r, 10), seen = 0;
	p->na = 0;
	for (unsigned k = 0; k < nalias; k++) {
		unsigned a = rng_below(r, 11);
		if (!(seen & (1u << a))) /* a set: drop repeats */
			p->alias[p->na++] = a;
		seen |= 1u << a;
	}
	p->male = rng_below(r, 2) == 0;
	p->age = rng_below(r, 100);
	p->salary = rng_below(r, 100000);
}

/* Person `id` as rows of people.csv and aliases.csv (room made here). */
static void person_csv(out *po, out *ao, uint64_t id, const person *p)
{
	out_room(po);
	out_u64(po, id);
	out_ch(po, ',');
	out_str(po, p->name);
	out_ch(po, ',');
	out_str(po, p->last);
	out_str(po, p->male ? ",male," : ",female,");
	out_u64(po, p->age);
	out_ch(po, ',');
	out_u64(po, p->salary);
	out_ch(po, '\n');
	out_room(ao);
	for (unsigned k = 0; k < p->na; k++) {
		out_u64(ao, id);
		out_ch(ao, ',');
		out_csv_str(ao, k_aliases[p->alias[k]]);
		out_ch(ao, '\n');
	}
}

/* Person `id` as an EDN entity map (the caller makes room). */
static void person_edn(out *eo, uint64_t id, const person *p)
{
	out_lit(eo, "{:id ");
	out_u64(eo, id);
	out_lit(eo, " :name \"");
	out_str(eo, p->name);
	out_lit(eo, "\" :last-name \"");
	out_str(eo, p->last);
	out_ch(eo, '"');
	if (p->na) {
		out_lit(eo, " :alias [");
		for (unsigned k = 0; k < p->na; k++) {
			if (k)
				out_ch(eo, ' ');
			out_edn_str(eo, k_aliases[p->alias[k]]);
		}
		out_ch(eo, ']');
	}
	out_str(eo, p->male ? " :sex :male :age " : " :sex :female :age ");
	out_u64(eo, p->age);
	out_lit(eo, " :salary ");
	out_u64(eo, p->salary);
	out_ch(eo, '}');
}

static int gen_social(const gen_opts *g)
{
	int rc = CLI_EXIT_USER;
	out eo = {0}, po = {0}, ao = {0}, fo = {0};
	if (g->csv) {
		if (out_open(&po, g->out, "people.csv") || out_open(&ao, g->out, "aliases.csv") ||
		    out_open(&fo, g->out, "follows.csv"))
			goto done;
		out_lit(&po, "id,name,last_name,sex,age,salary\n");
		out_lit(&ao, "person_id,alias\n");
		out_lit(&fo, "person_id,follows_id\n");
	} else {
		if (out_open(&eo, NULL, g->out))
			goto done;
		edn_header(&eo, g);
		edn_schema(&eo, k_social_schema, sizeof k_social_schema / sizeof *k_social_schema);
	}

	/* The people; then, from a second stream, whom they follow (by lookup
	 * ref, so every person exists by then). */
	rng r;
	rng_seed(&r, g->seed, 2);
	uint64_t n = (uint64_t)g->people;
	for (uint64_t i = 1; i <= n; i++) {
		person p;
		person_draw(&r, &p);
		if (g->csv) {
			person_csv(&po, &ao, i, &p);
			continue;
		}
		out_room(&eo);
		tx_item(&eo, (i - 1) % SOCIAL_TX);
		person_edn(&eo, i, &p);
		tx_end(&eo, i % SOCIAL_TX == 0 || i == n);
	}

	rng_seed(&r, g->seed, 3);
	uint64_t links = 0;
	for (uint64_t i = 1; i <= n; i++) {
		unsigned nf = rng_below(&r, MAX_FOLLOWS + 1);
		uint64_t tgt[MAX_FOLLOWS];
		unsigned nt = 0;
		for (unsigned k = 0; k < nf; k++) {
			/* Anyone but oneself, each at most once. */
			uint64_t t = 1 + rng_below(&r, (uint32_t)(n - 1));
			if (t >= i)
				t++;
			bool dup = false;
			for (unsigned j = 0; j < nt; j++)
				dup |= tgt[j] == t;
			if (!dup)
				tgt[nt++] = t;
		}
		for (unsigned k = 0; k < nt; k++) {
			if (g->csv) {
				out_room(&fo);
				out_u64(&fo, i);
				out_ch(&fo, ',');
				out_u64(&fo, tgt[k]);
				out_ch(&fo, '\n');
				continue;
			}
			/* The count is unknown up front: close the previous
			 * line (and tx) lazily. */
			out_room(&eo);
			if (links)
				out_str(&eo, links % LINKS_TX ? "\n " : "]\n[");
			else
				out_ch(&eo, '[');
			out_lit(&eo, "[:db/add [:id ");
			out_u64(&eo, i);
			out_lit(&eo, "] :follows [:id ");
			out_u64(&eo, tgt[k]);
			out_lit(&eo, "]]");
			links++;
		}
	}
	if (!g->csv && links)
		out_lit(&eo, "]\n");
	rc = CLI_EXIT_OK;
done:
	if (out_close(&eo) | out_close(&po) | out_close(&ao) | out_close(&fo))
		rc = CLI_EXIT_USER;
	return rc;
}

/* ------------------------------------------------------------------------ */
/* graph: random directed edges as entities                                  */
/* ------------------------------------------------------------------------ */

static const attr_def k_graph_schema[] = {
	{":node/id", "long", false, true, false},
	{":edge/from", "ref", false, false, false},
	{":edge/to", "ref", false, false, false},
};

static int gen_graph(const gen_opts *g)
{
	int rc = CLI_EXIT_USER;
	out eo = {0}, no = {0}, xo = {0};
	uint64_t n = (uint64_t)g->nodes, m = (uint64_t)g->edges;
	if (g->csv) {
		if (out_open(&no, g->out, "nodes.csv") || out_open(&xo, g->out, "edges.csv"))
			goto done;
		out_lit(&no, "id\n");
		out_lit(&xo, "id,from_id,to_id\n");
		for (uint64_t i = 1; i <= n; i++) {
			out_room(&no);
			out_u64(&no, i);
			out_ch(&no, '\n');
		}
	} else {
		if (out_open(&eo, NULL, g->out))
			goto done;
		edn_header(&eo, g);
		edn_schema(&eo, k_graph_schema, sizeof k_graph_schema / sizeof *k_graph_schema);
		for (uint64_t i = 1; i <= n; i++) {
			out_room(&eo);
			tx_item(&eo, (i - 1) % LINKS_TX);
			out_lit(&eo, "{:node/id ");
			out_u64(&eo, i);
			out_ch(&eo, '}');
			tx_end(&eo, i % LINKS_TX == 0 || i == n);
		}
	}
	rng r;
	rng_seed(&r, g->seed, 4);
	for (uint64_t i = 1; i <= m; i++) {
		uint64_t from = 1 + rng_below(&r, (uint32_t)n);
		uint64_t to = 1 + rng_below(&r, (uint32_t)(n - 1));
		if (to >= from) /* no self-loops */
			to++;
		if (g->csv) {
			out_room(&xo);
			out_u64(&xo, n + i);
			out_ch(&xo, ',');
			out_u64(&xo, from);
			out_ch(&xo, ',');
			out_u64(&xo, to);
			out_ch(&xo, '\n');
			continue;
		}
		out_room(&eo);
		tx_item(&eo, (i - 1) % LINKS_TX);
		out_lit(&eo, "{:edge/from [:node/id ");
		out_u64(&eo, from);
		out_lit(&eo, "] :edge/to [:node/id ");
		out_u64(&eo, to);
		out_lit(&eo, "]}");
		tx_end(&eo, i % LINKS_TX == 0 || i == m);
	}
	rc = CLI_EXIT_OK;
done:
	if (out_close(&eo) | out_close(&no) | out_close(&xo))
		rc = CLI_EXIT_USER;
	return rc;
}

/* ------------------------------------------------------------------------ */
/* genealogy: generations of --width people, two parents each               */
/* ------------------------------------------------------------------------ */

static const attr_def k_genealogy_schema[] = {
	{":person/id", "long", false, true, false},
	{":person/parent", "ref", true, false, false},
};

static int gen_genealogy(const gen_opts *g)
{
	int rc = CLI_EXIT_USER;
	out eo = {0}, po = {0}, xo = {0};
	uint64_t n = (uint64_t)g->people, w = (uint64_t)g->width;
	if (g->csv) {
		if (out_open(&po, g->out, "people.csv") || out_open(&xo, g->out, "parents.csv"))
			goto done;
		out_lit(&po, "id,generation\n");
		out_lit(&xo, "person_id,parent_id\n");
	} else {
		if (out_open(&eo, NULL, g->out))
			goto done;
		edn_header(&eo, g);
		edn_schema(&eo, k_genealogy_schema,
			   sizeof k_genealogy_schema / sizeof *k_genealogy_schema);
	}
	rng r;
	rng_seed(&r, g->seed, 5);
	/* One tx per generation (cut at SOCIAL_TX people): a new person is a
	 * tempid, parents are lookup refs into earlier txs. */
	uint64_t in_tx = 0;
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t gen = (i - 1) / w, first = gen * w + 1;
		bool tx_last = i == n || i % w == 0 || in_tx + 1 == SOCIAL_TX;
		uint64_t pa = 0, pb = 0;
		if (gen > 0) {
			uint64_t base = first - w; /* the previous generation */
			pa = base + rng_below(&r, (uint32_t)w);
			pb = base + rng_below(&r, (uint32_t)(w - 1));
			if (pb >= pa)
				pb++;
		}
		if (g->csv) {
			out_room(&po);
			out_u64(&po, i);
			out_ch(&po, ',');
			out_u64(&po, gen);
			out_ch(&po, '\n');
			if (gen > 0) {
				out_room(&xo);
				out_u64(&xo, i);
				out_ch(&xo, ',');
				out_u64(&xo, pa);
				out_ch(&xo, '\n');
				out_u64(&xo, i);
				out_ch(&xo, ',');
				out_u64(&xo, pb);
				out_ch(&xo, '\n');
			}
			continue;
		}
		out_room(&eo);
		tx_item(&eo, in_tx);
		out_lit(&eo, "{:db/id \"p");
		out_u64(&eo, i);
		out_lit(&eo, "\" :person/id ");
		out_u64(&eo, i);
		out_ch(&eo, '}');
		for (int k = 0; gen > 0 && k < 2; k++) {
			out_lit(&eo, "\n [:db/add \"p");
			out_u64(&eo, i);
			out_lit(&eo, "\" :person/parent [:person/id ");
			out_u64(&eo, k ? pb : pa);
			out_lit(&eo, "]]");
		}
		tx_end(&eo, tx_last);
		in_tx = tx_last ? 0 : in_tx + 1;
	}
	rc = CLI_EXIT_OK;
done:
	if (out_close(&eo) | out_close(&po) | out_close(&xo))
		rc = CLI_EXIT_USER;
	return rc;
}

/* ------------------------------------------------------------------------ */
/* follows: the data of DataScript's rules benchmarks                        */
/* ------------------------------------------------------------------------ */

/*
 * DataScript's bench (bench/datascript/bench/bench.cljc, wide-db and long-db)
 * numbers its nodes itself; we keep those numbers as :id, so the pairs a
 * query finds can be compared with DataScript's own.
 *
 * wide (depth D, width W): a tree.  The root is 1 and node i follows its W
 * children i*W .. i*W+W-1, down to D levels below the root; level k holds
 * the nodes W^k .. 2*W^k-1.  Nodes are written level by level.
 *
 * long (depth D, width W): W chains of D :follows edges (D+1 nodes each).
 * DataScript numbers chain x's nodes x*(D+1) .. x*(D+1)+D from 0; we add 1
 * so that ids start at 1 like every other kind's.
 *
 * DataScript's wide nodes are its random people (name, last name, aliases,
 * age, ...) and its long nodes are all named "Ivan"; the rules query reads
 * only :follows, so we keep :name (a random one of the eight, or "Ivan") and
 * leave the rest out.  Its pull benchmarks read them all: --people-attrs
 * makes every node a whole social person, with social's schema and CSV
 * files (so SQLite loads it as social).  Then nodes, then the :follows
 * datoms by lookup ref, like social's.
 *
 * The rules query [(follows ?x ?y) [?x :follows ?y]] [(follows ?x ?y)
 * [?x :follows ?t] (follows ?t ?y)] finds every (ancestor, descendant) pair:
 * wide, sum over levels k < D of W^k * (W + W^2 + ... + W^(D-k)) pairs;
 * long, W * D * (D+1) / 2.
 */

static const attr_def k_follows_schema[] = {
	{":id", "long", false, true, false},
	{":name", "string", false, false, false},
	{":follows", "ref", true, false, false},
};

static int gen_follows(const gen_opts *g)
{
	int rc = CLI_EXIT_USER;
	out eo = {0}, po = {0}, ao = {0}, fo = {0};
	const uint64_t w = (uint64_t)g->width, d = (uint64_t)g->depth;
	const bool pa = g->people_attrs;
	if (g->csv) {
		if (out_open(&po, g->out, "people.csv") || out_open(&fo, g->out, "follows.csv") ||
		    (pa && out_open(&ao, g->out, "aliases.csv")))
			goto done;
		if (pa) { /* social's files (out_lit takes a literal) */
			out_lit(&po, "id,name,last_name,sex,age,salary\n");
			out_lit(&ao, "person_id,alias\n");
		} else {
			out_lit(&po, "id,name\n");
		}
		out_lit(&fo, "person_id,follows_id\n");
	} else {
		if (out_open(&eo, NULL, g->out))
			goto done;
		edn_header(&eo, g);
		if (pa)
			edn_schema(&eo, k_social_schema,
				   sizeof k_social_schema / sizeof *k_social_schema);
		else
			edn_schema(&eo, k_follows_schema,
				   sizeof k_follows_schema / sizeof *k_follows_schema);
	}

	/* The nodes, in id order: each level of the tree is a range of ids,
	 * the chains are one range. */
	rng r;
	rng_seed(&r, g->seed, 6);
	uint64_t nodes = 0, level_first = 1;
	for (uint64_t k = 0; k <= (g->long_shape ? 0 : d); k++) {
		uint64_t first = g->long_shape ? 1 : level_first;
		uint64_t count = g->long_shape ? w * (d + 1) : level_first;
		for (uint64_t id = first; id < first + count; id++, nodes++) {
			person p;
			if (pa)
				person_draw(&r, &p);
			const char *name =
				pa ? p.name : g->long_shape ? "Ivan" : k_names[rng_below(&r, 8)];
			if (g->csv && pa) {
				person_csv(&po, &ao, id, &p);
				continue;
			}
			if (g->csv) {
				out_room(&po);
				out_u64(&po, id);
				out_ch(&po, ',');
				out_str(&po, name);
				out_ch(&po, '\n');
				continue;
			}
			out_room(&eo);
			tx_item(&eo, nodes % SOCIAL_TX);
			if (pa) {
				person_edn(&eo, id, &p);
			} else {
				out_lit(&eo, "{:id ");
				out_u64(&eo, id);
				out_lit(&eo, " :name \"");
				out_str(&eo, name);
				out_lit(&eo, "\"}");
			}
			bool last = g->long_shape ? id + 1 == first + count
						  : (k == d && id + 1 == first + count);
			tx_end(&eo, nodes % SOCIAL_TX == SOCIAL_TX - 1 || last);
		}
		level_first *= w;
	}

	/* The edges: wide, every node above the last level to its children
	 * (a tree: nodes - 1 edges); long, each node but a chain's last to
	 * the next. */
	const uint64_t nedges = g->long_shape ? w * d : nodes - 1;
	uint64_t links = 0;
	level_first = 1;
	for (uint64_t k = 0; k < (g->long_shape ? 1 : d); k++, level_first *= w) {
		uint64_t first = g->long_shape ? 1 : level_first;
		uint64_t count = g->long_shape ? w * (d + 1) : level_first;
		for (uint64_t from = first; from < first + count; from++) {
			if (g->long_shape && from % (d + 1) == 0) /* a chain's last node */
				continue;
			uint64_t to0 = g->long_shape ? from + 1 : from * w;
			uint64_t nto = g->long_shape ? 1 : w;
			for (uint64_t t = to0; t < to0 + nto; t++, links++) {
				if (g->csv) {
					out_room(&fo);
					out_u64(&fo, from);
					out_ch(&fo, ',');
					out_u64(&fo, t);
					out_ch(&fo, '\n');
					continue;
				}
				out_room(&eo);
				tx_item(&eo, links % LINKS_TX);
				out_lit(&eo, "[:db/add [:id ");
				out_u64(&eo, from);
				out_lit(&eo, "] :follows [:id ");
				out_u64(&eo, t);
				out_lit(&eo, "]]");
				tx_end(&eo, links % LINKS_TX == LINKS_TX - 1 || links + 1 == nedges);
			}
		}
	}
	rc = CLI_EXIT_OK;
done:
	if (out_close(&eo) | out_close(&po) | out_close(&ao) | out_close(&fo))
		rc = CLI_EXIT_USER;
	return rc;
}

/* ------------------------------------------------------------------------ */

int cli_cmd_gen(const cli_command *self, int argc, char **argv)
{
	gen_opts g;
	int rc = parse_opts(self, argc, argv, &g);
	if (rc)
		return rc;
	if (g.csv && mkdir(g.out, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "error: %s: %s\n", g.out, strerror(errno));
		return CLI_EXIT_USER;
	}
	switch (g.kind) {
	case K_OHLC:
		return gen_ohlc(&g);
	case K_FOLLOWS:
		return gen_follows(&g);
	case K_SOCIAL:
		return gen_social(&g);
	case K_GRAPH:
		return gen_graph(&g);
	default:
		return gen_genealogy(&g);
	}
}
