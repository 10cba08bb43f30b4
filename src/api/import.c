/*
 * The bulk importer: tx-data vectors (and CSV rows) that only assert new
 * entities go straight to storage's batch writer (dl_wtxn_add_batch);
 * everything else runs through the transaction processor, vector by
 * vector, exactly as dl_db_transact would.
 *
 * Why two paths: the transaction processor resolves, checks and writes one
 * datom at a time, which is right for a transaction and ten times too slow
 * for loading millions of datoms.  Most bulk data is maps of new entities,
 * and for those every check the processor makes can be made while reading:
 * attributes exist, values have their declared types, references resolve,
 * unique values are new.  A vector that needs anything more (upserts,
 * retractions, schema, nested maps, an unknown attribute, a type error to
 * report) falls back to the processor, which also words the error.
 *
 * Streaming: a vector is read item by item (its text is never held as one
 * value), converted to datoms in `pend`, and written when `batch` datoms
 * have gathered.  Several small vectors share one transaction (a "group",
 * one tx entity with its :db/txInstant), written at the end of the vector
 * that fills the batch (so a group is one call of the batch writer, and a
 * vector that crosses the batch's end does not become a small transaction
 * of its own); a vector that alone fills a batch is written in several
 * batches but stays one transaction.
 *
 * All or nothing: the whole session (every file of `datalite import`) is
 * one LMDB write transaction, committed by dl_imp_finish; any error aborts
 * it, so a failed import leaves the database as it was, its next tx id
 * included.  Each group, and each vector the processor runs, is still a
 * transaction of its own inside it (dl_wtxn_next_tx between them: its own
 * tx entity, :db/txInstant and log entry).  Memory stays bounded: LMDB
 * spills the dirty pages of a large write transaction to the file (pages
 * no committed state uses, so readers and a crash see the old state), and
 * storage spools the AEVT, AVET and VAET entries of the batches to a
 * temporary file and merges them into the indexes once, in key order, at
 * the commit (see bulk.c): batch after batch, those entries land all over
 * their indexes, and writing them batch by batch rewrote most of their
 * pages for every batch.
 *
 * When a vector turns out to need the processor:
 *   - if nothing of it was written yet, the pending datoms of the vectors
 *     before it are written (their group's transaction closed) and its own
 *     are dropped;
 *   - if part of it was written (a long vector: its own transaction), the
 *     write transaction is taken back to the mark made when that
 *     transaction began (dl_wtxn_undo: its datoms were all about entities
 *     it created).
 * Either way the vector is then read again whole and transacted, in the
 * same write transaction.
 *
 * Entity ids: a vector's new entities get theirs when its datoms are
 * written (at its end, or at a batch boundary inside it), in order of
 * first appearance like the processor hands them out, so a fallback
 * wastes none and an import numbers entities as `transact` would.
 *
 * The EDN is read by a second thread (see "the reader thread" below); CSV
 * rows are read here.
 */
#include "api/api_int.h"

#include "value/value.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_BATCH (1u << 20)
#define TICK_ITEMS 4096 /* items between progress clock reads */
#define AKW_SLOTS 64

/* ---- a small hash map keyed by (attribute, value) -------------------------- */

typedef struct vent {
	uint64_t h; /* 0: empty slot */
	int64_t a;
	dl_value v;
	int64_t e;
	uint32_t tag; /* vector number (unique claims), or "defined" (tempids) */
} vent;

typedef struct vmap {
	vent *s;
	size_t cap, n;
} vmap;

static uint64_t vhash(int64_t a, const dl_value *v)
{
	uint64_t h = dl_value_hash(v) ^ ((uint64_t)a * UINT64_C(0x9E3779B97F4A7C15));
	return h ? h : 1;
}

static vent *vmap_find(const vmap *m, int64_t a, const dl_value *v, uint64_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		vent *x = &m->s[i];
		if (!x->h)
			return NULL;
		if (x->h == h && x->a == a && dl_value_equal(&x->v, v))
			return x;
	}
}

static int vmap_grow(vmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256;
	vent *s = dl_calloc(cap, sizeof *s);
	if (!s)
		return DL_ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->s[i].h)
			continue;
		size_t j = m->s[i].h & (cap - 1);
		while (s[j].h)
			j = (j + 1) & (cap - 1);
		s[j] = m->s[i];
	}
	dl_free(m->s);
	m->s = s;
	m->cap = cap;
	return 0;
}

/* Add an entry the caller knows is absent; `v` is stored as given. */
static vent *vmap_add(vmap *m, int64_t a, const dl_value *v, uint64_t h)
{
	if ((m->n + 1) * 2 > m->cap && vmap_grow(m) < 0)
		return NULL;
	size_t mask = m->cap - 1, i = h & mask;
	while (m->s[i].h)
		i = (i + 1) & mask;
	vent *x = &m->s[i];
	x->h = h;
	x->a = a;
	x->v = *v;
	x->e = 0;
	x->tag = 0;
	m->n++;
	return x;
}

static void vmap_clear(vmap *m)
{
	if (m->n)
		memset(m->s, 0, m->cap * sizeof *m->s);
	m->n = 0;
}

static void vmap_free(vmap *m)
{
	dl_free(m->s);
	memset(m, 0, sizeof *m);
}

/* ---- the session ---------------------------------------------------------------- */

struct dl_imp {
	dl_db *db;
	dl_store *store;
	dl_import_opts opts;
	size_t batch;
	uint32_t kw_id, kw_current_tx;

	/* the session's write transaction, and the processor's sequence of
	 * transactions in it */
	dl_wtxn *w;
	dl_tx_seq *seq;
	uint64_t ntx;     /* transactions begun in w */
	bool reuse_tx;    /* the current one was undone: the next begins in it */
	bool failed;      /* an error: nothing more is written, w is aborted */
	dl_wtxn_mark *mark; /* where the current (long vector's) transaction began */
	/* the open group: a transaction in w, and what it has seen */
	bool group_open;  /* a group is gathering vectors in w */
	bool tx_live;     /* its transaction has begun (its :db/txInstant) */
	const dl_schema *S;
	vmap lookups;  /* (a, v) -> e: lookup refs resolved in this group */
	vmap uniq;     /* (a, v) -> e: unique values asserted in this group */
	vmap aseen;    /* (a, nil) -> datoms a had when the group began */
	dl_arena garena; /* keys of the three maps above */

	/* datoms read but not yet written; their values live in held reader
	 * units (EDN) or in varena (CSV) */
	dl_datom *pend;
	size_t npend, cpend;
	dl_arena varena;

	/* the vector being read */
	uint32_t vec_no;
	size_t vec_mark;    /* npend when it began */
	bool vec_flushed;   /* part of it was written into w */
	uint64_t vec_bulk;  /* its datoms written so far */
	int64_t vec_first_e;/* the first entity it allocated (0: none yet) */
	/* entities of the vector get their ids only when its datoms are
	 * written, so a vector that falls back wastes none: until then they
	 * are local codes -(k+1), k indexing `locals` */
	int64_t *locals;
	size_t nlocals, clocals, nresolved;
	dl_datom *claims;   /* its unique claims (a, v), to resolve their e */
	size_t nclaims, cclaims;
	size_t undefined;   /* tempids it referenced but never gave a :db/id */
	vmap tempids;       /* tempid -> e (tag 1: defined by a :db/id) */
	dl_arena tarena;
	size_t vec_items;   /* items read */
	dl_edn_reader vec_start; /* where it began (to read it again whole) */
	bool in_vec;        /* between its first and last unit */
	bool skipping;      /* it went to the processor: ignore its other units */
	struct feed *feed;  /* the EDN reader thread's units */
	struct unit *held;  /* units whose values pending datoms point into */
	bool csv;           /* reading CSV: ids go to csvids, and never fall back */
	vmap csvids;        /* CSV row id -> e, for the whole session */
	dl_arena carena;

	char why[256];      /* why the current item cannot take the bulk path */
	struct akw {        /* attr_by_kw's cache (kw 0: empty) */
		uint32_t kw;
		const dl_attr *at;
	} akw[AKW_SLOTS];

	dl_arena scratch;   /* the processor's path */
	dl_import_stat st;
	uint64_t bytes_base; /* bytes of the inputs before the current one */
	struct timespec t0;
	double last_report;
	unsigned tick;
};

static double elapsed(const dl_imp *im)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - im->t0.tv_sec) + (double)(t.tv_nsec - im->t0.tv_nsec) / 1e9;
}

void dl_imp_stat(const dl_imp *im, dl_import_stat *out)
{
	*out = im->st;
	out->seconds = elapsed(im);
}

