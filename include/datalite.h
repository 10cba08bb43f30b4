/*
 * datalite: an embedded, persistent, Datomic-style Datalog database.
 *
 * This header is the whole public API.
 *
 * Conventions (read these once; every function follows them):
 *
 *  - Names are dl_<module>_<verb>().  Out-parameters come first.
 *  - Functions that can fail return 0 on success or a negative dl_errcode.
 *    On failure a message naming the problem (and, for text input, its
 *    "source:line:col") is kept per thread; read it with dl_errmsg().
 *    Passing invalid arguments (NULL where a pointer is required, ...) is a
 *    programming error and is caught by assert(), not reported as an error.
 *  - Ownership: whatever comes back through a `**out` belongs to the caller,
 *    who releases it with the matching *_free().  Values (dl_value) never own
 *    memory: the bytes of their strings and the items of their collections
 *    are BORROWED from the arena (or read snapshot) that produced them and
 *    stay valid exactly until that arena is reset or freed.
 *  - All memory goes through one allocator hook (dl_set_allocator()).
 *
 * Thread safety: every function may be called from any thread.  The keyword
 * and symbol intern table is shared by all threads; looking a name up never
 * takes a lock and never blocks.  An arena belongs to one thread at a time.
 */
#ifndef DATALITE_H
#define DATALITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DL_VERSION_MAJOR 0
#define DL_VERSION_MINOR 1
#define DL_VERSION_PATCH 0
#define DL_VERSION_STRING "0.1.0"

/** The library's version string, e.g. "0.1.0". */
const char *dl_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum dl_errcode {
	DL_OK = 0,
	DL_ENOMEM = -1,    /* an allocation failed */
	DL_ESYNTAX = -2,   /* malformed EDN text */
	DL_EINVAL = -3,    /* a well-formed input that makes no sense */
	DL_ETYPE = -4,     /* a value of the wrong type */
	DL_ENOTFOUND = -5, /* a name, entity or lookup ref that does not exist */
	DL_ECONFLICT = -6, /* unique conflict, cas mismatch */
	DL_ELIMIT = -7,    /* a size, depth, row or memory budget was exceeded */
	DL_EIO = -8,       /* the operating system failed us */
	DL_ECORRUPT = -9,  /* the database file is damaged */
	DL_EFULL = -10,    /* the database reached its map size */
	DL_EBUSY = -11,    /* locked by someone else */
	DL_ETIMEOUT = -12, /* the query's time budget ran out */
	DL_ECANCELED = -13 /* cancelled from another thread */
} dl_errcode;

/** The message of the last error on this thread ("" if none).  Valid until
 *  the next failing call on the same thread. */
const char *dl_errmsg(void);
/** The code of the last error on this thread (DL_OK if none). */
int dl_errcode_last(void);
/** A short constant name for an error code, e.g. "syntax error". */
const char *dl_errstr(int code);
/** Forget the last error on this thread. */
void dl_error_clear(void);

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

/** The allocator hook.  `realloc` must behave like C's realloc (ptr==NULL
 *  allocates, size==0 is never passed); `free` accepts NULL. */
typedef struct dl_allocator {
	void *(*malloc)(void *ud, size_t size);
	void *(*realloc)(void *ud, void *ptr, size_t size);
	void (*free)(void *ud, void *ptr);
	void *ud;
} dl_allocator;

/** Replace the allocator (NULL restores malloc/realloc/free).  Call it before
 *  anything else allocates: memory must be freed by the allocator that gave
 *  it.  Not thread-safe against concurrent allocation. */
void dl_set_allocator(const dl_allocator *a);

/** An arena: bump allocation for per-query and per-transaction memory,
 *  released all at once.  Treat the fields as private. */
typedef struct dl_arena_chunk dl_arena_chunk;
typedef struct dl_arena {
	dl_arena_chunk *head;
	size_t chunk_size;
	size_t total; /* bytes obtained from the allocator */
} dl_arena;

#define DL_ARENA_INIT {NULL, 0, 0}

/** Allocate `size` bytes aligned to 16 (NULL and DL_ENOMEM on failure). */
void *dl_arena_alloc(dl_arena *a, size_t size);
/** Copy `n` bytes into the arena, adding a NUL after them. */
char *dl_arena_strndup(dl_arena *a, const char *s, size_t n);
/** Release everything, keeping the first chunk for reuse. */
void dl_arena_reset(dl_arena *a);
/** Release everything. The arena may be reused afterwards. */
void dl_arena_free(dl_arena *a);

