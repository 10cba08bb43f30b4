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

#ifdef __cplusplus
}
#endif
#endif /* DATALITE_H */