static void progress(dl_imp *im, uint64_t bytes_in_input, bool force)
{
	im->st.bytes_done = im->bytes_base + bytes_in_input;
	if (!im->opts.progress)
		return;
	double now = elapsed(im);
	if (!force && now - im->last_report < 0.1)
		return;
	im->last_report = now;
	dl_import_stat st = im->st;
	st.seconds = now;
	st.datoms += im->w && im->tx_live ? dl_wtxn_datom_count(im->w) : 0;
	st.pending = im->npend;
	im->opts.progress(im->opts.ud, &st);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the write transaction and its groups ---------------------------------- */

/* Pending datoms were written: their values' memory may go. */
static void values_release(dl_imp *im);

static void group_reset(dl_imp *im)
{
	vmap_clear(&im->lookups);
	vmap_clear(&im->uniq);
	vmap_clear(&im->aseen);
	dl_arena_reset(&im->garena);
}

/* The session's write transaction, begun at the first write. */
static int w_open(dl_imp *im)
{
	if (im->failed)
		return dl_error(DL_EINVAL, "the import failed earlier");
	if (im->w)
		return 0;
	DL_TRY(dl_wtxn_begin(&im->w, im->store));
	dl_wtxn_defer_indexes(im->w);
	int rc = dl_tx_seq_new(&im->seq, im->w);
	if (rc < 0) {
		dl_wtxn_abort(im->w);
		im->w = NULL;
	}
	return rc;
}

/* Begin the next transaction in w (the first is w's own). */
static int next_tx(dl_imp *im)
{
	if (im->reuse_tx) {
		im->reuse_tx = false;
		return 0;
	}
	if (im->ntx)
		DL_TRY(dl_wtxn_next_tx(im->w));
	im->ntx++;
	return 0;
}

/* Begin a group.  Returns 1 if begun, 0 if the database is still empty
 * (the processor bootstraps it first).  The group's transaction begins
 * when its first datoms are written. */
static int group_begin(dl_imp *im, bool reset)
{
	if (im->group_open)
		return 1;
	DL_TRY(w_open(im));
	if (dl_snap_basis_tx(dl_wtxn_snap(im->w)) == 0 && !im->ntx)
		return 0;
	/* the processor may have changed it */
	DL_TRY(dl_tx_seq_schema(&im->S, im->seq));
	memset(im->akw, 0, sizeof im->akw);
	im->group_open = true;
	im->tx_live = false;
	if (reset)
		group_reset(im);
	return 1;
}

/* Begin the group's transaction (with a mark to undo it by, for a long
 * vector) and give it its :db/txInstant, which must not go back in time
 * (the processor's rule). */
static int tx_begin(dl_imp *im, bool mark)
{
	if (im->tx_live)
		return 0;
	DL_TRY(next_tx(im));
	if (mark)
		DL_TRY(dl_wtxn_mark_begin(&im->mark, im->w));
	dl_snap *snap = dl_wtxn_snap(im->w);
	int64_t prev = INT64_MIN, now = now_ms();
	dl_iter *it;
	dl_view cur = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0}, d;
	pre.e = dl_snap_basis_tx(snap);
	pre.a = DL_A_TX_INSTANT;
	DL_TRY(dl_iter_open(&it, snap, DL_EAVT, &cur, &pre, 2));
	int rc = dl_iter_next(it, &d);
	if (rc > 0 && d.v.type == DL_INST)
		prev = d.v.u.i;
	dl_iter_close(it);
	if (rc < 0)
		return rc;
	dl_value inst = dl_inst(now > prev ? now : prev);
	DL_TRY(dl_wtxn_add(im->w, dl_wtxn_tx(im->w), DL_A_TX_INSTANT, &inst, 0));
	im->tx_live = true;
	return 0;
}

/* Write pend[0..n) into the group's transaction. */
static int group_write(dl_imp *im, size_t n)
{
	if (!n)
		return 0;
	DL_TRY(tx_begin(im, false));
	size_t before = dl_wtxn_datom_count(im->w);
	DL_TRY(dl_wtxn_add_batch(im->w, im->pend, n, NULL));
	im->st.bulk_datoms += dl_wtxn_datom_count(im->w) - before; /* duplicates once */
	return 0;
}

/* The group's transaction is complete (the next one, if any, follows it
 * in the same write transaction). */
static void group_close(dl_imp *im)
{
	if (im->tx_live) {
		im->st.transactions++;
		im->st.datoms += dl_wtxn_datom_count(im->w);
	}
	dl_wtxn_mark_free(im->mark);
	im->mark = NULL;
	im->tx_live = im->group_open = false;
}

/* Write the group's pending datoms and close it. */
static int group_end(dl_imp *im)
{
	int rc = group_write(im, im->npend);
	if (rc < 0)
		return rc;
	im->npend = 0;
	values_release(im);
	group_close(im);
	return 0;
}

/* An error: nothing of the session will be written. */
static int session_fail(dl_imp *im, int rc)
{
	if (rc >= 0)
		return rc;
	im->failed = true;
	dl_wtxn_mark_free(im->mark);
	im->mark = NULL;
	dl_wtxn_abort(im->w);
	im->w = NULL;
	im->group_open = im->tx_live = false;
	im->npend = 0;
	values_release(im);
	return rc;
}

/* ---- items: checks and conversion ---------------------------------------- */

