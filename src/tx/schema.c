/* Schema as data: attributes are entities of the db partition, and the
 * attribute table is built from their datoms.  Built tables are immutable
 * and cached per store, keyed by the schema version (the id of the last
 * transaction that changed the schema, kept in storage meta), so readers
 * find theirs with one meta read and a pointer walk, never a lock. */
#include "tx/tx_int.h"

#include <string.h>

/* ---- built-ins ----------------------------------------------------------- */

const dl_builtin_attr dl_builtin_attrs[] = {
	{DL_A_IDENT, "db/ident", DL_VT_KEYWORD, DL_UNIQUE_IDENTITY, true},
	{DL_A_VALUE_TYPE, "db/valueType", DL_VT_REF, DL_UNIQUE_NONE, false},
	{DL_A_CARDINALITY, "db/cardinality", DL_VT_REF, DL_UNIQUE_NONE, false},
	{DL_A_UNIQUE, "db/unique", DL_VT_REF, DL_UNIQUE_NONE, false},
	{DL_A_IS_COMPONENT, "db/isComponent", DL_VT_BOOLEAN, DL_UNIQUE_NONE, false},
	{DL_A_DOC, "db/doc", DL_VT_STRING, DL_UNIQUE_NONE, false},
	{DL_A_NO_HISTORY, "db/noHistory", DL_VT_BOOLEAN, DL_UNIQUE_NONE, false},
	{DL_A_INDEX, "db/index", DL_VT_BOOLEAN, DL_UNIQUE_NONE, false},
	{DL_A_TX_INSTANT, "db/txInstant", DL_VT_INSTANT, DL_UNIQUE_NONE, true},
	{DL_A_TUPLE_ATTRS, "db/tupleAttrs", DL_VT_TUPLE, DL_UNIQUE_NONE, false},
	{DL_A_TUPLE_TYPE, "db/tupleType", DL_VT_KEYWORD, DL_UNIQUE_NONE, false},
	{DL_A_TUPLE_TYPES, "db/tupleTypes", DL_VT_TUPLE, DL_UNIQUE_NONE, false},
};
const size_t dl_builtin_nattrs = sizeof dl_builtin_attrs / sizeof dl_builtin_attrs[0];

const dl_builtin_enum dl_builtin_enums[] = {
	{DL_E_TYPE_BASE + DL_VT_STRING, "db.type/string"},
	{DL_E_TYPE_BASE + DL_VT_LONG, "db.type/long"},
	{DL_E_TYPE_BASE + DL_VT_DOUBLE, "db.type/double"},
	{DL_E_TYPE_BASE + DL_VT_BOOLEAN, "db.type/boolean"},
	{DL_E_TYPE_BASE + DL_VT_INSTANT, "db.type/instant"},
	{DL_E_TYPE_BASE + DL_VT_KEYWORD, "db.type/keyword"},
	{DL_E_TYPE_BASE + DL_VT_REF, "db.type/ref"},
	{DL_E_TYPE_BASE + DL_VT_UUID, "db.type/uuid"},
	{DL_E_TYPE_BASE + DL_VT_BYTES, "db.type/bytes"},
	{DL_E_TYPE_BASE + DL_VT_TUPLE, "db.type/tuple"},
	{DL_E_TYPE_BASE + DL_VT_SYMBOL, "db.type/symbol"},
	{DL_E_CARD_ONE, "db.cardinality/one"},
	{DL_E_CARD_MANY, "db.cardinality/many"},
	{DL_E_UNIQUE_VALUE, "db.unique/value"},
	{DL_E_UNIQUE_IDENTITY, "db.unique/identity"},
};
const size_t dl_builtin_nenums = sizeof dl_builtin_enums / sizeof dl_builtin_enums[0];

int dl_vtype_of_enum(int64_t e)
{
	if (e > DL_E_TYPE_BASE && e < DL_E_TYPE_BASE + DL_VT_COUNT)
		return (int)(e - DL_E_TYPE_BASE);
	return -1;
}

