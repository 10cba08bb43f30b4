/*
 * Reads: iterators over one index and view.  An iterator merges two sorted
 * streams, the current index and its history twin (heavt, haevt, havet,
 * hvaet), by index key; the view decides which entries show:
 *
 *   current  the current index
 *   since T  the current index, tx > T
 *   as-of T  current with tx <= T, plus history entries with t0 <= T < t1
 *   history  current (added) plus each history entry's assertion at t0 and
 *            retraction at t1, in key order then tx order (a key's history
 *            entries all end before its current assertion begins)
 */
#include "store_int.h"
#include "value/value.h"

typedef struct stream {
	MDB_cursor *c;
	MDB_val k, d;
	bool on; /* positioned on an entry inside the prefix and range */
	bool hist;
	dl_kparts p;
} stream;

struct dl_iter {
	dl_snap *snap;
	dl_index idx;
	dl_view view;
	int nbound;
	bool vbound;   /* V is part of the prefix: key lengths are exact */
	size_t vrest;  /* with vbound: bytes after the prefix in a current key */
	bool has_tx;
	int64_t txv;
	bool positioned;
	bool borrow;
	stream cur, hist;
	bool use_hist;
	bool fast;     /* current view, no tx bound: dl_iter_next's short path */
	/* fast path: the cursor is still on the entry dl_iter_next returned
	 * last; the step past it waits for the next call, so a merge that
	 * seeks next does not read an entry for nothing */
	bool step_due;
	bool rev;      /* descending key order (dl_iter_reverse) */
	MDB_cursor_op step; /* MDB_NEXT, or MDB_PREV when rev */
	/* a history entry's retraction, due after its assertion */
	bool pend;
	dl_datom pd;
	/* value range */
	bool range, lo_set, hi_set, lo_incl, hi_incl;
	dl_buf lo, hi;
	uint64_t scanned;
	dl_arena arena;
	/* V when it is in the prefix: never decoded (a copy in vfix_mem when
	 * it has memory, which lives as long as the iterator) */
	bool vfix_on;
	dl_value vfix;
	dl_arena vfix_mem;
	/* the last keyword or symbol decoded, by its encoding (interning a
	 * name costs a hash lookup; neighbours often repeat it) */
	uint8_t kw_len;
	uint8_t kw_enc[63];
	dl_value kw;
	size_t plen, slen;
	uint8_t prefix[KEY_MAX];
	uint8_t start[KEY_MAX]; /* where positioning seeks to */
};

/* ---- opening ------------------------------------------------------------- */

static int vkey_of(uint8_t *out, size_t *len, const dl_value *v)
{
	dl_buf enc = DL_BUF_INIT;
	int rc = dl_vkey(out, len, &enc, v, NULL);
	dl_buf_free(&enc);
	return rc;
}

static int check_ea(int64_t e, int64_t a, bool need_e, bool need_a)
{
	if (need_e && e < 0)
		return dl_error(DL_EINVAL, "bad entity id %lld", (long long)e);
	if (need_a && (a < 0 || a > (int64_t)UINT32_MAX))
		return dl_error(DL_EINVAL, "bad attribute id %lld", (long long)a);
	return 0;
}

/* Append key components from..to-1 of d (index order) to k. */
static int build_comps(uint8_t *k, size_t *len, dl_index idx, const dl_datom *d, int from,
		       int to)
{
	size_t o = 0, vlen;
	uint8_t vk[DL_KEY_VALUE_OOL];
	for (int i = from; i < to && i < 3; i++) {
		char comp = "EAV AEV AVE VAE"[idx * 4 + i];
		switch (comp) {
		case 'E':
			DL_TRY(check_ea(d->e, 0, true, false));
			dl_put_be64(k + o, (uint64_t)d->e);
			o += 8;
			break;
		case 'A':
			DL_TRY(check_ea(0, d->a, false, true));
			dl_put_be32(k + o, (uint32_t)d->a);
			o += 4;
			break;
		default:
			if (idx == DL_VAET) {
				if (d->v.type != DL_REF)
					return dl_error(DL_EINVAL, "vaet's value must be a ref");
				dl_put_be64(k + o, (uint64_t)d->v.u.i);
				o += 8;
			} else {
				DL_TRY(vkey_of(vk, &vlen, &d->v));
				memcpy(k + o, vk, vlen);
				o += vlen;
			}
			break;
		}
	}
	*len = o;
	return 0;
}

