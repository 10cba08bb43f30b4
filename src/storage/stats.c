/*
 * Statistics: per-attribute counts (kept exact by every write, stored in
 * meta), totals, and range estimates from equi-depth histograms of AVET.
 *
 * Histograms are built on first use by scanning the attribute's AVET
 * entries and rebuilt once its datom count drifts by more than a quarter.
 * They are published copy-on-write through an atomic pointer, so readers
 * never lock; only builders take the mutex.  Replaced sets and histograms
 * stay allocated until the store closes (a reader may still hold them);
 * rebuilds are geometric in the data size, so that stays small.
 */
#include "store_int.h"

#include <sys/stat.h>

#define HIST_BUCKETS 64
#define HIST_KEY_MAX 64  /* sample values are compared by this many bytes */
#define EXACT_BELOW 10000 /* count small attributes exactly */

struct dl_hist {
	uint32_t a;
	uint64_t built_datoms; /* the attribute's datom count when built */
	uint64_t total;        /* entries scanned */
	size_t n;              /* samples */
	uint64_t rank[HIST_BUCKETS + 2];
	uint16_t len[HIST_BUCKETS + 2];
	uint8_t key[HIST_BUCKETS + 2][HIST_KEY_MAX];
	dl_hist *next_all;
};

struct dl_hist_set {
	dl_hist_set *retired_next;
	size_t n;
	dl_hist *h[];
};

/* ---- counts -------------------------------------------------------------- */

int dl_stats_get(dl_snap *snap, uint32_t a, dl_attr_stats *out)
{
	if (snap->w) {
		dl_attr_stats *st;
		/* distinct values of spooled AVET entries are counted when merged */
		DL_TRY(dl_spool_settle(snap->w, DB_AVET, a));
		DL_TRY(dl_wtxn_stat(snap->w, a, &st));
		*out = *st;
		return 0;
	}
	uint32_t n = snap->nst < SNAP_STATS ? snap->nst : SNAP_STATS;
	for (uint32_t i = 0; i < n; i++)
		if (snap->st_a[i] == a) {
			*out = snap->st[i];
			return 0;
		}
	uint8_t k[7];
	memcpy(k, META_ST_PREFIX, 3);
	dl_put_be32(k + 3, a);
	MDB_val kk = {7, k}, d;
	int rc = mdb_get(snap->txn, snap->s->dbi[DB_META], &kk, &d);
	memset(out, 0, sizeof *out);
	if (rc && rc != MDB_NOTFOUND)
		return dl_mdb_err(rc, "reading statistics");
	if (rc == 0) {
		if (d.mv_size != 24)
			return dl_error(DL_ECORRUPT, "malformed statistics of attribute %u", a);
		const uint8_t *p = d.mv_data;
		out->datoms = dl_get_be64(p);
		out->values = dl_get_be64(p + 8);
		out->entities = dl_get_be64(p + 16);
	}
	/* kept, the oldest giving way */
	uint32_t slot = snap->nst++ % SNAP_STATS;
	snap->st_a[slot] = a;
	snap->st[slot] = *out;
	return 0;
}

int dl_snap_attr_stats(dl_snap *snap, int64_t a, dl_attr_stats *out)
{
	assert(snap && out);
	if (a < 0 || a > (int64_t)UINT32_MAX)
		return dl_error(DL_EINVAL, "bad attribute id %lld", (long long)a);
	return dl_stats_get(snap, (uint32_t)a, out);
}

int dl_snap_stats(dl_snap *snap, dl_store_stats *out)
{
	assert(snap && out);
	memset(out, 0, sizeof *out);
	MDB_val k = {strlen(META_TOTALS), META_TOTALS}, d;
	int rc = mdb_get(snap->txn, snap->s->dbi[DB_META], &k, &d);
	if (rc == 0 && d.mv_size == 16) {
		out->datoms = dl_get_be64(d.mv_data);
		out->history = dl_get_be64((const uint8_t *)d.mv_data + 8);
	} else if (rc == 0) {
		return dl_error(DL_ECORRUPT, "malformed totals");
	} else if (rc != MDB_NOTFOUND) {
		return dl_mdb_err(rc, "reading statistics");
	}
	if (snap->w) {
		out->datoms += (uint64_t)snap->w->d_datoms;
		out->history += (uint64_t)snap->w->d_history;
	}
	out->transactions = (uint64_t)DL_EID_NUM(snap->basis);
	/* the pages in use (as of the last commit), not the file's length:
	 * with MDB_WRITEMAP the file is extended (sparse) to the map size */
	MDB_envinfo info;
	MDB_stat ms;
	struct stat st;
	if (mdb_env_info(snap->s->env, &info) == 0 && mdb_env_stat(snap->s->env, &ms) == 0)
		out->file_bytes = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
	if (stat(snap->s->path, &st) == 0 && (uint64_t)st.st_size < out->file_bytes)
		out->file_bytes = (uint64_t)st.st_size;
	return 0;
}