const char *dl_vtype_name(int vt)
{
	static const char *const names[DL_VT_COUNT] = {
		"any", "string", "long", "double", "boolean", "instant",
		"keyword", "ref", "uuid", "bytes", "tuple", "symbol",
	};
	return vt >= 0 && vt < DL_VT_COUNT ? names[vt] : "?";
}

/* ---- building ------------------------------------------------------------ */

static int schema_new(dl_schema **out, int64_t version)
{
	dl_schema *s = dl_calloc(1, sizeof *s);
	if (!s)
		return DL_ENOMEM;
	s->version = version;
	s->arena.chunk_size = 8192;
	dl_u64map_init(&s->by_id, &s->arena);
	dl_u64map_init(&s->kw2e, &s->arena);
	dl_u64map_init(&s->e2kw, &s->arena);
	*out = s;
	return 0;
}

void dl_schema_free(dl_schema *s)
{
	if (!s)
		return;
	dl_arena_free(&s->arena);
	dl_free(s);
}

/* Attributes are the db-partition entities with an ident, except the
 * built-in enums. */
static bool is_attr_entity(int64_t e)
{
	if (DL_EID_PART(e) != DL_PART_DB || e <= 0)
		return false;
	if (e <= DL_A_BUILTIN_LAST)
		return e >= DL_A_IDENT && e <= DL_A_TUPLE_TYPES;
	return true;
}

typedef struct sbuild {
	dl_schema *s;
	size_t cap;
} sbuild;

static int sb_ident(sbuild *b, int64_t e, uint32_t kw)
{
	dl_schema *s = b->s;
	DL_TRY(dl_u64map_put(&s->kw2e, kw, (uint64_t)e));
	DL_TRY(dl_u64map_put(&s->e2kw, (uint64_t)e, kw));
	if (!is_attr_entity(e))
		return 0;
	uint64_t idx;
	if (dl_u64map_get(&s->by_id, (uint64_t)e, &idx)) {
		s->attrs[idx].ident = kw;
		return 0;
	}
	if (s->nattrs == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		dl_attr *n = DL_ARENA_NEW(&s->arena, cap, dl_attr);
		if (!n)
			return DL_ENOMEM;
		if (s->nattrs)
			memcpy(n, s->attrs, s->nattrs * sizeof *n);
		s->attrs = n;
		b->cap = cap;
	}
	dl_attr *at = &s->attrs[s->nattrs];
	memset(at, 0, sizeof *at);
	at->id = e;
	at->ident = kw;
	DL_TRY(dl_u64map_put(&s->by_id, (uint64_t)e, s->nattrs));
	s->nattrs++;
	return 0;
}

/* A value type usable inside a typed tuple: a scalar, not a ref (an
 * entity inside a tuple is not resolved) and not a tuple. */
static int tuple_elem_type(int64_t e)
{
	int vt = dl_vtype_of_enum(e);
	return vt > 0 && vt != DL_VT_TUPLE && vt != DL_VT_REF ? vt : -1;
}