/* Not for the bulk path: remember why (CSV reports it) and answer 0. */
static int no(dl_imp *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int no(dl_imp *im, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(im->why, sizeof im->why, fmt, ap);
	va_end(ap);
	return 0;
}

static const char *vtext(const dl_value *v, char *buf, size_t cap)
{
	dl_buf b = DL_BUF_INIT;
	if (dl_edn_print(&b, v) == 0)
		snprintf(buf, cap, "%s", b.data);
	else
		snprintf(buf, cap, "?");
	dl_buf_free(&b);
	dl_error_clear();
	return buf;
}

static const char *kwtext(uint32_t kw, char *buf, size_t cap)
{
	size_t n;
	const char *s = dl_intern_name(kw, &n, NULL);
	snprintf(buf, cap, ":%.*s", s ? (int)n : 1, s ? s : "?");
	return buf;
}

/* The value types a datom of type vt accepts (as the processor's check). */
static bool type_ok(int vt, const dl_value *v)
{
	switch (vt) {
	case DL_VT_ANY: return dl_value_is_scalar(v) && v->type != DL_REF;
	case DL_VT_STRING: return v->type == DL_STRING;
	case DL_VT_LONG: return v->type == DL_INT;
	case DL_VT_DOUBLE: return v->type == DL_DOUBLE;
	case DL_VT_BOOLEAN: return v->type == DL_BOOL;
	case DL_VT_INSTANT: return v->type == DL_INST;
	case DL_VT_KEYWORD: return v->type == DL_KEYWORD;
	case DL_VT_UUID: return v->type == DL_UUID;
	case DL_VT_BYTES: return v->type == DL_BYTES;
	case DL_VT_SYMBOL: return v->type == DL_SYMBOL;
	default: return false; /* refs resolve elsewhere; tuples take the slow path */
	}
}

static bool is_coll(const dl_value *v)
{
	return v->type == DL_VECTOR || v->type == DL_LIST || v->type == DL_SET;
}

/* The attribute of keyword kw in im->S, through a small cache (two hash
 * lookups per attribute of every map otherwise), emptied whenever im->S
 * is set (a schema the processor replaced is freed, and its successor may
 * have its address). */
static const dl_attr *attr_by_kw(dl_imp *im, uint32_t kw)
{
	struct akw *c = &im->akw[kw % AKW_SLOTS];
	if (c->kw == kw)
		return c->at;
	int64_t a = dl_schema_entid(im->S, kw);
	const dl_attr *at = a > 0 ? dl_schema_attr(im->S, a) : NULL;
	*c = (struct akw){kw, at};
	return at;
}

static int new_eid(dl_imp *im, int64_t *e)
{
	DL_TRY(dl_wtxn_new_eid(im->w, e, DL_PART_USER));
	if (!im->vec_first_e)
		im->vec_first_e = *e;
	return 0;
}

/* A new entity: a local code in EDN vectors, a real id in CSV (which
 * never falls back, and whose row ids outlive the file). */
static int new_entity(dl_imp *im, int64_t *e)
{
	if (im->csv)
		return new_eid(im, e);
	if (im->nlocals == im->clocals) {
		size_t cap = im->clocals ? im->clocals * 2 : 1024;
		int64_t *p = dl_realloc(im->locals, cap * sizeof *p);
		if (!p)
			return DL_ENOMEM;
		im->locals = p;
		im->clocals = cap;
	}
	im->locals[im->nlocals] = 0;
	*e = -(int64_t)++im->nlocals;
	return 0;
}

static inline int64_t real_e(const dl_imp *im, int64_t e)
{
	return e < 0 ? im->locals[-e - 1] : e;
}

/* Give the vector's new entities their ids (in order of first appearance,
 * as the transaction processor does) and put them into its pending
 * datoms and unique claims. */
static int resolve_locals(dl_imp *im)
{
	for (size_t k = im->nresolved; k < im->nlocals; k++)
		DL_TRY(new_eid(im, &im->locals[k]));
	im->nresolved = im->nlocals;
	for (size_t i = im->vec_mark; i < im->npend; i++) {
		dl_datom *d = &im->pend[i];
		d->e = real_e(im, d->e);
		if (d->v.type == DL_REF)
			d->v.u.i = real_e(im, d->v.u.i);
	}
	for (size_t i = 0; i < im->nclaims; i++) {
		const dl_datom *c = &im->claims[i];
		vent *x = vmap_find(&im->uniq, c->a, &c->v, vhash(c->a, &c->v));
		if (x)
			x->e = real_e(im, x->e);
	}
	return 0;
}

/* The entity of a tempid (string or negative int), allocated on first
 * sight; `define`: named by a :db/id, which may happen once per vector. */
static int tempid(dl_imp *im, const dl_value *t, bool define, int64_t *e)
{
	char vs[120];
	vmap *m = im->csv ? &im->csvids : &im->tempids;
	dl_arena *a = im->csv ? &im->carena : &im->tarena;
	uint64_t h = vhash(0, t);
	vent *x = vmap_find(m, 0, t, h);
	if (x) {
		if (define && x->tag)
			return no(im, "%s names two entities' :db/id",
				  vtext(t, vs, sizeof vs));
		if (define && !x->tag) {
			x->tag = 1;
			im->undefined--;
		}
		*e = x->e;
		return 1;
	}
	dl_value k;
	DL_TRY(dl_value_copy(&k, a, t));
	int64_t id;
	DL_TRY(new_entity(im, &id));
	if (!(x = vmap_add(m, 0, &k, h)))
		return DL_ENOMEM;
	x->e = id;
	x->tag = define;
	if (!define && !im->csv)
		im->undefined++;
	*e = id;
	return 1;
}

/* Did attribute `a` have datoms before this group?  Unique checks against
 * the database are only needed then (this group's own are in `uniq`). */
static int attr_had_datoms(dl_imp *im, int64_t a, bool *out)
{
	dl_value key = dl_nil();
	uint64_t h = vhash(a, &key);
	vent *x = vmap_find(&im->aseen, a, &key, h);
	if (!x) {
		/* its AVET entries are read back (unique checks, lookup refs) */
		DL_TRY(dl_wtxn_index_now(im->w, a));
		dl_attr_stats st;
		DL_TRY(dl_snap_attr_stats(dl_wtxn_snap(im->w), a, &st));
		if (!(x = vmap_add(&im->aseen, a, &key, h)))
			return DL_ENOMEM;
		x->e = (int64_t)st.datoms;
	}
	*out = x->e != 0;
	return 0;
}

static int avet_first(dl_imp *im, int64_t a, const dl_value *v, int64_t *e)
{
	dl_iter *it;
	dl_view cur = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0}, d;
	pre.a = a;
	pre.v = *v;
	*e = 0;
	DL_TRY(dl_iter_open(&it, dl_wtxn_snap(im->w), DL_AVET, &cur, &pre, 2));
	int rc = dl_iter_next(it, &d);
	if (rc > 0)
		*e = d.e;
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

/* A lookup ref [attr v]: as the processor sees it, against the state
 * before the vector (so not an entity the vector itself creates). */
static int lookup(dl_imp *im, const dl_value *ak, const dl_value *av, int64_t *e)
{
	char as[120], vs[120];
	if (ak->type != DL_KEYWORD)
		return no(im, "invalid lookup ref");
	const dl_attr *at = attr_by_kw(im, ak->u.id);
	if (!at || at->unique == DL_UNIQUE_NONE || !type_ok(at->vtype, av))
		return no(im, "lookup ref [%s %s] cannot resolve",
			  kwtext(ak->u.id, as, sizeof as), vtext(av, vs, sizeof vs));
	uint64_t h = vhash(at->id, av);
	vent *x = vmap_find(&im->uniq, at->id, av, h);
	if (x) {
		if (x->tag == im->vec_no && !im->csv)
			return no(im, "lookup ref to an entity of the same transaction");
		*e = x->e;
		return 1;
	}
	if ((x = vmap_find(&im->lookups, at->id, av, h))) {
		*e = x->e;
		return 1;
	}
	int64_t found;
	DL_TRY(avet_first(im, at->id, av, &found));
	if (!found || (!im->csv && im->vec_first_e && found >= im->vec_first_e &&
		       DL_EID_PART(found) == DL_PART_USER))
		return no(im, "lookup ref [%s %s] not found", kwtext(ak->u.id, as, sizeof as),
			  vtext(av, vs, sizeof vs));
	dl_value k;
	DL_TRY(dl_value_copy(&k, &im->garena, av));
	if (!(x = vmap_add(&im->lookups, at->id, &k, h)))
		return DL_ENOMEM;
	x->e = found;
	*e = found;
	return 1;
}

/* An entity in value position of a ref attribute. */
static int ref_target(dl_imp *im, const dl_value *v, int64_t *e)
{
	char vs[120];
	switch (v->type) {
	case DL_INT:
	case DL_REF:
		if (v->u.i > 0) {
			*e = v->u.i;
			return 1;
		}
		if (v->u.i < 0 && v->type == DL_INT)
			return tempid(im, v, false, e);
		break;
	case DL_STRING:
		if (v->len == 10 && memcmp(v->u.s, "datomic.tx", 10) == 0)
			return no(im, "a reference to the transaction");
		return tempid(im, v, false, e);
	case DL_KEYWORD:
		if (v->u.id == im->kw_current_tx)
			return no(im, "a reference to the transaction");
		*e = dl_schema_entid(im->S, v->u.id);
		return *e ? 1 : no(im, "unknown ident %s", vtext(v, vs, sizeof vs));
	case DL_VECTOR:
	case DL_LIST:
		if (v->len == 2)
			return lookup(im, &v->u.items[0], &v->u.items[1], e);
		break;
	default:
		break;
	}
	return no(im, "invalid entity %s", vtext(v, vs, sizeof vs));
}

/* Claim a unique value for entity e: it must be new in the database and
 * in the group. */
static int claim_unique(dl_imp *im, const dl_attr *at, const dl_value *v, int64_t e)
{
	char as[120], vs[120];
	uint64_t h = vhash(at->id, v);
	if (vmap_find(&im->uniq, at->id, v, h) || vmap_find(&im->lookups, at->id, v, h))
		return no(im, "%s %s already exists (an upsert or a conflict)",
			  kwtext(at->ident, as, sizeof as), vtext(v, vs, sizeof vs));
	bool had;
	DL_TRY(attr_had_datoms(im, at->id, &had));
	if (had) {
		int64_t found;
		DL_TRY(avet_first(im, at->id, v, &found));
		if (found)
			return no(im, "%s %s already exists (an upsert or a conflict)",
				  kwtext(at->ident, as, sizeof as), vtext(v, vs, sizeof vs));
	}
	dl_value k;
	DL_TRY(dl_value_copy(&k, &im->garena, v));
	vent *x = vmap_add(&im->uniq, at->id, &k, h);
	if (!x)
		return DL_ENOMEM;
	x->e = e;
	x->tag = im->vec_no;
	if (e < 0) {
		if (im->nclaims == im->cclaims) {
			size_t cap = im->cclaims ? im->cclaims * 2 : 256;
			dl_datom *p = dl_realloc(im->claims, cap * sizeof *p);
			if (!p)
				return DL_ENOMEM;
			im->claims = p;
			im->cclaims = cap;
		}
		dl_datom *c = &im->claims[im->nclaims++];
		c->a = at->id;
		c->v = k;
	}
	return 1;
}

static int push(dl_imp *im, int64_t e, int64_t a, const dl_value *v)
{
	if (im->npend == im->cpend) {
		size_t cap = im->cpend ? im->cpend * 2 : 4096;
		dl_datom *p = dl_realloc(im->pend, cap * sizeof *p);
		if (!p)
			return DL_ENOMEM;
		im->pend = p;
		im->cpend = cap;
	}
	dl_datom *d = &im->pend[im->npend++];
	d->e = e;
	d->a = a;
	d->v = *v;
	d->tx = 0;
	d->added = true;
	return 0;
}

/* Typed tuples have their elements checked, and composite tuples are kept
 * from their components, by the transaction processor alone. */
static bool tuple_kept(const dl_attr *at)
{
	return at->composite || at->in_composite || (at->vtype == DL_VT_TUPLE && at->tuple_keys);
}

/* One value of attribute `at` for entity e. */
static int add_value(dl_imp *im, int64_t e, const dl_attr *at, const dl_value *v)
{
	char as[120], vs[120];
	dl_value cv;
	int rc;
	if (v->type == DL_NIL || v->type == DL_MAP)
		return no(im, "%s value for %s", v->type == DL_NIL ? "nil" : "nested map",
			  kwtext(at->ident, as, sizeof as));
	if (tuple_kept(at))
		return no(im, "%s is a typed tuple or part of a composite tuple",
			  kwtext(at->ident, as, sizeof as));
	if (at->vtype == DL_VT_REF) {
		int64_t t;
		if ((rc = ref_target(im, v, &t)) <= 0)
			return rc;
		cv = dl_ref(t);
	} else if (type_ok(at->vtype, v)) {
		cv = *v;
	} else {
		return no(im, "%s cannot hold %s", kwtext(at->ident, as, sizeof as),
			  vtext(v, vs, sizeof vs));
	}
	if (at->unique != DL_UNIQUE_NONE && (rc = claim_unique(im, at, &cv, e)) <= 0)
		return rc;
	DL_TRY(push(im, e, at->id, &cv));
	return 1;
}

/* [:attr value] with :attr unique: one lookup ref, not a collection. */
static bool looks_like_lookup(dl_imp *im, const dl_value *v)
{
	if ((v->type != DL_VECTOR && v->type != DL_LIST) || v->len != 2 ||
	    v->u.items[0].type != DL_KEYWORD)
		return false;
	const dl_attr *at = attr_by_kw(im, v->u.items[0].u.id);
	return at && at->unique != DL_UNIQUE_NONE;
}

/* One attribute of a new entity: checks, then its datoms into pend. */
static int add_attr(dl_imp *im, int64_t e, const dl_attr *at, const dl_value *v)
{
	if (at->many && is_coll(v) && !(at->vtype == DL_VT_REF && looks_like_lookup(im, v))) {
		for (uint32_t j = 0; j < v->len; j++) {
			int rc = add_value(im, e, at, &v->u.items[j]);
			if (rc <= 0)
				return rc;
		}
		return 1;
	}
	return add_value(im, e, at, v);
}

/* A top-level map of a vector: 1 if its datoms are pending, 0 if it needs
 * the processor (im->why says why), or an error. */
static int item_map(dl_imp *im, const dl_value *m)
{
	char ks[120];
	if (m->type != DL_MAP)
		return no(im, "not an entity map");
	const dl_value *id = NULL;
	for (uint32_t i = 0; i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i];
		if (k->type == DL_KEYWORD && k->u.id == im->kw_id)
			id = &m->u.items[2 * i + 1];
	}
	int64_t e;
	int rc;
	if (!id) {
		DL_TRY(new_entity(im, &e));
	} else if ((id->type == DL_INT && id->u.i < 0) ||
		   (id->type == DL_STRING &&
		    !(id->len == 10 && memcmp(id->u.s, "datomic.tx", 10) == 0))) {
		if ((rc = tempid(im, id, true, &e)) <= 0)
			return rc;
	} else {
		return no(im, ":db/id of an existing entity");
	}
	uint32_t nattrs = 0;
	for (uint32_t i = 0; i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i], *v = &m->u.items[2 * i + 1];
		if (k->type == DL_KEYWORD && k->u.id == im->kw_id)
			continue;
		if (k->type != DL_KEYWORD)
			return no(im, "an attribute that is not a keyword");
		const dl_attr *at = attr_by_kw(im, k->u.id);
		if (!at)
			return no(im, "unknown attribute %s", kwtext(k->u.id, ks, sizeof ks));
		if (at->id <= DL_A_BUILTIN_LAST || at->vtype == DL_VT_TUPLE)
			return no(im, "%s needs the transaction processor",
				  kwtext(k->u.id, ks, sizeof ks));
		if ((rc = add_attr(im, e, at, v)) <= 0)
			return rc;
		nattrs++;
	}
	if (!nattrs)
		return no(im, "map has no attributes");
	return 1;
}

