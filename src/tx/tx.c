/*
 * The transaction processor: tx-data (EDN already read) to datoms.
 *
 * Phases, all inside one storage write transaction (any error aborts it):
 *   1. bootstrap: an empty store first gets the built-in schema;
 *   2. pre-pass: attribute definitions and idents named in the tx-data are
 *      collected first, so forms may use an attribute defined later in the
 *      same transaction;
 *   3. expansion: every form becomes ops on entity codes (real ids, or
 *      temporary entities for tempids and new maps); values are checked
 *      against the schema and lookup refs and idents are resolved;
 *   4. upserts unify temporary entities through :db.unique/identity values
 *      (with the database and with each other), the rest get new ids in
 *      order of first appearance;
 *   5. retractions are expanded, cas checked, conflicts detected;
 *   6. writes: card-one assertions retract the previous value; long runs
 *      of assertions about entities created here go to storage as sorted
 *      batches (write_ops); then the composite tuples (:db/tupleAttrs) of
 *      every entity whose components were written are re-asserted (upserts
 *      through them happen in 4);
 *   7. checks on the result: unique values, schema changes.
 *
 * Memory: everything lives in a scratch arena freed at the end; the report
 * lives in the caller's arena.
 *
 * dl_tx_run_many runs several transactions this way in one storage write
 * transaction (dl_wtxn_next_tx between them), each with a fresh context;
 * a schema change of one is handed to the next as its base schema (it is
 * not committed, so it must not reach the per-store cache before the
 * commit), and only the last one is published after it.
 */
#include "tx/tx_int.h"

#include "value/value.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { OP_ADD, OP_RETRACT, OP_RETRACT_ATTR, OP_RETRACT_ENTITY, OP_CAS };

typedef struct op {
	uint8_t kind;
	bool implicit; /* expanded from retractAttr/retractEntity: yields to an add */
	bool dropped;
	int64_t e, a;  /* e: an entity code (see below) until resolved */
	dl_value v;    /* a DL_REF with u.i < 0 is a temporary entity */
	dl_value old;  /* cas: expected value (nil = none) */
	const dl_value *form;
} op;

/* Entity codes: > 0 an entity id; < 0 the temporary entity -(code)-1. */
#define TEMP_CODE(i) (-(int64_t)(i)-1)
#define CODE_SLOT(c) ((uint32_t)(-(c)-1))

typedef struct slot {
	dl_value name; /* the tempid as written; nil for an anonymous entity */
	int64_t e;     /* bound entity, 0 until upserted or allocated */
	uint32_t parent;
	bool touched;
} slot;

/* Keywords the processor looks for, interned once per transaction. */
enum {
	K_ID, K_IDENT, K_VALUE_TYPE, K_CARDINALITY, K_UNIQUE, K_IS_COMPONENT,
	K_NO_HISTORY, K_INDEX, K_TUPLE_ATTRS, K_TUPLE_TYPE, K_TUPLE_TYPES,
	K_ADD, K_RETRACT, K_RETRACT_ENTITY, K_FN_RETRACT_ENTITY, K_CAS, K_FN_CAS,
	K_CURRENT_TX, K_COUNT
};

static const char *const kw_names[K_COUNT] = {
	"db/id", "db/ident", "db/valueType", "db/cardinality", "db/unique",
	"db/isComponent", "db/noHistory", "db/index", "db/tupleAttrs",
	"db/tupleType", "db/tupleTypes", "db/add", "db/retract",
	"db/retractEntity", "db.fn/retractEntity", "db/cas", "db.fn/cas",
	"db/current-tx",
};

/* Schema keys K_VALUE_TYPE..K_TUPLE_TYPES and their attributes. */
static const int64_t prop_attrs[] = {
	DL_A_VALUE_TYPE, DL_A_CARDINALITY, DL_A_UNIQUE, DL_A_IS_COMPONENT,
	DL_A_NO_HISTORY, DL_A_INDEX, DL_A_TUPLE_ATTRS, DL_A_TUPLE_TYPE,
	DL_A_TUPLE_TYPES,
};

typedef struct txc {
	dl_arena *sa; /* scratch */
	dl_arena *ra; /* the report */
	dl_wtxn *w;
	dl_snap *snap;
	const dl_schema *base;
	int64_t tx, basis;
	const char *source;
	uint32_t kw[K_COUNT];
	bool bootstrap;
	bool main; /* in the main pass (temporary entities appear in order) */
	bool schema_changed;

	dl_u64map ov_attr;  /* attr id -> dl_attr * defined/changed in this tx */
	dl_u64map ov_kw;    /* ident keyword -> entity code named in this tx */
	dl_u64map form_ent; /* top-level form index + 1 -> entity code */
	dl_u64map slot_kw;  /* slot + 1 -> ident given by a list form */
	dl_u64map fresh;    /* entities allocated in this tx */

	slot *slots;
	size_t nslots, cslots;
	uint32_t *order; /* slots in order of first appearance */
	size_t norder, corder;
	dl_hidx slot_names;

	op *ops;
	size_t nops, cops;
	op *fops; /* resolved: adds and retracts only */
	size_t nfops, cfops;
	dl_hidx add_eav; /* fops cardinality-many adds by [e a v] */
	dl_hidx add_ea;  /* fops cardinality-one adds by [e a] (find_add) */

	struct comp *comps; /* composite tuple attributes (composites()) */
	size_t ncomps, ccomps;
	bool comps_built;

	dl_datom *rd; /* report datoms */
	size_t nrd, crd;
	dl_schema *ns; /* the schema after this tx, if it changed */
} txc;

/* ---- small helpers ------------------------------------------------------- */

/* Room for `want` elements (at least 32): a large transaction's arrays are
 * given their size at once where it is known, as each doubling copies them
 * to fresh pages. */
static void *vreserve(dl_arena *a, void *p, size_t n, size_t *cap, size_t want, size_t sz)
{
	want = want > 32 ? want : 32;
	void *q = dl_arena_alloc(a, want * sz);
	if (!q)
		return NULL;
	if (n)
		memcpy(q, p, n * sz);
	*cap = want;
	return q;
}

static void *vgrow(dl_arena *a, void *p, size_t n, size_t *cap, size_t sz)
{
	return vreserve(a, p, n, cap, *cap * 2, sz);
}

#define VPUSH(t, arr, n, cap)                                                  \
	(((n) < (cap) || ((arr) = vgrow((t)->sa, (arr), (n), &(cap), sizeof *(arr)))) \
		 ? &(arr)[(n)++]                                               \
		 : NULL)

#define VRESERVE(t, arr, n, cap, want)                                                 \
	((cap) >= (want) ? 0                                                           \
	 : ((arr) = vreserve((t)->sa, (arr), (n), &(cap), (want), sizeof *(arr))) ? 0 : DL_ENOMEM)

/* Print v into dst (cap bytes), cut with "..." if longer. */
static void vstr(char *dst, size_t cap, const dl_value *v)
{
	dl_buf b = DL_BUF_INIT;
	if (dl_edn_print(&b, v) < 0 || !b.data) {
		snprintf(dst, cap, "<value>");
	} else if (b.len < cap) {
		memcpy(dst, b.data, b.len);
		dst[b.len] = 0;
	} else {
		size_t n = cap - 4;
		/* do not cut a UTF-8 sequence */
		while (n > 0 && ((unsigned char)b.data[n] & 0xC0) == 0x80)
			n--;
		memcpy(dst, b.data, n);
		memcpy(dst + n, "...", 4);
	}
	dl_buf_free(&b);
}

static void kwstr(char *dst, size_t cap, uint32_t kw)
{
	size_t n;
	const char *s = kw ? dl_intern_name(kw, &n, NULL) : NULL;
	if (s)
		snprintf(dst, cap, ":%.*s", (int)n, s);
	else
		snprintf(dst, cap, "<unnamed>");
}

#define FORM_MAX 204
#define VAL_MAX 104

static int fail(txc *t, int code, const dl_value *form, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(txc *t, int code, const dl_value *form, const char *fmt, ...)
{
	char msg[640], fs[FORM_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (form) {
		vstr(fs, sizeof fs, form);
		return dl_error(code, "%s: %s in %s", t->source, msg, fs);
	}
	return dl_error(code, "%s: %s", t->source, msg);
}

static const dl_attr *attr_get(const txc *t, int64_t a)
{
	uint64_t p;
	if (t->ov_attr.n && dl_u64map_get(&t->ov_attr, (uint64_t)a, &p))
		return (const dl_attr *)(uintptr_t)p;
	return dl_schema_attr(t->base, a);
}

/* ":ns/name" of attribute a, for messages. */
static const char *aname(const txc *t, int64_t a, char *buf, size_t cap)
{
	const dl_attr *at = attr_get(t, a);
	uint32_t kw = at ? at->ident : dl_schema_ident(t->base, a);
	if (kw)
		kwstr(buf, cap, kw);
	else
		snprintf(buf, cap, "%lld", (long long)a);
	return buf;
}

static bool is_coll(const dl_value *v)
{
	return v->type == DL_VECTOR || v->type == DL_LIST || v->type == DL_SET;
}

static const dl_value *map_get(const dl_value *m, uint32_t kw)
{
	for (uint32_t i = 0; i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i];
		if (k->type == DL_KEYWORD && k->u.id == kw)
			return &m->u.items[2 * i + 1];
	}
	return NULL;
}

static int prop_index(const txc *t, uint32_t kw)
{
	for (int k = K_VALUE_TYPE; k <= K_TUPLE_TYPES; k++)
		if (t->kw[k] == kw)
			return k - K_VALUE_TYPE;
	return -1;
}

static bool is_tempid(const dl_value *v)
{
	return (v->type == DL_INT && v->u.i < 0) || v->type == DL_STRING;
}

static bool is_tx_name(const dl_value *v)
{
	return v->type == DL_STRING && v->len == 10 && memcmp(v->u.s, "datomic.tx", 10) == 0;
}

static uint64_t ea_hash(int64_t e, int64_t a)
{
	return dl_mix64((uint64_t)e * UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)a);
}

/* ---- temporary entities ------------------------------------------------- */

typedef struct name_probe {
	const txc *t;
	const dl_value *v;
} name_probe;

static bool slot_name_eq(const void *ctx, uint32_t item)
{
	const name_probe *p = ctx;
	return dl_value_equal(&p->t->slots[item].name, p->v);
}

static int slot_new(txc *t, const dl_value *name, uint32_t *out)
{
	slot *s = VPUSH(t, t->slots, t->nslots, t->cslots);
	if (!s)
		return DL_ENOMEM;
	s->name = name ? *name : dl_nil();
	s->e = 0;
	s->parent = (uint32_t)(t->nslots - 1);
	s->touched = false;
	*out = s->parent;
	return 0;
}

static int slot_named(txc *t, const dl_value *name, uint32_t *out)
{
	uint64_t h = dl_value_hash(name);
	name_probe p = {t, name};
	int64_t i = dl_hidx_find(&t->slot_names, h, slot_name_eq, &p);
	if (i >= 0) {
		*out = (uint32_t)i;
		return 0;
	}
	DL_TRY(slot_new(t, name, out));
	return dl_hidx_add(&t->slot_names, h, *out);
}

static int slot_touch(txc *t, uint32_t i)
{
	if (t->slots[i].touched)
		return 0;
	uint32_t *o = VPUSH(t, t->order, t->norder, t->corder);
	if (!o)
		return DL_ENOMEM;
	*o = i;
	t->slots[i].touched = true;
	return 0;
}

static uint32_t slot_root(txc *t, uint32_t i)
{
	while (t->slots[i].parent != i) {
		t->slots[i].parent = t->slots[t->slots[i].parent].parent;
		i = t->slots[i].parent;
	}
	return i;
}

static void slot_desc(const txc *t, uint32_t i, char *buf, size_t cap)
{
	if (t->slots[i].name.type == DL_NIL)
		snprintf(buf, cap, "a new entity");
	else {
		char v[VAL_MAX];
		vstr(v, sizeof v, &t->slots[i].name);
		snprintf(buf, cap, "tempid %s", v);
	}
}

static int slot_bind(txc *t, uint32_t i, int64_t e, const dl_value *form)
{
	uint32_t r = slot_root(t, i);
	if (t->slots[r].e && t->slots[r].e != e) {
		char d[VAL_MAX + 16];
		slot_desc(t, i, d, sizeof d);
		return fail(t, DL_ECONFLICT, form,
			    "conflicting upsert: %s resolves to both %lld and %lld", d,
			    (long long)t->slots[r].e, (long long)e);
	}
	t->slots[r].e = e;
	return 0;
}

