/*
 * storage internals: the structs behind dl_store, dl_snap, dl_wtxn and
 * dl_iter, key codecs and helpers shared by store.c, iter.c, stats.c and
 * check.c.  Tests include it for the raw-LMDB hooks at the end.
 */
#ifndef DL_STORE_INT_H
#define DL_STORE_INT_H

#include "store.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* Named databases, in this order in dl_store.dbi[]. */
enum {
	DB_EAVT = 0,
	DB_AEVT,
	DB_AVET,
	DB_VAET,
	DB_HEAVT,
	DB_HAEVT,
	DB_HAVET,
	DB_HVAET,
	DB_LOG,
	DB_BLOBS,
	DB_META,
	DB_COUNT
};

extern const char *const dl_store_db_names[DB_COUNT];

/* Longest index key: A(4) + V(400) + E(8) + t0 t1 (16). */
#define KEY_MAX (4 + DL_KEY_VALUE_OOL + 8 + 16)

/* Meta names (internal ones are binary; src/tx uses "tx.*"). */
#define META_FORMAT "format"
#define META_BASIS "basis"   /* last committed tx id, 8 bytes BE */
#define META_TOTALS "totals" /* datoms, history (8 bytes BE each) */
#define META_ID_PREFIX "id/" /* + partition in decimal -> next number (BE 8) */
#define META_ST_PREFIX "st/" /* + A (4 bytes BE) -> datoms values entities */

/* First number handed out per partition when meta holds no counter. */
#define FIRST_DB_ID 100
#define FIRST_USER_ID 1000

/* Per-attribute statistics touched by a write transaction (dirty: to be
 * written at the commit). */
typedef struct stat_slot {
	uint32_t a;
	bool used, dirty;
	dl_attr_stats st;
} stat_slot;

typedef struct id_slot {
	int part;
	uint64_t next;
	bool dirty;
} id_slot;

#define ID_SLOTS 8

/* What this process's last commit left in meta (store.c): the next write
 * transaction starts from it instead of reading it back, if no commit of
 * any process came between (LMDB's txn id tells). */
typedef struct wcache {
	uint64_t txnid; /* LMDB's id of that commit; 0: nothing cached */
	int64_t basis;
	uint64_t totals[2];
	id_slot ids[ID_SLOTS];
	int nids;
	stat_slot *stats; /* that write transaction's table, none dirty */
	size_t nstats, capstats;
} wcache;

/* Histograms, published copy-on-write so readers never lock (stats.c). */
typedef struct dl_hist dl_hist;
typedef struct dl_hist_set dl_hist_set;

struct dl_store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char *path;
	dl_store_opts opts;
	_Atomic(void *) ext;
	void (*ext_fini)(void *);
	_Atomic(dl_hist_set *) hists;
	pthread_mutex_t hist_mu; /* builders only */
	dl_hist_set *hist_retired;
	dl_hist *hist_all; /* every histogram ever built, freed at close */
	/* MDB_WRITEMAP: file space reserved ahead of the writes (store.c) */
	bool writemap, reserve_off;
	int fd;
	size_t psize;
	uint64_t reserved; /* bytes from the start known to have blocks */
	pthread_mutex_t wc_mu; /* wc: taken by a write txn, put back at commit */
	wcache wc;
};

#define SNAP_STATS 8
struct dl_snap {
	dl_store *s;
	MDB_txn *txn;
	dl_wtxn *w;     /* non-NULL for a write transaction's view */
	int64_t basis;  /* last committed tx visible (for a write: the tx before
			   the current one, see dl_wtxn_next_tx) */
	/* a read snapshot's attribute statistics read so far (they cannot
	 * change under it): the planner asks for each several times a step,
	 * and a read from the meta database costs a B-tree search */
	uint32_t nst, st_a[SNAP_STATS];
	dl_attr_stats st[SNAP_STATS];
};

