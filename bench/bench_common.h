/*
 * What the benchmark programs share (bench_query, bench_write and the SQLite
 * peers sqlite_bench and sqlite_write, which link no datalite): the clock,
 * peak RSS, the median of the timed runs and the run budget, and the write
 * benchmarks' people.csv.  Header-only, so a peer builds from one .c file.
 */
#ifndef DL_BENCH_COMMON_H
#define DL_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static inline double bench_peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts times[0..n) (n > 0) and returns their median. */
static inline double bench_median(double *times, int n)
{
	qsort(times, (size_t)n, sizeof *times, bench_cmp_double);
	return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

/* How many of `runs` timed runs fit in budget_ms when one takes warm_ms:
 * all of them, or fewer but at least 3 (or runs, if smaller). */
static inline int bench_budget_runs(int runs, double warm_ms, double budget_ms)
{
	if (warm_ms * runs <= budget_ms)
		return runs;
	int n = (int)(budget_ms / (warm_ms > 0 ? warm_ms : 1));
	return n < 3 ? (runs < 3 ? runs : 3) : n;
}

/* A row of `datalite gen social --format csv`'s people.csv, DataScript's
 * people20k of the write benchmarks. */
typedef struct bench_person {
	long long id, age, salary;
	char name[32], last[32], sex[16]; /* sex: "male" or "female" */
} bench_person;

/* people.csv: id,name,last_name,sex,age,salary (a header, then no quoting:
 * the generator's names have no commas).  NULL, with a message naming
 * `prog` and the line, on a bad file. */
static inline bench_person *bench_read_people(const char *prog, const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	char line[256];
	bench_person *ps = NULL;
	size_t cap = 0;
	*n = 0;
	if (!f || !fgets(line, sizeof line, f)) {
		fprintf(stderr, "%s: cannot read %s\n", prog, path);
		if (f)
			fclose(f);
		return NULL;
	}
	while (fgets(line, sizeof line, f)) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			bench_person *g = realloc(ps, cap * sizeof *ps);
			if (!g) {
				fprintf(stderr, "%s: out of memory reading %s\n", prog, path);
				goto fail;
			}
			ps = g;
		}
		bench_person *p = &ps[*n];
		if (sscanf(line, "%lld,%31[^,],%31[^,],%15[^,],%lld,%lld", &p->id, p->name, p->last,
			   p->sex, &p->age, &p->salary) != 6) {
			fprintf(stderr, "%s: %s:%zu: not id,name,last_name,sex,age,salary\n", prog, path,
				*n + 2);
			goto fail;
		}
		(*n)++;
	}
	fclose(f);
	return ps;
fail:
	free(ps);
	fclose(f);
	return NULL;
}

/* The timing options every bench takes (--runs N, --warmup-ms MS,
 * --budget-ms MS; --timeout MS is the peers' option, which a write bench
 * ignores) at argv[*i]: 1 when it was one of them (*i moved past its
 * value), 0 when not. */
static inline int bench_timing_opt(int argc, char **argv, int *i, int *runs, double *warmup_ms,
				   double *budget_ms)
{
	const char *a = argv[*i];
	if (*i + 1 >= argc)
		return 0;
	if (!strcmp(a, "--runs"))
		*runs = atoi(argv[++*i]);
	else if (!strcmp(a, "--warmup-ms"))
		*warmup_ms = atof(argv[++*i]);
	else if (!strcmp(a, "--budget-ms"))
		*budget_ms = atof(argv[++*i]);
	else if (!strcmp(a, "--timeout"))
		++*i;
	else
		return 0;
	return 1;
}

/* The write benchmarks, DataScript's names, in their order. */
#define BENCH_NWRITES 5
static const char *const bench_writes[BENCH_NWRITES] = {"add-1", "add-5", "add-all", "retract-5",
							 "init"};

/* Checks the *n write benchmarks named in names (room for at least
 * BENCH_NWRITES), which become all of them when none is: 0, or -1 with a
 * message naming `prog` and the unknown name. */
static inline int bench_write_names(const char *prog, const char **names, int *n)
{
	for (int k = 0; k < *n; k++) {
		int known = 0;
		for (int i = 0; i < BENCH_NWRITES; i++)
			known |= !strcmp(names[k], bench_writes[i]);
		if (!known) {
			fprintf(stderr, "%s: unknown benchmark %s (add-1, add-5, add-all, retract-5, init)\n",
				prog, names[k]);
			return -1;
		}
	}
	if (!*n)
		for (; *n < BENCH_NWRITES; (*n)++)
			names[*n] = bench_writes[*n];
	return 0;
}

#endif