static int slot_union(txc *t, uint32_t i, uint32_t j, const dl_value *form)
{
	uint32_t ri = slot_root(t, i), rj = slot_root(t, j);
	if (ri == rj)
		return 0;
	int64_t ei = t->slots[ri].e, ej = t->slots[rj].e;
	if (ei && ej && ei != ej) {
		char di[VAL_MAX + 16], dj[VAL_MAX + 16];
		slot_desc(t, i, di, sizeof di);
		slot_desc(t, j, dj, sizeof dj);
		return fail(t, DL_ECONFLICT, form,
			    "conflicting upsert: %s and %s share a unique identity but "
			    "resolve to %lld and %lld", di, dj, (long long)ei, (long long)ej);
	}
	uint32_t root = ri < rj ? ri : rj, other = ri < rj ? rj : ri;
	t->slots[other].parent = root;
	t->slots[root].e = ei ? ei : ej;
	return 0;
}

/* ---- entity ids ---------------------------------------------------------- */

static int new_eid(txc *t, int part, int64_t *out)
{
	int64_t e;
	do {
		DL_TRY(dl_wtxn_new_eid(t->w, &e, part));
		/* the first ids of the db partition belong to the built-ins */
	} while (part == DL_PART_DB && e <= DL_A_BUILTIN_LAST);
	DL_TRY(dl_u64map_put(&t->fresh, (uint64_t)e, 1));
	*out = e;
	return 0;
}

/* The code of the transaction entity ("datomic.tx", :db/current-tx). */
static int tx_code(txc *t, int64_t *out)
{
	static const dl_value name = {.type = DL_STRING, .len = 10, .u.s = "datomic.tx"};
	uint32_t i;
	DL_TRY(slot_named(t, &name, &i));
	t->slots[i].e = t->tx;
	DL_TRY(slot_touch(t, i));
	*out = TEMP_CODE(i);
	return 0;
}

/* ---- storage reads ------------------------------------------------------- */

/* The first entity holding [a v] (AVET), or 0. */
static int avet_find(txc *t, int64_t a, const dl_value *v, int64_t skip, int64_t *out)
{
	dl_iter *it;
	dl_view view = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0}, d;
	pre.a = a;
	pre.v = *v;
	DL_TRY(dl_iter_open(&it, t->snap, DL_AVET, &view, &pre, 2));
	int rc;
	*out = 0;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if (d.e != skip) {
			*out = d.e;
			break;
		}
	}
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

typedef struct dvec {
	dl_datom *d;
	size_t n, cap;
} dvec;

/* Current datoms matching a prefix, copied into scratch (iterators only
 * lend their memory, and we write after reading). */
static int collect(txc *t, dvec *out, dl_index idx, const dl_datom *pre, int nbound)
{
	dl_iter *it;
	dl_view view = {DL_VIEW_CURRENT, 0};
	dl_datom d;
	out->n = 0;
	DL_TRY(dl_iter_open(&it, t->snap, idx, &view, pre, nbound));
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		dl_datom *x = VPUSH(t, out->d, out->n, out->cap);
		if (!x) {
			rc = DL_ENOMEM;
			break;
		}
		*x = d;
		if ((rc = dl_value_copy(&x->v, t->sa, &d.v)) < 0)
			break;
	}
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

static int collect_ea(txc *t, dvec *out, int64_t e, int64_t a)
{
	dl_datom pre = {0};
	pre.e = e;
	pre.a = a;
	return collect(t, out, DL_EAVT, &pre, 2);
}

/* ---- values -------------------------------------------------------------- */

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
	case DL_VT_REF: return v->type == DL_REF;
	case DL_VT_UUID: return v->type == DL_UUID;
	case DL_VT_BYTES: return v->type == DL_BYTES;
	case DL_VT_SYMBOL: return v->type == DL_SYMBOL;
	case DL_VT_TUPLE:
		if (v->type != DL_VECTOR)
			return false;
		for (uint32_t i = 0; i < v->len; i++) {
			const dl_value *x = &v->u.items[i];
			if (x->type != DL_NIL && (!dl_value_is_scalar(x) || x->type == DL_REF))
				return false;
		}
		return true;
	}
	return false;
}

static int resolve_entity(txc *t, const dl_value *v, const dl_value *form, int64_t *out);
static int resolve_attr(txc *t, const dl_value *k, const dl_value *form, bool create,
			const dl_attr **out);

/* A tuple value against its attribute's :db/tupleType, :db/tupleTypes or
 * :db/tupleAttrs (the length; a composite's value is only ever looked
 * up).  Elements may be nil. */
static int check_tuple(txc *t, const dl_attr *at, const dl_value *v, const dl_value *form)
{
	char an[VAL_MAX], vs[VAL_MAX], es[VAL_MAX], want[160];
	uint32_t lo = 1, hi = DL_TUPLE_MAX;
	if (at->tuple_type) {
		snprintf(want, sizeof want, "a tuple of 1 to %d %s values", DL_TUPLE_MAX,
			 dl_vtype_name(at->tuple_type));
	} else if (at->tuple_keys & 4 || at->composite) {
		lo = hi = at->tuple_n;
		size_t n = (size_t)snprintf(want, sizeof want, "a tuple of %u (", hi);
		for (uint32_t i = 0; i < hi && n < sizeof want; i++)
			n += (size_t)snprintf(want + n, sizeof want - n, "%s%s", i ? " " : "",
					      at->composite ? "any"
							    : dl_vtype_name(at->tuple_types[i]));
		if (n < sizeof want)
			snprintf(want + n, sizeof want - n, ")");
	} else {
		return 0; /* a tuple of any scalars */
	}
	aname(t, at->id, an, sizeof an);
	vstr(vs, sizeof vs, v);
	if (v->len < lo || v->len > hi)
		return fail(t, DL_ETYPE, form, "%s expects %s, got %s (%u elements)", an, want, vs,
			    v->len);
	for (uint32_t i = 0; i < v->len && !at->composite; i++) {
		const dl_value *x = &v->u.items[i];
		int vt = at->tuple_type ? at->tuple_type : at->tuple_types[i];
		if (x->type == DL_NIL || type_ok(vt, x))
			continue;
		vstr(es, sizeof es, x);
		return fail(t, DL_ETYPE, form, "%s expects %s, got %s: element %u is %s, not a %s",
			    an, want, vs, i + 1, es, dl_vtype_name(vt));
	}
	return 0;
}

/* Convert a (non-map, non-nil) value for attribute `at`: refs resolve
 * entities; everything else must have the declared type. */
static int conv_value(txc *t, const dl_attr *at, const dl_value *v, const dl_value *form,
		      dl_value *out)
{
	char an[VAL_MAX], vs[VAL_MAX];
	if (at->vtype == DL_VT_REF) {
		int64_t code;
		DL_TRY(resolve_entity(t, v, form, &code));
		*out = dl_ref(code);
		return 0;
	}
	if (at->vtype == DL_VT_TUPLE && v->type == DL_LIST) {
		*out = *v;
		out->type = DL_VECTOR;
		v = out;
	}
	if (type_ok(at->vtype, v)) {
		*out = *v;
		return at->vtype == DL_VT_TUPLE ? check_tuple(t, at, v, form) : 0;
	}
	aname(t, at->id, an, sizeof an);
	vstr(vs, sizeof vs, v);
	if (at->vtype == DL_VT_ANY) {
		if (v->type == DL_REF)
			return fail(t, DL_ETYPE, form,
				    "%s is not declared :db.type/ref, so it cannot hold the "
				    "reference %s", an, vs);
		if (v->type == DL_VECTOR || v->type == DL_LIST || v->type == DL_SET)
			return fail(t, DL_ETYPE, form,
				    "%s is cardinality-one and not a tuple, so it cannot hold "
				    "the collection %s", an, vs);
		return fail(t, DL_ETYPE, form, "%s cannot hold %s", an, vs);
	}
	if (is_coll(v) && !at->many && at->vtype != DL_VT_TUPLE)
		return fail(t, DL_ETYPE, form,
			    "%s is cardinality-one, so it cannot hold the collection %s", an, vs);
	return fail(t, DL_ETYPE, form, "%s expects a %s, got %s", an,
		    dl_vtype_name(at->vtype), vs);
}

/* ---- resolution ---------------------------------------------------------- */

/* The entity code an ident names (0 if none), without touching it. */
static int64_t ident_code(const txc *t, uint32_t kw)
{
	uint64_t x;
	if (t->ov_kw.n && dl_u64map_get(&t->ov_kw, kw, &x))
		return (int64_t)x;
	return dl_schema_entid(t->base, kw);
}

/* The same; in the main pass a temporary entity named here appears. */
static int lookup_ident(txc *t, uint32_t kw, int64_t *out)
{
	*out = ident_code(t, kw);
	if (*out < 0 && t->main)
		DL_TRY(slot_touch(t, CODE_SLOT(*out)));
	return 0;
}

static int resolve_lookup(txc *t, const dl_value *v, const dl_value *form, int64_t *out)
{
	char ls[VAL_MAX], an[VAL_MAX];
	const dl_value *ak = &v->u.items[0], *av = &v->u.items[1];
	if (ak->type != DL_KEYWORD) {
		vstr(ls, sizeof ls, v);
		return fail(t, DL_EINVAL, form,
			    "invalid entity %s (a lookup ref is [attribute value])", ls);
	}
	const dl_attr *at;
	DL_TRY(resolve_attr(t, ak, form, false, &at));
	if (!at) {
		vstr(ls, sizeof ls, v);
		return fail(t, DL_ENOTFOUND, form, "lookup ref %s not found (no such attribute)",
			    ls);
	}
	if (at->unique == DL_UNIQUE_NONE) {
		vstr(ls, sizeof ls, v);
		return fail(t, DL_EINVAL, form, "lookup ref %s: %s is not :db/unique", ls,
			    aname(t, at->id, an, sizeof an));
	}
	if (av->type == DL_NIL || av->type == DL_MAP) {
		vstr(ls, sizeof ls, v);
		return fail(t, DL_EINVAL, form, "invalid lookup ref %s", ls);
	}
	dl_value cv;
	DL_TRY(conv_value(t, at, av, form, &cv));
	int64_t e = 0;
	if (!(cv.type == DL_REF && cv.u.i < 0))
		DL_TRY(avet_find(t, at->id, &cv, 0, &e));
	if (!e) {
		vstr(ls, sizeof ls, v);
		return fail(t, DL_ENOTFOUND, form, "lookup ref %s not found", ls);
	}
	*out = e;
	return 0;
}

/* An entity position: id, tempid, ident or lookup ref -> entity code. */
static int resolve_entity(txc *t, const dl_value *v, const dl_value *form, int64_t *out)
{
	char vs[VAL_MAX];
	uint32_t i;
	switch (v->type) {
	case DL_INT:
		if (v->u.i > 0) {
			*out = v->u.i;
			return 0;
		}
		if (v->u.i < 0)
			goto temp;
		break;
	case DL_REF:
		if (v->u.i > 0) {
			*out = v->u.i;
			return 0;
		}
		break;
	case DL_STRING:
		if (is_tx_name(v))
			return tx_code(t, out);
		goto temp;
	case DL_KEYWORD:
		if (v->u.id == t->kw[K_CURRENT_TX])
			return tx_code(t, out);
		DL_TRY(lookup_ident(t, v->u.id, out));
		if (*out)
			return 0;
		vstr(vs, sizeof vs, v);
		return fail(t, DL_ENOTFOUND, form, "unknown ident %s", vs);
	case DL_VECTOR:
	case DL_LIST:
		if (v->len == 2)
			return resolve_lookup(t, v, form, out);
		break;
	default:
		break;
	}
	vstr(vs, sizeof vs, v);
	return fail(t, DL_EINVAL, form, "invalid entity %s", vs);
temp:
	DL_TRY(slot_named(t, v, &i));
	DL_TRY(slot_touch(t, i));
	*out = TEMP_CODE(i);
	return 0;
}

/* A keyword in attribute position -> its attribute.  An unknown keyword
 * becomes a new undeclared attribute when `create` (else *out = NULL). */