int dl_attr_set_tuple(dl_attr *at, int64_t a, const dl_value *v,
		      int64_t (*entid)(const void *ctx, uint32_t kw), const void *ctx)
{
	uint8_t bit = a == DL_A_TUPLE_ATTRS ? 1 : a == DL_A_TUPLE_TYPE ? 2 : 4;
	bool seq = v && (v->type == DL_VECTOR || v->type == DL_LIST);
	at->tuple_bad &= (uint8_t)~bit;
	if (!v) {
		at->tuple_keys &= (uint8_t)~bit;
		if (a == DL_A_TUPLE_ATTRS)
			at->composite = false;
		else if (a == DL_A_TUPLE_TYPE)
			at->tuple_type = 0;
		return 0;
	}
	at->tuple_keys |= bit;
	switch (a) {
	case DL_A_TUPLE_ATTRS:
		at->composite = true;
		if (!seq || v->len < 2 || v->len > DL_TUPLE_MAX)
			goto bad;
		for (uint32_t i = 0; i < v->len; i++) {
			if (v->u.items[i].type != DL_KEYWORD)
				goto bad;
			at->tuple_kw[i] = v->u.items[i].u.id;
		}
		at->tuple_n = (uint8_t)v->len;
		return 0;
	case DL_A_TUPLE_TYPE: {
		int vt = v->type == DL_KEYWORD ? tuple_elem_type(entid(ctx, v->u.id)) : -1;
		if (vt < 0)
			goto bad;
		at->tuple_type = (uint8_t)vt;
		return 0;
	}
	default: /* DL_A_TUPLE_TYPES */
		if (!seq || v->len < 2 || v->len > DL_TUPLE_MAX)
			goto bad;
		for (uint32_t i = 0; i < v->len; i++) {
			const dl_value *x = &v->u.items[i];
			int vt = x->type == DL_KEYWORD ? tuple_elem_type(entid(ctx, x->u.id)) : -1;
			if (vt < 0)
				goto bad;
			at->tuple_types[i] = (uint8_t)vt;
		}
		at->tuple_n = (uint8_t)v->len;
		return 0;
	}
bad:
	at->tuple_bad |= bit;
	return -1;
}

static int64_t sb_entid(const void *ctx, uint32_t kw)
{
	return dl_schema_entid(ctx, kw);
}

static void sb_prop(sbuild *b, int64_t e, int64_t a, const dl_value *v)
{
	uint64_t idx;
	if (!dl_u64map_get(&b->s->by_id, (uint64_t)e, &idx))
		return; /* a property of something that is not an attribute */
	dl_attr *at = &b->s->attrs[idx];
	int64_t r = v->type == DL_REF ? v->u.i : 0;
	bool t = v->type == DL_BOOL && v->u.b;
	switch (a) {
	case DL_A_VALUE_TYPE: {
		int vt = dl_vtype_of_enum(r);
		at->vtype = vt > 0 ? (uint8_t)vt : DL_VT_ANY;
		break;
	}
	case DL_A_CARDINALITY: at->many = r == DL_E_CARD_MANY; break;
	case DL_A_UNIQUE:
		at->unique = r == DL_E_UNIQUE_IDENTITY ? DL_UNIQUE_IDENTITY
			   : r == DL_E_UNIQUE_VALUE ? DL_UNIQUE_VALUE : DL_UNIQUE_NONE;
		break;
	case DL_A_IS_COMPONENT: at->component = t; break;
	case DL_A_NO_HISTORY: at->nohistory = t; break;
	case DL_A_INDEX: at->indexed = t; break;
	case DL_A_TUPLE_ATTRS:
	case DL_A_TUPLE_TYPE:
	case DL_A_TUPLE_TYPES:
		(void)dl_attr_set_tuple(at, a, v, sb_entid, b->s);
		break;
	default: break;
	}
	at->declared = true;
}

/* Mark the components of every composite (after all attributes are in). */
static void sb_components(sbuild *b)
{
	dl_schema *s = b->s;
	for (size_t i = 0; i < s->nattrs; i++) {
		const dl_attr *c = &s->attrs[i];
		for (uint32_t k = 0; c->composite && k < c->tuple_n; k++) {
			dl_attr *x = (dl_attr *)dl_schema_attr(s, dl_schema_entid(s, c->tuple_kw[k]));
			if (x)
				x->in_composite = true;
		}
	}
}

