/*
 * tx: the transaction processor and the schema.
 *
 * EDN tx-data (already read into a dl_value) becomes a list of datoms:
 * tempids are resolved, lookup refs and idents looked up, upserts made
 * through :db.unique/identity, schema checked, cardinality-one values
 * replaced, and the result written through storage (src/storage/store.h)
 * in one LMDB write transaction: all of it, or none of it.
 *
 * Schema is data, as in Datomic: attributes are entities in the db partition
 * with :db/ident, :db/valueType, :db/cardinality, :db/unique,
 * :db/isComponent, :db/doc, :db/noHistory, :db/index and the tuple keys
 * :db/tupleAttrs, :db/tupleType, :db/tupleTypes.  An attribute used
 * without being declared is cardinality-one and takes any scalar (refs must
 * be declared), as in DataScript.
 */
#ifndef DL_TX_H
#define DL_TX_H

#include "storage/store.h"

/* Built-in entities of the db partition (fixed ids, written when a database
 * is created). */
enum {
	DL_A_IDENT = 10,       /* :db/ident */
	DL_A_VALUE_TYPE = 11,  /* :db/valueType */
	DL_A_CARDINALITY = 12, /* :db/cardinality */
	DL_A_UNIQUE = 13,      /* :db/unique */
	DL_A_IS_COMPONENT = 14,
	DL_A_DOC = 15,
	DL_A_NO_HISTORY = 16,
	DL_A_INDEX = 17,
	DL_A_TX_INSTANT = 18,  /* :db/txInstant */
	DL_A_TUPLE_ATTRS = 19, /* :db/tupleAttrs (composite tuples) */
	DL_A_TUPLE_TYPE = 20,  /* :db/tupleType */
	DL_A_TUPLE_TYPES = 21, /* :db/tupleTypes */
	DL_A_BUILTIN_LAST = 99 /* user attributes get ids above this */
};

/* Value types (:db.type/...). 0 = undeclared: any scalar. */
typedef enum dl_vtype {
	DL_VT_ANY = 0,
	DL_VT_STRING,
	DL_VT_LONG,
	DL_VT_DOUBLE,
	DL_VT_BOOLEAN,
	DL_VT_INSTANT,
	DL_VT_KEYWORD,
	DL_VT_REF,
	DL_VT_UUID,
	DL_VT_BYTES,
	DL_VT_TUPLE,
	DL_VT_SYMBOL,
	DL_VT_COUNT
} dl_vtype;

typedef enum dl_unique { DL_UNIQUE_NONE = 0, DL_UNIQUE_VALUE, DL_UNIQUE_IDENTITY } dl_unique;

/* Built-in enum entities (db partition, fixed ids, :db/ident only):
 * :db.type/X is DL_E_TYPE_BASE + DL_VT_X (41..51). */
enum {
	DL_E_TYPE_BASE = 40,
	DL_E_CARD_ONE = 60,        /* :db.cardinality/one */
	DL_E_CARD_MANY = 61,       /* :db.cardinality/many */
	DL_E_UNIQUE_VALUE = 62,    /* :db.unique/value */
	DL_E_UNIQUE_IDENTITY = 63  /* :db.unique/identity */
};

/* Most elements of a tuple (Datomic's limit). */
#define DL_TUPLE_MAX 8

typedef struct dl_attr {
	int64_t id;
	uint32_t ident;    /* keyword intern id of :db/ident */
	uint8_t vtype;     /* dl_vtype */
	uint8_t unique;    /* dl_unique */
	bool many;         /* :db.cardinality/many */
	bool component;
	bool nohistory;
	bool indexed;
	bool declared;     /* false for an attribute that was only used */
	/* Tuples (:db.type/tuple).  At most one of the three is given:
	 *   :db/tupleAttrs  a composite: the transaction processor keeps its
	 *                   value, [va vb ...], from the component attributes
	 *                   (named by ident: tuple_kw, tuple_n of them);
	 *   :db/tupleType   every element has type tuple_type;
	 *   :db/tupleTypes  element i has type tuple_types[i] (tuple_n of them).
	 * Elements may be nil. */
	bool composite;
	bool in_composite; /* a component of some composite (schema-built only) */
	uint8_t tuple_n;
	uint8_t tuple_type;
	uint8_t tuple_types[DL_TUPLE_MAX];
	uint32_t tuple_kw[DL_TUPLE_MAX];
	uint8_t tuple_keys; /* which are given: 1 tupleAttrs, 2 tupleType, 4 tupleTypes */
	uint8_t tuple_bad;  /* a malformed one seen (the same bits; the schema check reports it) */
} dl_attr;

/** Apply a tuple schema key (DL_A_TUPLE_ATTRS, _TYPE or _TYPES) with value
 *  v (NULL: retracted) to `at`; entid(ctx, kw) names the entity of an ident
 *  (the :db.type/... enums).  Returns 0, or -1 if v is malformed (then
 *  at->tuple_bad has the key's bit). */
int dl_attr_set_tuple(dl_attr *at, int64_t a, const dl_value *v,
		      int64_t (*entid)(const void *ctx, uint32_t kw), const void *ctx);

typedef struct dl_schema dl_schema;