static int open_cursor(dl_iter *it, stream *s, int db, bool hist)
{
	int rc = mdb_cursor_open(it->snap->txn, it->snap->s->dbi[db], &s->c);
	if (rc)
		return dl_mdb_err(rc, "opening a cursor");
	s->hist = hist;
	return 0;
}

int dl_iter_open(dl_iter **out, dl_snap *snap, dl_index idx, const dl_view *view,
		 const dl_datom *prefix, int nbound)
{
	assert(out && snap && idx < DL_INDEX_COUNT && nbound >= 0 && nbound <= 4);
	assert(nbound == 0 || prefix);
	*out = NULL;
	if (snap->w && idx != DL_EAVT) {
		/* a write transaction's reads see its writes: spooled bulk
		 * entries of the range are merged first */
		static const int dbs[] = {DB_EAVT, DB_AEVT, DB_AVET, DB_VAET};
		int64_t a = (idx == DL_AEVT || idx == DL_AVET) && nbound >= 1 ? prefix->a : -1;
		DL_TRY(dl_spool_settle(snap->w, dbs[idx], a));
	}
	dl_iter *it = dl_calloc(1, sizeof *it);
	if (!it)
		return DL_ENOMEM;
	it->snap = snap;
	it->idx = idx;
	it->view = view ? *view : (dl_view){DL_VIEW_CURRENT, 0};
	it->nbound = nbound;
	it->borrow = snap->w == NULL;
	it->step = MDB_NEXT;
	it->arena.chunk_size = 4096;
	int rc = build_comps(it->prefix, &it->plen, idx, prefix, 0, nbound);
	if (rc < 0)
		goto fail;
	if (nbound == 4) {
		it->has_tx = true;
		it->txv = prefix->tx;
	}
	int vpos = idx == DL_AVET ? 2 : idx == DL_VAET ? 1 : 3;
	it->vbound = idx != DL_VAET && nbound >= vpos;
	it->vrest = idx == DL_AVET && nbound == 2 ? 8 : 0;
	if (it->vbound) {
		switch (prefix->v.type) {
		case DL_BOOL: case DL_INT: case DL_DOUBLE: case DL_INST: case DL_REF:
		case DL_KEYWORD: case DL_SYMBOL:
			it->vfix = prefix->v;
			break;
		default: /* strings, bytes, tuples: the caller's memory may go */
			if ((rc = dl_value_copy(&it->vfix, &it->vfix_mem, &prefix->v)) < 0)
				goto fail;
			break;
		}
		it->vfix_on = true;
	}
	memcpy(it->start, it->prefix, it->plen);
	it->slen = it->plen;
	static const int cur_db[] = {DB_EAVT, DB_AEVT, DB_AVET, DB_VAET};
	static const int hist_db[] = {DB_HEAVT, DB_HAEVT, DB_HAVET, DB_HVAET};
	if ((rc = open_cursor(it, &it->cur, cur_db[idx], false)) < 0)
		goto fail;
	it->use_hist = it->view.kind == DL_VIEW_AS_OF || it->view.kind == DL_VIEW_HISTORY;
	it->fast = it->view.kind == DL_VIEW_CURRENT && !it->use_hist && !it->has_tx;
	if (it->use_hist && (rc = open_cursor(it, &it->hist, hist_db[idx], true)) < 0)
		goto fail;
	*out = it;
	return 0;
fail:
	dl_iter_close(it);
	return rc;
}

