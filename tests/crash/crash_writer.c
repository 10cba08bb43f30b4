/*
 * Kill -9 durability: `crash_writer write PATH` commits transactions forever,
 * each with content determined by its tx number t (one-by-one writes and,
 * every third tx, a bulk batch); `crash_writer verify PATH` checks after a
 * kill that dl_store_check passes and that the committed transactions are
 * exactly 1..k with their full content (nothing of k+1 or later).
 */
#include "storage/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER(n) DL_EID(DL_PART_USER, (n))
#define BATCH_ENTS 60

static int64_t batch_e(int64_t t, int j) { return USER(1000000 + t * 1000 + j); }

static int write_tx(dl_store *s, int64_t t_expect)
{
	dl_wtxn *w;
	if (dl_wtxn_begin(&w, s))
		return -1;
	int64_t t = DL_EID_NUM(dl_wtxn_tx(w));
	if (t != t_expect) {
		fprintf(stderr, "tx %lld, expected %lld\n", (long long)t, (long long)t_expect);
		dl_wtxn_abort(w);
		return -1;
	}
	dl_value v = dl_int(t);
	char str[32];
	int n = snprintf(str, sizeof str, "tx-%lld", (long long)t);
	int rc = dl_wtxn_add(w, USER(t + 10), 100, &v, 0) < 0;
	v = dl_string(str, (size_t)n);
	rc |= dl_wtxn_add(w, USER(t + 10), 101, &v, 0) < 0;
	if (t > 1) {
		v = dl_int(t - 1);
		rc |= dl_wtxn_retract(w, USER(1), 102, &v, 0) != 1;
	}
	v = dl_int(t);
	rc |= dl_wtxn_add(w, USER(1), 102, &v, 0) != 1;
	if (t % 3 == 0) {
		static dl_datom d[BATCH_ENTS * 4];
		for (int j = 0; j < BATCH_ENTS; j++) {
			int64_t e = batch_e(t, j);
			d[j * 4] = (dl_datom){e, 103, dl_double(t + j / 8.0), 0, true};
			d[j * 4 + 1] = (dl_datom){e, 104, dl_ref(USER(t + 10)), 0, true};
			d[j * 4 + 2] = (dl_datom){e, 105, dl_inst(t * 1000 + j), 0, true};
			d[j * 4 + 3] = (dl_datom){e, 106, dl_int(j), 0, true};
		}
		rc |= dl_wtxn_add_batch(w, d, BATCH_ENTS * 4, NULL) < 0;
	}
	if (rc) {
		fprintf(stderr, "write: %s\n", dl_errmsg());
		dl_wtxn_abort(w);
		return -1;
	}
	return dl_wtxn_commit(w);
}

static int has(dl_snap *sn, int64_t e, int64_t a, dl_value v, int64_t t)
{
	int64_t tx;
	int rc = dl_snap_has(sn, e, a, &v, &tx);
	return rc == 1 && tx == DL_EID(DL_PART_TX, t);
}

static int tx_present(dl_snap *sn, int64_t t, int *partial)
{
	char str[32];
	int n = snprintf(str, sizeof str, "tx-%lld", (long long)t);
	int found = 0, total = 2;
	found += has(sn, USER(t + 10), 100, dl_int(t), t);
	found += has(sn, USER(t + 10), 101, dl_string(str, (size_t)n), t);
	if (t % 3 == 0) {
		for (int j = 0; j < BATCH_ENTS; j++) {
			int64_t e = batch_e(t, j);
			found += has(sn, e, 103, dl_double(t + j / 8.0), t);
			found += has(sn, e, 104, dl_ref(USER(t + 10)), t);
			found += has(sn, e, 105, dl_inst(t * 1000 + j), t);
			found += has(sn, e, 106, dl_int(j), t);
			total += 4;
		}
	}
	*partial = found != 0 && found != total;
	return found == total;
}

static void report(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "check: %s\n", msg);
}

static int verify(dl_store *s)
{
	if (dl_store_check(s, report, NULL)) {
		fprintf(stderr, "check failed: %s\n", dl_errmsg());
		return 1;
	}
	dl_snap *sn;
	if (dl_snap_begin(&sn, s))
		return 1;
	int64_t k = DL_EID_NUM(dl_snap_basis_tx(sn));
	int bad = 0, partial;
	for (int64_t t = 1; t <= k; t++) {
		if (!tx_present(sn, t, &partial)) {
			fprintf(stderr, "tx %lld of %lld is incomplete\n", (long long)t, (long long)k);
			bad = 1;
		}
	}
	for (int64_t t = k + 1; t <= k + 3; t++) {
		tx_present(sn, t, &partial);
		if (partial || has(sn, USER(t + 10), 100, dl_int(t), t)) {
			fprintf(stderr, "uncommitted tx %lld is visible\n", (long long)t);
			bad = 1;
		}
	}
	if (k) {
		/* exactly one counter value, k */
		dl_iter *it;
		dl_datom p = {0}, d;
		p.e = USER(1);
		p.a = 102;
		int n = 0;
		if (dl_iter_open(&it, sn, DL_EAVT, NULL, &p, 2) == 0) {
			while (dl_iter_next(it, &d) > 0)
				n += d.v.u.i == k ? 1 : 100;
			dl_iter_close(it);
		}
		if (n != 1) {
			fprintf(stderr, "counter is wrong at %lld\n", (long long)k);
			bad = 1;
		}
	}
	dl_snap_end(sn);
	printf("verified %lld transactions\n", (long long)k);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: crash_writer write|verify PATH\n");
		return 2;
	}
	dl_store *s;
	if (dl_store_open(&s, argv[2], NULL)) {
		fprintf(stderr, "open: %s\n", dl_errmsg());
		return 1;
	}
	int rc = 0;
	if (strcmp(argv[1], "verify") == 0) {
		rc = verify(s);
	} else {
		dl_snap *sn;
		if (dl_snap_begin(&sn, s))
			return 1;
		int64_t t = DL_EID_NUM(dl_snap_basis_tx(sn));
		dl_snap_end(sn);
		for (;;)
			if (write_tx(s, ++t)) {
				fprintf(stderr, "commit failed: %s\n", dl_errmsg());
				rc = 1;
				break;
			}
	}
	dl_store_close(s);
	return rc;
}
