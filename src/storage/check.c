/*
 * dl_store_check: walk every index and verify that they agree.  Each
 * problem is reported with a message; garbage is reported, never trusted
 * (every key and value is decoded with bounds checks).
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#define MAX_REPORTS 200

typedef struct astat {
	uint32_t a;
	bool used;
	uint64_t datoms, values, entities;
} astat;

typedef struct pmax {
	int part;
	uint64_t max;
} pmax;

typedef struct checker {
	dl_store *s;
	dl_snap snap;
	void (*report)(void *ud, const char *problem);
	void *ud;
	uint64_t problems;
	dl_arena arena;
	astat *st;
	size_t nst, capst;
	pmax parts[64];
	int nparts;
	uint64_t max_tx; /* largest tx number seen anywhere */
	int oom;
} checker;

__attribute__((format(printf, 2, 3))) static void problem(checker *c, const char *fmt, ...)
{
	c->problems++;
	if (c->problems > MAX_REPORTS || !c->report)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->report(c->ud, msg);
}

static astat *stat_of(checker *c, uint32_t a)
{
	if (c->nst * 2 >= c->capst) {
		size_t ncap = c->capst ? c->capst * 2 : 64;
		astat *n = dl_calloc(ncap, sizeof *n);
		if (!n) {
			c->oom = 1;
			return NULL;
		}
		for (size_t i = 0; i < c->capst; i++) {
			if (!c->st[i].used)
				continue;
			size_t j = (c->st[i].a * 0x9E3779B1u) & (ncap - 1);
			while (n[j].used)
				j = (j + 1) & (ncap - 1);
			n[j] = c->st[i];
		}
		dl_free(c->st);
		c->st = n;
		c->capst = ncap;
	}
	size_t j = (a * 0x9E3779B1u) & (c->capst - 1);
	while (c->st[j].used) {
		if (c->st[j].a == a)
			return &c->st[j];
		j = (j + 1) & (c->capst - 1);
	}
	c->st[j] = (astat){.a = a, .used = true};
	c->nst++;
	return &c->st[j];
}

static void note_id(checker *c, int64_t e)
{
	int part = DL_EID_PART(e);
	uint64_t num = (uint64_t)DL_EID_NUM(e);
	if (part == DL_PART_TX) {
		if (num > c->max_tx)
			c->max_tx = num;
		return;
	}
	for (int i = 0; i < c->nparts; i++)
		if (c->parts[i].part == part) {
			if (num > c->parts[i].max)
				c->parts[i].max = num;
			return;
		}
	if (c->nparts < 64)
		c->parts[c->nparts++] = (pmax){part, num};
}

static const char *errmsg_or(const char *dflt)
{
	const char *m = dl_errmsg();
	return m && *m ? m : dflt;
}

/* Check a key-form V: its blob exists and hashes right; decode it. */
static int check_value(checker *c, const char *db, const dl_kparts *p, dl_index idx,
		       dl_value *v)
{
	if (idx != DL_VAET && p->vlen == DL_KEY_VALUE_OOL) {
		const uint8_t *f;
		size_t fn;
		if (dl_vkey_full(&c->snap, p->v, p->vlen, &f, &fn) < 0) {
			problem(c, "%s: entity %lld attribute %u: %s", db, (long long)p->e, p->a,
				errmsg_or("bad long value"));
			return -1;
		}
		XXH128_canonical_t h;
		XXH128_canonicalFromHash(&h, XXH3_128bits(f, fn));
		if (memcmp(h.digest, p->v + DL_KEY_VALUE_PREFIX, 16) != 0) {
			problem(c, "%s: entity %lld attribute %u: long value's hash mismatch", db,
				(long long)p->e, p->a);
			return -1;
		}
	}
	if (c->arena.total > (1u << 20))
		dl_arena_reset(&c->arena);
	if (dl_kparts_value(v, &c->snap, &c->arena, idx, p, true) < 0) {
		if (dl_errcode_last() == DL_ENOMEM)
			c->oom = 1;
		problem(c, "%s: entity %lld attribute %u: undecodable value: %s", db,
			(long long)p->e, p->a, errmsg_or("bad value"));
		return -1;
	}
	return 0;
}