void dl_iter_close(dl_iter *it)
{
	if (!it)
		return;
	if (it->cur.c)
		mdb_cursor_close(it->cur.c);
	if (it->hist.c)
		mdb_cursor_close(it->hist.c);
	dl_buf_free(&it->lo);
	dl_buf_free(&it->hi);
	dl_arena_free(&it->arena);
	dl_arena_free(&it->vfix_mem);
	dl_free(it);
}

uint64_t dl_iter_scanned(const dl_iter *it) { return it->scanned; }

int dl_iter_value_range(dl_iter *it, const dl_value *lo, bool lo_incl, const dl_value *hi,
			bool hi_incl)
{
	bool ok = (it->idx == DL_AVET && it->nbound == 1) ||
		  ((it->idx == DL_EAVT || it->idx == DL_AEVT) && it->nbound == 2);
	if (it->rev)
		return dl_error(DL_EINVAL, "internal: a value range on a reversed iterator");
	if (!ok)
		return dl_error(DL_EINVAL, "a value range needs the value to be the next "
					   "unbound component");
	it->range = true;
	it->lo_set = lo != NULL;
	it->hi_set = hi != NULL;
	it->lo_incl = lo_incl;
	it->hi_incl = hi_incl;
	it->lo.len = it->hi.len = 0;
	if (lo)
		DL_TRY(dl_value_encode(&it->lo, lo));
	if (hi)
		DL_TRY(dl_value_encode(&it->hi, hi));
	memcpy(it->start, it->prefix, it->plen);
	it->slen = it->plen;
	if (lo) {
		/* long bounds seek by their prefix: keys sharing it order by hash */
		size_t n = it->lo.len < DL_KEY_VALUE_INLINE_MAX ? it->lo.len : DL_KEY_VALUE_PREFIX;
		memcpy(it->start + it->plen, it->lo.data, n);
		it->slen += n;
	}
	it->positioned = false;
	it->pend = false;
	return 0;
}

/* ---- streams ------------------------------------------------------------- */

enum { R_IN = 1, R_SKIP = 0, R_STOP = 2 };

static int range_check(dl_iter *it, const dl_kparts *p)
{
	const uint8_t *f;
	size_t fn;
	DL_TRY(dl_vkey_full(it->snap, p->v, p->vlen, &f, &fn));
	if (it->lo_set) {
		int c = dl_key_cmp(f, fn, it->lo.data, it->lo.len);
		if (c < 0 || (c == 0 && !it->lo_incl))
			return R_SKIP;
	}
	if (it->hi_set) {
		int c = dl_key_cmp(f, fn, it->hi.data, it->hi.len);
		if (c > 0 || (c == 0 && !it->hi_incl)) {
			/* past hi for good once the first 384 bytes say so */
			size_t m = fn < it->hi.len ? fn : it->hi.len;
			if (m > DL_KEY_VALUE_PREFIX)
				m = DL_KEY_VALUE_PREFIX;
			return memcmp(f, it->hi.data, m) > 0 ? R_STOP : R_SKIP;
		}
	}
	return R_IN;
}

/* Does k start with the n bytes of p?  (Prefixes are short: 4 to 12
 * bytes, or a value; word compares beat a call to memcmp.) */
static inline bool has_prefix(const uint8_t *k, const uint8_t *p, size_t n)
{
	for (; n >= 8; k += 8, p += 8, n -= 8) {
		uint64_t a, b;
		memcpy(&a, k, 8);
		memcpy(&b, p, 8);
		if (a != b)
			return false;
	}
	if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, k, 4);
		memcpy(&b, p, 4);
		if (a != b)
			return false;
		k += 4, p += 4, n -= 4;
	}
	for (; n; k++, p++, n--)
		if (*k != *p)
			return false;
	return true;
}