static int resolve_attr(txc *t, const dl_value *k, const dl_value *form, bool create,
			const dl_attr **out)
{
	char ks[VAL_MAX];
	*out = NULL;
	if (k->type == DL_INT) {
		*out = attr_get(t, k->u.i);
		if (!*out)
			return fail(t, DL_ENOTFOUND, form, "no attribute has id %lld",
				    (long long)k->u.i);
		return 0;
	}
	if (k->type != DL_KEYWORD || k->u.id == t->kw[K_ID]) {
		vstr(ks, sizeof ks, k);
		return fail(t, DL_EINVAL, form, "invalid attribute %s", ks);
	}
	int64_t e;
	DL_TRY(lookup_ident(t, k->u.id, &e));
	if (e) {
		*out = e > 0 ? attr_get(t, e) : NULL;
		if (!*out) {
			vstr(ks, sizeof ks, k);
			return fail(t, DL_EINVAL, form, "%s is not an attribute", ks);
		}
		return 0;
	}
	if (!create)
		return 0;
	size_t n, nsl;
	const char *name = dl_intern_name(k->u.id, &n, &nsl);
	if (name && nsl && nsl + 1 < n && name[nsl + 1] == '_') {
		vstr(ks, sizeof ks, k);
		return fail(t, DL_EINVAL, form,
			    "reverse attribute %s is only allowed as a map key (and needs a "
			    "declared ref attribute)", ks);
	}
	/* schema is optional: an unknown attribute is created, undeclared */
	dl_attr *at = DL_ARENA_NEW(t->sa, 1, dl_attr);
	if (!at)
		return DL_ENOMEM;
	memset(at, 0, sizeof *at);
	DL_TRY(new_eid(t, DL_PART_DB, &at->id));
	at->ident = k->u.id;
	DL_TRY(dl_u64map_put(&t->ov_attr, (uint64_t)at->id, (uintptr_t)at));
	DL_TRY(dl_u64map_put(&t->ov_kw, k->u.id, (uint64_t)at->id));
	op *o = VPUSH(t, t->ops, t->nops, t->cops);
	if (!o)
		return DL_ENOMEM;
	memset(o, 0, sizeof *o);
	o->kind = OP_ADD;
	o->e = at->id;
	o->a = DL_A_IDENT;
	o->v = *k;
	o->form = form;
	*out = at;
	return 0;
}

/* ---- pre-pass: attribute definitions and idents ------------------------- */

static int ov_attr_for(txc *t, int64_t e, uint32_t kw, dl_attr **out)
{
	uint64_t p;
	if (dl_u64map_get(&t->ov_attr, (uint64_t)e, &p)) {
		*out = (dl_attr *)(uintptr_t)p;
		return 0;
	}
	dl_attr *at = DL_ARENA_NEW(t->sa, 1, dl_attr);
	if (!at)
		return DL_ENOMEM;
	const dl_attr *old = dl_schema_attr(t->base, e);
	if (old) {
		*at = *old;
	} else {
		memset(at, 0, sizeof *at);
		at->id = e;
		at->ident = kw;
	}
	DL_TRY(dl_u64map_put(&t->ov_attr, (uint64_t)e, (uintptr_t)at));
	if (at->ident)
		DL_TRY(dl_u64map_put(&t->ov_kw, at->ident, (uint64_t)e));
	*out = at;
	return 0;
}

static int64_t tx_entid(const void *ctx, uint32_t kw)
{
	return ident_code(ctx, kw);
}

static int64_t enum_target(const txc *t, const dl_value *v)
{
	if (v->type == DL_KEYWORD)
		return dl_schema_entid(t->base, v->u.id);
	if (v->type == DL_INT || v->type == DL_REF)
		return v->u.i;
	return 0;
}

/* Apply one schema key (index into prop_attrs) to an attribute in the
 * overlay, so that the rest of the transaction sees it. */
static int apply_prop(txc *t, dl_attr *at, int pi, const dl_value *v, bool retract,
		      const dl_value *form)
{
	char vs[VAL_MAX];
	int64_t a = prop_attrs[pi];
	int64_t e = v ? enum_target(t, v) : 0;
	if (a == DL_A_TUPLE_ATTRS || a == DL_A_TUPLE_TYPE || a == DL_A_TUPLE_TYPES) {
		if (dl_attr_set_tuple(at, a, retract ? NULL : v, tx_entid, t) == 0) {
			at->declared = true;
			return 0;
		}
		vstr(vs, sizeof vs, v);
		return fail(t, DL_EINVAL, form, "invalid value %s for :%s (%s)", vs,
			    kw_names[K_VALUE_TYPE + pi],
			    a == DL_A_TUPLE_ATTRS ? "a vector of 2 to 8 attribute idents"
			    : a == DL_A_TUPLE_TYPE ? "a :db.type/... keyword of a scalar type, "
						     "not ref or tuple"
						   : "a vector of 2 to 8 :db.type/... keywords of "
						     "scalar types, not ref or tuple");
	}
	if (retract) {
		switch (a) {
		case DL_A_VALUE_TYPE: at->vtype = DL_VT_ANY; break;
		case DL_A_CARDINALITY: at->many = false; break;
		case DL_A_UNIQUE: at->unique = DL_UNIQUE_NONE; break;
		case DL_A_IS_COMPONENT: at->component = false; break;
		case DL_A_NO_HISTORY: at->nohistory = false; break;
		case DL_A_INDEX: at->indexed = false; break;
		default: break;
		}
		return 0;
	}
	switch (a) {
	case DL_A_VALUE_TYPE: {
		int vt = dl_vtype_of_enum(e);
		if (vt <= 0)
			goto bad;
		at->vtype = (uint8_t)vt;
		break;
	}
	case DL_A_CARDINALITY:
		if (e != DL_E_CARD_ONE && e != DL_E_CARD_MANY)
			goto bad;
		at->many = e == DL_E_CARD_MANY;
		break;
	case DL_A_UNIQUE:
		if (e != DL_E_UNIQUE_VALUE && e != DL_E_UNIQUE_IDENTITY)
			goto bad;
		at->unique = e == DL_E_UNIQUE_VALUE ? DL_UNIQUE_VALUE : DL_UNIQUE_IDENTITY;
		break;
	case DL_A_IS_COMPONENT:
	case DL_A_NO_HISTORY:
	case DL_A_INDEX:
		if (v->type != DL_BOOL)
			goto bad;
		if (a == DL_A_IS_COMPONENT)
			at->component = v->u.b;
		else if (a == DL_A_NO_HISTORY)
			at->nohistory = v->u.b;
		else
			at->indexed = v->u.b;
		break;
	default:
		break;
	}
	at->declared = true;
	return 0;
bad:
	vstr(vs, sizeof vs, v);
	return fail(t, DL_EINVAL, form, "invalid value %s for :%s", vs,
		    kw_names[K_VALUE_TYPE + pi]);
}

static int check_not_builtin(txc *t, int64_t e, const dl_value *form)
{
	if (e > 0 && e <= DL_A_BUILTIN_LAST && !t->bootstrap) {
		char an[VAL_MAX];
		return fail(t, DL_EINVAL, form, "built-in %s cannot be changed",
			    aname(t, e, an, sizeof an));
	}
	return 0;
}

static int prepass_map(txc *t, const dl_value *m, size_t fi)
{
	char vs[VAL_MAX];
	const dl_value *ident = map_get(m, t->kw[K_IDENT]);
	const dl_value *id = map_get(m, t->kw[K_ID]);
	bool props = false;
	for (uint32_t i = 0; i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i];
		if (k->type == DL_KEYWORD && prop_index(t, k->u.id) >= 0)
			props = true;
	}
	if (ident && ident->type != DL_KEYWORD)
		return 0; /* the main pass reports the type error */
	int64_t e = 0;
	if (ident)
		DL_TRY(lookup_ident(t, ident->u.id, &e));
	if (!props) {
		/* {:db/ident :color/red}: later forms may name it by its ident */
		if (!ident || e)
			return 0;
		uint32_t si;
		if (!id)
			DL_TRY(slot_new(t, NULL, &si));
		else if (is_tempid(id) && !is_tx_name(id))
			DL_TRY(slot_named(t, id, &si));
		else
			return 0;
		if (!id)
			DL_TRY(dl_u64map_put(&t->form_ent, fi + 1, (uint64_t)TEMP_CODE(si)));
		return dl_u64map_put(&t->ov_kw, ident->u.id, (uint64_t)TEMP_CODE(si));
	}
	/* an attribute definition or alteration */
	if (e && (e < 0 || !attr_get(t, e))) {
		vstr(vs, sizeof vs, ident);
		return fail(t, DL_EINVAL, m, "%s already names an entity that is not an attribute",
			    vs);
	}
	if (id) {
		if (is_tempid(id) && !is_tx_name(id)) {
			uint32_t si;
			DL_TRY(slot_named(t, id, &si));
			uint32_t r = slot_root(t, si);
			if (!e && t->slots[r].e)
				e = t->slots[r].e;
			if (!e && !ident)
				return fail(t, DL_EINVAL, m, "a new attribute needs :db/ident");
			if (!e)
				DL_TRY(new_eid(t, DL_PART_DB, &e));
			DL_TRY(slot_bind(t, si, e, m));
		} else if (id->type == DL_KEYWORD || id->type == DL_INT) {
			int64_t x = 0;
			if (id->type == DL_KEYWORD)
				DL_TRY(lookup_ident(t, id->u.id, &x));
			else
				x = id->u.i;
			if (x <= 0 || !attr_get(t, x)) {
				vstr(vs, sizeof vs, id);
				return fail(t, DL_EINVAL, m,
					    "%s is not an attribute (a new attribute needs "
					    ":db/ident and no existing :db/id)", vs);
			}
			if (e && e != x)
				return fail(t, DL_EINVAL, m,
					    ":db/id and :db/ident name different attributes");
			e = x;
		} else {
			vstr(vs, sizeof vs, id);
			return fail(t, DL_EINVAL, m, "invalid :db/id %s for an attribute", vs);
		}
	} else if (!e) {
		DL_TRY(new_eid(t, DL_PART_DB, &e));
	}
	DL_TRY(check_not_builtin(t, e, m));
	DL_TRY(dl_u64map_put(&t->form_ent, fi + 1, (uint64_t)e));
	dl_attr *at;
	DL_TRY(ov_attr_for(t, e, ident ? ident->u.id : 0, &at));
	if (ident && at->ident != ident->u.id) {
		at->ident = ident->u.id; /* a rename */
		DL_TRY(dl_u64map_put(&t->ov_kw, ident->u.id, (uint64_t)e));
	}
	for (uint32_t i = 0; i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i];
		int pi = k->type == DL_KEYWORD ? prop_index(t, k->u.id) : -1;
		if (pi >= 0)
			DL_TRY(apply_prop(t, at, pi, &m->u.items[2 * i + 1], false, m));
	}
	return 0;
}

static bool is_op(const txc *t, const dl_value *f, int k)
{
	return (f->type == DL_VECTOR || f->type == DL_LIST) && f->len >= 3 &&
	       f->u.items[0].type == DL_KEYWORD && f->u.items[0].u.id == t->kw[k] &&
	       f->u.items[2].type == DL_KEYWORD;
}

/* [:db/add "t" :db/ident :x] then [:db/add "t" :db/valueType ...]: list
 * forms defining or altering attributes. */
static int prepass_lists(txc *t, const dl_value *forms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const dl_value *f = &forms->u.items[i];
		if (!is_op(t, f, K_ADD) || f->len != 4 || f->u.items[2].u.id != t->kw[K_IDENT])
			continue;
		const dl_value *E = &f->u.items[1], *K = &f->u.items[3];
		if (!is_tempid(E) || is_tx_name(E) || K->type != DL_KEYWORD)
			continue;
		uint32_t si;
		int64_t known;
		DL_TRY(slot_named(t, E, &si));
		DL_TRY(dl_u64map_put(&t->slot_kw, si + 1, K->u.id));
		DL_TRY(lookup_ident(t, K->u.id, &known));
		if (!known)
			DL_TRY(dl_u64map_put(&t->ov_kw, K->u.id, (uint64_t)TEMP_CODE(si)));
	}
	for (size_t i = 0; i < n; i++) {
		const dl_value *f = &forms->u.items[i];
		bool add = is_op(t, f, K_ADD), retract = is_op(t, f, K_RETRACT);
		if (!add && !retract)
			continue;
		int pi = prop_index(t, f->u.items[2].u.id);
		if (pi < 0 || (add && f->len != 4) || (retract && f->len != 3 && f->len != 4))
			continue;
		const dl_value *E = &f->u.items[1];
		int64_t e = 0;
		uint32_t kw = 0;
		if (is_tempid(E) && !is_tx_name(E)) {
			uint32_t si;
			uint64_t k = 0;
			DL_TRY(slot_named(t, E, &si));
			uint32_t r = slot_root(t, si);
			e = t->slots[r].e;
			if (!e) {
				if (!dl_u64map_get(&t->slot_kw, si + 1, &k))
					return fail(t, DL_EINVAL, f, "a new attribute needs :db/ident");
				kw = (uint32_t)k;
				DL_TRY(lookup_ident(t, kw, &e));
				if (e < 0)
					e = 0;
				if (e && !attr_get(t, e))
					return fail(t, DL_EINVAL, f,
						    "ident already names an entity that is not "
						    "an attribute");
				if (!e)
					DL_TRY(new_eid(t, DL_PART_DB, &e));
				DL_TRY(slot_bind(t, si, e, f));
				DL_TRY(dl_u64map_put(&t->ov_kw, kw, (uint64_t)e));
			}
		} else if (E->type == DL_KEYWORD) {
			DL_TRY(lookup_ident(t, E->u.id, &e));
		} else if (E->type == DL_INT) {
			e = E->u.i;
		} else {
			continue; /* lookup refs: checked after writing */
		}
		if (e <= 0 || !attr_get(t, e)) {
			if (e > 0 && DL_EID_PART(e) != DL_PART_DB)
				return fail(t, DL_EINVAL, f,
					    "only attributes (entities of the db partition) "
					    "take schema keys");
			if (e <= 0)
				continue; /* an unknown ident: the main pass reports it */
		}
		DL_TRY(check_not_builtin(t, e, f));
		dl_attr *at;
		DL_TRY(ov_attr_for(t, e, kw, &at));
		DL_TRY(apply_prop(t, at, pi, f->len == 4 ? &f->u.items[3] : NULL, retract, f));
	}
	return 0;
}