static int build_from_builtin(sbuild *b)
{
	for (size_t i = 0; i < dl_builtin_nattrs; i++) {
		const dl_builtin_attr *ba = &dl_builtin_attrs[i];
		uint32_t kw;
		DL_TRY(dl_intern(&kw, ba->ident, strlen(ba->ident)));
		DL_TRY(sb_ident(b, ba->id, kw));
		dl_value v = dl_ref(DL_E_TYPE_BASE + ba->vtype);
		sb_prop(b, ba->id, DL_A_VALUE_TYPE, &v);
		v = dl_ref(DL_E_CARD_ONE);
		sb_prop(b, ba->id, DL_A_CARDINALITY, &v);
		if (ba->unique) {
			v = dl_ref(ba->unique == DL_UNIQUE_IDENTITY ? DL_E_UNIQUE_IDENTITY
								   : DL_E_UNIQUE_VALUE);
			sb_prop(b, ba->id, DL_A_UNIQUE, &v);
		}
		if (ba->indexed) {
			v = dl_bool(true);
			sb_prop(b, ba->id, DL_A_INDEX, &v);
		}
	}
	for (size_t i = 0; i < dl_builtin_nenums; i++) {
		uint32_t kw;
		const char *name = dl_builtin_enums[i].ident;
		DL_TRY(dl_intern(&kw, name, strlen(name)));
		DL_TRY(sb_ident(b, dl_builtin_enums[i].id, kw));
	}
	return 0;
}

int dl_schema_build_builtin(dl_schema **out)
{
	sbuild b = {NULL, 0};
	DL_TRY(schema_new(&b.s, 0));
	int rc = build_from_builtin(&b);
	if (rc < 0) {
		dl_schema_free(b.s);
		return rc;
	}
	*out = b.s;
	return 0;
}

/* Every current datom of attribute `a` (AEVT), handed to the builder. */
static int scan_attr(sbuild *b, dl_snap *snap, int64_t a)
{
	dl_iter *it;
	dl_view view = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0};
	pre.a = a;
	DL_TRY(dl_iter_open(&it, snap, DL_AEVT, &view, &pre, 1));
	dl_datom d;
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if (a == DL_A_IDENT) {
			if (d.v.type != DL_KEYWORD)
				continue;
			if ((rc = sb_ident(b, d.e, d.v.u.id)) < 0)
				break;
		} else {
			sb_prop(b, d.e, a, &d.v);
		}
	}
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

int dl_schema_build(dl_schema **out, dl_snap *snap, int64_t version)
{
	static const int64_t props[] = {
		DL_A_VALUE_TYPE, DL_A_CARDINALITY, DL_A_UNIQUE,
		DL_A_IS_COMPONENT, DL_A_NO_HISTORY, DL_A_INDEX,
		DL_A_TUPLE_ATTRS, DL_A_TUPLE_TYPE, DL_A_TUPLE_TYPES,
	};
	sbuild b = {NULL, 0};
	DL_TRY(schema_new(&b.s, version));
	int rc = scan_attr(&b, snap, DL_A_IDENT);
	for (size_t i = 0; rc == 0 && i < sizeof props / sizeof props[0]; i++)
		rc = scan_attr(&b, snap, props[i]);
	if (rc == 0)
		sb_components(&b);
	if (rc < 0) {
		dl_schema_free(b.s);
		return rc;
	}
	*out = b.s;
	return 0;
}

/* ---- version ------------------------------------------------------------- */

#define SCHEMA_META "tx.schema"

int dl_schema_version_get(dl_snap *snap, int64_t *out)
{
	const void *p;
	size_t n;
	int rc = dl_snap_meta_get(snap, SCHEMA_META, &p, &n);
	if (rc < 0)
		return rc;
	*out = 0;
	if (rc == 0)
		return 0;
	if (n != 8)
		return dl_error(DL_ECORRUPT, "meta %s: %zu bytes, expected 8", SCHEMA_META, n);
	const unsigned char *b = p;
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = x << 8 | b[i];
	*out = (int64_t)x;
	return 0;
}

int dl_schema_version_put(dl_wtxn *w, int64_t version)
{
	unsigned char b[8];
	uint64_t x = (uint64_t)version;
	for (int i = 7; i >= 0; i--, x >>= 8)
		b[i] = (unsigned char)x;
	return dl_wtxn_meta_put(w, SCHEMA_META, b, sizeof b);
}