/* Move the cursor of s by op: 1 on an entry, 0 at the end (s off). */
static int stream_move(dl_iter *it, stream *s, MDB_cursor_op op)
{
	if (op == MDB_SET_RANGE) {
		s->k = (MDB_val){it->slen, it->start};
		if (it->slen == 0)
			op = MDB_FIRST;
	}
	int rc = mdb_cursor_get(s->c, &s->k, &s->d, op);
	if (rc == MDB_NOTFOUND) {
		s->on = false;
		return 0;
	}
	if (rc) {
		s->on = false;
		return dl_mdb_err(rc, "reading an index");
	}
	it->scanned++;
	return 1;
}

static int stream_accept(dl_iter *it, stream *s);

/* Move s to its next acceptable entry (first: seek to it->start). */
static int stream_step(dl_iter *it, stream *s, MDB_cursor_op op)
{
	int rc = stream_move(it, s, op);
	return rc <= 0 ? rc : stream_accept(it, s);
}

/* The entry under s's cursor, or the first acceptable one after it: in
 * the prefix, the bound value itself, in the value range. */
static int stream_accept(dl_iter *it, stream *s)
{
	for (;;) {
		int rc;
		if (s->k.mv_size < it->plen || !has_prefix(s->k.mv_data, it->prefix, it->plen)) {
			s->on = false;
			return 0;
		}
		if (it->vbound && s->k.mv_size != it->plen + it->vrest + (s->hist ? 16 : 0))
			goto next; /* a longer value sharing the bound one's bytes */
		DL_TRY(dl_key_split(&s->p, it->idx, s->k.mv_data, s->k.mv_size, s->hist));
		if (!s->hist && s->d.mv_size != 8)
			return dl_error(DL_ECORRUPT, "malformed index entry (no tx)");
		if (it->range) {
			rc = range_check(it, &s->p);
			if (rc < 0)
				return rc;
			if (rc == R_STOP) {
				s->on = false;
				return 0;
			}
			if (rc == R_SKIP)
				goto next;
		}
		s->on = true;
		return 0;
	next:
		if ((rc = stream_move(it, s, it->step)) <= 0)
			return rc;
	}
}

/* Reversed: put s on the last entry of the prefix (the entry before the
 * prefix's successor, or the index's last) and accept from there down. */
static int stream_last(dl_iter *it, stream *s)
{
	uint8_t succ[KEY_MAX];
	size_t n = it->plen;
	memcpy(succ, it->prefix, n);
	while (n && succ[n - 1] == 0xFF)
		n--; /* ...FF FF has no successor of its length: drop them */
	MDB_cursor_op op = MDB_LAST;
	if (n) {
		succ[n - 1]++;
		s->k = (MDB_val){n, succ};
		int rc = mdb_cursor_get(s->c, &s->k, &s->d, MDB_SET_RANGE);
		if (rc && rc != MDB_NOTFOUND)
			return dl_mdb_err(rc, "reading an index");
		if (rc == 0)
			op = MDB_PREV;
	}
	int rc = stream_move(it, s, op);
	return rc <= 0 ? rc : stream_accept(it, s);
}

static int position(dl_iter *it)
{
	it->positioned = true;
	it->pend = false;
	it->step_due = false;
	if (it->rev) {
		DL_TRY(stream_last(it, &it->cur));
		if (it->use_hist)
			DL_TRY(stream_last(it, &it->hist));
		return 0;
	}
	DL_TRY(stream_step(it, &it->cur, MDB_SET_RANGE));
	if (it->use_hist)
		DL_TRY(stream_step(it, &it->hist, MDB_SET_RANGE));
	return 0;
}

int dl_iter_reverse(dl_iter *it)
{
	if (it->positioned || it->range)
		return dl_error(DL_EINVAL, "internal: reversing an iterator after it began "
					   "or with a value range");
	it->rev = true;
	it->step = MDB_PREV;
	return 0;
}

