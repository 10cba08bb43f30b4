/*
 * tx: private structures of the transaction processor and the schema.
 */
#ifndef DL_TX_INT_H
#define DL_TX_INT_H

#include "tx/tx.h"

#include <stdatomic.h>

/* ---- arena-backed hash maps (open addressing, linear probing) --------- */

/* uint64 key (never 0) -> uint64 value.  Tables grow by doubling inside the
 * arena; the old table is simply left behind (at most as much again). */
typedef struct dl_u64map {
	uint64_t *keys;
	uint64_t *vals;
	size_t cap, n; /* cap is 0 or a power of two */
	dl_arena *a;
} dl_u64map;

void dl_u64map_init(dl_u64map *m, dl_arena *a);
/** Insert or replace. */
int dl_u64map_put(dl_u64map *m, uint64_t key, uint64_t val);
/** true and *val if present (val may be NULL). */
bool dl_u64map_get(const dl_u64map *m, uint64_t key, uint64_t *val);

/* An index over items kept by the caller (composite keys, values): slots
 * hold a hash and the item's index; equality is the caller's. */
typedef struct dl_hidx {
	uint64_t *hashes;
	uint32_t *items; /* item index + 1; 0 = empty */
	size_t cap, n;
	dl_arena *a;
} dl_hidx;

typedef bool (*dl_hidx_eq)(const void *ctx, uint32_t item);

void dl_hidx_init(dl_hidx *m, dl_arena *a);
/** The item equal to the probe (eq decides) with this hash, or -1. */
int64_t dl_hidx_find(const dl_hidx *m, uint64_t hash, dl_hidx_eq eq, const void *ctx);
/** Add an item (the caller has checked it is absent). */
int dl_hidx_add(dl_hidx *m, uint64_t hash, uint32_t item);
/** Room for n items in all without growing. */
int dl_hidx_reserve(dl_hidx *m, size_t n);

static inline uint64_t dl_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* ---- schema ------------------------------------------------------------ */

struct dl_schema {
	int64_t version;     /* tx id of the last schema change (0: built-ins only) */
	dl_schema *next;     /* older versions in the cache (immutable once published) */
	dl_arena arena;      /* everything below lives here */
	dl_attr *attrs;      /* sorted by id */
	size_t nattrs;
	dl_u64map by_id;     /* attr id -> index into attrs */
	dl_u64map kw2e;      /* ident keyword -> entity */
	dl_u64map e2kw;      /* entity -> ident keyword */
};


/** Build the schema visible in `snap` (not cached).  *out is dl_malloc'ed;
 *  free it with dl_schema_free. */
int dl_schema_build(dl_schema **out, dl_snap *snap, int64_t version);
/** The built-in schema alone (for an empty database). */
int dl_schema_build_builtin(dl_schema **out);
void dl_schema_free(dl_schema *s);
/** Publish `s` (built for a committed version) in the store's cache; on
 *  return *sp is the cached object (s itself, or an equal one published
 *  first, in which case s was freed). */
int dl_schema_publish(dl_store *st, dl_schema **sp);

/** The schema version recorded in `snap` (0 if none). */
int dl_schema_version_get(dl_snap *snap, int64_t *out);
/** Record `version` in the write transaction. */
int dl_schema_version_put(dl_wtxn *w, int64_t version);

/* The built-in attribute table (used by bootstrap and the schema). */
typedef struct dl_builtin_attr {
	int64_t id;
	const char *ident;
	uint8_t vtype;
	uint8_t unique;
	bool indexed;
} dl_builtin_attr;

typedef struct dl_builtin_enum {
	int64_t id;
	const char *ident;
} dl_builtin_enum;

extern const dl_builtin_attr dl_builtin_attrs[];
extern const size_t dl_builtin_nattrs;
extern const dl_builtin_enum dl_builtin_enums[];
extern const size_t dl_builtin_nenums;

/** The value type named by enum entity `e`, or -1 if it names none. */
int dl_vtype_of_enum(int64_t e);
/** A short name for a value type ("string", ...; "any" for DL_VT_ANY). */
const char *dl_vtype_name(int vt);
/** True if `a` is one of the attributes whose datoms make up the schema. */
static inline bool dl_is_schema_attr(int64_t a)
{
	return a == DL_A_IDENT || a == DL_A_VALUE_TYPE || a == DL_A_CARDINALITY ||
	       a == DL_A_UNIQUE || a == DL_A_IS_COMPONENT || a == DL_A_NO_HISTORY ||
	       a == DL_A_INDEX || a == DL_A_TUPLE_ATTRS || a == DL_A_TUPLE_TYPE ||
	       a == DL_A_TUPLE_TYPES;
}

static inline unsigned dl_attr_aflags(const dl_attr *at)
{
	return (at->vtype == DL_VT_REF ? DL_AF_REF : 0u) |
	       (at->nohistory ? DL_AF_NOHISTORY : 0u);
}

#endif