/* ---- expansion ------------------------------------------------------------ */

static int push_op(txc *t, int kind, int64_t e, int64_t a, const dl_value *v,
		   const dl_value *form)
{
	op *o = VPUSH(t, t->ops, t->nops, t->cops);
	if (!o)
		return DL_ENOMEM;
	memset(o, 0, sizeof *o);
	o->kind = (uint8_t)kind;
	o->e = e;
	o->a = a;
	if (v)
		o->v = *v;
	o->form = form;
	return 0;
}

/* Values of schema attributes must name the right kind of enum. */
static int check_schema_value(txc *t, int64_t a, const dl_value *v, const dl_value *form)
{
	if (a != DL_A_VALUE_TYPE && a != DL_A_CARDINALITY && a != DL_A_UNIQUE)
		return 0;
	int64_t r = v->u.i;
	bool ok = a == DL_A_VALUE_TYPE ? dl_vtype_of_enum(r) > 0
		: a == DL_A_CARDINALITY ? (r == DL_E_CARD_ONE || r == DL_E_CARD_MANY)
		: (r == DL_E_UNIQUE_VALUE || r == DL_E_UNIQUE_IDENTITY);
	if (!ok) {
		char an[VAL_MAX];
		return fail(t, DL_EINVAL, form, "invalid value for %s",
			    aname(t, a, an, sizeof an));
	}
	return 0;
}

/* A composite tuple's datoms are the processor's (kept from its
 * components): never asserted or retracted in tx-data. */
static int refuse_composite(txc *t, const dl_attr *at, const dl_value *form)
{
	char an[VAL_MAX];
	if (!at || !at->composite)
		return 0;
	return fail(t, DL_EINVAL, form,
		    "%s is a composite tuple (:db/tupleAttrs): it is kept from its component "
		    "attributes and cannot be asserted or retracted directly",
		    aname(t, at->id, an, sizeof an));
}

static int expand_map(txc *t, const dl_value *m, int64_t fi, int64_t *code_out);

/* One value of a map entry (maps become nested entities). */
static int add_value(txc *t, int64_t e, const dl_attr *at, const dl_value *v,
		     const dl_value *form)
{
	char an[VAL_MAX];
	dl_value cv;
	DL_TRY(refuse_composite(t, at, form));
	if (v->type == DL_NIL)
		return fail(t, DL_EINVAL, form, "nil value for %s",
			    aname(t, at->id, an, sizeof an));
	if (v->type == DL_MAP) {
		if (at->vtype != DL_VT_REF)
			return fail(t, DL_ETYPE, form,
				    "nested map for %s, which is not a declared ref attribute",
				    aname(t, at->id, an, sizeof an));
		int64_t child;
		DL_TRY(expand_map(t, v, -1, &child));
		cv = dl_ref(child);
	} else {
		DL_TRY(conv_value(t, at, v, form, &cv));
		DL_TRY(check_schema_value(t, at->id, &cv, form));
	}
	return push_op(t, OP_ADD, e, at->id, &cv, form);
}

/* [:attr value] with :attr unique: a lookup ref, not a collection. */
static bool looks_like_lookup(txc *t, const dl_value *v)
{
	if ((v->type != DL_VECTOR && v->type != DL_LIST) || v->len != 2 ||
	    v->u.items[0].type != DL_KEYWORD)
		return false;
	int64_t e = ident_code(t, v->u.items[0].u.id);
	if (e <= 0)
		return false;
	const dl_attr *at = attr_get(t, e);
	return at && at->unique != DL_UNIQUE_NONE;
}

/* A tuple-typed value rather than a collection of tuples? */
static bool single_tuple(const dl_value *v)
{
	return v->type != DL_SET && v->len > 0 && v->u.items[0].type != DL_VECTOR &&
	       v->u.items[0].type != DL_LIST;
}

static int expand_reverse(txc *t, int64_t e, uint32_t kw, const dl_value *v,
			  const dl_value *form)
{
	char ks[VAL_MAX];
	size_t n, nsl;
	const char *name = dl_intern_name(kw, &n, &nsl);
	/* :ns/_attr -> :ns/attr */
	char buf[512];
	const dl_attr *at = NULL;
	if (n < sizeof buf) {
		memcpy(buf, name, nsl + 1);
		memcpy(buf + nsl + 1, name + nsl + 2, n - nsl - 2);
		uint32_t fwd = dl_intern_find(buf, n - 1);
		int64_t a = 0;
		if (fwd)
			DL_TRY(lookup_ident(t, fwd, &a));
		at = a > 0 ? attr_get(t, a) : NULL;
	}
	if (!at || at->vtype != DL_VT_REF) {
		kwstr(ks, sizeof ks, kw);
		return fail(t, DL_EINVAL, form,
			    "reverse attribute %s needs a declared ref attribute", ks);
	}
	const dl_value *items = v;
	uint32_t cnt = 1;
	if (is_coll(v) && !looks_like_lookup(t, v)) {
		items = v->u.items;
		cnt = v->len;
	}
	dl_value ref = dl_ref(e);
	for (uint32_t i = 0; i < cnt; i++) {
		const dl_value *x = &items[i];
		int64_t src;
		if (x->type == DL_MAP)
			DL_TRY(expand_map(t, x, -1, &src));
		else if (x->type == DL_NIL)
			return fail(t, DL_EINVAL, form, "nil value for %.*s", (int)n, name);
		else
			DL_TRY(resolve_entity(t, x, form, &src));
		DL_TRY(push_op(t, OP_ADD, src, at->id, &ref, form));
	}
	return 0;
}

static bool is_reverse_kw(uint32_t kw)
{
	size_t n, nsl;
	const char *name = dl_intern_name(kw, &n, &nsl);
	return name && nsl && nsl + 2 < n && name[nsl + 1] == '_';
}

/* A map form: fi is its index among the top-level forms (-1 if nested). */
static int expand_map(txc *t, const dl_value *m, int64_t fi, int64_t *code_out)
{
	const dl_value *id = map_get(m, t->kw[K_ID]);
	int64_t e;
	uint64_t pre;
	if (id) {
		if (id->type == DL_NIL)
			return fail(t, DL_EINVAL, m, "nil :db/id");
		DL_TRY(resolve_entity(t, id, m, &e));
	} else if (fi >= 0 && dl_u64map_get(&t->form_ent, (uint64_t)fi + 1, &pre)) {
		e = (int64_t)pre;
		if (e < 0)
			DL_TRY(slot_touch(t, CODE_SLOT(e)));
	} else {
		uint32_t si;
		DL_TRY(slot_new(t, NULL, &si));
		DL_TRY(slot_touch(t, si));
		e = TEMP_CODE(si);
	}
	uint32_t nattrs = 0;
	for (uint32_t i = 0; i < m->len; i++) {
		const dl_value *k = &m->u.items[2 * i], *v = &m->u.items[2 * i + 1];
		if (k->type == DL_KEYWORD && k->u.id == t->kw[K_ID])
			continue;
		nattrs++;
		if (k->type == DL_KEYWORD && is_reverse_kw(k->u.id)) {
			int64_t a = 0;
			DL_TRY(lookup_ident(t, k->u.id, &a));
			if (a <= 0) { /* not an attribute literally named :ns/_x */
				DL_TRY(expand_reverse(t, e, k->u.id, v, m));
				continue;
			}
		}
		const dl_attr *at;
		DL_TRY(resolve_attr(t, k, m, true, &at));
		if (at->many && is_coll(v) &&
		    !(at->vtype == DL_VT_REF && looks_like_lookup(t, v)) &&
		    !(at->vtype == DL_VT_TUPLE && single_tuple(v))) {
			for (uint32_t j = 0; j < v->len; j++)
				DL_TRY(add_value(t, e, at, &v->u.items[j], m));
		} else {
			DL_TRY(add_value(t, e, at, v, m));
		}
	}
	if (!nattrs)
		return fail(t, DL_EINVAL, m, "map has no attributes");
	*code_out = e;
	return 0;
}

static int expand_list(txc *t, const dl_value *f)
{
	char vs[VAL_MAX];
	if (f->len == 0 || f->u.items[0].type != DL_KEYWORD)
		return fail(t, DL_EINVAL, f, "expected [:db/add ...], [:db/retract ...], "
					    "[:db/retractEntity ...], [:db/cas ...] or a map");
	uint32_t opk = f->u.items[0].u.id;
	const dl_value *it = f->u.items;
	int64_t e;
	const dl_attr *at;
	dl_value v, old;
	if (opk == t->kw[K_ADD]) {
		if (f->len != 4)
			return fail(t, DL_EINVAL, f, ":db/add takes an entity, an attribute "
						    "and a value");
		DL_TRY(resolve_entity(t, &it[1], f, &e));
		DL_TRY(resolve_attr(t, &it[2], f, true, &at));
		DL_TRY(refuse_composite(t, at, f));
		if (it[3].type == DL_NIL || it[3].type == DL_MAP) {
			vstr(vs, sizeof vs, &it[3]);
			return fail(t, DL_EINVAL, f, "invalid value %s", vs);
		}
		DL_TRY(conv_value(t, at, &it[3], f, &v));
		DL_TRY(check_schema_value(t, at->id, &v, f));
		return push_op(t, OP_ADD, e, at->id, &v, f);
	}
	if (opk == t->kw[K_RETRACT]) {
		if (f->len != 3 && f->len != 4)
			return fail(t, DL_EINVAL, f, ":db/retract takes an entity, an "
						    "attribute and optionally a value");
		DL_TRY(resolve_entity(t, &it[1], f, &e));
		DL_TRY(resolve_attr(t, &it[2], f, false, &at));
		if (f->len == 4 && (it[3].type == DL_NIL || it[3].type == DL_MAP)) {
			vstr(vs, sizeof vs, &it[3]);
			return fail(t, DL_EINVAL, f, "invalid value %s", vs);
		}
		if (!at)
			return 0; /* an unknown attribute has no datoms to retract */
		DL_TRY(refuse_composite(t, at, f));
		if (f->len == 3)
			return push_op(t, OP_RETRACT_ATTR, e, at->id, NULL, f);
		DL_TRY(conv_value(t, at, &it[3], f, &v));
		return push_op(t, OP_RETRACT, e, at->id, &v, f);
	}
	if (opk == t->kw[K_RETRACT_ENTITY] || opk == t->kw[K_FN_RETRACT_ENTITY]) {
		if (f->len != 2)
			return fail(t, DL_EINVAL, f, ":db/retractEntity takes one entity");
		DL_TRY(resolve_entity(t, &it[1], f, &e));
		return push_op(t, OP_RETRACT_ENTITY, e, 0, NULL, f);
	}
	if (opk == t->kw[K_CAS] || opk == t->kw[K_FN_CAS]) {
		if (f->len != 5)
			return fail(t, DL_EINVAL, f, ":db/cas takes an entity, an attribute, "
						    "the expected value and the new value");
		DL_TRY(resolve_entity(t, &it[1], f, &e));
		DL_TRY(resolve_attr(t, &it[2], f, true, &at));
		DL_TRY(refuse_composite(t, at, f));
		if (at->many)
			return fail(t, DL_EINVAL, f, ":db/cas needs a cardinality-one attribute");
		if (it[4].type == DL_NIL || it[4].type == DL_MAP ||
		    it[3].type == DL_MAP) {
			vstr(vs, sizeof vs, it[4].type == DL_MAP || it[4].type == DL_NIL
						    ? &it[4] : &it[3]);
			return fail(t, DL_EINVAL, f, "invalid value %s", vs);
		}
		old = dl_nil();
		if (it[3].type != DL_NIL)
			DL_TRY(conv_value(t, at, &it[3], f, &old));
		DL_TRY(conv_value(t, at, &it[4], f, &v));
		DL_TRY(check_schema_value(t, at->id, &v, f));
		DL_TRY(push_op(t, OP_CAS, e, at->id, &v, f));
		t->ops[t->nops - 1].old = old;
		return 0;
	}
	vstr(vs, sizeof vs, &it[0]);
	return fail(t, DL_EINVAL, f, "unknown operation %s", vs);
}