struct dl_wtxn {
	dl_snap snap;
	int64_t tx; /* the current transaction (dl_wtxn_next_tx moves it on) */
	int failed; /* an error left the txn half-written: commit refuses */
	MDB_cursor *cur[DB_COUNT]; /* opened on first use (dl_wtxn_cur) */
	/* bytes this txn wrote (an estimate of the pages it may add), and the
	 * count at which to reserve more file space (UINT64_MAX: never) */
	uint64_t base_bytes, wbytes, wcheck;
	dl_buf log;               /* the current transaction's log entry */
	uint64_t nlog, ndatoms;   /* of the current transaction */
	int64_t d_datoms, d_history; /* changes to the totals */
	bool have_totals;            /* totals: the committed ones (from wc) */
	uint64_t totals[2];
	id_slot ids[ID_SLOTS];
	int nids;
	stat_slot *stats;
	size_t nstats, capstats;
	/* scratch reused by every write */
	uint8_t k1[KEY_MAX], k2[KEY_MAX];
	dl_buf venc;
	/* bulk path scratch (kept between batches, freed at the end) */
	void *brec;
	size_t brec_cap;
	void *bsort;
	size_t bsort_cap;
	dl_buf bvals;
	uint8_t *bskip;
	size_t bskip_cap;
	int64_t last_e; /* log delta coding */
	/* deferred index entries of bulk batches (bulk.c, "the spool") */
	struct spool *spool;
};

/* ---- byte helpers ------------------------------------------------------ */

static inline void dl_put_be64(uint8_t *p, uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	memcpy(p, &x, 8);
}