/* ---- EDN: the reader thread ------------------------------------------------ */

/*
 * Reading EDN is a third of the work, so a second thread reads while this
 * one converts and writes.  The reader hands over "units": the items of a
 * vector in chunks (each with its own arena), or a whole top-level form
 * that is not a vector.  A unit whose values may sit in pending datoms is
 * held until those are written, then recycled.  At most `qmax` units wait
 * to be taken: about a batch of datoms, so that the reader keeps reading
 * the next group while this thread writes and commits one, and stays
 * about a batch ahead, not a file.
 */

#define UNIT_ITEMS 512
#define QUEUE_MIN 8
#define QUEUE_MAX 1024

enum { U_ITEMS, U_FORM, U_END, U_ERROR };

typedef struct unit {
	struct unit *next;
	int kind;
	bool vec_start, vec_end;
	bool continues;       /* U_FORM: the whole of a vector already begun in
				 earlier units (read again because of a #_) */
	dl_edn_reader start;  /* where the vector (or form) began */
	size_t pos;           /* bytes of the text read after this unit */
	dl_value *items;      /* U_ITEMS: items; U_FORM: the form (one) */
	size_t nitems, citems;
	dl_arena arena;
	int err;              /* U_ERROR */
	char msg[640];
} unit;

typedef struct feed {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unit *head, *tail;    /* ready, in order */
	size_t queued;
	unit *spare;          /* recycled */
	bool stop;            /* the writer gave up */
	bool failed;          /* the reader ran out of memory */
	size_t qmax;          /* units that may wait to be taken */
	dl_edn_reader r;
} feed;

static void unit_free(unit *u)
{
	dl_arena_free(&u->arena);
	dl_free(u->items);
	dl_free(u);
}

static unit *unit_get(feed *f)
{
	pthread_mutex_lock(&f->mu);
	unit *u = f->spare;
	if (u)
		f->spare = u->next;
	pthread_mutex_unlock(&f->mu);
	if (!u) {
		u = dl_calloc(1, sizeof *u);
		if (!u)
			return NULL;
		u->arena.chunk_size = 256 * 1024;
	}
	u->next = NULL;
	u->kind = U_ITEMS;
	u->vec_start = u->vec_end = u->continues = false;
	u->nitems = 0;
	u->err = 0;
	dl_arena_reset(&u->arena);
	return u;
}

static void unit_recycle(feed *f, unit *u)
{
	pthread_mutex_lock(&f->mu);
	u->next = f->spare;
	f->spare = u;
	pthread_mutex_unlock(&f->mu);
}