/* it->start: the bound prefix, then key's components after it */
static int seek_key(dl_iter *it, const dl_datom *key)
{
	/* bound components from the prefix, the rest from key */
	int from = it->nbound < 3 ? it->nbound : 3, to = 3;
	/* a nil V last sorts before every value: seek to the components
	 * before it (no encoding) */
	if ("EAV AEV AVE VAE"[it->idx * 4 + 2] == 'V' && key->v.type == DL_NIL)
		to = 2;
	size_t n = 0;
	if (from < to)
		DL_TRY(build_comps(it->start + it->plen, &n, it->idx, key, from, to));
	memcpy(it->start, it->prefix, it->plen);
	it->slen = it->plen + n;
	return 0;
}

int dl_iter_seek(dl_iter *it, const dl_datom *key)
{
	if (it->rev)
		return dl_error(DL_EINVAL, "internal: seeking a reversed iterator");
	DL_TRY(seek_key(it, key));
	return position(it);
}

int dl_iter_seek_near(dl_iter *it, const dl_datom *key, int walk)
{
	stream *s = &it->cur;
	if (!it->fast || !it->positioned || it->pend || it->rev)
		return dl_iter_seek(it, key);
	DL_TRY(seek_key(it, key));
	/* keys compare as bytes: step while the cursor's key is below the
	 * target, reading nothing else; a target not reached in `walk`
	 * steps is sought from the root.  The entry last returned (a step
	 * due) is stepped over first, but not counted; with no steps
	 * allowed the seek spares that step. */
	if (it->step_due) {
		it->step_due = false;
		if (walk == 0)
			return position(it);
		DL_TRY(stream_step(it, s, MDB_NEXT));
	}
	for (int i = 0;; i++) {
		if (!s->on)
			return 1; /* past the end already: a later key is too */
		size_t kl = s->k.mv_size, m = kl < it->slen ? kl : it->slen;
		int c = memcmp(s->k.mv_data, it->start, m);
		if (c > 0 || (c == 0 && kl >= it->slen)) {
			DL_TRY(stream_accept(it, s));
			return 1;
		}
		if (i == walk)
			return position(it);
		int rc = stream_move(it, s, MDB_NEXT);
		if (rc <= 0)
			return rc < 0 ? rc : 1;
	}
}

/* ---- next ---------------------------------------------------------------- */

enum { TAG_KEYWORD = 0x15, TAG_SYMBOL = 0x16 }; /* value.c's tags */

static int fill(dl_iter *it, const stream *s, dl_datom *out)
{
	out->e = s->p.e;
	out->a = s->p.a;
	if (it->vfix_on) {
		out->v = it->vfix;
		return 0;
	}
	const dl_kparts *p = &s->p;
	if (it->idx != DL_VAET && p->vlen < DL_KEY_VALUE_OOL &&
	    dl_value_decode_scalar(&out->v, p->v, p->vlen))
		return 0;
	bool kw = it->idx != DL_VAET && p->vlen <= sizeof it->kw_enc &&
		  (p->v[0] == TAG_KEYWORD || p->v[0] == TAG_SYMBOL);
	if (kw && p->vlen == it->kw_len && memcmp(p->v, it->kw_enc, p->vlen) == 0) {
		out->v = it->kw;
		return 0;
	}
	DL_TRY(dl_kparts_value(&out->v, it->snap, &it->arena, it->idx, p, it->borrow));
	if (kw) {
		memcpy(it->kw_enc, p->v, p->vlen);
		it->kw_len = (uint8_t)p->vlen;
		it->kw = out->v;
	}
	return 0;
}

static inline size_t ikey_len(const stream *s)
{
	return s->k.mv_size - (s->hist ? 16 : 0);
}