/* ---- upserts and allocation ---------------------------------------------- */

typedef struct ukey {
	int64_t a;
	dl_value v;
	uint32_t slot;
} ukey;

typedef struct ukey_probe {
	const ukey *keys;
	int64_t a;
	const dl_value *v;
} ukey_probe;

static bool ukey_eq(const void *ctx, uint32_t item)
{
	const ukey_probe *p = ctx;
	return p->keys[item].a == p->a && dl_value_equal(&p->keys[item].v, p->v);
}

/* ---- composite tuples ------------------------------------------------------ */

/* A composite tuple attribute and its components (0: names no attribute;
 * the schema check reports that). */
typedef struct comp {
	const dl_attr *at;
	int64_t parts[DL_TUPLE_MAX];
} comp;

static int comp_add(txc *t, const dl_attr *at)
{
	if (!at->composite || at->tuple_bad)
		return 0;
	comp *c = VPUSH(t, t->comps, t->ncomps, t->ccomps);
	if (!c)
		return DL_ENOMEM;
	c->at = at;
	for (uint32_t k = 0; k < at->tuple_n; k++) {
		int64_t e = ident_code(t, at->tuple_kw[k]);
		c->parts[k] = e > 0 && attr_get(t, e) ? e : 0;
	}
	return 0;
}

/* The composites as this transaction sees them (after the pre-pass, so
 * with the ones it defines). */
static int composites(txc *t)
{
	if (t->comps_built)
		return 0;
	t->comps_built = true;
	const dl_attr *all;
	size_t n = dl_schema_attrs(t->base, &all);
	for (size_t i = 0; i < n; i++)
		DL_TRY(comp_add(t, attr_get(t, all[i].id)));
	for (size_t i = 0; i < t->ov_attr.cap; i++)
		if (t->ov_attr.keys[i] && !dl_schema_attr(t->base, (int64_t)t->ov_attr.keys[i]))
			DL_TRY(comp_add(t, (const dl_attr *)(uintptr_t)t->ov_attr.vals[i]));
	return 0;
}

static int comp_part(const comp *c, int64_t a)
{
	for (uint32_t k = 0; k < c->at->tuple_n; k++)
		if (c->parts[k] == a)
			return (int)k;
	return -1;
}

/* A component's value as a tuple element: an entity is its id (a number,
 * as queries see it). */
static dl_value comp_elem(const dl_value *v)
{
	dl_value x = *v;
	if (x.type == DL_REF)
		x.type = DL_INT;
	return x;
}

static dl_value tuple_of(dl_value *items, uint32_t n)
{
	dl_value v = dl_nil();
	v.type = DL_VECTOR;
	v.len = n;
	v.u.items = items;
	return v;
}

/* The values a new (temporary) entity asserts for one composite's
 * components, gathered per entity. */
typedef struct cslot {
	uint32_t slot;
	bool temp; /* a component refers to a temporary entity: no upsert */
	const dl_value *form;
	dl_value v[DL_TUPLE_MAX];
} cslot;

typedef struct ctup_probe {
	const dl_value *tuples;
	const dl_value *v;
} ctup_probe;

static bool ctup_eq(const void *ctx, uint32_t item)
{
	const ctup_probe *p = ctx;
	return dl_value_equal(&p->tuples[item], p->v);
}

/* Upsert through a composite :db.unique/identity: a new entity whose
 * asserted components make a tuple an entity already holds is that entity
 * (and two new ones making the same tuple are one). */
static int upsert_composite(txc *t, const comp *c)
{
	uint32_t nc = c->at->tuple_n;
	cslot *cs = NULL;
	size_t n = 0, cap = 0;
	dl_u64map by_slot;
	dl_u64map_init(&by_slot, t->sa);
	for (size_t i = 0; i < t->nops; i++) {
		const op *o = &t->ops[i];
		int k = o->kind == OP_ADD && o->e < 0 ? comp_part(c, o->a) : -1;
		if (k < 0)
			continue;
		uint32_t r = slot_root(t, CODE_SLOT(o->e));
		uint64_t x;
		if (!dl_u64map_get(&by_slot, r + 1, &x)) {
			cslot *y = VPUSH(t, cs, n, cap);
			if (!y)
				return DL_ENOMEM;
			memset(y, 0, sizeof *y);
			y->slot = r;
			y->form = o->form;
			for (uint32_t j = 0; j < nc; j++)
				y->v[j] = dl_nil();
			x = n - 1;
			DL_TRY(dl_u64map_put(&by_slot, r + 1, x));
		}
		cs[x].v[k] = comp_elem(&o->v);
		cs[x].temp |= o->v.type == DL_REF && o->v.u.i < 0;
	}
	dl_value *tuples = n ? DL_ARENA_NEW(t->sa, n, dl_value) : NULL;
	dl_hidx idx;
	dl_hidx_init(&idx, t->sa);
	for (size_t i = 0; i < n; i++) {
		if (cs[i].temp)
			continue;
		tuples[i] = tuple_of(cs[i].v, nc);
		uint64_t h = dl_value_hash(&tuples[i]);
		ctup_probe p = {tuples, &tuples[i]};
		int64_t k = dl_hidx_find(&idx, h, ctup_eq, &p);
		if (k >= 0)
			DL_TRY(slot_union(t, cs[k].slot, cs[i].slot, cs[i].form));
		else
			DL_TRY(dl_hidx_add(&idx, h, (uint32_t)i));
		int64_t found;
		DL_TRY(avet_find(t, c->at->id, &tuples[i], 0, &found));
		if (found)
			DL_TRY(slot_bind(t, cs[i].slot, found, cs[i].form));
	}
	return 0;
}

/* Re-assert composite c of entity e from its components' current values
 * (retract it when it has none of them). */
static int write_add(txc *t, const op *o);
static int write_retract(txc *t, const op *o);

static int composite_update(txc *t, int64_t e, const comp *c)
{
	uint32_t nc = c->at->tuple_n;
	dl_value *items = DL_ARENA_NEW(t->sa, nc, dl_value);
	if (!items)
		return DL_ENOMEM;
	dvec dv = {0};
	bool any = false;
	for (uint32_t k = 0; k < nc; k++) {
		items[k] = dl_nil();
		if (!c->parts[k])
			continue;
		DL_TRY(collect_ea(t, &dv, e, c->parts[k]));
		if (dv.n) {
			items[k] = comp_elem(&dv.d[0].v);
			any = true;
		}
	}
	op o = {0};
	o.kind = OP_ADD;
	o.e = e;
	o.a = c->at->id;
	if (any) {
		o.v = tuple_of(items, nc);
		return write_add(t, &o);
	}
	DL_TRY(collect_ea(t, &dv, e, c->at->id));
	for (size_t i = 0; i < dv.n; i++) {
		o.v = dv.d[i].v;
		DL_TRY(write_retract(t, &o));
	}
	return 0;
}

typedef struct ecomp {
	int64_t e;
	uint32_t c;
} ecomp;

typedef struct ecomp_probe {
	const ecomp *items;
	ecomp key;
} ecomp_probe;

static bool ecomp_eq(const void *ctx, uint32_t item)
{
	const ecomp_probe *p = ctx;
	return p->items[item].e == p->key.e && p->items[item].c == p->key.c;
}

/* After the writes: every composite with a component this transaction
 * asserted or retracted (also through retractEntity, cardinality-one
 * replacement or a retracted reference) gets its new value. */
static int maintain_composites(txc *t)
{
	DL_TRY(composites(t));
	if (!t->ncomps)
		return 0;
	ecomp *todo = NULL;
	size_t n = 0, cap = 0, nrd = t->nrd;
	dl_hidx idx;
	dl_hidx_init(&idx, t->sa);
	for (size_t i = 0; i < nrd; i++) {
		const dl_datom *d = &t->rd[i];
		for (uint32_t c = 0; c < t->ncomps; c++) {
			if (comp_part(&t->comps[c], d->a) < 0)
				continue;
			ecomp_probe p = {todo, {d->e, c}};
			uint64_t h = ea_hash(d->e, (int64_t)c);
			if (dl_hidx_find(&idx, h, ecomp_eq, &p) >= 0)
				continue;
			ecomp *x = VPUSH(t, todo, n, cap);
			if (!x)
				return DL_ENOMEM;
			*x = p.key;
			DL_TRY(dl_hidx_add(&idx, h, (uint32_t)(n - 1)));
		}
	}
	for (size_t i = 0; i < n; i++)
		DL_TRY(composite_update(t, todo[i].e, &t->comps[todo[i].c]));
	return 0;
}

static int upsert(txc *t)
{
	ukey *keys = NULL;
	size_t nkeys = 0, ckeys = 0;
	dl_hidx idx;
	dl_hidx_init(&idx, t->sa);
	for (size_t i = 0; i < t->nops; i++) {
		op *o = &t->ops[i];
		if (o->kind != OP_ADD || o->e >= 0)
			continue;
		const dl_attr *at = attr_get(t, o->a);
		if (at->unique != DL_UNIQUE_IDENTITY || (o->v.type == DL_REF && o->v.u.i < 0))
			continue;
		uint32_t si = CODE_SLOT(o->e);
		/* two temporary entities with one identity value are one entity */
		uint64_t h = dl_value_hash(&o->v) ^ dl_mix64((uint64_t)o->a);
		ukey_probe p = {keys, o->a, &o->v};
		int64_t k = dl_hidx_find(&idx, h, ukey_eq, &p);
		if (k >= 0) {
			DL_TRY(slot_union(t, keys[k].slot, si, o->form));
		} else {
			ukey *u = VPUSH(t, keys, nkeys, ckeys);
			if (!u)
				return DL_ENOMEM;
			u->a = o->a;
			u->v = o->v;
			u->slot = si;
			DL_TRY(dl_hidx_add(&idx, h, (uint32_t)(nkeys - 1)));
		}
		/* ... and one that already exists in the database is that entity */
		int64_t found;
		DL_TRY(avet_find(t, o->a, &o->v, 0, &found));
		if (found)
			DL_TRY(slot_bind(t, si, found, o->form));
	}
	DL_TRY(composites(t));
	for (size_t c = 0; c < t->ncomps; c++)
		if (t->comps[c].at->unique == DL_UNIQUE_IDENTITY)
			DL_TRY(upsert_composite(t, &t->comps[c]));
	return 0;
}

static int allocate(txc *t)
{
	for (size_t k = 0; k < t->norder + t->nslots; k++) {
		/* first in order of appearance, then any slot never touched */
		uint32_t i = k < t->norder ? t->order[k] : (uint32_t)(k - t->norder);
		uint32_t r = slot_root(t, i);
		if (!t->slots[r].e)
			DL_TRY(new_eid(t, DL_PART_USER, &t->slots[r].e));
	}
	return 0;
}

static inline int64_t real_e(txc *t, int64_t code)
{
	return code > 0 ? code : t->slots[slot_root(t, CODE_SLOT(code))].e;
}

/* ---- resolved ops ----------------------------------------------------------- */

typedef struct fop_probe {
	const op *fops;
	int64_t e, a;
	const dl_value *v;
} fop_probe;

static bool eav_eq(const void *ctx, uint32_t item)
{
	const fop_probe *p = ctx;
	const op *o = &p->fops[item];
	return o->e == p->e && o->a == p->a && dl_value_equal(&o->v, p->v);
}

static bool ea_eq(const void *ctx, uint32_t item)
{
	const fop_probe *p = ctx;
	const op *o = &p->fops[item];
	return o->e == p->e && o->a == p->a;
}

