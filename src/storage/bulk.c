/*
 * The bulk write path (dl_wtxn_add_batch): a batch of assertions is sorted
 * once per index and each index is written in key order through one cursor,
 * with MDB_APPEND once the keys pass the index's last key (always, for a
 * fresh database), which also packs pages full instead of half full.
 * Statistics come from the sorted runs: a value (entity) is new for its
 * attribute when it heads its run and the index held none before.
 *
 * Scratch per datom: one record (32 bytes), one sort key (24), one flag and
 * the value's key form; all reused across batches of the same transaction.
 */
#include "store_int.h"

#include <stdlib.h>

typedef struct brec {
	int64_t e;
	uint32_t a;
	uint32_t voff; /* key form of V in w->bvals */
	uint16_t vlen;
	uint8_t ref;
	int64_t refid;
} brec;

typedef struct bkey {
	uint64_t k0, k1; /* the first 16 bytes of the index key, as integers */
	uint32_t r;      /* record index */
} bkey;

typedef struct sortctx {
	dl_index idx;
	const brec *rec;
	const uint8_t *vals;
} sortctx;

static inline uint32_t v4(const uint8_t *v, size_t n, size_t off)
{
	/* bytes off..off+4 of v, zero padded (zero sorts like "shorter") */
	uint8_t b[4] = {0, 0, 0, 0};
	for (size_t i = 0; i < 4 && off + i < n; i++)
		b[i] = v[off + i];
	return dl_get_be32(b);
}

static inline uint64_t v8(const uint8_t *v, size_t n, size_t off)
{
	return (uint64_t)v4(v, n, off) << 32 | v4(v, n, off + 4);
}

/* Full comparison after the 16-byte prefixes tied. */
static int slow_cmp(const sortctx *c, uint32_t x, uint32_t y)
{
	const brec *a = &c->rec[x], *b = &c->rec[y];
	const uint8_t *va = c->vals + a->voff, *vb = c->vals + b->voff;
	int r;
	switch (c->idx) {
	case DL_EAVT:
	case DL_AEVT:
		if (a->e != b->e)
			return a->e < b->e ? -1 : 1;
		if (a->a != b->a)
			return a->a < b->a ? -1 : 1;
		return dl_key_cmp(va, a->vlen, vb, b->vlen);
	case DL_AVET:
		if (a->a != b->a)
			return a->a < b->a ? -1 : 1;
		if ((r = dl_key_cmp(va, a->vlen, vb, b->vlen)))
			return r;
		return (a->e > b->e) - (a->e < b->e);
	default:
		if (a->refid != b->refid)
			return (uint64_t)a->refid < (uint64_t)b->refid ? -1 : 1;
		if (a->a != b->a)
			return a->a < b->a ? -1 : 1;
		return (a->e > b->e) - (a->e < b->e);
	}
}

static inline int bcmp_key(const sortctx *c, const bkey *a, const bkey *b)
{
	if (a->k0 != b->k0)
		return a->k0 < b->k0 ? -1 : 1;
	if (a->k1 != b->k1)
		return a->k1 < b->k1 ? -1 : 1;
	return slow_cmp(c, a->r, b->r);
}