static inline uint64_t dl_get_be64(const uint8_t *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

static inline void dl_put_be32(uint8_t *p, uint32_t x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap32(x);
#endif
	memcpy(p, &x, 4);
}

static inline uint32_t dl_get_be32(const uint8_t *p)
{
	uint32_t x;
	memcpy(&x, p, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap32(x);
#endif
	return x;
}

/* memcmp order with a proper prefix first (LMDB's default key order). */
static inline int dl_key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return (an > bn) - (an < bn);
}

/* ---- shared helpers (store.c) ------------------------------------------ */

/* Map an LMDB return code to a dl_errcode with a message. */
int dl_mdb_err(int rc, const char *what);

/* The key form of value v (its encoding, or prefix + hash when long) into
 * out (at least DL_KEY_VALUE_OOL bytes); *len receives its length.  enc is
 * scratch for the full encoding; when the value is long and w is not NULL
 * the blob is written. */
int dl_vkey(uint8_t *out, size_t *len, dl_buf *enc, const dl_value *v, dl_wtxn *w);

/* Full encoding behind a key-form V: itself, or the blob it names. */
int dl_vkey_full(dl_snap *snap, const uint8_t *vk, size_t vlen, const uint8_t **full,
		 size_t *flen);

/* Decode a value from its full encoding.  With `borrow`, strings without
 * escapes point into p; otherwise they go to `a`. */
int dl_value_decode_fast(dl_value *out, dl_arena *a, const uint8_t *p, size_t n,
			 bool borrow);

/* Build an index key; returns its length.  V is the key form (for VAET the
 * 8-byte entity id is taken from ref). */
size_t dl_key_build(uint8_t *k, dl_index idx, int64_t e, uint32_t a, const uint8_t *vk,
		    size_t vlen);

/* Split an index key (hist: with t0 t1).  DL_ECORRUPT on a malformed key. */
typedef struct dl_kparts {
	int64_t e;
	uint32_t a;
	const uint8_t *v; /* key form; for VAET the 8-byte id */
	size_t vlen;
	int64_t t0, t1;
} dl_kparts;

/* (inline: every datom an iterator reads goes through it) */
static inline int dl_key_split(dl_kparts *p, dl_index idx, const uint8_t *k, size_t n,
			       bool hist)
{
	if (hist) {
		if (n < 16 + 13)
			goto bad;
		n -= 16;
		p->t0 = (int64_t)dl_get_be64(k + n);
		p->t1 = (int64_t)dl_get_be64(k + n + 8);
	} else {
		p->t0 = p->t1 = 0;
	}
	switch (idx) {
	case DL_EAVT:
	case DL_AEVT:
		if (n < 13 || n > 12 + DL_KEY_VALUE_OOL)
			goto bad;
		if (idx == DL_EAVT) {
			p->e = (int64_t)dl_get_be64(k);
			p->a = dl_get_be32(k + 8);
		} else {
			p->a = dl_get_be32(k);
			p->e = (int64_t)dl_get_be64(k + 4);
		}
		p->v = k + 12;
		p->vlen = n - 12;
		return 0;
	case DL_AVET:
		if (n < 13 || n > 12 + DL_KEY_VALUE_OOL)
			goto bad;
		p->a = dl_get_be32(k);
		p->v = k + 4;
		p->vlen = n - 12;
		p->e = (int64_t)dl_get_be64(k + n - 8);
		return 0;
	case DL_VAET:
		if (n != 20)
			goto bad;
		p->v = k;
		p->vlen = 8;
		p->a = dl_get_be32(k + 8);
		p->e = (int64_t)dl_get_be64(k + 12);
		return 0;
	default:
		break;
	}
bad:
	return dl_error(DL_ECORRUPT, "malformed index key (%zu bytes)", n);
}


/* Decode the V of a split key into a value. */
int dl_kparts_value(dl_value *out, dl_snap *snap, dl_arena *a, dl_index idx,
		    const dl_kparts *p, bool borrow);

/* Write-transaction helpers shared with bulk.c. */
int dl_wtxn_note_eid(dl_wtxn *w, int64_t e); /* keep id counters above e */
int dl_wtxn_stat(dl_wtxn *w, uint32_t a, dl_attr_stats **out);
int dl_wtxn_log(dl_wtxn *w, int64_t e, uint32_t a, const uint8_t *vk, size_t vlen,
		bool added);
int dl_wtxn_fail(dl_wtxn *w, int rc); /* mark half-written; returns rc */
int dl_wtxn_cursor_open(dl_wtxn *w, int db);
int dl_wtxn_reserve(dl_wtxn *w);

/* The write transaction's cursor on `db`, opened on first use: a named
 * database a transaction never touches then costs it nothing (opening a
 * cursor looks the database's root up in LMDB's main database). */
static inline int dl_wtxn_cur(dl_wtxn *w, int db, MDB_cursor **out)
{
	if (DL_UNLIKELY(!w->cur[db]))
		DL_TRY(dl_wtxn_cursor_open(w, db));
	*out = w->cur[db];
	return 0;
}

/* ThreadSanitizer cannot see how LMDB orders readers and the writer (its
 * reader table is plain memory in the lock file, liblmdb is not
 * instrumented), and with MDB_WRITEMAP the writer's copies into the map
 * (memcpy, which it does see) and our reads of borrowed keys and values
 * look unordered.  These tell it what LMDB guarantees: a commit happens
 * before the snapshots begun after it, and a snapshot's end before the
 * writes that may then reuse its pages.  A write into a page that a live
 * snapshot reads is still reported.  No-ops in other builds. */
#if defined(__SANITIZE_THREAD__)
#define DL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DL_TSAN 1
#endif
#endif
#ifdef DL_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define DL_TSAN_ACQUIRE(s) __tsan_acquire(&(s)->dbi)
#define DL_TSAN_RELEASE(s) __tsan_release(&(s)->dbi)
#else
#define DL_TSAN_ACQUIRE(s) ((void)(s))
#define DL_TSAN_RELEASE(s) ((void)(s))
#endif

/* Count n bytes about to be written (MDB_WRITEMAP: past the estimate the
 * file's reservation grows first, see store.c). */
static inline int dl_wtxn_charge(dl_wtxn *w, size_t n)
{
	DL_TSAN_ACQUIRE(w->snap.s);
	w->wbytes += n;
	return DL_LIKELY(w->wbytes < w->wcheck) ? 0 : dl_wtxn_reserve(w);
}

/* The spool (bulk.c): AEVT, AVET and VAET entries of bulk batches kept in
 * sorted runs in a temporary file and merged into the indexes at once.
 * dl_spool_settle merges them first if a read or write of `db` (DB_AEVT,
 * DB_AVET or DB_VAET; attribute a, or -1 for any) could see them. */
int dl_spool_settle(dl_wtxn *w, int db, int64_t a);
int dl_spool_flush(dl_wtxn *w);
void dl_spool_free(dl_wtxn *w);
/* Runs and file length, to undo the runs added after a mark. */
void dl_spool_pos(const dl_wtxn *w, size_t *nruns, uint64_t *end, uint64_t *epoch);
int dl_spool_truncate(dl_wtxn *w, size_t nruns, uint64_t end, uint64_t epoch);

/* Meta helpers. */
int dl_meta_get_u64(MDB_txn *txn, dl_store *s, const char *name, uint64_t *out, bool *found);
int dl_stats_get(dl_snap *snap, uint32_t a, dl_attr_stats *out);
void dl_stats_free(dl_store *s); /* histograms, at close */

/* ---- test hooks ---------------------------------------------------------- */

/** Delete one raw key from database `db` (DB_*), in its own write txn. */
int dl_store_test_raw_del(dl_store *s, int db, const void *key, size_t klen);
/** Put one raw key/value into database `db`, in its own write txn. */
int dl_store_test_raw_put(dl_store *s, int db, const void *key, size_t klen,
			  const void *val, size_t vlen);

#endif