static uint64_t eav_hash(int64_t e, int64_t a, const dl_value *v)
{
	return ea_hash(e, a) ^ dl_value_hash(v);
}

static int push_fop(txc *t, int kind, bool implicit, int64_t e, int64_t a,
		    const dl_value *v, const dl_value *form)
{
	op *o = VPUSH(t, t->fops, t->nfops, t->cfops);
	if (!o)
		return DL_ENOMEM;
	memset(o, 0, sizeof *o);
	o->kind = (uint8_t)kind;
	o->implicit = implicit;
	o->e = e;
	o->a = a;
	o->v = *v;
	o->form = form;
	return 0;
}

/* The assertion of [e a v] among the fops, or -1.  Cardinality-one
 * assertions are found by [e a] (one value each: a second is a conflict),
 * the others by [e a v]; one probe each, as a large transaction's tables
 * are far bigger than the cache. */
static int64_t find_add(const txc *t, const dl_attr *at, int64_t e, int64_t a,
			const dl_value *v)
{
	fop_probe p = {t->fops, e, a, v};
	if (at && !at->many) {
		int64_t k = dl_hidx_find(&t->add_ea, ea_hash(e, a), ea_eq, &p);
		return k >= 0 && dl_value_equal(&t->fops[k].v, v) ? k : -1;
	}
	return dl_hidx_find(&t->add_eav, eav_hash(e, a, v), eav_eq, &p);
}

static int push_add(txc *t, int64_t e, int64_t a, const dl_value *v, const dl_value *form)
{
	char an[VAL_MAX], v1[VAL_MAX], v2[VAL_MAX];
	const dl_attr *at = attr_get(t, a);
	fop_probe p = {t->fops, e, a, v};
	if (!at->many) {
		uint64_t h = ea_hash(e, a);
		int64_t k = dl_hidx_find(&t->add_ea, h, ea_eq, &p);
		if (k >= 0 && dl_value_equal(&t->fops[k].v, v))
			return 0; /* the same assertion twice */
		if (k >= 0) {
			vstr(v1, sizeof v1, &t->fops[k].v);
			vstr(v2, sizeof v2, v);
			return fail(t, DL_ECONFLICT, form,
				    "two values for cardinality-one %s of entity %lld: %s "
				    "and %s", aname(t, a, an, sizeof an), (long long)e, v1, v2);
		}
		DL_TRY(dl_hidx_add(&t->add_ea, h, (uint32_t)t->nfops));
	} else {
		uint64_t h = eav_hash(e, a, v);
		if (dl_hidx_find(&t->add_eav, h, eav_eq, &p) >= 0)
			return 0; /* the same assertion twice */
		DL_TRY(dl_hidx_add(&t->add_eav, h, (uint32_t)t->nfops));
	}
	return push_fop(t, OP_ADD, false, e, a, v, form);
}

static int cas_check(txc *t, int64_t e, int64_t a, const dl_value *old, const dl_value *form)
{
	char an[VAL_MAX], cs[VAL_MAX], os[VAL_MAX];
	dvec cur = {0};
	DL_TRY(collect_ea(t, &cur, e, a));
	bool ok = old->type == DL_NIL ? cur.n == 0 : false;
	for (size_t i = 0; i < cur.n && !ok; i++)
		ok = dl_value_equal(&cur.d[i].v, old);
	if (ok)
		return 0;
	if (cur.n)
		vstr(cs, sizeof cs, &cur.d[0].v);
	else
		snprintf(cs, sizeof cs, "absent");
	if (old->type == DL_NIL)
		snprintf(os, sizeof os, "no value");
	else
		vstr(os, sizeof os, old);
	return fail(t, DL_ECONFLICT, form, "cas failed: %s of entity %lld is %s, expected %s",
		    aname(t, a, an, sizeof an), (long long)e, cs, os);
}

/* Every datom of e, the datoms referring to e and, recursively, those of
 * its components (a work list, not recursion: component chains can be
 * long). */
static int retract_entity(txc *t, int64_t e0, const dl_value *form)
{
	dl_u64map seen;
	dl_u64map_init(&seen, t->sa);
	int64_t *work = NULL;
	size_t nwork = 0, cwork = 0;
	dvec dv = {0};
	int64_t *w = VPUSH(t, work, nwork, cwork);
	if (!w)
		return DL_ENOMEM;
	*w = e0;
	DL_TRY(dl_u64map_put(&seen, (uint64_t)e0, 1));
	while (nwork) {
		int64_t e = work[--nwork];
		dl_datom pre = {0};
		pre.e = e;
		DL_TRY(collect(t, &dv, DL_EAVT, &pre, 1));
		for (size_t i = 0; i < dv.n; i++) {
			dl_datom *d = &dv.d[i];
			DL_TRY(push_fop(t, OP_RETRACT, true, e, d->a, &d->v, form));
			const dl_attr *at = attr_get(t, d->a);
			if (at && at->component && d->v.type == DL_REF &&
			    !dl_u64map_get(&seen, (uint64_t)d->v.u.i, NULL)) {
				DL_TRY(dl_u64map_put(&seen, (uint64_t)d->v.u.i, 1));
				if (!(w = VPUSH(t, work, nwork, cwork)))
					return DL_ENOMEM;
				*w = d->v.u.i;
			}
		}
		memset(&pre, 0, sizeof pre);
		pre.v = dl_ref(e);
		DL_TRY(collect(t, &dv, DL_VAET, &pre, 1));
		for (size_t i = 0; i < dv.n; i++) {
			dl_datom *d = &dv.d[i];
			DL_TRY(push_fop(t, OP_RETRACT, true, d->e, d->a, &d->v, form));
		}
	}
	return 0;
}

static int resolve_ops(txc *t)
{
	dvec dv = {0};
	DL_TRY(VRESERVE(t, t->fops, t->nfops, t->cfops, t->nops));
	DL_TRY(dl_hidx_reserve(&t->add_ea, t->nops));
	for (size_t i = 0; i < t->nops; i++) {
		op *o = &t->ops[i];
		int64_t e = real_e(t, o->e);
		dl_value v = o->v;
		if (v.type == DL_REF && v.u.i < 0)
			v.u.i = real_e(t, v.u.i);
		if (o->kind == OP_ADD && DL_EID_PART(e) != DL_PART_DB &&
		    o->a != DL_A_IDENT && dl_is_schema_attr(o->a)) {
			char an[VAL_MAX];
			return fail(t, DL_EINVAL, o->form,
				    "only attributes (entities of the db partition) take %s",
				    aname(t, o->a, an, sizeof an));
		}
		switch (o->kind) {
		case OP_ADD:
			DL_TRY(push_add(t, e, o->a, &v, o->form));
			break;
		case OP_RETRACT:
			DL_TRY(push_fop(t, OP_RETRACT, false, e, o->a, &v, o->form));
			break;
		case OP_RETRACT_ATTR:
			DL_TRY(collect_ea(t, &dv, e, o->a));
			for (size_t j = 0; j < dv.n; j++)
				DL_TRY(push_fop(t, OP_RETRACT, true, e, o->a, &dv.d[j].v,
						o->form));
			break;
		case OP_RETRACT_ENTITY:
			DL_TRY(retract_entity(t, e, o->form));
			break;
		case OP_CAS: {
			dl_value old = o->old;
			if (old.type == DL_REF && old.u.i < 0)
				old.u.i = real_e(t, old.u.i);
			DL_TRY(cas_check(t, e, o->a, &old, o->form));
			DL_TRY(push_add(t, e, o->a, &v, o->form));
			break;
		}
		}
	}
	/* a datom both asserted and retracted: an error when stated, otherwise
	 * (retractEntity, retract of all values) the assertion wins */
	for (size_t i = 0; i < t->nfops; i++) {
		op *o = &t->fops[i];
		if (o->kind != OP_RETRACT)
			continue;
		if (find_add(t, attr_get(t, o->a), o->e, o->a, &o->v) < 0)
			continue;
		if (o->implicit) {
			o->dropped = true;
			continue;
		}
		char an[VAL_MAX], vs[VAL_MAX];
		vstr(vs, sizeof vs, &o->v);
		return fail(t, DL_ECONFLICT, o->form,
			    "datom [%lld %s %s] is both asserted and retracted",
			    (long long)o->e, aname(t, o->a, an, sizeof an), vs);
	}
	return 0;
}

/* ---- writing -------------------------------------------------------------- */

static int record(txc *t, int64_t e, int64_t a, const dl_value *v, bool added,
		  const dl_value *form)
{
	if (!t->bootstrap && e > 0 && e <= DL_A_BUILTIN_LAST)
		DL_TRY(check_not_builtin(t, e, form));
	if (dl_is_schema_attr(a))
		t->schema_changed = true;
	dl_datom *d = VPUSH(t, t->rd, t->nrd, t->crd);
	if (!d)
		return DL_ENOMEM;
	d->e = e;
	d->a = a;
	d->tx = t->tx;
	d->added = added;
	return dl_value_copy(&d->v, t->ra, v);
}

static int write_add(txc *t, const op *o)
{
	const dl_attr *at = attr_get(t, o->a);
	unsigned fl = dl_attr_aflags(at);
	if (!at->many && !dl_u64map_get(&t->fresh, (uint64_t)o->e, NULL)) {
		/* cardinality one: the new value replaces the current one */
		dvec cur = {0};
		DL_TRY(collect_ea(t, &cur, o->e, o->a));
		for (size_t i = 0; i < cur.n; i++) {
			if (dl_value_equal(&cur.d[i].v, &o->v))
				continue;
			int rc = dl_wtxn_retract(t->w, o->e, o->a, &cur.d[i].v, fl);
			if (rc < 0)
				return rc;
			if (rc)
				DL_TRY(record(t, o->e, o->a, &cur.d[i].v, false, o->form));
		}
	}
	int rc = dl_wtxn_add(t->w, o->e, o->a, &o->v, fl);
	if (rc < 0)
		return rc;
	if (rc)
		DL_TRY(record(t, o->e, o->a, &o->v, true, o->form));
	return 0;
}

/* Runs of at least this many assertions about entities this transaction
 * created go to storage's batch writer (tests move it: dl_tx_set_batch).
 * One by one, each datom is a seek and four puts at scattered places in
 * EAVT, AEVT and AVET (a large transaction's time went there); the batch
 * sorts the run per index and writes each in key order, appending past the
 * index's end.  It costs no more than single writes from two datoms on
 * (callgrind: a map of five, 1.5% fewer instructions; one datom, the same). */
#define BATCH_MIN_DEFAULT 2
static _Atomic size_t g_batch_min = BATCH_MIN_DEFAULT;
/* A run is handed over in batches of at most this many datoms: storage
 * addresses a batch's value encodings (400 bytes at most each) with 32 bits.
 * More, smaller batches would cost pages: each later batch inserts into
 * the middle of the full pages the earlier ones appended, splitting them. */
#define BATCH_MAX_DEFAULT ((size_t)1 << 22)
static _Atomic size_t g_batch_max = BATCH_MAX_DEFAULT;

void dl_tx_set_batch(size_t min, size_t max)
{
	atomic_store_explicit(&g_batch_min, min ? min : BATCH_MIN_DEFAULT, memory_order_relaxed);
	max = max && max < BATCH_MAX_DEFAULT ? max : BATCH_MAX_DEFAULT;
	atomic_store_explicit(&g_batch_max, max, memory_order_relaxed);
}

/* An assertion that needs no look at the database before it is written: its
 * entity was created in this transaction, so it has no current value that a
 * cardinality-one assertion would replace. */
static bool batchable(const txc *t, const op *o)
{
	return o->kind == OP_ADD && dl_u64map_get(&t->fresh, (uint64_t)o->e, NULL);
}

/* Write the assertions among fops[i..j) (all batchable or dropped, n of
 * them) through storage's batch writer, in order: the log and the report
 * list them as one by one writes would. */
static int write_batch(txc *t, size_t i, size_t j, size_t n)
{
	size_t max = atomic_load_explicit(&g_batch_max, memory_order_relaxed);
	size_t cap = n < max ? n : max;
	dl_datom *d = DL_ARENA_NEW(t->sa, cap, dl_datom);
	const op **src = DL_ARENA_NEW(t->sa, cap, const op *);
	if (!d || !src)
		return DL_ENOMEM;
	while (i < j) {
		size_t m = 0;
		for (; i < j && m < cap; i++) {
			const op *o = &t->fops[i];
			if (o->dropped)
				continue;
			src[m] = o;
			d[m] = (dl_datom){.e = o->e, .a = o->a, .v = o->v};
			m++;
		}
		DL_TRY(dl_wtxn_add_batch(t->w, d, m, NULL));
		for (size_t k = 0; k < m; k++)
			if (dl_wtxn_batch_written(t->w, k))
				DL_TRY(record(t, d[k].e, d[k].a, &d[k].v, true, src[k]->form));
	}
	return 0;
}

