/* Snapshot isolation under concurrency: a writer moves amounts between
 * accounts (sum stays constant) and bumps a counter to its tx number, while
 * two reader threads check every snapshot: the sum, the account count, the
 * counter equal to the basis, statistics, and an as-of view of an earlier
 * tx.  Run it under TSan too. */
#include "testutil.h"

#include "storage/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACCOUNTS 10
#define TOTAL 1000
#define TXS 300 /* divided by DL_TEST_SCALE, but at least 30 */
#define A_BAL 100
#define A_CTR 101
#define USER(n) DL_EID(DL_PART_USER, (n))

static dl_store *g_s;
static atomic_int g_done;
static atomic_int g_fail;
static atomic_long g_reads;

static int64_t sum_of(dl_snap *sn, const dl_view *vw, int *count)
{
	dl_iter *it;
	dl_datom p = {0}, d;
	p.a = A_BAL;
	if (dl_iter_open(&it, sn, DL_AEVT, vw, &p, 1))
		return -1;
	int64_t sum = 0;
	*count = 0;
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		sum += d.v.u.i;
		(*count)++;
	}
	dl_iter_close(it);
	return rc < 0 ? -1 : sum;
}

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&g_done) || atomic_load(&g_reads) < 20) {
		dl_snap *sn;
		if (dl_snap_begin(&sn, g_s)) {
			atomic_store(&g_fail, 1);
			break;
		}
		int64_t basis = dl_snap_basis_tx(sn);
		dl_view cur = {DL_VIEW_CURRENT, 0};
		int n;
		int64_t sum = sum_of(sn, &cur, &n);
		if (basis && (sum != TOTAL || n != ACCOUNTS)) {
			fprintf(stderr, "basis %lld: sum %lld over %d accounts\n", (long long)basis,
				(long long)sum, n);
			atomic_store(&g_fail, 1);
		}
		/* the counter equals the snapshot's tx number */
		dl_iter *it;
		dl_datom p = {0}, d;
		p.e = USER(1);
		p.a = A_CTR;
		if (basis && dl_iter_open(&it, sn, DL_EAVT, NULL, &p, 2) == 0) {
			if (dl_iter_next(it, &d) != 1 || d.v.u.i != DL_EID_NUM(basis) ||
			    d.tx != basis) {
				fprintf(stderr, "counter mismatch at basis %lld\n", (long long)basis);
				atomic_store(&g_fail, 1);
			}
			dl_iter_close(it);
		}
		dl_attr_stats st;
		if (basis && (dl_snap_attr_stats(sn, A_BAL, &st) || st.datoms != ACCOUNTS ||
			      st.entities != ACCOUNTS)) {
			fprintf(stderr, "stats mismatch at basis %lld\n", (long long)basis);
			atomic_store(&g_fail, 1);
		}
		/* an earlier state is consistent too */
		if (DL_EID_NUM(basis) > 2) {
			dl_view asof = {DL_VIEW_AS_OF, basis - 1 - (atomic_load(&g_reads) % 2)};
			sum = sum_of(sn, &asof, &n);
			if (sum != TOTAL || n != ACCOUNTS) {
				fprintf(stderr, "as-of %lld: sum %lld over %d\n", (long long)asof.t,
					(long long)sum, n);
				atomic_store(&g_fail, 1);
			}
		}
		dl_snap_end(sn);
		atomic_fetch_add(&g_reads, 1);
	}
	return NULL;
}

/* Readers and a writer at once, pages written at commit (writemap 0) or
 * into LMDB's shared map (1: the ordering store_int.h tells TSan about). */
static void run_concurrent(int writemap)
{
	atomic_store(&g_done, 0);
	atomic_store(&g_fail, 0);
	atomic_store(&g_reads, 0);
	const char *tmp = getenv("DL_TEST_TMP");
	char dir[512], path[600], lock[640];
	snprintf(dir, sizeof dir, "%s", tmp ? tmp : "/tmp/dl_test");
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/store_conc_%d.db", dir, (int)getpid());
	snprintf(lock, sizeof lock, "%s-lock", path);
	unlink(path);
	unlink(lock);
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.sync = 0;
	o.map_size = (size_t)1 << 30; /* valgrind cannot map the default 64 GiB */
	o.writemap = writemap;
	assert_int_equal(dl_store_open(&g_s, path, &o), 0);
	int64_t bal[ACCOUNTS + 1];
	/* the first tx creates the accounts (via the batch path) */
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, g_s), 0);
	dl_datom init[ACCOUNTS + 1];
	for (int i = 1; i <= ACCOUNTS; i++) {
		bal[i] = TOTAL / ACCOUNTS;
		init[i - 1] = (dl_datom){USER(i), A_BAL, dl_int(bal[i]), 0, true};
	}
	init[ACCOUNTS] = (dl_datom){USER(1), A_CTR, dl_int(1), 0, true};
	assert_int_equal(dl_wtxn_add_batch(w, init, ACCOUNTS + 1, NULL), 0);
	assert_int_equal(dl_wtxn_commit(w), 0);

	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, NULL), 0);
	tu_seed(99);
	const int txs = tu_scale(TXS) < 30 ? 30 : (int)tu_scale(TXS);
	for (int t = 2; t <= txs; t++) {
		assert_int_equal(dl_wtxn_begin(&w, g_s), 0);
		int from = 1 + (int)(tu_rand() % ACCOUNTS), to = 1 + (int)(tu_rand() % ACCOUNTS);
		int64_t amt = (int64_t)(tu_rand() % 20);
		if (from != to && bal[from] >= amt) {
			dl_value v = dl_int(bal[from]);
			assert_int_equal(dl_wtxn_retract(w, USER(from), A_BAL, &v, 0), 1);
			v = dl_int(bal[to]);
			assert_int_equal(dl_wtxn_retract(w, USER(to), A_BAL, &v, 0), 1);
			bal[from] -= amt;
			bal[to] += amt;
			v = dl_int(bal[from]);
			assert_int_equal(dl_wtxn_add(w, USER(from), A_BAL, &v, 0), 1);
			v = dl_int(bal[to]);
			assert_int_equal(dl_wtxn_add(w, USER(to), A_BAL, &v, 0), 1);
		}
		dl_value c = dl_int(t - 1);
		assert_int_equal(dl_wtxn_retract(w, USER(1), A_CTR, &c, 0), 1);
		c = dl_int(t);
		assert_int_equal(dl_wtxn_add(w, USER(1), A_CTR, &c, 0), 1);
		assert_int_equal(DL_EID_NUM(dl_wtxn_tx(w)), t);
		assert_int_equal(dl_wtxn_commit(w), 0);
	}
	atomic_store(&g_done, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&g_fail), 0);
	assert_true(atomic_load(&g_reads) >= 20);
	assert_int_equal(dl_store_check(g_s, NULL, NULL), 0);
	dl_store_close(g_s);
	unlink(path);
	unlink(lock);
}

static void test_concurrent(void **state)
{
	(void)state;
	run_concurrent(0);
}

static void test_concurrent_writemap(void **state)
{
	(void)state;
	run_concurrent(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_concurrent),
					   cmocka_unit_test(test_concurrent_writemap)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