/** A growable byte buffer (used for printing and key building). */
typedef struct dl_buf {
	char *data;
	size_t len, cap;
} dl_buf;

#define DL_BUF_INIT {NULL, 0, 0}

int dl_buf_reserve(dl_buf *b, size_t extra);
int dl_buf_append(dl_buf *b, const void *p, size_t n);
int dl_buf_puts(dl_buf *b, const char *s);
int dl_buf_printf(dl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void dl_buf_free(dl_buf *b);

/* ------------------------------------------------------------------------ */
/* Values                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * One value type serves EDN data, datom values, query inputs and results.
 *
 * Datom values are: boolean, int (int64), double, string (UTF-8, may hold
 * NUL), keyword, symbol, instant (ms since the epoch, UTC), uuid, ref (an
 * entity id), bytes, and tuples (vectors of scalars).  nil, characters,
 * lists, sets and maps exist in EDN text, query inputs and results only.
 *
 * Total order (dl_value_compare): type rank first, then value.  Ranks:
 *   nil < boolean < number < instant < string < keyword < symbol < uuid
 *       < bytes < ref < char < vector < list < set < map
 * Within a rank:
 *   - numbers: int and double compare by numeric value (exactly, even past
 *     2^53); when numerically equal the int sorts first, so 1 < 1.0 and the
 *     two are distinct values.  Doubles follow Java's Double.compareTo, like
 *     Datomic: -0.0 < 0.0, and every NaN is one value above +Infinity.
 *   - strings, keyword and symbol names: by UTF-16 code units (Java and
 *     JavaScript order).  Keywords and symbols: namespace first, no
 *     namespace before any; then the name.
 *   - uuids and bytes: unsigned byte order; booleans false < true.
 *   - vectors, lists: element by element, a prefix first.
 *   - sets and maps: by count, then element by element as stored.
 * Equality and hashing agree with this order.
 */
typedef enum dl_type {
	DL_NIL = 0,
	DL_BOOL,
	DL_INT,
	DL_DOUBLE,
	DL_INST,
	DL_STRING,
	DL_KEYWORD,
	DL_SYMBOL,
	DL_UUID,
	DL_BYTES,
	DL_REF,
	DL_CHAR,
	DL_VECTOR,
	DL_LIST,
	DL_SET,
	DL_MAP,
	DL_TYPE_COUNT
} dl_type;

/* Presentation-only flags: they survive printing but never affect order,
 * equality or hashing. */
#define DL_VF_BIGINT 0x01 /* written with an N suffix */
#define DL_VF_BIGDEC 0x02 /* written with an M suffix */
#define DL_VF_PINNED 0x04 /* (read from storage) the bytes are in a read
			     snapshot's pages: valid until the snapshot ends */

typedef struct dl_value dl_value;
struct dl_value {
	uint8_t type;  /* dl_type */
	uint8_t flags; /* DL_VF_* */
	uint32_t len;  /* string/bytes: bytes; vector/list/set: items; map: pairs */
	union {
		bool b;
		int64_t i;     /* DL_INT, DL_INST (ms since epoch), DL_REF */
		double d;      /* DL_DOUBLE */
		uint32_t cp;   /* DL_CHAR: a Unicode code point */
		uint32_t id;   /* DL_KEYWORD, DL_SYMBOL: intern id */
		const char *s; /* DL_STRING, DL_BYTES: borrowed, not NUL-terminated */
		uint8_t uuid[16];
		const dl_value *items; /* collections; a map holds k0,v0,k1,v1,... */
	} u;
};

/* Constructors for scalars (they allocate nothing). */
dl_value dl_nil(void);
dl_value dl_bool(bool b);
dl_value dl_int(int64_t i);
dl_value dl_double(double d); /* canonicalises NaN */
dl_value dl_inst(int64_t ms);
dl_value dl_ref(int64_t e);
dl_value dl_char(uint32_t cp);
/** A string value borrowing `s` (n bytes). */
dl_value dl_string(const char *s, size_t n);
dl_value dl_bytes(const void *p, size_t n);
dl_value dl_uuid(const uint8_t bytes[16]);
/** Intern "ns/name" (or "name") as a keyword.  Fails only on ENOMEM. */
int dl_keyword(dl_value *out, const char *name, size_t n);
int dl_symbol(dl_value *out, const char *name, size_t n);

/** Compare two values in the total order above: <0, 0 or >0. */
int dl_value_compare(const dl_value *a, const dl_value *b);
bool dl_value_equal(const dl_value *a, const dl_value *b);
/** A 64-bit hash consistent with dl_value_equal (stable within a process). */
uint64_t dl_value_hash(const dl_value *v);
/** Deep-copy `v` into arena `a` (scalars are copied, bytes and items too). */
int dl_value_copy(dl_value *out, dl_arena *a, const dl_value *v);

/*
 * Order-preserving binary encoding: for any values x and y,
 *   memcmp-order(encode(x), encode(y)) == sign(dl_value_compare(x, y))
 * where a proper prefix sorts first.  The encoding is self-delimiting,
 * canonical (equal values encode identically) and decodable.  Index keys
 * are built from it.  Keyword and symbol names are encoded by text, so an
 * encoding stays meaningful across processes.
 */
/** Append the encoding of `v` to `out`. */
int dl_value_encode(dl_buf *out, const dl_value *v);
/** Decode one value from `p` (n bytes); collections and strings are placed
 *  in `a` (string bytes are copied).  *used receives the bytes consumed.
 *  DL_ECORRUPT on malformed input. */
int dl_value_decode(dl_value *out, size_t *used, dl_arena *a, const void *p,
		    size_t n);

/* ------------------------------------------------------------------------ */
/* Interning                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Keywords and symbols share one process-wide table mapping a name ("ns/n"
 * or "n", no leading colon) to a small integer id (1, 2, ...).  Lookups never
 * lock; adding a new name takes a writers' mutex that readers never see.
 * Names are never removed; the strings returned stay valid for the life of
 * the process.
 */
/** Find or add `name`; *out receives its id. */
int dl_intern(uint32_t *out, const char *name, size_t n);
/** Find `name` without adding it; returns 0 if it was never interned. */
uint32_t dl_intern_find(const char *name, size_t n);
/** The name of `id` (NULL for an unknown id); *n receives its length and
 *  *ns_len the length of its namespace part (0 if none). */
const char *dl_intern_name(uint32_t id, size_t *n, size_t *ns_len);
/** How many names are interned. */
uint32_t dl_intern_count(void);

/* ------------------------------------------------------------------------ */
/* EDN                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct dl_edn_opts {
	const char *source; /* named in error messages, e.g. a file name */
	unsigned max_depth; /* nesting bound; 0 means the default (512) */
} dl_edn_opts;