static void isort(const sortctx *c, bkey *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		bkey x = a[i];
		size_t j = i;
		while (j > 0 && bcmp_key(c, &x, &a[j - 1]) < 0) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

static void swapk(bkey *a, bkey *b)
{
	bkey t = *a;
	*a = *b;
	*b = t;
}

/* Quicksort, median of three, recursing into the smaller side; falls back
 * to heap-free insertion sort on small ranges. */
static void qsortk(const sortctx *c, bkey *a, size_t n, int depth)
{
	while (n > 24) {
		if (depth-- == 0) {
			/* pathological input: finish with a merge-free shell sort */
			for (size_t gap = n / 2; gap > 0; gap /= 2)
				for (size_t i = gap; i < n; i++)
					for (size_t j = i; j >= gap && bcmp_key(c, &a[j], &a[j - gap]) < 0;
					     j -= gap)
						swapk(&a[j], &a[j - gap]);
			return;
		}
		size_t m = n / 2;
		if (bcmp_key(c, &a[m], &a[0]) < 0)
			swapk(&a[m], &a[0]);
		if (bcmp_key(c, &a[n - 1], &a[m]) < 0) {
			swapk(&a[n - 1], &a[m]);
			if (bcmp_key(c, &a[m], &a[0]) < 0)
				swapk(&a[m], &a[0]);
		}
		bkey p = a[m];
		size_t i = 0, j = n - 1;
		for (;;) {
			while (bcmp_key(c, &a[i], &p) < 0)
				i++;
			while (bcmp_key(c, &p, &a[j]) < 0)
				j--;
			if (i >= j)
				break;
			swapk(&a[i], &a[j]);
			i++;
			j--;
		}
		size_t left = j + 1;
		if (left < n - left) {
			qsortk(c, a, left, depth);
			a += left;
			n -= left;
		} else {
			qsortk(c, a + left, n - left, depth);
			n = left;
		}
	}
	isort(c, a, n);
}

static void sort_keys(const sortctx *c, bkey *a, size_t n)
{
	size_t i = 1;
	while (i < n && bcmp_key(c, &a[i - 1], &a[i]) <= 0)
		i++;
	if (i >= n)
		return; /* already in order: the common case for EAVT */
	int depth = 2;
	for (size_t x = n; x; x >>= 1)
		depth += 2;
	qsortk(c, a, n, depth);
}

static void make_key(bkey *k, dl_index idx, const brec *r, const uint8_t *v, uint32_t ri)
{
	k->r = ri;
	switch (idx) {
	case DL_EAVT:
		k->k0 = (uint64_t)r->e;
		k->k1 = (uint64_t)r->a << 32 | v4(v, r->vlen, 0);
		break;
	case DL_AEVT:
		k->k0 = (uint64_t)r->a << 32 | (uint64_t)r->e >> 32;
		k->k1 = (uint64_t)r->e << 32 | v4(v, r->vlen, 0);
		break;
	case DL_AVET:
		k->k0 = (uint64_t)r->a << 32 | v4(v, r->vlen, 0);
		k->k1 = v8(v, r->vlen, 4);
		break;
	default:
		k->k0 = (uint64_t)r->refid;
		k->k1 = (uint64_t)r->a << 32 | (uint64_t)r->e >> 32;
		break;
	}
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (*cap >= n)
		return 0;
	void *q = dl_realloc(*p, n * size);
	if (!q)
		return DL_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* The index's last key (for the append decision); *n = 0 if empty. */
static int last_key(dl_wtxn *w, int db, uint8_t *buf, size_t *n)
{
	MDB_val k, d;
	int rc = mdb_cursor_get(w->cur[db], &k, &d, MDB_LAST);
	*n = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return dl_mdb_err(rc, "reading an index");
	if (k.mv_size > KEY_MAX)
		return dl_error(DL_ECORRUPT, "oversized key in %s", dl_store_db_names[db]);
	memcpy(buf, k.mv_data, k.mv_size);
	*n = k.mv_size;
	return 0;
}

/* Put through the index's cursor: appended while keys pass its last key. */
typedef struct appender {
	dl_wtxn *w;
	int db;
	uint8_t last[KEY_MAX];
	size_t nlast;
	bool appending;
} appender;

static int app_init(appender *ap, dl_wtxn *w, int db)
{
	ap->w = w;
	ap->db = db;
	DL_TRY(last_key(w, db, ap->last, &ap->nlast));
	ap->appending = ap->nlast == 0;
	return 0;
}

/* 1 written, 0 already there (only checked when !appending && check). */
static int app_put(appender *ap, const uint8_t *k, size_t kn, const uint8_t *txb, bool check)
{
	if (!ap->appending && dl_key_cmp(k, kn, ap->last, ap->nlast) > 0)
		ap->appending = true;
	MDB_val kk = {kn, (void *)k}, dd = {8, (void *)txb};
	unsigned fl = ap->appending ? MDB_APPEND : check ? MDB_NOOVERWRITE : 0;
	int rc = mdb_cursor_put(ap->w->cur[ap->db], &kk, &dd, fl);
	if (rc == MDB_KEYEXIST && !ap->appending)
		return 0;
	return rc ? dl_mdb_err(rc, "writing an index") : 1;
}

/* Does the index hold a key starting with p[0..n) (of total length n+rest,
 * or any length if rest is 0)?  The first key >= the prefix answers it. */
static int app_has_prefix(appender *ap, const uint8_t *p, size_t n, size_t rest, bool *out)
{
	const uint8_t *kp;
	size_t kn;
	if (ap->appending) {
		/* a key past the last one: only the last can share its prefix */
		kp = ap->last;
		kn = ap->nlast;
	} else {
		MDB_val k = {n, (void *)p}, d;
		int rc = mdb_cursor_get(ap->w->cur[ap->db], &k, &d, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			*out = false;
			return 0;
		}
		if (rc)
			return dl_mdb_err(rc, "reading an index");
		kp = k.mv_data;
		kn = k.mv_size;
	}
	*out = (rest ? kn == n + rest : kn >= n) && memcmp(kp, p, n) == 0;
	return 0;
}

static int batch(dl_wtxn *w, const dl_datom *d, size_t n)
{
	uint8_t txb[8], *k = w->k1;
	dl_put_be64(txb, (uint64_t)w->tx);
	DL_TRY(grow(&w->brec, &w->brec_cap, n, sizeof(brec)));
	DL_TRY(grow(&w->bsort, &w->bsort_cap, n, sizeof(bkey)));
	DL_TRY(grow((void **)&w->bskip, &w->bskip_cap, n, 1));
	brec *rec = w->brec;
	bkey *keys = w->bsort;
	uint8_t *skip = w->bskip;
	w->bvals.len = 0;
	size_t nref = 0;
	for (size_t i = 0; i < n; i++) {
		if (d[i].e < 0 || d[i].a < 0 || d[i].a > (int64_t)UINT32_MAX)
			return dl_error(DL_EINVAL, "bad datom [%lld %lld ...] in batch",
					(long long)d[i].e, (long long)d[i].a);
		DL_TRY(dl_buf_reserve(&w->bvals, DL_KEY_VALUE_OOL));
		size_t vlen;
		DL_TRY(dl_vkey((uint8_t *)w->bvals.data + w->bvals.len, &vlen, &w->venc, &d[i].v, w));
		if (w->bvals.len + vlen > UINT32_MAX)
			return dl_error(DL_ELIMIT, "batch too large");
		brec *r = &rec[i];
		r->e = d[i].e;
		r->a = (uint32_t)d[i].a;
		r->voff = (uint32_t)w->bvals.len;
		r->vlen = (uint16_t)vlen;
		r->ref = d[i].v.type == DL_REF;
		r->refid = r->ref ? d[i].v.u.i : 0;
		nref += r->ref;
		w->bvals.len += vlen;
		skip[i] = 0;
	}
	const uint8_t *vals = (const uint8_t *)w->bvals.data;
	sortctx c = {DL_EAVT, rec, vals};
	appender ap;

	/* EAVT: drops duplicates and datoms already current; counts entities */
	for (size_t i = 0; i < n; i++)
		make_key(&keys[i], DL_EAVT, &rec[i], vals + rec[i].voff, (uint32_t)i);
	sort_keys(&c, keys, n);
	DL_TRY(app_init(&ap, w, DB_EAVT));
	const brec *prev = NULL;
	bool group_had = false;
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t ri = keys[i].r;
		const brec *r = &rec[ri];
		const uint8_t *v = vals + r->voff;
		if (prev && prev->e == r->e && prev->a == r->a &&
		    dl_key_cmp(vals + prev->voff, prev->vlen, v, r->vlen) == 0) {
			skip[ri] = 1;
			continue;
		}
		size_t kn = dl_key_build(k, DL_EAVT, r->e, r->a, v, r->vlen);
		bool head = !prev || prev->e != r->e || prev->a != r->a;
		prev = r;
		if (head) {
			if (!ap.appending && dl_key_cmp(k, kn, ap.last, ap.nlast) > 0)
				ap.appending = true;
			DL_TRY(app_has_prefix(&ap, k, 12, 0, &group_had));
		}
		int rc = app_put(&ap, k, kn, txb, group_had);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			skip[ri] = 1;
			continue;
		}
		kept++;
		dl_attr_stats *st;
		DL_TRY(dl_wtxn_stat(w, r->a, &st));
		st->datoms++;
		st->entities += head && !group_had;
	}
	if (!kept)
		return 0;

	/* the log, in the batch's order */
	for (size_t i = 0; i < n; i++) {
		if (skip[i])
			continue;
		const brec *r = &rec[i];
		DL_TRY(dl_wtxn_note_eid(w, r->e));
		if (r->ref && r->refid >= 0)
			DL_TRY(dl_wtxn_note_eid(w, r->refid));
		DL_TRY(dl_wtxn_log(w, r->e, r->a, vals + r->voff, r->vlen, true));
	}

	/* AEVT */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!skip[i])
			make_key(&keys[m++], DL_AEVT, &rec[i], vals + rec[i].voff, (uint32_t)i);
	c.idx = DL_AEVT;
	sort_keys(&c, keys, m);
	DL_TRY(app_init(&ap, w, DB_AEVT));
	for (size_t i = 0; i < m; i++) {
		const brec *r = &rec[keys[i].r];
		size_t kn = dl_key_build(k, DL_AEVT, r->e, r->a, vals + r->voff, r->vlen);
		int rc = app_put(&ap, k, kn, txb, false);
		if (rc < 0)
			return rc;
	}

	/* AVET: counts distinct values */
	m = 0;
	for (size_t i = 0; i < n; i++)
		if (!skip[i])
			make_key(&keys[m++], DL_AVET, &rec[i], vals + rec[i].voff, (uint32_t)i);
	c.idx = DL_AVET;
	sort_keys(&c, keys, m);
	DL_TRY(app_init(&ap, w, DB_AVET));
	prev = NULL;
	for (size_t i = 0; i < m; i++) {
		const brec *r = &rec[keys[i].r];
		const uint8_t *v = vals + r->voff;
		size_t kn = dl_key_build(k, DL_AVET, r->e, r->a, v, r->vlen);
		bool head = !prev || prev->a != r->a ||
			    dl_key_cmp(vals + prev->voff, prev->vlen, v, r->vlen) != 0;
		prev = r;
		if (head) {
			bool had;
			if (!ap.appending && dl_key_cmp(k, kn, ap.last, ap.nlast) > 0)
				ap.appending = true;
			DL_TRY(app_has_prefix(&ap, k, 4 + r->vlen, 8, &had));
			if (!had) {
				dl_attr_stats *st;
				DL_TRY(dl_wtxn_stat(w, r->a, &st));
				st->values++;
			}
		}
		int rc = app_put(&ap, k, kn, txb, false);
		if (rc < 0)
			return rc;
	}

	/* VAET: the refs */
	if (nref) {
		m = 0;
		for (size_t i = 0; i < n; i++)
			if (!skip[i] && rec[i].ref)
				make_key(&keys[m++], DL_VAET, &rec[i], NULL, (uint32_t)i);
		c.idx = DL_VAET;
		sort_keys(&c, keys, m);
		DL_TRY(app_init(&ap, w, DB_VAET));
		for (size_t i = 0; i < m; i++) {
			const brec *r = &rec[keys[i].r];
			uint8_t rb[8];
			dl_put_be64(rb, (uint64_t)r->refid);
			size_t kn = dl_key_build(k, DL_VAET, r->e, r->a, rb, 8);
			int rc = app_put(&ap, k, kn, txb, false);
			if (rc < 0)
				return rc;
		}
	}
	w->ndatoms += kept;
	w->d_datoms += (int64_t)kept;
	return 0;
}

int dl_wtxn_add_batch(dl_wtxn *w, const dl_datom *d, size_t n, const unsigned *aflags)
{
	assert(w && (d || !n));
	DL_UNUSED(aflags); /* vaet holds every ref value, whatever the flags */
	if (w->failed)
		return dl_error(w->failed, "the write transaction failed earlier");
	if (n > UINT32_MAX)
		return dl_error(DL_ELIMIT, "batch too large (%zu datoms)", n);
	if (!n)
		return 0;
	return dl_wtxn_fail(w, batch(w, d, n));
}