/* Every resolved op, in order; long runs of batchable ones as batches. */
static int write_ops(txc *t)
{
	size_t min = atomic_load_explicit(&g_batch_min, memory_order_relaxed);
	/* in an import (indexes spooled) a batch's entries would be spooled, and
	 * the next single write or read of their attributes would merge every
	 * run of the import early: single writes there, as before */
	if (dl_wtxn_deferring(t->w))
		min = SIZE_MAX;
	for (size_t i = 0; i < t->nfops;) {
		size_t j = i, n = 0;
		for (; j < t->nfops && (t->fops[j].dropped || batchable(t, &t->fops[j])); j++)
			n += !t->fops[j].dropped;
		if (n >= min) {
			DL_TRY(write_batch(t, i, j, n));
			i = j;
			continue;
		}
		/* too short for a batch, then the op that ended the run */
		for (j += j < t->nfops; i < j; i++) {
			const op *o = &t->fops[i];
			if (!o->dropped)
				DL_TRY(o->kind == OP_ADD ? write_add(t, o) : write_retract(t, o));
		}
	}
	return 0;
}

static int write_retract(txc *t, const op *o)
{
	const dl_attr *at = attr_get(t, o->a);
	int rc = dl_wtxn_retract(t->w, o->e, o->a, &o->v, at ? dl_attr_aflags(at) : 0);
	if (rc < 0)
		return rc;
	if (rc)
		DL_TRY(record(t, o->e, o->a, &o->v, false, o->form));
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* [tx :db/txInstant t] goes first: given (an import), it must not go back
 * in time; otherwise it is now (or the previous instant, if the clock did). */
static int write_tx_instant(txc *t)
{
	int64_t prev = INT64_MIN;
	if (t->basis > 0) {
		dvec cur = {0};
		DL_TRY(collect_ea(t, &cur, t->basis, DL_A_TX_INSTANT));
		if (cur.n && cur.d[0].v.type == DL_INST)
			prev = cur.d[0].v.u.i;
	}
	fop_probe p = {t->fops, t->tx, DL_A_TX_INSTANT, NULL};
	int64_t k = dl_hidx_find(&t->add_ea, ea_hash(t->tx, DL_A_TX_INSTANT), ea_eq, &p);
	if (k >= 0) {
		op *o = &t->fops[k];
		o->dropped = true;
		if (o->v.u.i < prev) {
			dl_value pv = dl_inst(prev);
			char gs[VAL_MAX], ps[VAL_MAX];
			vstr(gs, sizeof gs, &o->v);
			vstr(ps, sizeof ps, &pv);
			return fail(t, DL_EINVAL, o->form,
				    "txInstant must be monotonic: %s is before the previous "
				    "transaction's %s", gs, ps);
		}
		return write_add(t, o);
	}
	int64_t now = now_ms();
	op o = {0};
	o.kind = OP_ADD;
	o.e = t->tx;
	o.a = DL_A_TX_INSTANT;
	o.v = dl_inst(now > prev ? now : prev);
	return write_add(t, &o);
}

static int bootstrap(txc *t)
{
	uint32_t kw;
	for (size_t i = 0; i < dl_builtin_nattrs; i++) {
		const dl_builtin_attr *ba = &dl_builtin_attrs[i];
		DL_TRY(dl_intern(&kw, ba->ident, strlen(ba->ident)));
		dl_value v;
		DL_TRY(dl_keyword(&v, ba->ident, strlen(ba->ident)));
		DL_TRY(dl_wtxn_add(t->w, ba->id, DL_A_IDENT, &v, 0));
		v = dl_ref(DL_E_TYPE_BASE + ba->vtype);
		DL_TRY(dl_wtxn_add(t->w, ba->id, DL_A_VALUE_TYPE, &v, DL_AF_REF));
		v = dl_ref(DL_E_CARD_ONE);
		DL_TRY(dl_wtxn_add(t->w, ba->id, DL_A_CARDINALITY, &v, DL_AF_REF));
		if (ba->unique) {
			v = dl_ref(ba->unique == DL_UNIQUE_IDENTITY ? DL_E_UNIQUE_IDENTITY
								   : DL_E_UNIQUE_VALUE);
			DL_TRY(dl_wtxn_add(t->w, ba->id, DL_A_UNIQUE, &v, DL_AF_REF));
		}
		if (ba->indexed) {
			v = dl_bool(true);
			DL_TRY(dl_wtxn_add(t->w, ba->id, DL_A_INDEX, &v, 0));
		}
	}
	for (size_t i = 0; i < dl_builtin_nenums; i++) {
		const char *name = dl_builtin_enums[i].ident;
		dl_value v;
		DL_TRY(dl_keyword(&v, name, strlen(name)));
		DL_TRY(dl_wtxn_add(t->w, dl_builtin_enums[i].id, DL_A_IDENT, &v, 0));
	}
	t->schema_changed = true;
	return 0;
}

/* ---- checks on the result ----------------------------------------------- */

static int check_unique(txc *t)
{
	char an[VAL_MAX], vs[VAL_MAX];
	for (size_t i = 0; i < t->nrd; i++) {
		dl_datom *d = &t->rd[i];
		if (!d->added)
			continue;
		const dl_attr *at = attr_get(t, d->a);
		if (!at || at->unique == DL_UNIQUE_NONE)
			continue;
		int64_t other;
		DL_TRY(avet_find(t, d->a, &d->v, d->e, &other));
		if (other) {
			vstr(vs, sizeof vs, &d->v);
			return fail(t, DL_ECONFLICT, NULL,
				    "unique conflict: %s %s is already held by entity %lld "
				    "(asserted for entity %lld)",
				    aname(t, d->a, an, sizeof an), vs, (long long)other,
				    (long long)d->e);
		}
	}
	return 0;
}

static bool tuple_same(const dl_attr *x, const dl_attr *y)
{
	if (x->tuple_keys != y->tuple_keys || x->tuple_bad != y->tuple_bad ||
	    x->composite != y->composite || x->tuple_type != y->tuple_type)
		return false;
	if (!(x->tuple_keys & 5))
		return true;
	if (x->tuple_n != y->tuple_n)
		return false;
	for (uint32_t i = 0; i < x->tuple_n; i++)
		if (x->composite ? x->tuple_kw[i] != y->tuple_kw[i]
				 : x->tuple_types[i] != y->tuple_types[i])
			return false;
	return true;
}

/* The tuple keys of attribute na (named an) in the schema after the
 * transaction: one of them, on a tuple; a composite's components are
 * attributes of one value that are not tuples; none of it changes on an
 * attribute that had it. */
static int check_tuple_schema(txc *t, const dl_schema *ns, const dl_attr *na,
			      const dl_attr *old, const char *an)
{
	char cn[VAL_MAX];
	if (!na->tuple_keys)
		goto changed;
	if (na->tuple_keys & (na->tuple_keys - 1))
		return fail(t, DL_EINVAL, NULL,
			    "%s: only one of :db/tupleAttrs, :db/tupleType and :db/tupleTypes "
			    "may be given", an);
	if (na->vtype != DL_VT_TUPLE)
		return fail(t, DL_EINVAL, NULL, "%s: :%s needs :db/valueType :db.type/tuple", an,
			    na->composite ? "db/tupleAttrs"
			    : na->tuple_type ? "db/tupleType" : "db/tupleTypes");
	if (na->tuple_bad)
		return fail(t, DL_EINVAL, NULL, "%s: malformed tuple schema", an);
	for (uint32_t k = 0; na->composite && k < na->tuple_n; k++) {
		kwstr(cn, sizeof cn, na->tuple_kw[k]);
		const dl_attr *ca = dl_schema_attr(ns, dl_schema_entid(ns, na->tuple_kw[k]));
		if (!ca)
			return fail(t, DL_EINVAL, NULL,
				    "%s: :db/tupleAttrs names %s, which is not an attribute", an, cn);
		if (ca->many)
			return fail(t, DL_EINVAL, NULL,
				    "%s: :db/tupleAttrs cannot name the cardinality-many %s", an, cn);
		if (ca->vtype == DL_VT_TUPLE)
			return fail(t, DL_EINVAL, NULL,
				    "%s: :db/tupleAttrs cannot name the tuple attribute %s", an, cn);
		for (uint32_t j = 0; j < k; j++)
			if (na->tuple_kw[j] == na->tuple_kw[k])
				return fail(t, DL_EINVAL, NULL, "%s: :db/tupleAttrs names %s twice",
					    an, cn);
	}
	if (na->composite && na->many)
		return fail(t, DL_EINVAL, NULL, "%s: a composite tuple must be cardinality one", an);
changed:
	if (old && !tuple_same(old, na)) {
		if (old->tuple_keys)
			return fail(t, DL_EINVAL, NULL,
				    "cannot change :db/tupleAttrs, :db/tupleType or :db/tupleTypes "
				    "of %s", an);
		if (na->composite)
			return fail(t, DL_EINVAL, NULL,
				    "cannot make the existing attribute %s a composite tuple "
				    "(declare a new one)", an);
	}
	return 0;
}

static bool attr_same(const dl_attr *x, const dl_attr *y)
{
	/* not the ident: a rename changes nothing this tx has checked */
	return x->vtype == y->vtype && x->many == y->many && x->unique == y->unique &&
	       x->component == y->component && x->nohistory == y->nohistory &&
	       tuple_same(x, y);
}

/* Every current value of attribute a fits type vt (declaring a type for an
 * attribute used without one). */
static int check_values_fit(txc *t, const dl_attr *na)
{
	char an[VAL_MAX], vs[VAL_MAX];
	dl_iter *it;
	dl_view view = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0}, d;
	pre.a = na->id;
	DL_TRY(dl_iter_open(&it, t->snap, DL_AEVT, &view, &pre, 1));
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if (type_ok(na->vtype, &d.v))
			continue;
		vstr(vs, sizeof vs, &d.v);
		dl_iter_close(it);
		kwstr(an, sizeof an, na->ident);
		return fail(t, DL_EINVAL, NULL,
			    "cannot declare %s as %s: entity %lld holds %s", an,
			    dl_vtype_name(na->vtype), (long long)d.e, vs);
	}
	dl_iter_close(it);
	return rc;
}

/* Adding :db/unique: existing values must already be unique. */
static int check_values_unique(txc *t, const dl_attr *na)
{
	char an[VAL_MAX], vs[VAL_MAX];
	dl_iter *it;
	dl_view view = {DL_VIEW_CURRENT, 0};
	dl_datom pre = {0}, d, prev = {0};
	bool have = false;
	pre.a = na->id;
	DL_TRY(dl_iter_open(&it, t->snap, DL_AVET, &view, &pre, 1));
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if (have && d.e != prev.e && dl_value_equal(&d.v, &prev.v)) {
			vstr(vs, sizeof vs, &d.v);
			dl_iter_close(it);
			kwstr(an, sizeof an, na->ident);
			return fail(t, DL_ECONFLICT, NULL,
				    "cannot make %s unique: entities %lld and %lld both "
				    "hold %s", an, (long long)prev.e, (long long)d.e, vs);
		}
		prev = d;
		if ((rc = dl_value_copy(&prev.v, t->sa, &d.v)) < 0)
			break;
		have = true;
	}
	dl_iter_close(it);
	return rc;
}

/* The schema after this transaction: refuse unsafe changes, and make sure
 * the transaction was checked against what the schema now says. */