#define DL_EDN_OPTS_INIT {"<input>", 0}

/** Read one EDN form from text[0..len).  *used receives the offset just past
 *  the form (and the whitespace after it).  Returns DL_ENOTFOUND if only
 *  whitespace and comments remain, DL_ESYNTAX with "source:line:col: ..."
 *  on malformed input.  The value lives in `a`. */
int dl_edn_read(dl_value *out, size_t *used, dl_arena *a, const char *text,
		size_t len, const dl_edn_opts *opts);

/** A reader over a whole text that keeps line and column across forms. */
typedef struct dl_edn_reader {
	const char *text;
	size_t len, pos;
	unsigned line, col;
	dl_edn_opts opts;
} dl_edn_reader;

void dl_edn_reader_init(dl_edn_reader *r, const char *text, size_t len,
			const dl_edn_opts *opts);
/** Next form: 0 with *out set, DL_ENOTFOUND at the end, or an error. */
int dl_edn_reader_next(dl_edn_reader *r, dl_value *out, dl_arena *a);

/** Append the EDN text of `v` to `out`.  Reading it back gives an equal
 *  value, and printing that gives the same text. */
int dl_edn_print(dl_buf *out, const dl_value *v);

/* ------------------------------------------------------------------------ */
/* Databases                                                                */
/* ------------------------------------------------------------------------ */

/*
 * A database is one file (plus LMDB's "<file>-lock" beside it) holding
 * datoms [e a v tx added]: entity ids are int64, attributes are entities
 * named by their :db/ident keyword, and every transaction is an entity too
 * (its id is the `tx` of the datoms it wrote).  Schema is data, as in
 * Datomic; an attribute used without a declaration takes any scalar.
 *
 * Handles:
 *   dl_db         an open database;
 *   dl_tx_result  what one transaction did (plain data, the caller's);
 *   dl_snapshot   one committed state of the database seen through a view
 *                 (current, as-of, since or history) that never changes
 *                 while it is open;
 *   dl_datoms     an iterator over one index of a snapshot.
 *
 * Thread safety: one dl_db may be shared by any number of threads, and the
 * file opened by other processes at the same time.  Reads run concurrently
 * and never wait for a writer; transactions are serialised (one writer at a
 * time: dl_db_transact waits while another transaction of any thread or
 * process is being written).  A dl_snapshot, and the iterators opened on
 * it, are used by one thread at a time (they may be handed to another
 * thread between calls); take one snapshot per thread.  A dl_tx_result may
 * be read from any thread.
 *
 * Lifetimes: close every iterator before ending its snapshot, and end every
 * snapshot before closing its database.
 */