int dl_iter_next(dl_iter *it, dl_datom *out)
{
	assert(it && out);
	if (it->pend) {
		/* the retraction of the history entry just asserted (its value
		 * lives in the arena, which is reset only after it) */
		it->pend = false;
		if (!it->has_tx || it->pd.tx == it->txv) {
			*out = it->pd;
			return 1;
		}
	}
	if (it->arena.head)
		dl_arena_reset(&it->arena);
	if (!it->positioned)
		DL_TRY(position(it));
	if (it->fast) {
		/* the current view, every tx: each entry of the index shows */
		stream *s = &it->cur;
		if (it->step_due) {
			it->step_due = false;
			DL_TRY(stream_step(it, s, it->step));
		}
		if (!s->on)
			return 0;
		DL_TRY(fill(it, s, out));
		out->tx = (int64_t)dl_get_be64(s->d.mv_data);
		out->added = true;
		it->step_due = true;
		return 1;
	}
	const dl_view *vw = &it->view;
	for (;;) {
		stream *s;
		if (it->cur.on && it->hist.on) {
			int c = dl_key_cmp(it->cur.k.mv_data, ikey_len(&it->cur), it->hist.k.mv_data,
					   ikey_len(&it->hist));
			/* on a tie the history comes first (it ended before the
			 * current assertion began), last when reversed */
			s = (it->rev ? c >= 0 : c < 0) ? &it->cur : &it->hist;
		} else if (it->cur.on) {
			s = &it->cur;
		} else if (it->hist.on) {
			s = &it->hist;
		} else {
			return 0;
		}
		bool show = true;
		int64_t tx;
		if (!s->hist) {
			tx = (int64_t)dl_get_be64(s->d.mv_data);
			if (vw->kind == DL_VIEW_AS_OF)
				show = tx <= vw->t;
			else if (vw->kind == DL_VIEW_SINCE)
				show = tx > vw->t;
		} else if (vw->kind == DL_VIEW_HISTORY) {
			/* assertion now, retraction on the next call (reversed:
			 * retraction first) */
			bool a_ok = !it->has_tx || s->p.t0 == it->txv;
			bool r_ok = !it->has_tx || s->p.t1 == it->txv;
			if (a_ok || r_ok) {
				bool first_ok = it->rev ? r_ok : a_ok, then_ok = it->rev ? a_ok : r_ok;
				DL_TRY(fill(it, s, &it->pd));
				it->pd.tx = it->rev ? s->p.t0 : s->p.t1;
				it->pd.added = it->rev;
				*out = it->pd;
				if (first_ok) {
					out->tx = it->rev ? s->p.t1 : s->p.t0;
					out->added = !it->rev;
					it->pend = then_ok;
				}
				DL_TRY(stream_step(it, s, it->step));
				return 1;
			}
			DL_TRY(stream_step(it, s, it->step));
			continue;
		} else {
			tx = s->p.t0;
			show = s->p.t0 <= vw->t && vw->t < s->p.t1;
		}
		if (show && it->has_tx && tx != it->txv)
			show = false;
		if (show) {
			DL_TRY(fill(it, s, out));
			out->tx = tx;
			out->added = true;
			DL_TRY(stream_step(it, s, it->step));
			return 1;
		}
		DL_TRY(stream_step(it, s, it->step));
	}
}

int dl_snap_has(dl_snap *snap, int64_t e, int64_t a, const dl_value *v, int64_t *tx)
{
	uint8_t vk[DL_KEY_VALUE_OOL], k[KEY_MAX];
	size_t vlen;
	DL_TRY(check_ea(e, a, true, true));
	DL_TRY(vkey_of(vk, &vlen, v));
	size_t kn = dl_key_build(k, DL_EAVT, e, (uint32_t)a, vk, vlen);
	MDB_val kk = {kn, k}, d;
	int rc = mdb_get(snap->txn, snap->s->dbi[DB_EAVT], &kk, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return dl_mdb_err(rc, "reading an index");
	if (d.mv_size != 8)
		return dl_error(DL_ECORRUPT, "malformed index entry (no tx)");
	if (tx)
		*tx = (int64_t)dl_get_be64(d.mv_data);
	return 1;
}