/* ---- the per-store cache ------------------------------------------------- */

/* Lives in the store's ext slot.  Schemas are pushed with a CAS and never
 * unlinked while the store is open: a reader may hold any of them. */
typedef struct schema_cache {
	_Atomic(dl_schema *) head;
} schema_cache;

static void cache_fini(void *p)
{
	schema_cache *c = p;
	dl_schema *s = atomic_load_explicit(&c->head, memory_order_acquire);
	while (s) {
		dl_schema *next = s->next;
		dl_schema_free(s);
		s = next;
	}
	dl_free(c);
}

static int cache_get(schema_cache **out, dl_store *st)
{
	schema_cache *c = dl_store_ext(st);
	if (DL_LIKELY(c != NULL)) {
		*out = c;
		return 0;
	}
	c = dl_calloc(1, sizeof *c);
	if (!c)
		return DL_ENOMEM;
	atomic_init(&c->head, NULL);
	if (!dl_store_ext_cas(st, NULL, c, cache_fini)) {
		dl_free(c);
		c = dl_store_ext(st);
		assert(c);
	}
	*out = c;
	return 0;
}

static dl_schema *cache_find(schema_cache *c, int64_t version)
{
	for (dl_schema *s = atomic_load_explicit(&c->head, memory_order_acquire); s; s = s->next)
		if (s->version == version)
			return s;
	return NULL;
}

int dl_schema_publish(dl_store *st, dl_schema **sp)
{
	schema_cache *c;
	DL_TRY(cache_get(&c, st));
	dl_schema *s = *sp;
	dl_schema *head = atomic_load_explicit(&c->head, memory_order_acquire);
	for (;;) {
		dl_schema *old = cache_find(c, s->version);
		if (old) {
			/* someone built the same version first */
			dl_schema_free(s);
			*sp = old;
			return 0;
		}
		s->next = head;
		if (atomic_compare_exchange_weak_explicit(&c->head, &head, s,
							  memory_order_acq_rel,
							  memory_order_acquire))
			return 0;
	}
}

int dl_schema_get(const dl_schema **out, dl_snap *snap)
{
	int64_t version;
	schema_cache *c;
	DL_TRY(dl_schema_version_get(snap, &version));
	dl_store *st = dl_snap_store(snap);
	DL_TRY(cache_get(&c, st));
	dl_schema *s = cache_find(c, version);
	if (DL_LIKELY(s != NULL)) {
		*out = s;
		return 0;
	}
	if (version == 0)
		DL_TRY(dl_schema_build_builtin(&s));
	else
		DL_TRY(dl_schema_build(&s, snap, version));
	DL_TRY(dl_schema_publish(st, &s));
	*out = s;
	return 0;
}

/* ---- lookups ------------------------------------------------------------- */

const dl_attr *dl_schema_attr(const dl_schema *s, int64_t id)
{
	uint64_t idx;
	if (id <= 0 || !dl_u64map_get(&s->by_id, (uint64_t)id, &idx))
		return NULL;
	return &s->attrs[idx];
}

int64_t dl_schema_entid(const dl_schema *s, uint32_t kw)
{
	uint64_t e;
	return kw && dl_u64map_get(&s->kw2e, kw, &e) ? (int64_t)e : 0;
}

uint32_t dl_schema_ident(const dl_schema *s, int64_t e)
{
	uint64_t kw;
	return e > 0 && dl_u64map_get(&s->e2kw, (uint64_t)e, &kw) ? (uint32_t)kw : 0;
}

unsigned dl_schema_aflags(const dl_schema *s, int64_t a)
{
	const dl_attr *at = dl_schema_attr(s, a);
	return at ? dl_attr_aflags(at) : 0;
}

int64_t dl_schema_version(const dl_schema *s) { return s->version; }

size_t dl_schema_attrs(const dl_schema *s, const dl_attr **out)
{
	*out = s->attrs;
	return s->nattrs;
}