static bool has_key(checker *c, int db, const uint8_t *k, size_t n, MDB_val *d)
{
	MDB_val kk = {n, (void *)k}, dd;
	int rc = mdb_get(c->snap.txn, c->s->dbi[db], &kk, d ? d : &dd);
	if (rc && rc != MDB_NOTFOUND)
		problem(c, "%s: %s", dl_store_db_names[db], mdb_strerror(rc));
	return rc == 0;
}

static void walk_err(checker *c, int db, int rc)
{
	if (rc && rc != MDB_NOTFOUND)
		problem(c, "%s: cannot walk the index: %s", dl_store_db_names[db], mdb_strerror(rc));
}

static const dl_index k_idx_of[] = {DL_EAVT, DL_AEVT, DL_AVET, DL_VAET,
				    DL_EAVT, DL_AEVT, DL_AVET, DL_VAET};

/* ---- current indexes -------------------------------------------------- */

static void check_eavt(checker *c, uint64_t *n_cur, uint64_t *n_ref)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(c->snap.txn, c->s->dbi[DB_EAVT], &cur);
	if (rc) {
		walk_err(c, DB_EAVT, rc);
		return;
	}
	MDB_val k, d;
	int64_t pe = -1;
	uint32_t pa = 0;
	uint8_t kb[KEY_MAX];
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		(*n_cur)++;
		dl_kparts p;
		if (dl_key_split(&p, DL_EAVT, k.mv_data, k.mv_size, false) < 0) {
			problem(c, "eavt: malformed key of %zu bytes", k.mv_size);
			continue;
		}
		if (d.mv_size != 8) {
			problem(c, "eavt: entity %lld attribute %u: entry holds no tx", (long long)p.e,
				p.a);
			continue;
		}
		int64_t tx = (int64_t)dl_get_be64(d.mv_data);
		if (DL_EID_PART(tx) != DL_PART_TX || tx > c->snap.basis || tx <= 0)
			problem(c, "eavt: entity %lld attribute %u: bad tx %lld (basis %lld)",
				(long long)p.e, p.a, (long long)tx, (long long)c->snap.basis);
		note_id(c, p.e);
		note_id(c, tx);
		dl_value v;
		bool vok = check_value(c, "eavt", &p, DL_EAVT, &v) == 0;
		astat *as = stat_of(c, p.a);
		if (as) {
			as->datoms++;
			if (p.e != pe || p.a != pa)
				as->entities++;
		}
		pe = p.e;
		pa = p.a;
		static const struct {
			int db;
			dl_index idx;
		} mirrors[] = {{DB_AEVT, DL_AEVT}, {DB_AVET, DL_AVET}};
		for (int i = 0; i < 2; i++) {
			size_t kn = dl_key_build(kb, mirrors[i].idx, p.e, p.a, p.v, p.vlen);
			MDB_val md;
			if (!has_key(c, mirrors[i].db, kb, kn, &md))
				problem(c, "%s: missing [%lld %u ...] that eavt has",
					dl_store_db_names[mirrors[i].db], (long long)p.e, p.a);
			else if (md.mv_size != 8 || memcmp(md.mv_data, d.mv_data, 8) != 0)
				problem(c, "%s: [%lld %u ...] has another tx than in eavt",
					dl_store_db_names[mirrors[i].db], (long long)p.e, p.a);
		}
		if (vok && v.type == DL_REF) {
			(*n_ref)++;
			note_id(c, v.u.i);
			uint8_t rb[8];
			dl_put_be64(rb, (uint64_t)v.u.i);
			size_t kn = dl_key_build(kb, DL_VAET, p.e, p.a, rb, 8);
			if (!has_key(c, DB_VAET, kb, kn, NULL))
				problem(c, "vaet: missing ref datom [%lld %u %lld]", (long long)p.e, p.a,
					(long long)v.u.i);
		}
	}
	walk_err(c, DB_EAVT, rc);
	mdb_cursor_close(cur);
}