typedef struct dl_db dl_db;

typedef struct dl_db_opts {
	bool read_only;  /* no transactions (they fail with DL_EINVAL) */
	bool create;     /* create the file if it is missing (not with read_only) */
	size_t map_size; /* the most the file may grow to, in bytes; 0: 64 GiB,
			    or, where the process has less address space
			    (ulimit -v, valgrind), the largest power-of-two
			    share of it that maps, at least 256 MiB.
			    Transactions fail with DL_EFULL beyond it. */
	int sync;        /* 1: a transaction is on disk when it returns (fsync);
			    0: no fsync: faster, and a crash may lose the last
			    transactions but never damages the file */
	int writemap;    /* 0 (default): pages are written with pwrite at
			    commit; the file is as long as its pages.
			    1: LMDB writes pages straight into its shared map
			    of the file (MDB_WRITEMAP): commits make no write
			    system calls, so small transactions cost a third
			    or less.  At a price, which is why it is opt-in:
			    the file is extended to map_size, sparse (`ls -l`
			    shows map_size, `du` the space used; copy it with
			    a sparse-aware tool or `datalite export`); space
			    is reserved (fallocate) ahead of the writes so
			    that a full disk is DL_EFULL when a transaction
			    begins, but the reservation is an estimate and a
			    disk filling at that moment can still raise
			    SIGBUS; and a stray write through a pointer into
			    the map can damage the file.  Every process
			    writing one file should use the same setting.
			    Ignored when read_only. */
} dl_db_opts;

#define DL_DB_OPTS_INIT {false, true, 0, 1, 0}

/** Open the database file `path` (opts NULL: DL_DB_OPTS_INIT).  *out is the
 *  caller's, released with dl_db_close().  Errors: DL_ENOTFOUND (missing and
 *  not created), DL_ECORRUPT (not a datalite database, or a newer format),
 *  DL_EBUSY (locked), DL_EIO. */
int dl_db_open(dl_db **out, const char *path, const dl_db_opts *opts);
/** Close the database (NULL is a no-op).  Its snapshots must have ended;
 *  tx results stay valid. */
void dl_db_close(dl_db *db);
/** The path the database was opened with (valid until dl_db_close). */
const char *dl_db_path(const dl_db *db);

/** A datom as the API hands it out. */
typedef struct dl_db_datom {
	int64_t e;
	dl_value a;   /* the attribute's :db/ident keyword (DL_INT: its id, if
			 the attribute has lost its ident) */
	dl_value v;   /* a reference is DL_REF */
	int64_t tx;   /* the transaction that asserted (or retracted) it */
	bool added;   /* false for a retraction (history views, tx results) */
	int64_t aid;  /* the attribute's entity id */
} dl_db_datom;

/* ---- transactions -------------------------------------------------------- */

typedef struct dl_tx_result dl_tx_result;

/** Run one transaction given as EDN text: one vector (or list) of tx forms,
 *  as in Datomic: [:db/add e a v], [:db/retract e a v], [:db/retract e a],
 *  [:db/retractEntity e], [:db/cas e a old new] and entity maps, with
 *  tempids (strings, negative ints), lookup refs and idents.  `source`
 *  (NULL: "<tx-data>") names the text in error messages, which read
 *  "source:line:col: problem".  A transaction is atomic: on any error
 *  nothing was written.  On success, if `out` is not NULL, *out receives the
 *  result (the caller's; dl_tx_result_free).  Errors: DL_ESYNTAX (the
 *  text), DL_EINVAL, DL_ETYPE, DL_ENOTFOUND, DL_ECONFLICT (the tx-data),
 *  DL_EFULL, DL_EIO, DL_EBUSY (the database).  A text of several vectors
 *  is refused here (DL_EINVAL); dl_db_transact_many runs one. */
int dl_db_transact(dl_tx_result **out, dl_db *db, const char *edn, size_t len,
		   const char *source);
/** The same with tx-data built in C (a DL_VECTOR or DL_LIST of forms).  The
 *  value is only read; nothing of it is kept. */
int dl_db_transact_value(dl_tx_result **out, dl_db *db, const dl_value *tx_data,
			 const char *source);

/** Several transactions' results, from dl_db_transact_many. */
typedef struct dl_tx_results dl_tx_results;

