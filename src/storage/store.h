/*
 * storage: datoms in LMDB.  The only module that talks to LMDB; the
 * transaction processor (src/tx) writes through it and the query engine
 * (src/query) reads through it.
 *
 * One database = one LMDB file (MDB_NOSUBDIR) plus LMDB's "-lock" file.
 * Named databases inside it:
 *
 *   eavt  E A V        -> tx      current state, every datom
 *   aevt  A E V        -> tx      current state, every datom
 *   avet  A V E        -> tx      current state, every datom
 *   vaet  V A E        -> tx      current state, ref attributes only
 *   heavt E A V t0 t1  -> ""      history: an assertion made in t0 and
 *   haevt A E V t0 t1  -> ""      retracted in t1 (absent for attributes
 *   havet A V E t0 t1  -> ""      with :db/noHistory)
 *   hvaet V A E t0 t1  -> ""      (refs only, mirrors vaet)
 *   log   tx           -> datoms  every datom of a transaction, in order
 *   blobs hash         -> value   values too long to sit in a key
 *   meta  name         -> bytes   format version, id counters, statistics
 *
 * Components: E and tx are 8-byte big-endian entity ids, A a 4-byte
 * big-endian attribute id (attributes live in the db partition, so their ids
 * are small), V the order-preserving value encoding (dl_value_encode), except
 * in vaet where V is the referenced entity id (8 bytes).  A V whose encoding
 * is DL_KEY_VALUE_INLINE_MAX bytes or longer is stored out of line: the key
 * holds its first DL_KEY_VALUE_PREFIX bytes and a 16-byte hash of the whole
 * encoding (exactly DL_KEY_VALUE_OOL bytes, a length no inline V has), and
 * `blobs` maps the hash to the full encoding.  Such values order correctly
 * against every value that differs within the prefix; values sharing the
 * whole prefix order by hash, and range scans compare them exactly.
 *
 * vaet (and hvaet) hold exactly the datoms whose value is a ref (whatever
 * the attribute flags say).  Blobs are never deleted: history may still
 * name them, and they are shared by every datom with the same value.
 *
 * The log value of a tx is a sequence of records: a flags byte (bit 0 =
 * added), zigzag varint of e minus the previous record's e, varint a,
 * varint length of V and V's key form.  Every committed transaction has a
 * log entry (possibly empty), so the number of transactions is the number
 * of log entries.
 *
 * Transactions and write transactions: a transaction (Datomic's: one tx
 * entity, one log entry, the tx of every datom it writes) normally is one
 * LMDB write transaction (dl_wtxn).  dl_wtxn_next_tx lets one dl_wtxn carry
 * several transactions in a row, each with its own tx entity (ids
 * consecutive) and log entry, each seeing the writes of the ones before
 * it; they commit together or not at all.
 *
 * As-of T is the current datoms with tx <= T plus the history entries with
 * t0 <= T < t1; since T is the current datoms with tx > T; history is the
 * current datoms plus, for each history entry, its assertion and retraction.
 *
 * Concurrency: any number of snapshots (LMDB read transactions) in any
 * threads and processes, one writer at a time.  A snapshot sees one
 * committed state for its whole life.
 */
#ifndef DL_STORE_H
#define DL_STORE_H

#include "base.h"

#define DL_STORE_FORMAT_VERSION 1

#define DL_KEY_VALUE_PREFIX 384
#define DL_KEY_VALUE_OOL (DL_KEY_VALUE_PREFIX + 16)
#define DL_KEY_VALUE_INLINE_MAX DL_KEY_VALUE_OOL

/* Entity ids: partition in bits 42..62, Datomic-like. */
#define DL_PART_SHIFT 42
#define DL_PART_DB 0
#define DL_PART_TX 3
#define DL_PART_USER 4
#define DL_EID(part, n) (((int64_t)(part) << DL_PART_SHIFT) | (int64_t)(n))
#define DL_EID_PART(e) ((int)((e) >> DL_PART_SHIFT))
#define DL_EID_NUM(e) ((e) & ((INT64_C(1) << DL_PART_SHIFT) - 1))

typedef enum dl_index {
	DL_EAVT = 0,
	DL_AEVT,
	DL_AVET,
	DL_VAET,
	DL_INDEX_COUNT
} dl_index;