/* Every entry of a mirror index (current or history) must be in e(h)avt. */
static void check_mirror(checker *c, int db, uint64_t *count, bool values)
{
	bool hist = db >= DB_HEAVT;
	dl_index idx = k_idx_of[db];
	int base = hist ? DB_HEAVT : DB_EAVT;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(c->snap.txn, c->s->dbi[db], &cur);
	if (rc) {
		walk_err(c, db, rc);
		return;
	}
	const char *name = dl_store_db_names[db];
	MDB_val k, d;
	uint8_t kb[KEY_MAX], pv[DL_KEY_VALUE_OOL];
	size_t pvn = 0;
	uint32_t pa = 0;
	bool first = true;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		(*count)++;
		dl_kparts p;
		if (dl_key_split(&p, idx, k.mv_data, k.mv_size, hist) < 0) {
			problem(c, "%s: malformed key of %zu bytes", name, k.mv_size);
			continue;
		}
		if (hist && d.mv_size != 0)
			problem(c, "%s: history entry with data", name);
		if (!hist && d.mv_size != 8)
			problem(c, "%s: entry holds no tx", name);
		dl_value v;
		const uint8_t *vk = p.v;
		size_t vn = p.vlen;
		uint8_t enc[16];
		if (idx == DL_VAET) {
			/* the eavt form of a ref value */
			dl_buf b = {(char *)enc, 0, sizeof enc};
			v = dl_ref((int64_t)dl_get_be64(p.v));
			dl_value_encode(&b, &v);
			vk = enc;
			vn = b.len;
		} else if (check_value(c, name, &p, idx, &v) < 0) {
			continue;
		}
		if (values && (first || p.a != pa || dl_key_cmp(pv, pvn, vk, vn) != 0)) {
			astat *as = stat_of(c, p.a);
			if (as)
				as->values++;
			memcpy(pv, vk, vn);
			pvn = vn;
			pa = p.a;
			first = false;
		}
		size_t kn = dl_key_build(kb, DL_EAVT, p.e, p.a, vk, vn);
		if (hist) {
			dl_put_be64(kb + kn, (uint64_t)p.t0);
			dl_put_be64(kb + kn + 8, (uint64_t)p.t1);
			kn += 16;
		}
		if (!has_key(c, base, kb, kn, NULL))
			problem(c, "%s: [%lld %u ...] is missing from %s", name, (long long)p.e, p.a,
				dl_store_db_names[base]);
	}
	walk_err(c, db, rc);
	mdb_cursor_close(cur);
}

/* ---- history ------------------------------------------------------------ */

static void check_heavt(checker *c, uint64_t *n_hist, uint64_t *n_href)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(c->snap.txn, c->s->dbi[DB_HEAVT], &cur);
	if (rc) {
		walk_err(c, DB_HEAVT, rc);
		return;
	}
	MDB_val k, d;
	uint8_t kb[KEY_MAX];
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		(*n_hist)++;
		dl_kparts p;
		if (dl_key_split(&p, DL_EAVT, k.mv_data, k.mv_size, true) < 0) {
			problem(c, "heavt: malformed key of %zu bytes", k.mv_size);
			continue;
		}
		if (!(p.t0 < p.t1) || p.t1 > c->snap.basis || DL_EID_PART(p.t0) != DL_PART_TX ||
		    DL_EID_PART(p.t1) != DL_PART_TX)
			problem(c, "heavt: [%lld %u ...] has a bad interval t0=%lld t1=%lld (basis %lld)",
				(long long)p.e, p.a, (long long)p.t0, (long long)p.t1,
				(long long)c->snap.basis);
		note_id(c, p.e);
		note_id(c, p.t0);
		note_id(c, p.t1);
		dl_value v;
		bool vok = check_value(c, "heavt", &p, DL_EAVT, &v) == 0;
		static const struct {
			int db;
			dl_index idx;
		} mirrors[] = {{DB_HAEVT, DL_AEVT}, {DB_HAVET, DL_AVET}};
		for (int i = 0; i < 2; i++) {
			size_t kn = dl_key_build(kb, mirrors[i].idx, p.e, p.a, p.v, p.vlen);
			memcpy(kb + kn, (uint8_t *)k.mv_data + k.mv_size - 16, 16);
			if (!has_key(c, mirrors[i].db, kb, kn + 16, NULL))
				problem(c, "%s: missing history entry [%lld %u ...] that heavt has",
					dl_store_db_names[mirrors[i].db], (long long)p.e, p.a);
		}
		if (vok && v.type == DL_REF) {
			(*n_href)++;
			uint8_t rb[8];
			dl_put_be64(rb, (uint64_t)v.u.i);
			size_t kn = dl_key_build(kb, DL_VAET, p.e, p.a, rb, 8);
			memcpy(kb + kn, (uint8_t *)k.mv_data + k.mv_size - 16, 16);
			if (!has_key(c, DB_HVAET, kb, kn + 16, NULL))
				problem(c, "hvaet: missing ref history entry [%lld %u %lld]",
					(long long)p.e, p.a, (long long)v.u.i);
		}
	}
	walk_err(c, DB_HEAVT, rc);
	mdb_cursor_close(cur);
}