/** The schema visible in `snap` (cached per store; cheap when unchanged).
 *  The schema stays valid until the store is closed. */
int dl_schema_get(const dl_schema **out, dl_snap *snap);
/** Attribute by id, or NULL. */
const dl_attr *dl_schema_attr(const dl_schema *s, int64_t id);
/** Entity id of ident keyword `kw` (intern id), or 0. */
int64_t dl_schema_entid(const dl_schema *s, uint32_t kw);
/** Ident keyword (intern id) of entity `e`, or 0. */
uint32_t dl_schema_ident(const dl_schema *s, int64_t e);
/** Storage flags (DL_AF_*) for attribute `a`. */
unsigned dl_schema_aflags(const dl_schema *s, int64_t a);
/** The schema's version: the id of the last transaction that changed it. */
int64_t dl_schema_version(const dl_schema *s);
/** All attributes (sorted by id); *out receives the array. */
size_t dl_schema_attrs(const dl_schema *s, const dl_attr **out);

typedef struct dl_tx_tempid {
	dl_value tempid; /* the string or negative int as written */
	int64_t e;
} dl_tx_tempid;

typedef struct dl_tx_report {
	int64_t tx;            /* the transaction entity */
	int64_t basis_before;  /* last tx before this one */
	dl_tx_tempid *tempids;
	size_t ntempids;
	dl_datom *datoms;      /* written, in order (retractions added=false) */
	size_t ndatoms;
} dl_tx_report;

typedef struct dl_tx_opts {
	const char *source; /* names the tx-data in error messages */
	/* dl_tx_run_many: sources[i] (if this and it are not NULL) names
	 * tx_datas[i] instead of `source` */
	const char *const *sources;
	/* If not NULL: called once every transaction has run and its report
	 * is in place, before the commit, with the schema as it was before the
	 * first of them; a negative return aborts them all and is returned.
	 * (The public API copies what its results need here, so nothing can
	 * fail after the commit.) */
	int (*before_commit)(void *ud, const dl_schema *before, const dl_tx_report *reports,
			     size_t n);
	void *ud;
} dl_tx_opts;

#define DL_TX_OPTS_INIT {"<tx-data>", NULL, NULL, NULL}

/** Run one transaction.  The report lives in `a`.  On any error nothing is
 *  written and the message names the problem (and the offending form). */
int dl_tx_run(dl_tx_report *out, dl_arena *a, dl_store *s, const dl_value *tx_data,
	      const dl_tx_opts *opts);

/** Run tx_datas[0..n) as n transactions, in order, in one storage write
 *  transaction (dl_wtxn_next_tx between them) that commits once: all of
 *  them or none.  Each is a transaction of its own, exactly as n calls of
 *  dl_tx_run would make them: its own tx entity (consecutive ids), its own
 *  :db/txInstant (never before the previous one), tempids resolved within
 *  it, its own report in out[i]; and each sees what the ones before it
 *  wrote (entities, upserts, schema).  The reports live in `a` (out[] is
 *  only meaningful on success).  On any error nothing is written, and when
 *  n > 1 the message names the transaction: "SOURCE: transaction 3 of 5:
 *  problem" (SOURCE from opts->sources[2] or opts->source).  n == 0 writes
 *  nothing and succeeds.  With n == 1 it is dl_tx_run (plus the hook). */
int dl_tx_run_many(dl_tx_report *out, dl_arena *a, dl_store *s, const dl_value *tx_datas,
		   size_t n, const dl_tx_opts *opts);

/* ---- transactions inside a caller's write transaction ------------------ */

/** A sequence of transactions run one by one in the caller's storage write
 *  transaction `w` (the bulk importer interleaves them with its own
 *  batches).  The caller calls dl_wtxn_next_tx between transactions and
 *  commits or aborts `w`; after a commit, dl_tx_seq_committed publishes a
 *  schema the sequence changed to the per-store cache (before it, the
 *  changed schema is the sequence's own: a write transaction that is
 *  aborted must leave no trace in the cache). */
typedef struct dl_tx_seq dl_tx_seq;

int dl_tx_seq_new(dl_tx_seq **out, dl_wtxn *w);
/** Run one transaction as dl_tx_run would, in the current transaction of
 *  w.  The report lives in `a`; errors are named by `source`.  On failure
 *  the write transaction is left half-written: abort it. */
int dl_tx_seq_run(dl_tx_seq *q, dl_tx_report *out, dl_arena *a, const dl_value *tx_data,
		  const char *source);
/** The schema as the write transaction sees it now (valid until the next
 *  dl_tx_seq_run or dl_tx_seq_free). */
int dl_tx_seq_schema(const dl_schema **out, dl_tx_seq *q);
void dl_tx_seq_committed(dl_tx_seq *q);
void dl_tx_seq_free(dl_tx_seq *q);

/** For tests: runs of at least `min` assertions about entities created in
 *  their transaction are written as storage batches of at most `max`
 *  datoms (min 1: every such run, SIZE_MAX: none; max 0 or past the
 *  default: the default; 0, 0: the defaults).  The datoms, history, log and
 *  reports are the same either way.  Process-wide. */
void dl_tx_set_batch(size_t min, size_t max);

#endif