/* Which datoms a snapshot shows. */
typedef enum dl_view_kind {
	DL_VIEW_CURRENT = 0,
	DL_VIEW_AS_OF,   /* state as of tx `t` */
	DL_VIEW_SINCE,   /* current datoms asserted after tx `t` */
	DL_VIEW_HISTORY  /* every assertion and retraction */
} dl_view_kind;

typedef struct dl_view {
	dl_view_kind kind;
	int64_t t; /* a tx id, for AS_OF and SINCE */
} dl_view;

typedef struct dl_datom {
	int64_t e;
	int64_t a;
	dl_value v; /* strings/bytes/items borrowed: see dl_iter_next */
	int64_t tx;
	bool added;
} dl_datom;

/* Per-attribute flags the writer needs (the schema lives in src/tx). */
#define DL_AF_REF 0x01       /* also index in vaet */
#define DL_AF_NOHISTORY 0x02 /* retractions leave no history */

typedef struct dl_store dl_store;
typedef struct dl_snap dl_snap;
typedef struct dl_wtxn dl_wtxn;
typedef struct dl_iter dl_iter;

typedef struct dl_store_opts {
	bool read_only;
	bool create;       /* create the file if it is missing */
	size_t map_size;   /* bytes; 0 = default (64 GiB of address space) */
	int sync;          /* 1 = fsync at commit (default), 0 = no sync */
	int writemap;      /* 1 = MDB_WRITEMAP when writable, 0 = not (default) */
} dl_store_opts;

#define DL_STORE_OPTS_INIT {false, true, 0, 1, 0}

/* ---- lifetime ----------------------------------------------------------- */

/** Open (or create) the database file at `path`.  Checks the format version
 *  (DL_ECORRUPT on a foreign or newer file); DL_EBUSY if locked. */
int dl_store_open(dl_store **out, const char *path, const dl_store_opts *opts);
void dl_store_close(dl_store *s);
const char *dl_store_path(const dl_store *s);

/* ---- snapshots and write transactions --------------------------------- */

/** A read snapshot of the last committed state.  Use from one thread at a
 *  time; end it with dl_snap_end().  Everything a snapshot hands out stays
 *  valid until then. */
int dl_snap_begin(dl_snap **out, dl_store *s);
void dl_snap_end(dl_snap *snap);
/** The last transaction visible in the snapshot (0 for an empty database).
 *  For a write transaction's view: the transaction before the current one
 *  (after dl_wtxn_next_tx, the previous transaction of the same write
 *  transaction, not yet committed). */
int64_t dl_snap_basis_tx(const dl_snap *snap);

/** The identity of the committed state a read snapshot sees (LMDB's txn
 *  id): two snapshots with the same id see the same data, so their reads
 *  may be split between threads.  0 for a write transaction's view. */
uint64_t dl_snap_id(const dl_snap *snap);

/** Begin the (single) write transaction; blocks while another is open. */
int dl_wtxn_begin(dl_wtxn **out, dl_store *s);
/** The write transaction's own view: reads see its uncommitted writes. */
dl_snap *dl_wtxn_snap(dl_wtxn *w);
/** Make durable (synced unless opts.sync == 0) and end the transaction.
 *  On failure nothing is applied (nor any transaction before a
 *  dl_wtxn_next_tx of the same write transaction). */
int dl_wtxn_commit(dl_wtxn *w);
void dl_wtxn_abort(dl_wtxn *w);
/** Close the current transaction (its log entry is written; its datoms
 *  keep its tx) and start the next one inside the same write transaction:
 *  dl_wtxn_tx() becomes the next tx id (one more), the view's basis the
 *  transaction just closed, and dl_wtxn_datom_count() starts again at 0.
 *  Statistics, totals and id counters run on across the transactions.
 *  Nothing is durable until dl_wtxn_commit, which commits them all; an
 *  abort (or any earlier failure) drops them all.  Call it between writes,
 *  not inside a bulk batch. */
int dl_wtxn_next_tx(dl_wtxn *w);

/** Allocate the next entity id in `part` (ids in one transaction are
 *  contiguous). */
int dl_wtxn_new_eid(dl_wtxn *w, int64_t *out, int part);
/** The transaction entity of the current transaction, allocated at begin
 *  (and by dl_wtxn_next_tx) so tx ids sort by time. */
int64_t dl_wtxn_tx(const dl_wtxn *w);