/* ---- the log ------------------------------------------------------------ */

typedef struct lrec {
	int64_t e;
	uint32_t a;
	bool added;
	const uint8_t *v;
	size_t vlen;
	size_t pos;
} lrec;

static int lrec_cmp(const void *x, const void *y)
{
	const lrec *a = x, *b = y;
	if (a->e != b->e)
		return a->e < b->e ? -1 : 1;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	int c = dl_key_cmp(a->v, a->vlen, b->v, b->vlen);
	if (c)
		return c;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return false;
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*out = x;
			return true;
		}
	}
	return false;
}

static void check_log(checker *c, uint64_t *adds, uint64_t *rets, uint64_t *found,
		      uint64_t *inhist, uint64_t *entries)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(c->snap.txn, c->s->dbi[DB_LOG], &cur);
	if (rc) {
		walk_err(c, DB_LOG, rc);
		return;
	}
	lrec *recs = NULL;
	size_t cap = 0;
	MDB_val k, d;
	uint8_t kb[KEY_MAX];
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		(*entries)++;
		if (k.mv_size != 8) {
			problem(c, "log: malformed key of %zu bytes", k.mv_size);
			continue;
		}
		int64_t tx = (int64_t)dl_get_be64(k.mv_data);
		if (DL_EID_PART(tx) != DL_PART_TX || tx > c->snap.basis || tx <= 0)
			problem(c, "log: entry for bad tx %lld (basis %lld)", (long long)tx,
				(long long)c->snap.basis);
		note_id(c, tx);
		const uint8_t *p = d.mv_data, *end = p + d.mv_size;
		size_t n = 0;
		int64_t last_e = 0;
		bool bad = false;
		while (p < end) {
			uint64_t de, a, vlen;
			uint8_t fl = *p++;
			if (fl > 1 || !get_varint(&p, end, &de) || !get_varint(&p, end, &a) ||
			    !get_varint(&p, end, &vlen) || a > UINT32_MAX || vlen == 0 ||
			    vlen > DL_KEY_VALUE_OOL || vlen > (uint64_t)(end - p)) {
				problem(c, "log: tx %lld: malformed record %zu", (long long)tx, n);
				bad = true;
				break;
			}
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				lrec *nr = dl_realloc(recs, ncap * sizeof *nr);
				if (!nr) {
					c->oom = 1;
					goto out;
				}
				recs = nr;
				cap = ncap;
			}
			int64_t dd = (int64_t)((de >> 1) ^ (~(de & 1) + 1));
			last_e = (int64_t)((uint64_t)last_e + (uint64_t)dd);
			recs[n] = (lrec){last_e, (uint32_t)a, fl == 1, p, (size_t)vlen, n};
			p += vlen;
			n++;
		}
		if (bad)
			continue;
		qsort(recs, n, sizeof *recs, lrec_cmp);
		for (size_t i = 0; i < n; i++) {
			lrec *r = &recs[i];
			if (r->added)
				(*adds)++;
			else
				(*rets)++;
			bool lastop = i + 1 == n || recs[i + 1].e != r->e || recs[i + 1].a != r->a ||
				      dl_key_cmp(r->v, r->vlen, recs[i + 1].v, recs[i + 1].vlen) != 0;
			if (!lastop || !r->added)
				continue;
			/* the final assertion of [e a v] in this tx is current since
			 * tx, or in history from tx */
			size_t kn = dl_key_build(kb, DL_EAVT, r->e, r->a, r->v, r->vlen);
			MDB_val cd;
			if (has_key(c, DB_EAVT, kb, kn, &cd) && cd.mv_size == 8 &&
			    (int64_t)dl_get_be64(cd.mv_data) == tx) {
				(*found)++;
				continue;
			}
			/* else it must be in history from tx on, unless a later tx
			 * retracted it without history (:db/noHistory), which only
			 * the counts can tell */
			dl_put_be64(kb + kn, (uint64_t)tx);
			MDB_cursor *hc;
			if (mdb_cursor_open(c->snap.txn, c->s->dbi[DB_HEAVT], &hc) == 0) {
				MDB_val hk = {kn + 8, kb}, hd;
				if (mdb_cursor_get(hc, &hk, &hd, MDB_SET_RANGE) == 0 &&
				    hk.mv_size == kn + 16 && memcmp(hk.mv_data, kb, kn + 8) == 0)
					(*inhist)++;
				mdb_cursor_close(hc);
			}
		}
	}
	walk_err(c, DB_LOG, rc);