/** Run a text of any number of tx-data vectors (or lists) as that many
 *  transactions, in order, all or none: each is a transaction of its own,
 *  as dl_db_transact would run it (its own tx entity, :db/txInstant,
 *  tempids and result) and sees what the ones before it wrote (entities,
 *  upserts, schema), but they are written in one go: if any fails, or the
 *  text is malformed, none is written.  Error messages read
 *  "source:line:col: transaction K of N: problem" (line:col: the failing
 *  vector; with a single vector, as dl_db_transact's), or name the spot of
 *  bad EDN.  A text with no vector writes nothing and succeeds with no
 *  results.  On success, if `out` is not NULL, *out receives the results
 *  (the caller's; dl_tx_results_free); they are NULL on failure.  Errors as
 *  for dl_db_transact.  Other writers wait from the first transaction to
 *  the commit (readers never do), and every transaction's report is held
 *  in memory until then. */
int dl_db_transact_many(dl_tx_results **out, dl_db *db, const char *edn, size_t len,
			const char *source);
/** The same with tx-data built in C: tx_datas[0..n), each a DL_VECTOR or
 *  DL_LIST of forms (only read; nothing of them is kept).  sources[i] names
 *  tx_datas[i] in messages (`sources` or an entry NULL: "<tx-data>"). */
int dl_db_transact_many_values(dl_tx_results **out, dl_db *db, const dl_value *tx_datas,
			       size_t n, const char *const *sources);
/** How many transactions ran (one per vector). */
size_t dl_tx_results_count(const dl_tx_results *rs);
/** The i-th transaction's result (i < count), borrowed from rs: valid until
 *  dl_tx_results_free(rs); never pass it to dl_tx_result_free. */
const dl_tx_result *dl_tx_results_get(const dl_tx_results *rs, size_t i);
/** Release the results and everything borrowed from them (NULL: no-op). */
void dl_tx_results_free(dl_tx_results *rs);

/** The transaction's entity id (its `tx`). */
int64_t dl_tx_result_tx(const dl_tx_result *r);
/** The last transaction before this one (0 if it was the first). */
int64_t dl_tx_result_basis(const dl_tx_result *r);
/** How many tempids the transaction resolved. */
size_t dl_tx_result_ntempids(const dl_tx_result *r);
/** The i-th tempid as written (a string or negative int; borrowed from r)
 *  and, in *e, the entity it resolved to. */
dl_value dl_tx_result_tempid(const dl_tx_result *r, size_t i, int64_t *e);
/** The entity a string tempid resolved to, or 0 if the transaction had no
 *  such tempid. */
int64_t dl_tx_result_entid(const dl_tx_result *r, const char *tempid);
/** Datoms written, the transaction's own :db/txInstant included. */
size_t dl_tx_result_ndatoms(const dl_tx_result *r);
/** The i-th datom written (i < ndatoms), in the order written; its value
 *  is borrowed from r.  Retractions (a replaced cardinality-one value, ...)
 *  have added == false. */
dl_db_datom dl_tx_result_datom(const dl_tx_result *r, size_t i);
/** Release a result and everything borrowed from it (NULL is a no-op). */
void dl_tx_result_free(dl_tx_result *r);

/* ---- bulk import ----------------------------------------------------------- */

typedef struct dl_import_stat {
	uint64_t bytes_done, bytes_total; /* of the text */
	uint64_t datoms;        /* datoms written so far (txInstants included) */
	uint64_t pending;       /* datoms read but not yet written (progress only) */
	uint64_t transactions;  /* transactions written so far (all committed
				   together at the end, or none) */
	uint64_t bulk_datoms;   /* of the datoms, those written by the bulk path */
	double seconds;         /* since the import began */
} dl_import_stat;

typedef struct dl_import_opts {
	const char *source;  /* names the text in error messages; NULL: "<import>" */
	size_t batch;        /* datoms per bulk transaction; 0: 1M */
	/* Called about ten times a second (and once at the end) on the
	 * importing thread; may be NULL. */
	void (*progress)(void *ud, const dl_import_stat *st);
	void *ud;
} dl_import_opts;

#define DL_IMPORT_OPTS_INIT {NULL, 0, NULL, NULL}