/** Assert [e a v] in the current transaction.  Returns 1 if written, 0 if
 *  the datom was already current (a no-op).  The caller (the transaction
 *  processor) has done every schema check. */
int dl_wtxn_add(dl_wtxn *w, int64_t e, int64_t a, const dl_value *v, unsigned aflags);
/** Retract [e a v].  Returns 1 if it was current, 0 if not (a no-op). */
int dl_wtxn_retract(dl_wtxn *w, int64_t e, int64_t a, const dl_value *v, unsigned aflags);
/** Datoms written so far in the current transaction (for the tx report;
 *  since the last dl_wtxn_next_tx, if any). */
size_t dl_wtxn_datom_count(const dl_wtxn *w);

/** Bulk import: assert d[0..n) (e, a, v used; tx and added ignored), each
 *  only if not already current (duplicates within the batch count once).
 *  The batch is sorted once per index and each index written in key order
 *  through a cursor, appending when the keys land past the index's end (a
 *  fresh database).  aflags[i] goes with d[i] (NULL: all 0).  The log
 *  records the written datoms in batch order.  Scratch memory is
 *  proportional to n (about 110 bytes a datom for small values) and reused by the next batch
 *  of the transaction.  Returns 0 or an error; dl_wtxn_datom_count() tells
 *  how many were written. */
int dl_wtxn_add_batch(dl_wtxn *w, const dl_datom *d, size_t n, const unsigned *aflags);
/** After a dl_wtxn_add_batch that returned 0: whether its d[i] was written
 *  (false for a duplicate of an earlier datom of the batch or a datom
 *  already current).  Valid until the next write. */
bool dl_wtxn_batch_written(const dl_wtxn *w, size_t i);

/** For a write transaction that will carry many bulk batches (an import):
 *  from now on the AEVT, AVET and VAET entries of dl_wtxn_add_batch go to
 *  sorted runs in an unlinked temporary file beside the database, and are
 *  merged into the indexes in key order once, at the commit (or earlier,
 *  whenever a read or a single-datom write could see them: the write
 *  transaction's view always holds its writes).  Merging appends where a
 *  batch-by-batch write would insert all over the index: each index page is
 *  written once, and full.  EAVT and the log are written as before.  If no
 *  temporary file can be made the batches are written directly. */
void dl_wtxn_defer_indexes(dl_wtxn *w);
/** Whether dl_wtxn_defer_indexes is in effect (an import). */
bool dl_wtxn_deferring(const dl_wtxn *w);
/** AVET entries of attribute a are never deferred (the importer reads
 *  them back while importing: unique values, lookup refs). */
int dl_wtxn_index_now(dl_wtxn *w, int64_t a);

/** Undoing the last vector of a bulk import: a mark remembers the write
 *  transaction's state; dl_wtxn_undo returns to it, provided that since
 *  the mark only new entities (ids allocated after it, in the user
 *  partition) and the current transaction entity got datoms, only by
 *  assertion, with no dl_wtxn_next_tx.  The id counters, statistics,
 *  totals and the log are restored; blobs stay (they are shared and never
 *  deleted).  The mark is freed either way by dl_wtxn_mark_free. */
typedef struct dl_wtxn_mark dl_wtxn_mark;
int dl_wtxn_mark_begin(dl_wtxn_mark **out, dl_wtxn *w);
int dl_wtxn_undo(dl_wtxn *w, const dl_wtxn_mark *m);
void dl_wtxn_mark_free(dl_wtxn_mark *m);

/* ---- reads -------------------------------------------------------------- */

/** Iterate `idx` over the datoms whose leading components (in the index's
 *  order) equal the bound ones in `prefix`: pass `nbound` = 0..4 and fill
 *  that many components of *prefix in index order (EAVT: e, a, v, tx).
 *  For DL_VAET the v component must be a ref.  The view selects current,
 *  as-of, since or history datoms (history yields `added` false for
 *  retractions, in tx order within one [e a v]). */
int dl_iter_open(dl_iter **out, dl_snap *snap, dl_index idx, const dl_view *view,
		 const dl_datom *prefix, int nbound);
/** Restrict the iteration to values in [lo, hi] (either may be NULL for
 *  open; *_incl says whether the bound itself is included).  Only for an
 *  index whose next unbound component is V (AVET with A bound, EAVT with E
 *  and A bound, AEVT with A and E bound). */