/* Hand u to the writer; false if it stopped listening (u is recycled). */
static bool unit_post(feed *f, unit *u)
{
	pthread_mutex_lock(&f->mu);
	while (f->queued >= f->qmax && !f->stop)
		pthread_cond_wait(&f->cv, &f->mu);
	bool ok = !f->stop;
	if (ok) {
		if (f->tail)
			f->tail->next = u;
		else
			f->head = u;
		f->tail = u;
		f->queued++;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	if (!ok)
		unit_recycle(f, u);
	return ok;
}

static unit *unit_take(feed *f)
{
	pthread_mutex_lock(&f->mu);
	while (!f->head && !f->failed)
		pthread_cond_wait(&f->cv, &f->mu);
	unit *u = f->head;
	if (!u) {
		pthread_mutex_unlock(&f->mu);
		return NULL;
	}
	f->head = u->next;
	if (!f->head)
		f->tail = NULL;
	f->queued--;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	u->next = NULL;
	return u;
}

static int unit_push(unit *u, const dl_value *v)
{
	if (u->nitems == u->citems) {
		size_t cap = u->citems ? u->citems * 2 : UNIT_ITEMS;
		dl_value *p = dl_realloc(u->items, cap * sizeof *p);
		if (!p)
			return DL_ENOMEM;
		u->items = p;
		u->citems = cap;
	}
	u->items[u->nitems++] = *v;
	return 0;
}

/* Errors are per thread: carry the message over in the unit. */
static void unit_error(unit *u, int rc)
{
	u->kind = U_ERROR;
	u->err = rc;
	snprintf(u->msg, sizeof u->msg, "%s", dl_errmsg());
}

/* Read a whole form from *r into u as a U_FORM. */
static int read_form_unit(dl_edn_reader *r, unit *u)
{
	dl_value v;
	int rc = dl_edn_reader_next(r, &v, &u->arena);
	if (rc == 0)
		rc = unit_push(u, &v);
	if (rc < 0)
		return rc;
	u->kind = U_FORM;
	return 0;
}

static void *reader_main(void *arg)
{
	feed *f = arg;
	dl_edn_reader *r = &f->r;
	unit *u = NULL;
	int rc = 0;
	for (;;) {
		dl_api_skip_ws(r);
		if (!(u = unit_get(f)))
			goto oom;
		if (r->pos >= r->len) {
			u->kind = U_END;
			u->pos = r->pos;
			unit_post(f, u);
			return NULL;
		}
		u->start = *r;
		u->vec_start = true;
		if (r->text[r->pos] != '[') {
			if ((rc = read_form_unit(r, u)) < 0)
				goto fail;
			u->pos = r->pos;
			if (!unit_post(f, u))
				return NULL;
			continue;
		}
		dl_edn_reader start = *r;
		r->pos++;
		r->col++;
		for (;;) {
			dl_api_skip_ws(r);
			if (r->pos >= r->len || r->text[r->pos] == '#') {
				/* the end inside the vector (the reader words the
				 * error), or a #_ discard: read the vector whole */
				u->continues = !u->vec_start;
				*r = start;
				dl_arena_reset(&u->arena);
				u->nitems = 0;
				if ((rc = read_form_unit(r, u)) < 0)
					goto fail;
				u->pos = r->pos;
				break;
			}
			if (r->text[r->pos] == ']') {
				r->pos++;
				r->col++;
				u->vec_end = true;
				u->pos = r->pos;
				break;
			}
			dl_value item;
			if ((rc = dl_edn_reader_next(r, &item, &u->arena)) < 0 ||
			    (rc = unit_push(u, &item)) < 0)
				goto fail;
			if (u->nitems >= UNIT_ITEMS) {
				u->pos = r->pos;
				if (!unit_post(f, u))
					return NULL;
				if (!(u = unit_get(f)))
					goto oom;
				u->start = start;
			}
		}
		if (!unit_post(f, u))
			return NULL;
	}
fail:
	unit_error(u, rc);
	unit_post(f, u);
	return NULL;
oom:
	pthread_mutex_lock(&f->mu);
	f->failed = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* ---- EDN: the writer ----------------------------------------------------------- */

/* Run a whole tx-data form (read at `start`) through the processor. */
static int slow_form(dl_imp *im, const dl_value *v, const dl_edn_reader *start)
{
	char src[512];
	snprintf(src, sizeof src, "%s:%u:%u", start->opts.source, start->line, start->col);
	dl_tx_report rep;
	DL_TRY(w_open(im));
	DL_TRY(next_tx(im));
	int rc = dl_tx_seq_run(im->seq, &rep, &im->scratch, v, src);
	if (rc == 0) {
		im->st.transactions++;
		im->st.datoms += rep.ndatoms;
	}
	dl_arena_reset(&im->scratch);
	return rc;
}

/* The vector being read needs the processor: put the group in order (see
 * the top of the file), then transact the vector whole: `v` if the reader
 * read it so, else read again from `start`. */
static int fall_back(dl_imp *im, const dl_value *v, const dl_edn_reader *start)
{
	int rc = 0;
	if (im->vec_flushed) {
		/* its transaction holds only (part of) this vector: undo it,
		 * and let the processor run the vector in it */
		rc = dl_wtxn_undo(im->w, im->mark);
		im->st.bulk_datoms -= im->vec_bulk;
		im->reuse_tx = true;
		dl_wtxn_mark_free(im->mark);
		im->mark = NULL;
		im->npend = 0;
		im->tx_live = im->group_open = false;
	} else if (im->group_open) {
		im->npend = im->vec_mark;
		rc = group_end(im);
	}
	group_reset(im);
	values_release(im);
	if (rc < 0)
		return rc;
	if (v)
		return slow_form(im, v, start);
	dl_edn_reader r = *start;
	dl_value whole;
	rc = dl_edn_reader_next(&r, &whole, &im->scratch);
	if (rc == 0)
		return slow_form(im, &whole, start);
	dl_arena_reset(&im->scratch);
	return rc;
}

/* A vector fills a batch on its own: close the vectors before it as a
 * transaction of their own, begin this one's (with a mark, so that it can
 * still fall back) and write its datoms so far. */
static int flush_inside(dl_imp *im)
{
	if (!im->vec_flushed) {
		if (im->vec_mark) {
			size_t keep = im->npend - im->vec_mark;
			DL_TRY(group_write(im, im->vec_mark));
			memmove(im->pend, im->pend + im->vec_mark, keep * sizeof *im->pend);
			im->npend = keep;
			im->vec_mark = 0;
		}
		/* the vector's unique claims stay: its datoms are not written yet */
		group_close(im);
		int rc = group_begin(im, false);
		if (rc < 0)
			return rc;
		DL_TRY(tx_begin(im, true));
	}
	DL_TRY(resolve_locals(im));
	size_t before = dl_wtxn_datom_count(im->w);
	DL_TRY(group_write(im, im->npend));
	im->vec_bulk += dl_wtxn_datom_count(im->w) - before;
	im->npend = 0;
	im->vec_flushed = true;
	values_release(im);
	return 0;
}

static void vector_begin(dl_imp *im)
{
	im->vec_no++;
	im->vec_mark = im->npend;
	im->vec_flushed = false;
	im->vec_bulk = 0;
	im->vec_first_e = 0;
	im->undefined = 0;
	im->vec_items = 0;
	im->nlocals = im->nresolved = im->nclaims = 0;
	vmap_clear(&im->tempids);
	dl_arena_reset(&im->tarena);
}

/* One unit from the reader.  *keep: the unit's values are in pending
 * datoms, so it must be held until they are written. */
static int take_unit(dl_imp *im, unit *u, bool *keep)
{
	int rc;
	*keep = false;
	if (u->kind == U_ERROR)
		return dl_error(u->err, "%s", u->msg);
	if (u->kind == U_FORM) {
		bool done = u->continues && im->skipping; /* already transacted */
		if (!u->continues)
			vector_begin(im);
		im->in_vec = im->skipping = false;
		return done ? 0 : fall_back(im, &u->items[0], &u->start);
	}
	if (u->vec_start) {
		vector_begin(im);
		im->vec_start = u->start;
		im->in_vec = true;
		im->skipping = false;
		if ((rc = group_begin(im, true)) <= 0) {
			/* an empty database: the processor bootstraps it */
			if (rc == 0)
				rc = fall_back(im, NULL, &im->vec_start);
			im->skipping = !u->vec_end;
			im->in_vec = im->skipping;
			return rc;
		}
	}
	if (im->skipping) {
		if (u->vec_end)
			im->in_vec = im->skipping = false;
		return 0;
	}
	for (size_t i = 0; i < u->nitems; i++) {
		if ((rc = item_map(im, &u->items[i])) < 0)
			return rc;
		if (rc == 0) {
			/* needs the processor: drop what was read of the vector,
			 * transact it whole, and skip the rest of its units */
			rc = fall_back(im, NULL, &im->vec_start);
			im->skipping = !u->vec_end;
			im->in_vec = im->skipping;
			return rc;
		}
		im->vec_items++;
		/* a vector that alone fills a batch is written as it goes; the
		 * group is otherwise written whole when the vector ends */
		if (im->npend - im->vec_mark >= im->batch && (rc = flush_inside(im)) < 0)
			return rc;
	}
	*keep = im->npend > 0;
	if (!u->vec_end)
		return 0;
	im->in_vec = false;
	if (!im->vec_items || im->undefined) {
		*keep = false;
		return fall_back(im, NULL, &im->vec_start);
	}
	if ((rc = resolve_locals(im)) < 0)
		return rc;
	if (im->vec_flushed || im->npend >= im->batch) {
		*keep = false;
		return group_end(im);
	}
	return 0;
}

static feed *feed_new(void)
{
	feed *f = dl_calloc(1, sizeof *f);
	if (!f)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	return f;
}

int dl_imp_edn(dl_imp *im, const char *text, size_t len, const char *source)
{
	assert(im && (text || !len));
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	eo.source = source ? source : "<import>";
	if (!im->feed && !(im->feed = feed_new()))
		return DL_ENOMEM;
	feed *f = im->feed;
	f->head = f->tail = NULL;
	f->queued = 0;
	f->stop = f->failed = false;
	/* units of small maps carry some 8 datoms an item */
	f->qmax = im->batch / (UNIT_ITEMS * 8);
	f->qmax = f->qmax < QUEUE_MIN ? QUEUE_MIN : f->qmax > QUEUE_MAX ? QUEUE_MAX : f->qmax;
	dl_edn_reader_init(&f->r, text, len, &eo);
	im->csv = false;
	im->in_vec = im->skipping = false;
	pthread_t th;
	if (pthread_create(&th, NULL, reader_main, f) != 0)
		return dl_error(DL_ENOMEM, "cannot start the reader thread");
	int rc = 0;
	for (;;) {
		unit *u = unit_take(f);
		if (!u) {
			rc = dl_error(DL_ENOMEM, "out of memory (EDN reader)");
			break;
		}
		if (u->kind == U_END) {
			unit_recycle(f, u);
			break;
		}
		bool keep;
		rc = take_unit(im, u, &keep);
		progress(im, u->pos, false);
		if (keep) {
			u->next = im->held;
			im->held = u;
		} else {
			unit_recycle(f, u);
		}
		if (rc < 0)
			break;
	}
	/* stop the reader (it may be waiting to post) and take back its units */
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(th, NULL);
	while (f->head) {
		unit *u = f->head;
		f->head = u->next;
		unit_recycle(f, u);
	}
	f->tail = NULL;
	f->queued = 0;
	/* pending datoms may still point into held units: they stay with the
	 * session until the next write (or dl_imp_free) */
	if (rc == 0)
		im->bytes_base += len;
	return session_fail(im, rc);
}

static void values_release(dl_imp *im)
{
	dl_arena_reset(&im->varena);
	while (im->held) {
		unit *u = im->held;
		im->held = u->next;
		unit_recycle(im->feed, u);
	}
}

static void feed_free(feed *f)
{
	if (!f)
		return;
	unit *lists[2] = {f->head, f->spare};
	for (int i = 0; i < 2; i++)
		for (unit *u = lists[i], *n; u; u = n) {
			n = u->next;
			unit_free(u);
		}
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	dl_free(f);
}

/* ---- CSV ------------------------------------------------------------------------ */

typedef struct csv_rd {
	const char *t;
	size_t n, p;
	unsigned line;   /* of the record being read */
	unsigned nline;  /* after it */
	const char *src;
	/* the fields of the last record: unquoted ones point into t, quoted
	 * ones into buf */
	size_t nf, cf;
	const char **fs;
	size_t *fl;
	dl_buf buf;
	size_t *foff; /* quoted fields: offset into buf, or SIZE_MAX */
} csv_rd;

/* The column (in code points, like the EDN reader's) of offset off. */
static size_t colof(const char *t, size_t off)
{
	size_t b = off, col = 1;
	while (b > 0 && t[b - 1] != '\n')
		b--;
	for (size_t i = b; i < off; i++)
		col += ((unsigned char)t[i] & 0xC0) != 0x80;
	return col;
}

static void csv_init(csv_rd *c, const char *t, size_t n, const char *src)
{
	memset(c, 0, sizeof *c);
	c->t = t;
	c->n = n;
	c->src = src;
	c->nline = 1;
	if (n >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0)
		c->p = 3;
}

static void csv_free(csv_rd *c)
{
	dl_free(c->fs);
	dl_free(c->fl);
	dl_free(c->foff);
	dl_buf_free(&c->buf);
}

static int csv_field(csv_rd *c, const char *s, size_t len, size_t off)
{
	if (c->nf == c->cf) {
		size_t cap = c->cf ? c->cf * 2 : 32;
		const char **fs = dl_realloc(c->fs, cap * sizeof *fs);
		if (!fs)
			return DL_ENOMEM;
		c->fs = fs;
		size_t *fl = dl_realloc(c->fl, cap * sizeof *fl);
		if (!fl)
			return DL_ENOMEM;
		c->fl = fl;
		size_t *fo = dl_realloc(c->foff, cap * sizeof *fo);
		if (!fo)
			return DL_ENOMEM;
		c->foff = fo;
		c->cf = cap;
	}
	c->fs[c->nf] = s;
	c->fl[c->nf] = len;
	c->foff[c->nf] = off;
	c->nf++;
	return 0;
}

/* Read one record (RFC 4180: fields separated by commas, records by LF or
 * CRLF, double quotes around fields holding those, "" for a quote).
 * Returns 1, 0 at the end, or DL_ESYNTAX. */
static int csv_next(csv_rd *c)
{
	c->nf = 0;
	c->buf.len = 0;
	c->line = c->nline;
	if (c->p >= c->n)
		return 0;
	const char *t = c->t;
	for (;;) {
		size_t p = c->p;
		if (p < c->n && t[p] == '"') {
			size_t start = p++, off = c->buf.len;
			unsigned l0 = c->nline;
			size_t col0 = colof(t, start);
			for (;;) {
				if (p >= c->n)
					return dl_error(DL_ESYNTAX, "%s:%u:%zu: unterminated quoted field",
							c->src, l0, col0);
				const char *q = memchr(t + p, '"', c->n - p);
				size_t end = q ? (size_t)(q - t) : c->n;
				for (size_t i = p; i < end; i++)
					if (t[i] == '\n')
						c->nline++;
				DL_TRY(dl_buf_append(&c->buf, t + p, end - p));
				if (!q) {
					p = c->n;
					continue;
				}
				if (end + 1 < c->n && t[end + 1] == '"') {
					DL_TRY(dl_buf_append(&c->buf, "\"", 1));
					p = end + 2;
					continue;
				}
				p = end + 1;
				break;
			}
			DL_TRY(csv_field(c, NULL, c->buf.len - off, off));
			if (p < c->n && t[p] != ',' && t[p] != '\n' && t[p] != '\r')
				return dl_error(DL_ESYNTAX,
						"%s:%u:%zu: text after a closing quote (a quote inside a "
						"field is written \"\")", c->src, c->nline, colof(t, p));
			c->p = p;
		} else {
			size_t e = p;
			while (e < c->n && t[e] != ',' && t[e] != '\n' && t[e] != '\r')
				e++;
			const char *q = memchr(t + p, '"', e - p);
			if (q)
				return dl_error(DL_ESYNTAX,
						"%s:%u:%zu: a quote inside an unquoted field (quote the "
						"field and write the quote as \"\")", c->src, c->nline,
						colof(t, (size_t)(q - t)));
			DL_TRY(csv_field(c, t + p, e - p, SIZE_MAX));
			c->p = e;
		}
		if (c->p >= c->n)
			break;
		char ch = t[c->p];
		if (ch == ',') {
			c->p++;
			continue;
		}
		if (ch == '\r')
			c->p++;
		if (c->p < c->n && t[c->p] == '\n')
			c->p++;
		c->nline++;
		break;
	}
	/* quoted fields point into buf now that it stopped moving */
	for (size_t i = 0; i < c->nf; i++)
		if (c->foff[i] != SIZE_MAX)
			c->fs[i] = c->buf.data + c->foff[i];
	return 1;
}

static bool csv_blank(const csv_rd *c) { return c->nf == 1 && c->fl[0] == 0; }

/* Parse a cell through the EDN reader's tagged literals (#inst, #uuid,
 * #bytes), so CSV accepts exactly what EDN does. */
static int tagged(dl_imp *im, const char *tag, const char *s, size_t n, dl_value *out)
{
	dl_buf b = DL_BUF_INIT;
	int rc = dl_buf_printf(&b, "#%s \"%.*s\"", tag, (int)n, s);
	if (rc == 0 && memchr(s, '"', n))
		rc = DL_ESYNTAX;
	size_t used;
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	if (rc == 0)
		rc = dl_edn_read(out, &used, &im->varena, b.data, b.len, &eo);
	dl_buf_free(&b);
	dl_error_clear();
	return rc < 0 ? 0 : 1;
}

static bool parse_long(const char *s, size_t n, int64_t *out)
{
	char buf[32];
	if (!n || n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	char *end;
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (*end || errno)
		return false;
	*out = x;
	return true;
}

static bool parse_double(const char *s, size_t n, double *out)
{
	char buf[64];
	if (!n || n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	char *end;
	double x = strtod(buf, &end);
	if (*end || end == buf)
		return false;
	*out = x;
	return true;
}

/* A cell as a value of type vt (DL_VT_ANY: a long, a double, or else a
 * string).  1, 0 if it does not parse (im->why), or an error. */
static int cell_value(dl_imp *im, int vt, const char *s, size_t n, dl_value *out)
{
	int64_t i;
	double d;
	switch (vt) {
	case DL_VT_ANY:
		if (parse_long(s, n, &i)) {
			*out = dl_int(i);
			return 1;
		}
		if (parse_double(s, n, &d)) {
			*out = dl_double(d);
			return 1;
		}
		/* fall through */
	case DL_VT_STRING: {
		char *c = dl_arena_strndup(&im->varena, s, n);
		if (!c)
			return DL_ENOMEM;
		*out = dl_string(c, n);
		return 1;
	}
	case DL_VT_LONG:
		if (!parse_long(s, n, &i))
			return no(im, "'%.*s' is not a long", (int)(n > 60 ? 60 : n), s);
		*out = dl_int(i);
		return 1;
	case DL_VT_DOUBLE:
		if (!parse_double(s, n, &d))
			return no(im, "'%.*s' is not a double", (int)(n > 60 ? 60 : n), s);
		*out = dl_double(d);
		return 1;
	case DL_VT_BOOLEAN:
		if (n == 4 && strncasecmp(s, "true", 4) == 0)
			*out = dl_bool(true);
		else if (n == 5 && strncasecmp(s, "false", 5) == 0)
			*out = dl_bool(false);
		else
			return no(im, "'%.*s' is not true or false", (int)(n > 60 ? 60 : n), s);
		return 1;
	case DL_VT_INSTANT:
		if (parse_long(s, n, &i)) { /* ms since the epoch */
			*out = dl_inst(i);
			return 1;
		}
		if (tagged(im, "inst", s, n, out))
			return 1;
		return no(im, "'%.*s' is not an instant (ms since the epoch or RFC 3339)",
			  (int)(n > 60 ? 60 : n), s);
	case DL_VT_KEYWORD:
	case DL_VT_SYMBOL:
		if (vt == DL_VT_KEYWORD && n && s[0] == ':') {
			s++;
			n--;
		}
		if (!n)
			return no(im, "an empty name");
		DL_TRY(vt == DL_VT_KEYWORD ? dl_keyword(out, s, n) : dl_symbol(out, s, n));
		return 1;
	case DL_VT_UUID:
		if (tagged(im, "uuid", s, n, out))
			return 1;
		return no(im, "'%.*s' is not a uuid", (int)(n > 60 ? 60 : n), s);
	case DL_VT_BYTES:
		if (tagged(im, "bytes", s, n, out))
			return 1;
		return no(im, "'%.*s' is not base64", (int)(n > 60 ? 60 : n), s);
	default:
		return no(im, "CSV cannot hold values of this type");
	}
}

/* A column's plan for one file. */
typedef struct csv_plan {
	dl_csv_col col;
	char name[64];
} csv_plan;

static int plan_from_header(csv_plan *p, const char *s, size_t n, const char *src,
			    unsigned line, size_t i)
{
	memset(p, 0, sizeof *p);
	p->col.type = -1;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n && *s == ':') {
		s++;
		n--;
	}
	if (!n || !memchr(s, '/', n) || n > 200)
		return dl_error(DL_EINVAL,
				"%s:%u: column %zu: '%.*s' is not an attribute (without --map, "
				"the header row names attributes, e.g. :person/name, or :db/id)",
				src, line, i + 1, (int)(n > 60 ? 60 : n), s);
	if (n == 5 && memcmp(s, "db/id", 5) == 0) {
		p->col.kind = DL_CSV_ID;
		return 0;
	}
	p->col.kind = DL_CSV_ATTR;
	return dl_intern(&p->col.attr, s, n);
}

static int csv_row(dl_imp *im, const csv_rd *c, const csv_plan *plan)
{
	char as[120];
	int64_t e = 0;
	int rc;
	for (size_t i = 0; i < c->nf; i++) {
		if (plan[i].col.kind != DL_CSV_ID || !c->fl[i])
			continue;
		char *s = dl_arena_strndup(&im->varena, c->fs[i], c->fl[i]);
		if (!s)
			return DL_ENOMEM;
		dl_value id = dl_string(s, c->fl[i]);
		if ((rc = tempid(im, &id, true, &e)) <= 0)
			return rc;
	}
	if (!e)
		DL_TRY(new_entity(im, &e));
	for (size_t i = 0; i < c->nf; i++) {
		const csv_plan *p = &plan[i];
		if ((p->col.kind != DL_CSV_ATTR && p->col.kind != DL_CSV_LOOKUP) || !c->fl[i])
			continue;
		const dl_attr *at = attr_by_kw(im, p->col.attr);
		if (!at)
			return no(im, "column %zu: unknown attribute %s (declare it first, e.g. "
				      "in an EDN file imported before the CSV)",
				  i + 1, kwtext(p->col.attr, as, sizeof as));
		if (at->id <= DL_A_BUILTIN_LAST || tuple_kept(at))
			return no(im, "column %zu: %s cannot be imported from CSV%s", i + 1,
				  kwtext(p->col.attr, as, sizeof as),
				  tuple_kept(at) ? " (a typed tuple, or part of a composite tuple: "
						   "import it as EDN tx-data)" : "");
		dl_value v;
		if (at->vtype == DL_VT_REF) {
			int64_t t;
			if (p->col.kind == DL_CSV_LOOKUP) {
				const dl_attr *la = attr_by_kw(im, p->col.lookup);
				if (!la)
					return no(im, "column %zu: unknown lookup attribute %s",
						  i + 1, kwtext(p->col.lookup, as, sizeof as));
				dl_value lv, lk;
				int vt = p->col.type >= 0 ? p->col.type : la->vtype;
				if ((rc = cell_value(im, vt, c->fs[i], c->fl[i], &lv)) <= 0)
					return rc;
				lk.type = DL_KEYWORD;
				lk.u.id = p->col.lookup;
				if ((rc = lookup(im, &lk, &lv, &t)) <= 0)
					return rc;
			} else {
				dl_value id;
				char *s = dl_arena_strndup(&im->varena, c->fs[i], c->fl[i]);
				if (!s)
					return DL_ENOMEM;
				id = dl_string(s, c->fl[i]);
				if ((rc = tempid(im, &id, false, &t)) <= 0)
					return rc;
			}
			v = dl_ref(t);
		} else {
			int vt = p->col.type >= 0 ? p->col.type : at->vtype;
			if ((rc = cell_value(im, vt, c->fs[i], c->fl[i], &v)) <= 0)
				return rc;
			if (!type_ok(at->vtype, &v))
				return no(im, "column %zu: %s cannot hold that value", i + 1,
					  kwtext(p->col.attr, as, sizeof as));
		}
		if (at->unique != DL_UNIQUE_NONE && (rc = claim_unique(im, at, &v, e)) <= 0)
			return rc;
		DL_TRY(push(im, e, at->id, &v));
	}
	return 1;
}

int dl_imp_csv(dl_imp *im, const char *text, size_t len, const char *source,
	       const dl_csv_map *map)
{
	assert(im && (text || !len));
	if (!source)
		source = "<csv>";
	csv_rd c;
	csv_init(&c, text, len, source);
	csv_plan *plan = NULL;
	size_t ncols = 0;
	int rc;
	bool header = !map || map->header;
	im->csv = true;
	/* a CSV file is one "vector": lookups and unique claims see its rows */
	im->vec_no++;
	im->vec_first_e = 0;
	while ((rc = csv_next(&c)) > 0) {
		if (csv_blank(&c))
			continue;
		if (!plan) {
			ncols = c.nf;
			plan = dl_calloc(ncols, sizeof *plan);
			if (!plan) {
				rc = DL_ENOMEM;
				break;
			}
			for (size_t i = 0; i < ncols; i++) {
				csv_plan *p = &plan[i];
				p->col.type = -1;
				if (!map) {
					rc = plan_from_header(p, c.fs[i], c.fl[i], source, c.line, i);
					if (rc < 0)
						break;
					continue;
				}
				if (i < map->ncols)
					p->col = map->cols[i];
				for (size_t k = 0; header && k < map->nnamed; k++)
					if (strlen(map->names[k]) == c.fl[i] &&
					    memcmp(map->names[k], c.fs[i], c.fl[i]) == 0)
						p->col = map->named[k];
			}
			if (rc < 0)
				break;
			if (header)
				continue;
		}
		if (c.nf != ncols) {
			rc = dl_error(DL_ESYNTAX, "%s:%u:1: %zu fields, but the first row has %zu",
				      source, c.line, c.nf, ncols);
			break;
		}
		if ((rc = group_begin(im, true)) < 0)
			break;
		if (rc == 0) {
			rc = dl_error(DL_EINVAL,
				      "%s:%u:1: the database has no schema yet; import the schema "
				      "(EDN) before the CSV", source, c.line);
			break;
		}
		if ((rc = csv_row(im, &c, plan)) <= 0) {
			if (rc == 0)
				rc = dl_error(DL_EINVAL, "%s:%u:1: %s", source, c.line, im->why);
			break;
		}
		rc = 0;
		if (im->npend >= im->batch && (rc = group_end(im)) < 0)
			break;
		if (++im->tick % TICK_ITEMS == 0)
			progress(im, c.p, false);
	}
	csv_free(&c);
	dl_free(plan);
	im->csv = false;
	if (rc < 0)
		return session_fail(im, rc);
	im->bytes_base += len;
	progress(im, 0, false);
	return 0;
}

/* ---- CSV mappings ---------------------------------------------------------- */

static const dl_value *map_get(const dl_value *m, const char *key)
{
	uint32_t id = dl_intern_find(key, strlen(key));
	for (uint32_t i = 0; id && i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i];
		if (k->type == DL_KEYWORD && k->u.id == id)
			return &m->u.items[2 * i + 1];
	}
	return NULL;
}

static int type_of_name(const dl_value *v)
{
	static const char *const names[DL_VT_COUNT] = {
		"any", "string", "long", "double", "boolean", "instant",
		"keyword", "ref", "uuid", "bytes", "tuple", "symbol",
	};
	if (!v || v->type != DL_KEYWORD)
		return -2;
	size_t n, nsl;
	const char *s = dl_intern_name(v->u.id, &n, &nsl);
	if (nsl) { /* :db.type/long or :long */
		if (nsl != 7 || memcmp(s, "db.type", 7) != 0)
			return -2;
		s += nsl + 1;
		n -= nsl + 1;
	}
	for (int i = 1; i < DL_VT_COUNT; i++)
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
			return i == DL_VT_REF || i == DL_VT_TUPLE ? -2 : i;
	return -2;
}

static int col_spec(dl_csv_col *c, const dl_value *v, const char *source, const char *what)
{
	memset(c, 0, sizeof *c);
	c->type = -1;
	if (v->type == DL_NIL)
		return 0;
	if (v->type == DL_KEYWORD) {
		size_t n;
		const char *s = dl_intern_name(v->u.id, &n, NULL);
		c->kind = n == 5 && memcmp(s, "db/id", 5) == 0 ? DL_CSV_ID : DL_CSV_ATTR;
		c->attr = v->u.id;
		return 0;
	}
	if (v->type != DL_MAP)
		goto bad;
	const dl_value *attr = map_get(v, "attr"), *type = map_get(v, "type"),
		       *lk = map_get(v, "lookup");
	if (!attr || attr->type != DL_KEYWORD)
		goto bad;
	c->kind = DL_CSV_ATTR;
	c->attr = attr->u.id;
	if (type && (c->type = (int8_t)type_of_name(type)) < 0)
		return dl_error(DL_EINVAL,
				"%s: column %s: :type is one of :string :long :double :boolean "
				":instant :keyword :symbol :uuid :bytes", source, what);
	if (lk) {
		if (lk->type != DL_KEYWORD)
			goto bad;
		c->kind = DL_CSV_LOOKUP;
		c->lookup = lk->u.id;
	}
	return 0;
bad:
	return dl_error(DL_EINVAL,
			"%s: column %s: expected :db/id, an attribute keyword, nil, or "
			"{:attr :a/b :type :long :lookup :u/key}", source, what);
}

int dl_imp_csv_map(dl_csv_map *m, const char *text, size_t len, const char *source)
{
	memset(m, 0, sizeof *m);
	m->header = true;
	dl_value v;
	size_t used;
	dl_edn_opts eo = DL_EDN_OPTS_INIT;
	eo.source = source;
	int rc = dl_edn_read(&v, &used, &m->arena, text, len, &eo);
	if (rc == DL_ENOTFOUND)
		return dl_error(DL_EINVAL, "%s: empty mapping", source);
	if (rc < 0)
		return rc;
	if (v.type != DL_MAP)
		return dl_error(DL_EINVAL, "%s: a mapping is a map {:columns {...}}", source);
	const dl_value *h = map_get(&v, "header"), *cols = map_get(&v, "columns");
	if (h) {
		if (h->type != DL_BOOL)
			return dl_error(DL_EINVAL, "%s: :header is true or false", source);
		m->header = h->u.b;
	}
	if (!cols || cols->type != DL_MAP)
		return dl_error(DL_EINVAL, "%s: :columns must be a map of column -> attribute",
				source);
	size_t npos = 0, nnamed = 0;
	for (uint32_t i = 0; i < cols->len; i++) {
		const dl_value *k = &cols->u.items[2 * i];
		if (k->type == DL_INT && k->u.i >= 1 && k->u.i <= 100000) {
			if ((size_t)k->u.i > npos)
				npos = (size_t)k->u.i;
		} else if (k->type == DL_STRING) {
			nnamed++;
		} else {
			return dl_error(DL_EINVAL,
					"%s: a column is a header name (string) or a position "
					"(1, 2, ...)", source);
		}
	}
	if (nnamed && !m->header)
		return dl_error(DL_EINVAL, "%s: columns named by header with :header false",
				source);
	m->cols = npos ? DL_ARENA_NEW(&m->arena, npos, dl_csv_col) : NULL;
	m->named = nnamed ? DL_ARENA_NEW(&m->arena, nnamed, dl_csv_col) : NULL;
	m->names = nnamed ? DL_ARENA_NEW(&m->arena, nnamed, char *) : NULL;
	if ((npos && !m->cols) || (nnamed && (!m->named || !m->names)))
		return DL_ENOMEM;
	for (size_t i = 0; i < npos; i++) {
		memset(&m->cols[i], 0, sizeof m->cols[i]);
		m->cols[i].type = -1;
	}
	m->ncols = npos;
	char what[80];
	for (uint32_t i = 0; i < cols->len; i++) {
		const dl_value *k = &cols->u.items[2 * i], *cv = &cols->u.items[2 * i + 1];
		if (k->type == DL_INT) {
			snprintf(what, sizeof what, "%lld", (long long)k->u.i);
			DL_TRY(col_spec(&m->cols[k->u.i - 1], cv, source, what));
		} else {
			snprintf(what, sizeof what, "\"%.*s\"", (int)(k->len > 60 ? 60 : k->len),
				 k->u.s);
			size_t j = m->nnamed++;
			if (!(m->names[j] = dl_arena_strndup(&m->arena, k->u.s, k->len)))
				return DL_ENOMEM;
			DL_TRY(col_spec(&m->named[j], cv, source, what));
		}
	}
	return 0;
}

void dl_csv_map_free(dl_csv_map *m)
{
	if (m)
		dl_arena_free(&m->arena);
}

/* ---- the session ------------------------------------------------------------ */

int dl_imp_begin(dl_imp **out, dl_db *db, const dl_import_opts *opts, uint64_t bytes_total)
{
	assert(out && db);
	*out = NULL;
	dl_imp *im = dl_calloc(1, sizeof *im);
	if (!im)
		return DL_ENOMEM;
	im->db = db;
	im->store = dl_db_store(db);
	if (opts)
		im->opts = *opts;
	im->batch = im->opts.batch ? im->opts.batch : DEFAULT_BATCH;
	im->varena.chunk_size = 1 << 20;
	im->st.bytes_total = bytes_total;
	clock_gettime(CLOCK_MONOTONIC, &im->t0);
	int rc;
	if ((rc = dl_intern(&im->kw_id, "db/id", 5)) < 0 ||
	    (rc = dl_intern(&im->kw_current_tx, "db/current-tx", 13)) < 0) {
		dl_free(im);
		return rc;
	}
	*out = im;
	return 0;
}

int dl_imp_finish(dl_imp *im, dl_import_stat *out)
{
	int rc = im->failed ? dl_error(DL_EINVAL, "the import failed earlier") : 0;
	if (rc == 0 && im->w && (rc = group_end(im)) == 0) {
		if (!im->ntx) {
			dl_wtxn_abort(im->w); /* nothing was written */
		} else if ((rc = dl_wtxn_commit(im->w)) == 0) {
			dl_tx_seq_committed(im->seq);
		}
		im->w = NULL;
	}
	if (rc < 0)
		rc = session_fail(im, rc);
	progress(im, 0, true);
	if (out)
		dl_imp_stat(im, out);
	return rc;
}

void dl_imp_free(dl_imp *im)
{
	if (!im)
		return;
	dl_wtxn_mark_free(im->mark);
	if (im->w)
		dl_wtxn_abort(im->w);
	dl_tx_seq_free(im->seq);
	vmap_free(&im->lookups);
	vmap_free(&im->uniq);
	vmap_free(&im->aseen);
	vmap_free(&im->tempids);
	vmap_free(&im->csvids);
	dl_arena_free(&im->garena);
	dl_arena_free(&im->varena);
	dl_arena_free(&im->tarena);
	dl_arena_free(&im->carena);
	dl_arena_free(&im->scratch);
	dl_free(im->pend);
	dl_free(im->locals);
	dl_free(im->claims);
	while (im->held) {
		unit *u = im->held;
		im->held = u->next;
		unit_free(u);
	}
	feed_free(im->feed);
	dl_free(im);
}

int dl_db_import(dl_import_stat *out, dl_db *db, const char *edn, size_t len,
		 const dl_import_opts *opts)
{
	assert(db && (edn || !len));
	const char *src = opts && opts->source ? opts->source : "<import>";
	if (out)
		memset(out, 0, sizeof *out);
	dl_imp *im;
	DL_TRY(dl_imp_begin(&im, db, opts, len));
	int rc = dl_imp_edn(im, edn, len, src);
	if (rc == 0)
		rc = dl_imp_finish(im, out);
	else if (out)
		dl_imp_stat(im, out);
	dl_imp_free(im);
	return rc;
}