/** Apply a text of any number of tx-data vectors, in order, fast.
 *
 *  Vectors that only assert new entities (maps whose :db/id is absent or a
 *  tempid, with declared attributes, refs given as ids, idents, lookup refs
 *  or tempids of the same vector, unique values that exist nowhere yet) go
 *  through the bulk path: several such vectors share one transaction of
 *  about opts->batch datoms, and a longer vector is still one transaction.
 *  Any other vector runs as dl_db_transact would run it.  Entities get the
 *  ids dl_db_transact would give them.
 *
 *  All or nothing: the import is one storage write transaction that
 *  commits when the whole text is applied (its transactions, each with
 *  its own tx id and :db/txInstant, commit together).  On any error,
 *  malformed EDN anywhere included, nothing is written: the database,
 *  its next tx id included, is as it was; so it is if the process dies
 *  first.  Readers see the previous state until the commit; other writers
 *  wait for it.  `out` (may be NULL) receives the figures, on failure too.
 *  A second thread reads the EDN while the calling thread writes; it has
 *  ended when the call returns.  Memory grows with the batch, not with the
 *  text (LMDB spills a large write transaction's pages to the file, and
 *  index entries wait in a temporary file beside the database; but a
 *  vector is one transaction, and a transaction keeps its log in memory
 *  until it ends: some 16 bytes a datom). */
int dl_db_import(dl_import_stat *out, dl_db *db, const char *edn, size_t len,
		 const dl_import_opts *opts);

/* ---- snapshots: database values -------------------------------------------- */

typedef enum dl_db_view_kind {
	DL_DB_CURRENT = 0, /* the current datoms */
	DL_DB_AS_OF,       /* the database as it was right after transaction t */
	DL_DB_SINCE,       /* the current datoms asserted after transaction t */
	DL_DB_HISTORY      /* every assertion and retraction ever made */
} dl_db_view_kind;

typedef struct dl_db_view {
	dl_db_view_kind kind;
	int64_t t;      /* AS_OF, SINCE: a transaction's entity id or its number
			   (1 is the first transaction); with t_is_inst, ms since
			   the epoch: the last transaction at or before then */
	bool t_is_inst;
} dl_db_view;

#define DL_DB_VIEW_INIT {DL_DB_CURRENT, 0, false}

typedef struct dl_snapshot dl_snapshot;

/** Take a snapshot of the last committed state through `view` (NULL: the
 *  current datoms).  *out is the caller's; end it with dl_snapshot_end().
 *  Everything a snapshot hands out is borrowed from it. */
int dl_db_snapshot(dl_snapshot **out, dl_db *db, const dl_db_view *view);
/** End a snapshot (NULL is a no-op); its iterators must be closed. */
void dl_snapshot_end(dl_snapshot *s);
/** The last transaction committed when the snapshot was taken (0: none). */
int64_t dl_snapshot_basis(const dl_snapshot *s);
/** The snapshot's view, with t resolved to a transaction entity id (0 when
 *  an as-of time falls before the first transaction). */
dl_db_view dl_snapshot_view(const dl_snapshot *s);
/** Resolve an entity reference: an entity id (DL_INT or DL_REF), an ident
 *  keyword, or a lookup ref [attribute value] (a DL_VECTOR).  *out is 0
 *  when nothing matches (not an error). */
int dl_snapshot_entid(int64_t *out, dl_snapshot *s, const dl_value *ref);

typedef enum dl_db_index {
	DL_DB_EAVT = 0, /* by entity, attribute, value */
	DL_DB_AEVT,     /* by attribute, entity, value */
	DL_DB_AVET,     /* by attribute, value, entity */
	DL_DB_VAET      /* reverse references: referenced entity, attribute, entity */
} dl_db_index;

typedef struct dl_datoms dl_datoms;

/** Iterate the datoms of index `idx` whose leading components equal
 *  components[0..n) (n = 0..4), given in the index's order: for EAVT e, a,
 *  v, tx.  An entity (e, or v in VAET) is an id, ident or lookup ref as in
 *  dl_snapshot_entid; an attribute is its ident keyword or id; a value is
 *  a value (for a ref attribute also an id, ident or lookup ref); tx is an
 *  id.  Names that match nothing give an empty iteration; an unknown
 *  attribute is DL_ENOTFOUND.  *out is the caller's (dl_datoms_close). */
int dl_db_datoms(dl_datoms **out, dl_snapshot *s, dl_db_index idx,
		 const dl_value *components, size_t n);
/** The next datom: 1 with *d set, 0 at the end, or a negative error.  The
 *  datom and the memory of its value are borrowed until the next call on
 *  this iterator or its close (copy the value with dl_value_copy to keep
 *  it).  In a history snapshot, retractions come with added == false. */
int dl_datoms_next(dl_datoms *it, const dl_db_datom **d);
/** Close an iterator (NULL is a no-op). */
void dl_datoms_close(dl_datoms *it);

/* ---- schema and statistics --------------------------------------------------- */