/* ---- histograms ---------------------------------------------------------- */

static int hist_build(dl_hist **out, dl_snap *snap, uint32_t a, uint64_t datoms)
{
	dl_hist *h = dl_calloc(1, sizeof *h);
	if (!h)
		return DL_ENOMEM;
	h->a = a;
	h->built_datoms = datoms;
	uint64_t step = datoms / HIST_BUCKETS + 1;
	MDB_cursor *c;
	int rc = mdb_cursor_open(snap->txn, snap->s->dbi[DB_AVET], &c);
	if (rc) {
		dl_free(h);
		return dl_mdb_err(rc, "opening a cursor");
	}
	uint8_t pre[4];
	dl_put_be32(pre, a);
	MDB_val k = {4, pre}, d;
	uint8_t lastk[HIST_KEY_MAX];
	uint16_t lastn = 0;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size < 13 || memcmp(k.mv_data, pre, 4) != 0)
			break;
		size_t vn = k.mv_size - 12;
		if (vn > HIST_KEY_MAX)
			vn = HIST_KEY_MAX;
		if (h->total % step == 0 && h->n < HIST_BUCKETS + 1) {
			memcpy(h->key[h->n], (uint8_t *)k.mv_data + 4, vn);
			h->len[h->n] = (uint16_t)vn;
			h->rank[h->n] = h->total;
			h->n++;
		}
		memcpy(lastk, (uint8_t *)k.mv_data + 4, vn);
		lastn = (uint16_t)vn;
		h->total++;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		dl_free(h);
		return dl_mdb_err(rc, "reading an index");
	}
	if (h->total && h->rank[h->n - 1] != h->total - 1) {
		/* the last value closes the final bucket */
		memcpy(h->key[h->n], lastk, lastn);
		h->len[h->n] = lastn;
		h->rank[h->n] = h->total - 1;
		h->n++;
	}
	*out = h;
	return 0;
}

static dl_hist *hist_find(dl_hist_set *set, uint32_t a)
{
	if (!set)
		return NULL;
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (set->h[m]->a < a)
			lo = m + 1;
		else
			hi = m;
	}
	return lo < set->n && set->h[lo]->a == a ? set->h[lo] : NULL;
}

static bool fresh(const dl_hist *h, uint64_t datoms)
{
	uint64_t b = h->built_datoms, d = datoms > b ? datoms - b : b - datoms;
	return d * 4 <= b;
}

static int hist_get(const dl_hist **out, dl_snap *snap, uint32_t a, uint64_t datoms)
{
	dl_store *s = snap->s;
	dl_hist *h = hist_find(atomic_load_explicit(&s->hists, memory_order_acquire), a);
	if (h && fresh(h, datoms)) {
		*out = h;
		return 0;
	}
	pthread_mutex_lock(&s->hist_mu);
	dl_hist_set *old = atomic_load_explicit(&s->hists, memory_order_acquire);
	h = hist_find(old, a);
	int rc = 0;
	if (h && fresh(h, datoms))
		goto done;
	if ((rc = hist_build(&h, snap, a, datoms)) < 0)
		goto done;
	size_t n = old ? old->n : 0;
	dl_hist_set *ns = dl_malloc(sizeof *ns + (n + 1) * sizeof(dl_hist *));
	if (!ns) {
		dl_free(h);
		rc = DL_ENOMEM;
		goto done;
	}
	h->next_all = s->hist_all;
	s->hist_all = h;
	size_t j = 0;
	bool placed = false;
	for (size_t i = 0; i < n; i++) {
		if (old->h[i]->a == a)
			continue;
		if (!placed && old->h[i]->a > a) {
			ns->h[j++] = h;
			placed = true;
		}
		ns->h[j++] = old->h[i];
	}
	if (!placed)
		ns->h[j++] = h;
	ns->n = j;
	ns->retired_next = NULL;
	if (old) {
		old->retired_next = s->hist_retired;
		s->hist_retired = old;
	}
	atomic_store_explicit(&s->hists, ns, memory_order_release);
done:
	pthread_mutex_unlock(&s->hist_mu);
	if (rc == 0)
		*out = h;
	return rc;
}