out:
	dl_free(recs);
	mdb_cursor_close(cur);
}

/* ---- meta ---------------------------------------------------------------- */

static void check_meta(checker *c, uint64_t n_cur, uint64_t n_hist)
{
	for (int i = 0; i < c->nparts; i++) {
		char name[32];
		snprintf(name, sizeof name, META_ID_PREFIX "%d", c->parts[i].part);
		uint64_t next;
		bool found;
		if (dl_meta_get_u64(c->snap.txn, c->s, name, &next, &found) < 0) {
			problem(c, "meta: %s", errmsg_or("bad id counter"));
			continue;
		}
		if (!found)
			next = c->parts[i].part == DL_PART_DB ? FIRST_DB_ID : FIRST_USER_ID;
		if (c->parts[i].max >= next)
			problem(c, "meta: partition %d hands out %llu next but id %llu is in use",
				c->parts[i].part, (unsigned long long)next,
				(unsigned long long)c->parts[i].max);
	}
	if (c->max_tx > (uint64_t)DL_EID_NUM(c->snap.basis))
		problem(c, "meta: basis tx %lld is below tx number %llu in use",
			(long long)DL_EID_NUM(c->snap.basis), (unsigned long long)c->max_tx);
	/* statistics: every recomputed attribute, then every stored one */
	for (size_t i = 0; i < c->capst; i++) {
		astat *x = &c->st[i];
		if (!x->used)
			continue;
		dl_attr_stats st;
		if (dl_stats_get(&c->snap, x->a, &st) < 0) {
			problem(c, "meta: statistics of attribute %u: %s", x->a,
				errmsg_or("unreadable"));
			continue;
		}
		if (st.datoms != x->datoms || st.values != x->values || st.entities != x->entities)
			problem(c,
				"meta: statistics of attribute %u say %llu datoms, %llu values, %llu "
				"entities; recomputed %llu, %llu, %llu",
				x->a, (unsigned long long)st.datoms, (unsigned long long)st.values,
				(unsigned long long)st.entities, (unsigned long long)x->datoms,
				(unsigned long long)x->values, (unsigned long long)x->entities);
	}
	MDB_cursor *cur;
	if (mdb_cursor_open(c->snap.txn, c->s->dbi[DB_META], &cur) == 0) {
		MDB_val k = {3, META_ST_PREFIX}, d;
		int rc;
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			if (k.mv_size < 3 || memcmp(k.mv_data, META_ST_PREFIX, 3) != 0)
				break;
			if (k.mv_size != 7 || d.mv_size != 24) {
				problem(c, "meta: malformed statistics entry");
				continue;
			}
			uint32_t a = dl_get_be32((uint8_t *)k.mv_data + 3);
			bool nonzero = dl_get_be64(d.mv_data) || dl_get_be64((uint8_t *)d.mv_data + 8) ||
				       dl_get_be64((uint8_t *)d.mv_data + 16);
			astat *x = NULL;
			for (size_t j = (a * 0x9E3779B1u) & (c->capst - 1); c->capst && c->st[j].used;
			     j = (j + 1) & (c->capst - 1))
				if (c->st[j].a == a) {
					x = &c->st[j];
					break;
				}
			if (!x && nonzero)
				problem(c, "meta: statistics for attribute %u, which has no datoms", a);
		}
		walk_err(c, DB_META, rc);
		mdb_cursor_close(cur);
	}
	dl_store_stats tot;
	if (dl_snap_stats(&c->snap, &tot) < 0) {
		problem(c, "meta: totals: %s", errmsg_or("unreadable"));
	} else {
		if (tot.datoms != n_cur)
			problem(c, "meta: totals say %llu datoms; eavt holds %llu",
				(unsigned long long)tot.datoms, (unsigned long long)n_cur);
		if (tot.history != n_hist)
			problem(c, "meta: totals say %llu history entries; heavt holds %llu",
				(unsigned long long)tot.history, (unsigned long long)n_hist);
	}
}