static int check_schema(txc *t)
{
	char an[VAL_MAX];
	DL_TRY(dl_schema_build(&t->ns, t->snap, t->tx));
	const dl_schema *ns = t->ns;
	for (size_t i = 0; i < ns->nattrs; i++) {
		const dl_attr *na = &ns->attrs[i];
		const dl_attr *old = dl_schema_attr(t->base, na->id);
		const dl_attr *used = attr_get(t, na->id);
		kwstr(an, sizeof an, na->ident);
		if (na->component && na->vtype != DL_VT_REF)
			return fail(t, DL_EINVAL, NULL,
				    "%s: :db/isComponent needs :db.type/ref", an);
		DL_TRY(check_tuple_schema(t, ns, na, old, an));
		if (old && old->vtype != na->vtype) {
			if (old->vtype != DL_VT_ANY)
				return fail(t, DL_EINVAL, NULL,
					    "cannot change :db/valueType of %s from %s to %s",
					    an, dl_vtype_name(old->vtype),
					    dl_vtype_name(na->vtype));
			DL_TRY(check_values_fit(t, na));
		}
		if (old && old->many && !na->many)
			return fail(t, DL_EINVAL, NULL,
				    "cannot change cardinality of %s from many to one", an);
		if (old && old->unique == DL_UNIQUE_NONE && na->unique != DL_UNIQUE_NONE)
			DL_TRY(check_values_unique(t, na));
		if (!used || !attr_same(used, na))
			return fail(t, DL_EINVAL, NULL,
				    "schema change to %s was not recognised; state it in a "
				    "map such as {:db/ident %s :db/cardinality ...}", an, an);
	}
	for (size_t i = 0; i < t->base->nattrs; i++) {
		const dl_attr *oa = &t->base->attrs[i];
		if (!dl_schema_attr(ns, oa->id)) {
			kwstr(an, sizeof an, oa->ident);
			return fail(t, DL_EINVAL, NULL, "cannot retract the attribute %s", an);
		}
	}
	return dl_schema_version_put(t->w, t->tx);
}

/* ---- the transaction --------------------------------------------------------- */

static int run(txc *t, const dl_value *data)
{
	t->snap = dl_wtxn_snap(t->w);
	t->tx = dl_wtxn_tx(t->w);
	t->basis = dl_snap_basis_tx(t->snap);
	DL_TRY(dl_u64map_put(&t->fresh, (uint64_t)t->tx, 1));
	/* the caller passes the schema an earlier transaction of the same
	 * write transaction left (not committed, so not in the cache) */
	if (!t->base)
		DL_TRY(dl_schema_get(&t->base, t->snap));
	if (t->basis == 0) {
		/* the base schema of an empty store is the built-ins alone */
		t->bootstrap = true;
		DL_TRY(bootstrap(t));
		t->bootstrap = false;
	}
	size_t n = data->len;
	for (size_t i = 0; i < n; i++) {
		const dl_value *f = &data->u.items[i];
		if (f->type == DL_MAP)
			DL_TRY(prepass_map(t, f, i));
	}
	DL_TRY(prepass_lists(t, data, n));
	/* the ops and entities the forms will likely make, room made once */
	size_t nops = 0, nmaps = 0;
	for (size_t i = 0; i < n; i++) {
		const dl_value *f = &data->u.items[i];
		nops += f->type == DL_MAP ? f->len : 1;
		nmaps += f->type == DL_MAP;
	}
	DL_TRY(VRESERVE(t, t->ops, t->nops, t->cops, nops));
	DL_TRY(VRESERVE(t, t->slots, t->nslots, t->cslots, t->nslots + nmaps));
	DL_TRY(VRESERVE(t, t->order, t->norder, t->corder, t->norder + nmaps));
	t->main = true;
	for (size_t i = 0; i < n; i++) {
		const dl_value *f = &data->u.items[i];
		int64_t code;
		if (f->type == DL_MAP)
			DL_TRY(expand_map(t, f, (int64_t)i, &code));
		else if (f->type == DL_VECTOR || f->type == DL_LIST)
			DL_TRY(expand_list(t, f));
		else
			return fail(t, DL_EINVAL, f, "a transaction form must be a list or a map");
	}
	DL_TRY(upsert(t));
	DL_TRY(allocate(t));
	DL_TRY(resolve_ops(t));
	DL_TRY(VRESERVE(t, t->rd, t->nrd, t->crd, t->nrd + t->nfops + 1));
	DL_TRY(write_tx_instant(t));
	DL_TRY(write_ops(t));
	DL_TRY(maintain_composites(t));
	DL_TRY(check_unique(t));
	if (t->schema_changed)
		DL_TRY(check_schema(t));
	return 0;
}

static int report(txc *t, dl_tx_report *out)
{
	memset(out, 0, sizeof *out);
	out->tx = t->tx;
	out->basis_before = t->basis;
	size_t nt = 0;
	for (size_t k = 0; k < t->norder; k++)
		if (t->slots[t->order[k]].name.type != DL_NIL)
			nt++;
	if (nt) {
		out->tempids = DL_ARENA_NEW(t->ra, nt, dl_tx_tempid);
		if (!out->tempids)
			return DL_ENOMEM;
		for (size_t k = 0; k < t->norder; k++) {
			uint32_t i = t->order[k];
			if (t->slots[i].name.type == DL_NIL)
				continue;
			dl_tx_tempid *x = &out->tempids[out->ntempids++];
			DL_TRY(dl_value_copy(&x->tempid, t->ra, &t->slots[i].name));
			x->e = t->slots[slot_root(t, i)].e;
		}
	}
	if (t->nrd) {
		out->datoms = DL_ARENA_NEW(t->ra, t->nrd, dl_datom);
		if (!out->datoms)
			return DL_ENOMEM;
		memcpy(out->datoms, t->rd, t->nrd * sizeof *t->rd);
		out->ndatoms = t->nrd;
	}
	return 0;
}

/* A fresh context for one transaction (kw: the interned keywords). */
static void txc_init(txc *t, dl_arena *scratch, dl_arena *ra, const char *source,
		     const uint32_t *kw)
{
	memset(t, 0, sizeof *t);
	t->sa = scratch;
	t->ra = ra;
	t->source = source;
	memcpy(t->kw, kw, sizeof t->kw);
	dl_u64map_init(&t->ov_attr, t->sa);
	dl_u64map_init(&t->ov_kw, t->sa);
	dl_u64map_init(&t->form_ent, t->sa);
	dl_u64map_init(&t->slot_kw, t->sa);
	dl_u64map_init(&t->fresh, t->sa);
	dl_hidx_init(&t->slot_names, t->sa);
	dl_hidx_init(&t->add_eav, t->sa);
	dl_hidx_init(&t->add_ea, t->sa);
}

/* How messages name transaction i of n: its source, and with several
 * transactions which one it is. */
static const char *tx_source(char *buf, size_t cap, const dl_tx_opts *opts, size_t i,
			     size_t n)
{
	const char *src = opts && opts->source ? opts->source : "<tx-data>";
	if (opts && opts->sources && opts->sources[i])
		src = opts->sources[i];
	if (n == 1)
		return src;
	snprintf(buf, cap, "%s: transaction %zu of %zu", src, i + 1, n);
	return buf;
}

/* Make the current error start with "src: " (the processor's own messages
 * do; storage's and the allocator's do not). */
static void name_error(int rc, const char *src)
{
	const char *m = dl_errmsg();
	size_t n = strlen(src);
	if (strncmp(m, src, n) == 0 && m[n] == ':')
		return;
	if (!m[0])
		dl_error(rc, "%s", dl_errstr(rc));
	dl_error_prefix("%s", src);
}

/* ---- transactions in a caller's write transaction ----------------------------- */

struct dl_tx_seq {
	dl_wtxn *w;  /* gone after the commit */
	dl_store *s;
	uint32_t kw[K_COUNT];
	/* the schema after the last transaction of the sequence that changed
	 * it (ours until published after the commit) */
	dl_schema *carry;
	dl_arena scratch;
};

/* The keywords the processor compares with, interned once per process
 * (ids never change): not again by every transaction. */
static int tx_keywords(uint32_t kw[K_COUNT])
{
	static _Atomic uint32_t g_kw[K_COUNT];
	static atomic_bool g_ready;
	if (!atomic_load_explicit(&g_ready, memory_order_acquire)) {
		for (int k = 0; k < K_COUNT; k++) {
			uint32_t id;
			DL_TRY(dl_intern(&id, kw_names[k], strlen(kw_names[k])));
			atomic_store_explicit(&g_kw[k], id, memory_order_relaxed);
		}
		/* a racing thread stores the same ids */
		atomic_store_explicit(&g_ready, true, memory_order_release);
	}
	for (int k = 0; k < K_COUNT; k++)
		kw[k] = atomic_load_explicit(&g_kw[k], memory_order_relaxed);
	return 0;
}

int dl_tx_seq_new(dl_tx_seq **out, dl_wtxn *w)
{
	assert(out && w);
	*out = NULL;
	dl_tx_seq *q = dl_calloc(1, sizeof *q);
	if (!q)
		return DL_ENOMEM;
	int rc = tx_keywords(q->kw);
	if (rc < 0) {
		dl_free(q);
		return rc;
	}
	q->w = w;
	q->s = dl_snap_store(dl_wtxn_snap(w));
	q->scratch.chunk_size = 64 * 1024;
	*out = q;
	return 0;
}

int dl_tx_seq_schema(const dl_schema **out, dl_tx_seq *q)
{
	if (q->carry) {
		*out = q->carry;
		return 0;
	}
	/* no schema change in the write transaction: the committed schema */
	return dl_schema_get(out, dl_wtxn_snap(q->w));
}

int dl_tx_seq_run(dl_tx_seq *q, dl_tx_report *out, dl_arena *a, const dl_value *tx_data,
		  const char *source)
{
	txc t;
	txc_init(&t, &q->scratch, a, source, q->kw);
	if (tx_data->type != DL_VECTOR && tx_data->type != DL_LIST)
		return fail(&t, DL_EINVAL, tx_data, "tx-data must be a vector of forms");
	t.w = q->w;
	t.base = q->carry;
	int rc = run(&t, tx_data);
	if (rc == 0)
		rc = report(&t, out);
	if (rc == 0 && t.ns) {
		/* t.base (maybe the old carry) is no longer used */
		dl_schema_free(q->carry);
		q->carry = t.ns;
		t.ns = NULL;
	}
	dl_schema_free(t.ns);
	dl_arena_reset(&q->scratch);
	return rc;
}

void dl_tx_seq_committed(dl_tx_seq *q)
{
	if (!q->carry)
		return;
	/* committed: readers of this version may now share it */
	if (dl_schema_publish(q->s, &q->carry) < 0) {
		dl_schema_free(q->carry);
		dl_error_clear(); /* the cache rebuilds it on demand */
	}
	q->carry = NULL;
}

void dl_tx_seq_free(dl_tx_seq *q)
{
	if (!q)
		return;
	dl_schema_free(q->carry);
	dl_arena_free(&q->scratch);
	dl_free(q);
}

int dl_tx_run_many(dl_tx_report *out, dl_arena *a, dl_store *s, const dl_value *tx_datas,
		   size_t n, const dl_tx_opts *opts)
{
	if (n == 0)
		return 0;
	assert(out && a && s && tx_datas);
	char name[1024];
	/* the shape of every tx-data first: no write lock for a bad one */
	for (size_t i = 0; i < n; i++) {
		if (tx_datas[i].type == DL_VECTOR || tx_datas[i].type == DL_LIST)
			continue;
		uint32_t kw[K_COUNT] = {0};
		txc t;
		txc_init(&t, NULL, NULL, tx_source(name, sizeof name, opts, i, n), kw);
		return fail(&t, DL_EINVAL, &tx_datas[i], "tx-data must be a vector of forms");
	}
	dl_wtxn *w;
	DL_TRY(dl_wtxn_begin(&w, s));
	dl_tx_seq *q;
	int rc = dl_tx_seq_new(&q, w);
	if (rc < 0) {
		dl_wtxn_abort(w);
		return rc;
	}
	const dl_schema *before = NULL;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *src = tx_source(name, sizeof name, opts, i, n);
		if (i > 0 && (rc = dl_wtxn_next_tx(w)) < 0) {
			name_error(rc, src);
			break;
		}
		if (i == 0 && opts && opts->before_commit && (rc = dl_tx_seq_schema(&before, q)) < 0)
			break;
		rc = dl_tx_seq_run(q, &out[i], a, &tx_datas[i], src);
		if (rc < 0 && n > 1)
			name_error(rc, src);
	}
	if (rc == 0 && opts && opts->before_commit)
		rc = opts->before_commit(opts->ud, before, out, n);
	if (rc < 0)
		dl_wtxn_abort(w);
	else if ((rc = dl_wtxn_commit(w)) == 0)
		dl_tx_seq_committed(q);
	dl_tx_seq_free(q);
	return rc;
}

int dl_tx_run(dl_tx_report *out, dl_arena *a, dl_store *s, const dl_value *tx_data,
	      const dl_tx_opts *opts)
{
	assert(out && a && s && tx_data);
	dl_tx_opts o = DL_TX_OPTS_INIT;
	if (opts) {
		o.source = opts->source;
		o.before_commit = opts->before_commit;
		o.ud = opts->ud;
	}
	return dl_tx_run_many(out, a, s, tx_data, 1, &o);
}