void dl_stats_free(dl_store *s)
{
	dl_hist_set *set = atomic_load_explicit(&s->hists, memory_order_acquire);
	dl_free(set);
	for (dl_hist_set *x = s->hist_retired, *n; x; x = n) {
		n = x->retired_next;
		dl_free(x);
	}
	for (dl_hist *h = s->hist_all, *n; h; h = n) {
		n = h->next_all;
		dl_free(h);
	}
}

/* Approximate rank of key form x among the sampled values. */
static double hist_rank(const dl_hist *h, const uint8_t *x, size_t n)
{
	if (n > HIST_KEY_MAX)
		n = HIST_KEY_MAX;
	size_t lo = 0, hi = h->n; /* first sample > x */
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (dl_key_cmp(h->key[m], h->len[m], x, n) <= 0)
			lo = m + 1;
		else
			hi = m;
	}
	if (lo == 0)
		return 0;
	if (lo == h->n)
		return (double)h->total;
	/* between samples lo-1 and lo: assume the middle */
	return ((double)h->rank[lo - 1] + (double)h->rank[lo]) / 2 + 0.5;
}

static int exact_count(dl_snap *snap, uint32_t a, const dl_value *lo, const dl_value *hi,
		       uint64_t *out)
{
	dl_iter *it;
	dl_datom pre = {0}, d;
	pre.a = a;
	DL_TRY(dl_iter_open(&it, snap, DL_AVET, NULL, &pre, 1));
	int rc = dl_iter_value_range(it, lo, true, hi, true);
	uint64_t n = 0;
	while (rc >= 0 && (rc = dl_iter_next(it, &d)) > 0)
		n++;
	dl_iter_close(it);
	*out = n;
	return rc < 0 ? rc : 0;
}

int dl_snap_estimate_range(dl_snap *snap, int64_t a, const dl_value *lo,
			   const dl_value *hi, uint64_t *out)
{
	assert(snap && out);
	*out = 0;
	if (a < 0 || a > (int64_t)UINT32_MAX)
		return dl_error(DL_EINVAL, "bad attribute id %lld", (long long)a);
	dl_attr_stats st;
	DL_TRY(dl_stats_get(snap, (uint32_t)a, &st));
	if (st.datoms == 0)
		return 0;
	if (lo && hi && dl_value_compare(lo, hi) > 0)
		return 0;
	if (st.datoms < EXACT_BELOW)
		return exact_count(snap, (uint32_t)a, lo, hi, out);
	const dl_hist *h = NULL;
	DL_TRY(hist_get(&h, snap, (uint32_t)a, st.datoms));
	if (!h->total)
		return 0;
	dl_buf b = DL_BUF_INIT;
	double rlo = 0, rhi = (double)h->total;
	int rc = 0;
	if (lo) {
		if ((rc = dl_value_encode(&b, lo)) < 0)
			goto out;
		rlo = hist_rank(h, (const uint8_t *)b.data, b.len);
		/* values equal to lo sort at or after the sample equal to it */
		if (rlo > 0)
			rlo -= 0.5;
		b.len = 0;
	}
	if (hi) {
		if ((rc = dl_value_encode(&b, hi)) < 0)
			goto out;
		rhi = hist_rank(h, (const uint8_t *)b.data, b.len);
	}
	double est = rhi > rlo ? rhi - rlo : 0;
	est *= (double)st.datoms / (double)h->total;
	if (est < 1 && rhi > 0 && rlo < (double)h->total)
		est = 1; /* the range overlaps the values: never claim empty */
	*out = (uint64_t)(est + 0.5);
out:
	dl_buf_free(&b);
	return rc;
}