int dl_store_check(dl_store *s, void (*report)(void *ud, const char *problem), void *ud)
{
	assert(s);
	checker c;
	memset(&c, 0, sizeof c);
	c.s = s;
	c.report = report;
	c.ud = ud;
	c.snap.s = s;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &c.snap.txn);
	if (rc)
		return dl_mdb_err(rc, "check");
	DL_TSAN_ACQUIRE(s);
	uint64_t b;
	if (dl_meta_get_u64(c.snap.txn, s, META_BASIS, &b, NULL) < 0)
		problem(&c, "meta: %s", errmsg_or("bad basis"));
	c.snap.basis = (int64_t)b;
	if (b && DL_EID_PART((int64_t)b) != DL_PART_TX)
		problem(&c, "meta: basis %llu is not a tx id", (unsigned long long)b);

	uint64_t n_cur = 0, n_ref = 0, n_aevt = 0, n_avet = 0, n_vaet = 0;
	check_eavt(&c, &n_cur, &n_ref);
	check_mirror(&c, DB_AEVT, &n_aevt, false);
	check_mirror(&c, DB_AVET, &n_avet, true);
	check_mirror(&c, DB_VAET, &n_vaet, false);
	if (n_aevt != n_cur || n_avet != n_cur)
		problem(&c, "indexes disagree: eavt %llu, aevt %llu, avet %llu datoms",
			(unsigned long long)n_cur, (unsigned long long)n_aevt,
			(unsigned long long)n_avet);
	if (n_vaet != n_ref)
		problem(&c, "vaet holds %llu datoms but eavt has %llu ref datoms",
			(unsigned long long)n_vaet, (unsigned long long)n_ref);

	uint64_t n_hist = 0, n_href = 0, n_ha = 0, n_hv = 0, n_hr = 0;
	check_heavt(&c, &n_hist, &n_href);
	check_mirror(&c, DB_HAEVT, &n_ha, false);
	check_mirror(&c, DB_HAVET, &n_hv, false);
	check_mirror(&c, DB_HVAET, &n_hr, false);
	if (n_ha != n_hist || n_hv != n_hist || n_hr != n_href)
		problem(&c, "history indexes disagree: heavt %llu, haevt %llu, havet %llu; "
			    "hvaet %llu of %llu refs",
			(unsigned long long)n_hist, (unsigned long long)n_ha,
			(unsigned long long)n_hv, (unsigned long long)n_hr,
			(unsigned long long)n_href);

	uint64_t adds = 0, rets = 0, found = 0, inhist = 0, entries = 0;
	check_log(&c, &adds, &rets, &found, &inhist, &entries);
	if (inhist > n_hist)
		problem(&c, "log: more assertions found in history (%llu) than it holds (%llu)",
			(unsigned long long)inhist, (unsigned long long)n_hist);
	if (entries != (uint64_t)DL_EID_NUM(c.snap.basis))
		problem(&c, "log: %llu entries for %lld transactions", (unsigned long long)entries,
			(long long)DL_EID_NUM(c.snap.basis));
	if (adds - rets != n_cur)
		problem(&c, "log: replaying %llu assertions and %llu retractions gives %llu "
			    "datoms, not %llu",
			(unsigned long long)adds, (unsigned long long)rets,
			(unsigned long long)(adds - rets), (unsigned long long)n_cur);
	if (found != n_cur)
		problem(&c, "log: %llu of %llu current datoms are in the log entry of their tx",
			(unsigned long long)found, (unsigned long long)n_cur);
	check_meta(&c, n_cur, n_hist);

	DL_TSAN_RELEASE(s);
	mdb_txn_abort(c.snap.txn);
	dl_arena_free(&c.arena);
	dl_free(c.st);
	if (c.oom)
		return dl_error(DL_ENOMEM, "out of memory while checking");
	if (c.problems)
		return dl_error(DL_ECORRUPT, "%s: %llu problem%s found", s->path,
				(unsigned long long)c.problems, c.problems == 1 ? "" : "s");
	return 0;
}
