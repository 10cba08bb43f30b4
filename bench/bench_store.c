/*
 * Bulk datom write throughput of the storage layer: synthetic OHLC bars
 * (8 datoms each: symbol ref, time instant, minute long, open/high/low/close
 * doubles, volume long), generated one batch at a time and written with
 * dl_wtxn_add_batch, one commit per batch.  Each batch line gives the wall
 * time of the write and commit and the CPU time the process spent on it
 * (all threads: the batch writer sorts on a helper thread), since wall
 * times on a shared machine say as much about the neighbours.
 *
 *   bench_store [path] [datoms=5000000] [batch=1000000] [sync=0] [check]
 */
#include "storage/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t g_rng = 0x12345678;
static uint64_t rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/tmp/bench_store.db";
	size_t total = argc > 2 ? strtoull(argv[2], NULL, 10) : 5000000;
	size_t bsz = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000;
	int sync = argc > 4 ? atoi(argv[4]) : 0;
	char lock[4096];
	snprintf(lock, sizeof lock, "%s-lock", path);
	unlink(path);
	unlink(lock);
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.sync = sync;
	dl_store *s;
	if (dl_store_open(&s, path, &o)) {
		fprintf(stderr, "open: %s\n", dl_errmsg());
		return 1;
	}
	bsz -= bsz % 8;
	dl_datom *d = malloc(bsz * sizeof *d);
	const int64_t A_SYM = 100, A_TIME = 101, A_MIN = 102, A_OPEN = 103, A_HIGH = 104,
		      A_LOW = 105, A_CLOSE = 106, A_VOL = 107;
	int64_t bar = 0, t0 = 1700000000000LL;
	double price[50];
	for (int i = 0; i < 50; i++)
		price[i] = 50 + i * 10;
	size_t done = 0;
	double gen = 0, t_start = now(), cpu = 0;
	while (done < total) {
		double g0 = now();
		size_t n = 0, want = total - done < bsz ? total - done : bsz;
		while (n + 8 <= want) {
			int sym = (int)(bar % 50);
			int64_t e = DL_EID(DL_PART_USER, 1000 + bar);
			double p = price[sym], mv = ((double)(rnd() % 2001) - 1000) / 100000.0;
			double open = p, close = p * (1 + mv);
			double hi = (open > close ? open : close) * (1 + (rnd() % 100) / 20000.0);
			double lo = (open < close ? open : close) * (1 - (rnd() % 100) / 20000.0);
			price[sym] = close;
			int64_t minute = bar / 50;
			d[n++] = (dl_datom){e, A_SYM, dl_ref(DL_EID(DL_PART_USER, 1 + sym)), 0, true};
			d[n++] = (dl_datom){e, A_TIME, dl_inst(t0 + minute * 60000), 0, true};
			d[n++] = (dl_datom){e, A_MIN, dl_int(minute % 390), 0, true};
			d[n++] = (dl_datom){e, A_OPEN, dl_double((double)(int64_t)(open * 100) / 100), 0, true};
			d[n++] = (dl_datom){e, A_HIGH, dl_double((double)(int64_t)(hi * 100) / 100), 0, true};
			d[n++] = (dl_datom){e, A_LOW, dl_double((double)(int64_t)(lo * 100) / 100), 0, true};
			d[n++] = (dl_datom){e, A_CLOSE, dl_double((double)(int64_t)(close * 100) / 100), 0, true};
			d[n++] = (dl_datom){e, A_VOL, dl_int((int64_t)(rnd() % 100000)), 0, true};
			bar++;
		}
		if (!n)
			break;
		gen += now() - g0;
		double w0 = now(), c0 = cpu_now();
		dl_wtxn *w;
		if (dl_wtxn_begin(&w, s) || dl_wtxn_add_batch(w, d, n, NULL) || dl_wtxn_commit(w)) {
			fprintf(stderr, "write: %s\n", dl_errmsg());
			return 1;
		}
		double wt = now() - w0, ct = cpu_now() - c0;
		cpu += ct;
		done += n;
		printf("batch: %zu datoms in %.3f s (%.0f datoms/s), cpu %.3f s\n", n, wt, n / wt,
		       ct);
	}
	double el = now() - t_start - gen;
	struct stat st;
	stat(path, &st);
	printf("total: %zu datoms in %.2f s write time: %.0f datoms/s (cpu %.2f s); file %.1f "
	       "MB, %.1f bytes/datom (sync=%d)\n",
	       done, el, done / el, cpu, st.st_size / 1e6, (double)st.st_size / done, sync);
	g_rng = 1;
	double c0 = now();
	if (argc > 5 && dl_store_check(s, NULL, NULL))
		printf("check failed: %s\n", dl_errmsg());
	else if (argc > 5)
		printf("check: ok in %.2f s\n", now() - c0);
	free(d);
	dl_store_close(s);
	return 0;
}