typedef enum dl_db_unique {
	DL_DB_UNIQUE_NONE = 0,
	DL_DB_UNIQUE_VALUE,   /* :db.unique/value */
	DL_DB_UNIQUE_IDENTITY /* :db.unique/identity (upserts) */
} dl_db_unique;

/** An attribute and its statistics. */
typedef struct dl_db_attr {
	int64_t id;
	dl_value ident;      /* keyword */
	dl_value value_type; /* :db.type/... keyword; nil when undeclared */
	dl_value doc;        /* :db/doc string, or nil */
	bool many;           /* :db.cardinality/many */
	bool component, no_history, indexed;
	bool declared;       /* false: only used, never declared */
	bool builtin;        /* one of the :db/... attributes */
	uint8_t unique;      /* dl_db_unique */
	/* counts in the current state (whatever the snapshot's view): */
	uint64_t datoms, values, entities;
} dl_db_attr;

/** Every attribute (built-ins first, then by id) in *out, borrowed until
 *  the snapshot ends; *n receives the count. */
int dl_snapshot_attrs(const dl_db_attr **out, size_t *n, dl_snapshot *s);

typedef struct dl_db_stat {
	uint64_t datoms;       /* current datoms */
	uint64_t history;      /* retracted datoms kept in the history */
	uint64_t transactions;
	uint64_t file_bytes;   /* bytes of the file in use (LMDB's pages up to
				  the last one the last commit uses; the file
				  itself may be longer, see dl_db_opts.writemap) */
	int64_t basis;         /* the last transaction (0: none) */
} dl_db_stat;

/** Totals of the snapshot's committed state. */
int dl_snapshot_stat(dl_db_stat *out, dl_snapshot *s);
/** The same for the last committed state. */
int dl_db_stats(dl_db_stat *out, dl_db *db);

/** Verify that every index, the history and the log agree.  Each problem
 *  found is passed to `report` (may be NULL) as a sentence valid during the
 *  call.  Returns 0, DL_ECORRUPT if any problem was found, or another error
 *  if the check itself could not run. */
int dl_db_check(dl_db *db, void (*report)(void *ud, const char *problem), void *ud);

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

/*
 * A prepared query, as in sqlite3_prepare/bind/step/column: the text is
 * parsed once; each execution plans afresh (plans depend on the bound
 * inputs, which are inlined as constants, and on the statistics of the
 * snapshot it runs on) and runs to a materialized answer whose rows
 * dl_stmt_step then walks.
 *
 *     dl_stmt *st;
 *     dl_stmt_prepare(&st, "[:find ?n :in $ ?min :where [?e :age ?a]"
 *                          " [(> ?a ?min)] [?e :name ?n]]", len, "<q>");
 *     dl_value min = dl_int(30);
 *     dl_stmt_bind(st, 0, &min);
 *     while ((rc = dl_stmt_step(st, snap)) == DL_ROW)
 *             printf("%s\n", dl_stmt_column_text(st, 0, NULL));
 *     dl_stmt_finalize(st);
 *
 * Inputs are numbered from 0 in :in order, skipping a leading $; a % input
 * takes the rules vector, a $name input a collection of tuples.
 *
 * Ownership: the statement is the caller's (dl_stmt_finalize).  Values it
 * hands out (columns, names) are borrowed from it until the next
 * dl_stmt_reset, execution or finalize; they do not depend on the snapshot.
 *
 * Threads: a statement is used by one thread at a time; dl_stmt_cancel may
 * be called from any thread while it runs.  Many statements may run on
 * many threads at once, each on its own snapshot.
 */
typedef struct dl_stmt dl_stmt;

/** dl_stmt_step results besides errors. */
#define DL_ROW 1  /* a row is ready: read it with dl_stmt_column* */
#define DL_DONE 0 /* no more rows */

/** The shape of the answer, from the find spec. */
typedef enum dl_stmt_shape {
	DL_SHAPE_REL = 0, /* :find ?a ?b      a set of rows */
	DL_SHAPE_SCALAR,  /* :find ?a .       0 or 1 row of one column */
	DL_SHAPE_COLL,    /* :find [?a ...]   rows of one column */
	DL_SHAPE_TUPLE    /* :find [?a ?b]    0 or 1 row */
} dl_stmt_shape;

/** Parse query text (vector or map form).  Errors (DL_ESYNTAX, DL_EINVAL)
 *  name "source:line:col".  *out is the caller's. */
