/*
 * Intern lookup throughput: dl_intern() on names that already exist (the
 * hot path of query compilation and EDN reading), with 1 and 2 threads,
 * against a baseline that wraps the same lookup in one global mutex (what
 * the old system did, and what cost it 35% of its CPU under parallel
 * queries).
 *
 * usage: bench_intern [--names N] [--ops N]   (ops are per thread)
 */
#include "datalite.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char **g_names;
static size_t *g_lens;
static size_t g_nnames = 10000;
static long g_ops = 5000000;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_go;

typedef struct {
	int locked;
	uint64_t seed;
	uint64_t sum; /* keeps the lookups from being optimised away */
	int failed;
} job;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *run(void *p)
{
	job *j = p;
	uint64_t s = j->seed, sum = 0;
	while (!atomic_load_explicit(&g_go, memory_order_acquire))
		;
	for (long i = 0; i < g_ops; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		size_t k = (size_t)(s % g_nnames);
		uint32_t id = 0;
		if (j->locked) {
			pthread_mutex_lock(&g_mutex);
			id = dl_intern_find(g_names[k], g_lens[k]);
			pthread_mutex_unlock(&g_mutex);
		} else if (dl_intern(&id, g_names[k], g_lens[k]) != 0) {
			j->failed = 1;
		}
		if (id == 0)
			j->failed = 1;
		sum += id;
	}
	j->sum = sum;
	return NULL;
}

/* Total lookups per second over all threads (best of 3 runs). */
static double measure(int nthreads, int locked)
{
	double best = 0;
	for (int rep = 0; rep < 3; rep++) {
		pthread_t th[2];
		job jobs[2];
		atomic_store(&g_go, 0);
		for (int t = 0; t < nthreads; t++) {
			jobs[t] = (job){locked, 0x9E3779B97F4A7C15ull * (uint64_t)(t + rep + 1), 0, 0};
			if (pthread_create(&th[t], NULL, run, &jobs[t]) != 0) {
				perror("pthread_create");
				exit(1);
			}
		}
		double t0 = now();
		atomic_store_explicit(&g_go, 1, memory_order_release);
		for (int t = 0; t < nthreads; t++)
			pthread_join(th[t], NULL);
		double dt = now() - t0;
		for (int t = 0; t < nthreads; t++) {
			if (jobs[t].failed) {
				fprintf(stderr, "bench_intern: a lookup failed\n");
				exit(1);
			}
		}
		double rate = (double)g_ops * nthreads / dt;
		if (rate > best)
			best = rate;
	}
	return best;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_intern [--names N] [--ops N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--names") == 0)
			g_nnames = strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--ops") == 0)
			g_ops = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (g_nnames == 0 || g_ops <= 0)
		usage();

	g_names = calloc(g_nnames, sizeof *g_names);
	g_lens = calloc(g_nnames, sizeof *g_lens);
	if (!g_names || !g_lens)
		return 1;
	for (size_t k = 0; k < g_nnames; k++) {
		char buf[64];
		int len = snprintf(buf, sizeof buf, "app.ns%zu/attribute-%zu", k % 100, k);
		g_names[k] = strdup(buf);
		g_lens[k] = (size_t)len;
		uint32_t id;
		if (!g_names[k] || dl_intern(&id, buf, (size_t)len) != 0) {
			fprintf(stderr, "bench_intern: setup failed: %s\n", dl_errmsg());
			return 1;
		}
	}
	printf("names %zu, ops per thread %ld\n", g_nnames, g_ops);

	double l1 = measure(1, 0), l2 = measure(2, 0);
	printf("intern lookup 1 thread: %.1f Mops/s\n", l1 / 1e6);
	printf("intern lookup 2 threads: %.1f Mops/s\n", l2 / 1e6);
	printf("speedup 2 threads: %.2fx\n", l2 / l1);

	double m1 = measure(1, 1), m2 = measure(2, 1);
	printf("mutex baseline 1 thread: %.1f Mops/s\n", m1 / 1e6);
	printf("mutex baseline 2 threads: %.1f Mops/s\n", m2 / 1e6);
	printf("mutex speedup 2 threads: %.2fx\n", m2 / m1);
	printf("lock-free vs mutex at 2 threads: %.2fx\n", l2 / m2);

	for (size_t k = 0; k < g_nnames; k++)
		free(g_names[k]);
	free(g_names);
	free(g_lens);
	return 0;
}