int dl_iter_value_range(dl_iter *it, const dl_value *lo, bool lo_incl,
			const dl_value *hi, bool hi_incl);
/** Iterate in descending key order instead: the datoms dl_iter_next would
 *  return, last first (a history entry's retraction before its
 *  assertion).  Call before the first dl_iter_next; a reversed iterator
 *  takes no value range and no seek. */
int dl_iter_reverse(dl_iter *it);
/** Next datom: 1 and *out filled, 0 at the end, or a negative error.  Values
 *  in *out borrow memory that stays valid until the next call on this
 *  iterator (or, for strings that need no unescaping, until the snapshot
 *  ends). */
int dl_iter_next(dl_iter *it, dl_datom *out);
/** Position at the first datom >= `key` (in index order, components beyond
 *  the bound prefix taken from key) so dl_iter_next continues from there. */
int dl_iter_seek(dl_iter *it, const dl_datom *key);
/** dl_iter_seek for a key after every datom already returned: first
 *  steps forward over up to `walk` entries, comparing their keys' bytes
 *  only (a few steps cost less than a seek from the root), then seeks.
 *  1 when the steps got there, 0 when it sought, or a negative error. */
int dl_iter_seek_near(dl_iter *it, const dl_datom *key, int walk);
/** Datoms (LMDB entries) the iterator has read so far, for EXPLAIN ANALYZE. */
uint64_t dl_iter_scanned(const dl_iter *it);
void dl_iter_close(dl_iter *it);

/** The current value(s) lookup most used by the transaction processor:
 *  1 and *tx if [e a v] is current, 0 if not. */
int dl_snap_has(dl_snap *snap, int64_t e, int64_t a, const dl_value *v, int64_t *tx);

/* ---- statistics (kept current by every write) ------------------------- */

typedef struct dl_attr_stats {
	uint64_t datoms;   /* current datoms of the attribute */
	uint64_t values;   /* distinct values */
	uint64_t entities; /* distinct entities having it */
} dl_attr_stats;

int dl_snap_attr_stats(dl_snap *snap, int64_t a, dl_attr_stats *out);
/** Estimated number of current datoms of attribute `a` with a value in
 *  [lo, hi] (NULL = open). */
int dl_snap_estimate_range(dl_snap *snap, int64_t a, const dl_value *lo,
			   const dl_value *hi, uint64_t *out);
/** Totals: datoms, entities, transactions. */
typedef struct dl_store_stats {
	uint64_t datoms, history, transactions, file_bytes;
} dl_store_stats;
int dl_snap_stats(dl_snap *snap, dl_store_stats *out);

/* ---- tools -------------------------------------------------------------- */

/** Verify that all indexes, the history and the log agree; report each
 *  problem through `report` (may be NULL) and return DL_ECORRUPT if any. */
int dl_store_check(dl_store *s, void (*report)(void *ud, const char *problem), void *ud);

/* ---- for src/tx: small named metadata and a per-store cache slot ------- */
/* (Added by the transaction processor; storage only keeps these.) */

/** The store a snapshot (or a write transaction's snapshot) belongs to. */
dl_store *dl_snap_store(dl_snap *snap);
/** Read the meta entry `name` (NUL-terminated; src/tx uses names starting
 *  with "tx.", e.g. "tx.schema", the id of the last transaction that changed
 *  the schema): 1 with *val and *n set (bytes valid while the snapshot lives
 *  and, in a write transaction, until its next write), 0 if absent. */
int dl_snap_meta_get(dl_snap *snap, const char *name, const void **val, size_t *n);
/** Insert or replace the meta entry `name` in the write transaction (undone
 *  by dl_wtxn_abort like every other write). */
int dl_wtxn_meta_put(dl_wtxn *w, const char *name, const void *val, size_t n);
/** One pointer per open store for src/tx's schema cache; storage never looks
 *  inside.  dl_store_ext loads it (acquire; NULL after open).
 *  dl_store_ext_cas stores `p` if the slot still holds `expect` (release)
 *  and returns true; it also remembers `fini`, which dl_store_close calls
 *  on the slot's final value if that is not NULL. */
void *dl_store_ext(dl_store *s);
bool dl_store_ext_cas(dl_store *s, void *expect, void *p, void (*fini)(void *p));

#endif