int dl_stmt_prepare(dl_stmt **out, const char *text, size_t len, const char *source);
/** The number of inputs the query takes after $. */
unsigned dl_stmt_ninputs(const dl_stmt *st);
/** Bind input i to a copy of v (the statement keeps it across resets). */
int dl_stmt_bind(dl_stmt *st, unsigned i, const dl_value *v);
/** Bind input i to the value of EDN text. */
int dl_stmt_bind_edn(dl_stmt *st, unsigned i, const char *edn, size_t len);
/** A time budget for each execution (0: none; the query's :timeout also
 *  applies, the smaller wins).  Exceeding it fails with DL_ETIMEOUT. */
void dl_stmt_set_timeout(dl_stmt *st, int64_t ms);
/** The threads an execution may use for its parallel steps (today: a
 *  nested `q` run once per distinct input, split between workers): 0, the
 *  default, one per processor (at most 16); 1, the calling thread only. */
void dl_stmt_set_threads(dl_stmt *st, int n);
/** The first call runs the query on `snap` (its view: current, as-of,
 *  since, history) and, like every later call, moves to the next row:
 *  DL_ROW, DL_DONE, or a negative error (DL_ETIMEOUT, DL_ECANCELED,
 *  DL_ELIMIT for the row and memory budgets, DL_EINVAL...).  `snap` is only
 *  read by the first call; it may end once that returns. */
int dl_stmt_step(dl_stmt *st, dl_snapshot *snap);
/** Forget the answer so the next step runs again (bindings are kept). */
int dl_stmt_reset(dl_stmt *st);
/** Ask a running step to stop with DL_ECANCELED (any thread). */
void dl_stmt_cancel(dl_stmt *st);
/** The answer's shape, its size (after the first step), and its columns:
 *  the find elements as written ("?a", "(sum ?x)") or the :keys names. */
dl_stmt_shape dl_stmt_find_shape(const dl_stmt *st);
size_t dl_stmt_nrows(const dl_stmt *st);
unsigned dl_stmt_ncols(const dl_stmt *st);
const char *dl_stmt_colname(const dl_stmt *st, unsigned i);
/** Column i of the current row (nil outside a row).  Entity ids are
 *  DL_INT.  The typed readers convert numbers and give 0 / NULL for other
 *  types; dl_stmt_column_text gives strings' and bytes' bytes and
 *  keywords' and symbols' names (not NUL-terminated; *len their length). */
const dl_value *dl_stmt_column(const dl_stmt *st, unsigned i);
dl_type dl_stmt_column_type(const dl_stmt *st, unsigned i);
int64_t dl_stmt_column_int(const dl_stmt *st, unsigned i);
double dl_stmt_column_double(const dl_stmt *st, unsigned i);
const char *dl_stmt_column_text(const dl_stmt *st, unsigned i, size_t *len);
/** EXPLAIN (the plan with estimates) or, with analyze, EXPLAIN ANALYZE
 *  (runs the query: its rows can then be stepped) as text appended to out. */
int dl_stmt_explain(dl_stmt *st, dl_snapshot *snap, bool analyze, dl_buf *out);
/** Release a statement (NULL is a no-op). */
void dl_stmt_finalize(dl_stmt *st);

/* ------------------------------------------------------------------------ */
/* Pull and entities                                                        */
/* ------------------------------------------------------------------------ */

/** Pull `ref` (an entity id, ident or lookup ref) with `pattern` (a pull
 *  pattern as data: [:a {:b [:c]} *], options :as :limit :default,
 *  recursion ... or a depth) through the snapshot's view.  *out is a map
 *  in arena a (nil when the entity has no datoms); entity ids are DL_INT,
 *  refs not pulled further come as {:db/id n}.  DL_ENOTFOUND when `ref`
 *  names no entity; DL_EINVAL/DL_ENOTFOUND for a bad pattern. */
int dl_snapshot_pull(dl_value *out, dl_arena *a, dl_snapshot *s, const dl_value *pattern,
		     const dl_value *ref);
/** dl_snapshot_pull for refs[0..n): out[i] for refs[i]. */
int dl_snapshot_pull_many(dl_value *out, dl_arena *a, dl_snapshot *s, const dl_value *pattern,
			  const dl_value *refs, size_t n);
/** Entity navigation: every attribute of `ref` as a map in arena a
 *  ({:db/id n, :attr value or #{values}}); a ref value is {:db/id m}, to be
 *  followed lazily with another dl_snapshot_entity call. */
int dl_snapshot_entity(dl_value *out, dl_arena *a, dl_snapshot *s, const dl_value *ref);

#ifdef __cplusplus
}
#endif
#endif /* DATALITE_H */
