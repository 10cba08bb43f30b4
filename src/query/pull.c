/*
 * query/pull: pull patterns and entity maps (see pull.h for the semantics).
 *
 * Compiling turns the pattern value into a tree of dl_pull_pattern nodes,
 * each an array of specs with attribute ids resolved against the schema.
 *
 * Running is iterative, so deep recursion ({:a ...} down a long chain)
 * never grows the C stack: a stack of frames, one per entity being pulled
 * on the current path.  A frame is built in one go: every datom the
 * pattern needs from its entity is read (one EAVT iterator per entity:
 * a scan for *, a seek per named attribute; a VAET iterator per reverse
 * attribute) into slots, one slot per
 * output key; a slot holds values that are ready and entity ids still to be
 * pulled with a nested pattern.  The loop then pushes a frame for each
 * pending id in turn, and when a frame has nothing pending it becomes a map
 * that is handed to the slot of the frame below.  No iterator stays open
 * across frames.
 *
 * Memory: values go to the caller's arena.  A frame's slots (and the
 * recursion limit it brings) sit in one heap block freed when the frame is
 * done, so bookkeeping stays proportional to the path, not to the result.
 * The frame stack, the set of entities entered on the path and a few
 * buffers are heap arrays reused across the entities of one call.
 */
#include "query/pull.h"

#include "tx/tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compiled patterns ---------------------------------------------------- */

enum { PS_ATTR = 1, PS_REV, PS_DBID };

typedef struct pspec {
	uint8_t kind;        /* PS_* */
	bool has_default;
	bool limit_set;      /* :limit given (then limit 0 = no limit) */
	int32_t rec;         /* 0: not recursive; -1: `...`; n > 0: n levels */
	int64_t aid;         /* PS_ATTR, PS_REV: the attribute */
	int64_t limit;
	dl_value key;        /* output key: the keyword as written, or :as */
	dl_value def;        /* :default (copied into the pattern's arena) */
	const dl_pull_pattern *sub; /* nested pattern, or NULL */
} pspec;

struct dl_pull_pattern {
	bool wildcard;
	uint64_t max_maps;   /* budget of a run (the root pattern's counts) */
	uint32_t n;
	const pspec *specs;
	uint32_t nfwd;
	const int64_t *fwd;  /* sorted distinct ids of the forward attributes
				named explicitly: * leaves them to their spec */
};

/* The pattern a component is pulled with when none is given. */
static const dl_pull_pattern k_wildcard = {true, 0, 0, NULL, 0, NULL};

/* An attribute missing from the schema the pattern runs with (compiled
 * against another snapshot): plain, cardinality one. */
static const dl_attr k_plain_attr = {0};

static bool name_is(const dl_value *v, const char *s)
{
	size_t n = strlen(s);
	if (v->type == DL_STRING)
		return v->len == n && memcmp(v->u.s, s, n) == 0;
	if (v->type == DL_SYMBOL || v->type == DL_KEYWORD) {
		size_t len, ns;
		const char *nm = dl_intern_name(v->u.id, &len, &ns);
		return nm && ns == 0 && len == n && memcmp(nm, s, n) == 0;
	}
	return false;
}

static bool is_wildcard(const dl_value *v)
{
	return (v->type == DL_SYMBOL || v->type == DL_STRING || v->type == DL_KEYWORD) &&
	       name_is(v, "*");
}

/* ---- compiling ------------------------------------------------------------ */

typedef struct pcomp {
	dl_arena *a;
	const dl_schema *sch;
	const char *source;
	uint32_t kw_dbid;
} pcomp;

#define FORM_MAX 160

/* Print v into dst (cap bytes), cut with "..." when longer. */
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
		while (n > 0 && ((unsigned char)b.data[n] & 0xC0) == 0x80)
			n--; /* never cut a UTF-8 sequence */
		memcpy(dst, b.data, n);
		memcpy(dst + n, "...", 4);
	}
	dl_buf_free(&b);
}

static int perr(const pcomp *c, int code, const dl_value *form, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(const pcomp *c, int code, const dl_value *form, const char *fmt, ...)
{
	char msg[512], fs[FORM_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (form) {
		vstr(fs, sizeof fs, form);
		return dl_error(code, "%s: %s in %s", c->source, msg, fs);
	}
	return dl_error(code, "%s: %s", c->source, msg);
}

static bool attr_is_ref(const pcomp *c, int64_t aid)
{
	const dl_attr *at = dl_schema_attr(c->sch, aid);
	return at && at->vtype == DL_VT_REF;
}

/* An attribute name: :ns/attr, :ns/_attr (reverse) or :db/id. */
static int parse_attr_name(pcomp *c, const dl_value *v, pspec *sp, const dl_value *form)
{
	char vs[FORM_MAX];
	if (v->type != DL_KEYWORD) {
		vstr(vs, sizeof vs, v);
		return perr(c, DL_EINVAL, form, "expected an attribute keyword, got %s", vs);
	}
	sp->key = *v;
	if (v->u.id == c->kw_dbid) {
		sp->kind = PS_DBID;
		return 0;
	}
	int64_t e = dl_schema_entid(c->sch, v->u.id);
	if (e && dl_schema_attr(c->sch, e)) {
		sp->kind = PS_ATTR;
		sp->aid = e;
		return 0;
	}
	size_t n, nsl;
	const char *s = dl_intern_name(v->u.id, &n, &nsl);
	size_t off = nsl ? nsl + 1 : 0;
	if (!e && s && off + 1 < n && s[off] == '_') {
		/* :ns/_name: the reverse of :ns/name */
		dl_buf b = DL_BUF_INIT;
		int rc = dl_buf_append(&b, s, off);
		if (rc == 0)
			rc = dl_buf_append(&b, s + off + 1, n - off - 1);
		if (rc < 0) {
			dl_buf_free(&b);
			return rc;
		}
		uint32_t fk = dl_intern_find(b.data, b.len);
		dl_buf_free(&b);
		int64_t fe = fk ? dl_schema_entid(c->sch, fk) : 0;
		if (fe && dl_schema_attr(c->sch, fe)) {
			if (!attr_is_ref(c, fe))
				return perr(c, DL_EINVAL, form,
					    ":%.*s is the reverse of :%.*s%.*s, which is not a ref attribute",
					    (int)n, s, (int)off, s, (int)(n - off - 1), s + off + 1);
			sp->kind = PS_REV;
			sp->aid = fe;
			return 0;
		}
	}
	if (e)
		return perr(c, DL_EINVAL, form, ":%.*s names an entity that is not an attribute",
			    (int)n, s ? s : "");
	return perr(c, DL_ENOTFOUND, form, "unknown attribute :%.*s", (int)n, s ? s : "");
}

static int parse_limit(pcomp *c, const dl_value *v, pspec *sp, const dl_value *form)
{
	if (v->type == DL_NIL) {
		sp->limit_set = true;
		sp->limit = 0;
		return 0;
	}
	if (v->type == DL_INT && v->u.i > 0) {
		sp->limit_set = true;
		sp->limit = v->u.i;
		return 0;
	}
	char vs[FORM_MAX];
	vstr(vs, sizeof vs, v);
	return perr(c, DL_EINVAL, form, ":limit takes a positive integer or nil, got %s", vs);
}

static int set_default(pcomp *c, const dl_value *v, pspec *sp)
{
	/* :default nil is no default (nothing to show) */
	if (v->type == DL_NIL)
		return 0;
	sp->has_default = true;
	return dl_value_copy(&sp->def, c->a, v);
}

/* [attr option value ...] / (attr ...), or the legacy (limit attr n) and
 * (default attr value). */
static int parse_attr_opts(pcomp *c, const dl_value *v, pspec *sp)
{
	const dl_value *it = v->u.items;
	size_t n = v->len;
	if (n == 0)
		return perr(c, DL_EINVAL, v, "an attribute with options needs an attribute");
	bool legacy_limit = (it[0].type == DL_SYMBOL || it[0].type == DL_STRING) &&
			    name_is(&it[0], "limit");
	bool legacy_default = (it[0].type == DL_SYMBOL || it[0].type == DL_STRING) &&
			      name_is(&it[0], "default");
	if (legacy_limit || legacy_default) {
		if (n != 3)
			return perr(c, DL_EINVAL, v, "expected (%s attribute %s)",
				    legacy_limit ? "limit" : "default",
				    legacy_limit ? "limit" : "value");
		DL_TRY(parse_attr_name(c, &it[1], sp, v));
		if (legacy_limit)
			return parse_limit(c, &it[2], sp, v);
		return set_default(c, &it[2], sp);
	}
	DL_TRY(parse_attr_name(c, &it[0], sp, v));
	for (size_t i = 1; i < n; i += 2) {
		char vs[FORM_MAX];
		const dl_value *k = &it[i];
		if (k->type != DL_KEYWORD || !(name_is(k, "as") || name_is(k, "limit") ||
					       name_is(k, "default"))) {
			vstr(vs, sizeof vs, k);
			if (k->type == DL_KEYWORD && name_is(k, "xform"))
				return perr(c, DL_EINVAL, v, "the pull option :xform is not supported");
			return perr(c, DL_EINVAL, v,
				    "unknown pull option %s (expected :as, :limit or :default)", vs);
		}
		if (i + 1 >= n) {
			vstr(vs, sizeof vs, k);
			return perr(c, DL_EINVAL, v, "pull option %s needs a value", vs);
		}
		const dl_value *val = &it[i + 1];
		if (name_is(k, "as"))
			DL_TRY(dl_value_copy(&sp->key, c->a, val));
		else if (name_is(k, "limit"))
			DL_TRY(parse_limit(c, val, sp, v));
		else
			DL_TRY(set_default(c, val, sp));
	}
	return 0;
}

/* A recursion limit: 1 with *rec set, or 0 if v is not one. */
static int parse_recursion(const dl_value *v, int32_t *rec)
{
	if (v->type == DL_INT && v->u.i > 0) {
		*rec = v->u.i > INT32_MAX ? INT32_MAX : (int32_t)v->u.i;
		return 1;
	}
	if ((v->type == DL_SYMBOL || v->type == DL_STRING) && name_is(v, "...")) {
		*rec = -1;
		return 1;
	}
	return 0;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

static int compile_pattern(pcomp *c, const dl_value *v, int depth, const dl_pull_pattern **out);

/* One entry {k val} of a map spec into *sp. */
static int parse_map_entry(pcomp *c, const dl_value *k, const dl_value *val, pspec *sp,
			   const dl_value *form, int depth)
{
	char vs[FORM_MAX];
	if (k->type == DL_KEYWORD) {
		DL_TRY(parse_attr_name(c, k, sp, form));
	} else if (k->type == DL_VECTOR || k->type == DL_LIST) {
		DL_TRY(parse_attr_opts(c, k, sp));
	} else {
		vstr(vs, sizeof vs, k);
		return perr(c, DL_EINVAL, form,
			    "a map spec's key must be an attribute or an attribute with options, got %s",
			    vs);
	}
	if (sp->kind == PS_DBID)
		return perr(c, DL_EINVAL, form, ":db/id takes no nested pattern");
	if (sp->kind == PS_ATTR && !attr_is_ref(c, sp->aid)) {
		size_t n;
		uint32_t kw = dl_schema_ident(c->sch, sp->aid);
		const char *s = kw ? dl_intern_name(kw, &n, NULL) : NULL;
		return perr(c, DL_EINVAL, form,
			    ":%.*s is not a ref attribute, so it takes no nested pattern or "
			    "recursion",
			    s ? (int)n : 1, s ? s : "?");
	}
	if (parse_recursion(val, &sp->rec))
		return 0;
	if (val->type == DL_VECTOR || val->type == DL_LIST)
		return compile_pattern(c, val, depth + 1, &sp->sub);
	vstr(vs, sizeof vs, val);
	return perr(c, DL_EINVAL, form,
		    "a map spec's value must be a pattern (a vector) or a recursion limit "
		    "(a positive integer or ...), got %s",
		    vs);
}

static int compile_pattern(pcomp *c, const dl_value *v, int depth, const dl_pull_pattern **out)
{
	char vs[FORM_MAX];
	if (depth > DL_PULL_MAX_PATTERN_DEPTH)
		return perr(c, DL_ELIMIT, NULL, "pull pattern nested deeper than %d",
			    DL_PULL_MAX_PATTERN_DEPTH);
	if (v->type != DL_VECTOR && v->type != DL_LIST) {
		vstr(vs, sizeof vs, v);
		return perr(c, DL_EINVAL, NULL, "a pull pattern must be a vector, got %s", vs);
	}
	size_t n = 0;
	for (uint32_t i = 0; i < v->len; i++) {
		const dl_value *x = &v->u.items[i];
		n += x->type == DL_MAP ? x->len : is_wildcard(x) ? 0 : 1;
	}
	dl_pull_pattern *p = DL_ARENA_NEW(c->a, 1, dl_pull_pattern);
	pspec *specs = n ? DL_ARENA_NEW(c->a, n, pspec) : NULL;
	int64_t *fwd = n ? DL_ARENA_NEW(c->a, n, int64_t) : NULL;
	if (!p || (n && (!specs || !fwd)))
		return DL_ENOMEM;
	memset(p, 0, sizeof *p);
	if (n)
		memset(specs, 0, n * sizeof *specs);
	size_t k = 0;
	for (uint32_t i = 0; i < v->len; i++) {
		const dl_value *x = &v->u.items[i];
		if (is_wildcard(x)) {
			p->wildcard = true;
			continue;
		}
		switch (x->type) {
		case DL_KEYWORD:
			DL_TRY(parse_attr_name(c, x, &specs[k++], v));
			break;
		case DL_VECTOR:
		case DL_LIST:
			DL_TRY(parse_attr_opts(c, x, &specs[k++]));
			break;
		case DL_MAP:
			for (uint32_t j = 0; j < x->len; j++) {
				DL_TRY(parse_map_entry(c, &x->u.items[2 * j], &x->u.items[2 * j + 1],
						       &specs[k++], x, depth));
			}
			break;
		default:
			vstr(vs, sizeof vs, x);
			return perr(c, DL_EINVAL, v,
				    "expected an attribute, *, a map spec or an attribute with "
				    "options in a pull pattern, got %s",
				    vs);
		}
	}
	size_t nf = 0;
	for (size_t i = 0; i < k; i++)
		if (specs[i].kind == PS_ATTR)
			fwd[nf++] = specs[i].aid;
	if (nf > 1) {
		qsort(fwd, nf, sizeof *fwd, cmp_i64);
		size_t w = 1;
		for (size_t i = 1; i < nf; i++)
			if (fwd[i] != fwd[w - 1])
				fwd[w++] = fwd[i];
		nf = w;
	}
	p->n = (uint32_t)k;
	p->specs = specs;
	p->nfwd = (uint32_t)nf;
	p->fwd = fwd;
	*out = p;
	return 0;
}

int dl_pull_compile(dl_pull_pattern **out, dl_arena *a, const dl_value *pattern,
		    dl_snap *snap, const char *source)
{
	assert(out && a && pattern && snap);
	*out = NULL;
	pcomp c = {a, NULL, source ? source : "<pull>", 0};
	DL_TRY(dl_schema_get(&c.sch, snap));
	DL_TRY(dl_intern(&c.kw_dbid, "db/id", 5));
	const dl_pull_pattern *p;
	DL_TRY(compile_pattern(&c, pattern, 0, &p));
	dl_pull_pattern *root = (dl_pull_pattern *)p;
	root->max_maps = DL_PULL_MAX_MAPS;
	*out = root;
	return 0;
}

void dl_pull_set_max_maps(dl_pull_pattern *p, uint64_t max_maps)
{
	assert(p);
	p->max_maps = max_maps ? max_maps : DL_PULL_MAX_MAPS;
}

/* ---- running: state ------------------------------------------------------- */

/* A recursion limit in force on the current path (newest first). */
typedef struct limnode {
	const pspec *sp;
	int32_t left;
	const struct limnode *next;
} limnode;

enum { SL_VAL = 0, SL_ONE, SL_MANY };

/* One output key of a frame's map. */
typedef struct pslot {
	dl_value key;
	uint32_t order;      /* position in the pattern: a later spec wins a key */
	uint8_t kind;        /* SL_VAL: val; SL_ONE/SL_MANY: vals[0..n) */
	bool mark;           /* nested pulls enter (and check) the path set */
	bool recursive;      /* nested pulls use the frame's own pattern */
	const pspec *sp;
	const dl_pull_pattern *pat; /* for nested pulls (non-recursive) */
	uint32_t n;
	dl_value val;
	dl_value *vals;      /* results; vals[i] is pending while ids[i] != 0 */
	int64_t *ids;
	size_t off;          /* while building: where vals/ids sit in r->vb/r->ib */
} pslot;

typedef struct frame {
	int64_t e;
	const dl_pull_pattern *pat;
	const limnode *lim;
	void *mem;           /* the heap block holding slots (and a limnode) */
	pslot *slots;
	uint32_t nslots, si, ti;
	bool marked;         /* e is in the path set because of this frame */
	bool read_any;       /* some datom of e was read */
} frame;

/* A map entry being assembled. */
typedef struct ment {
	dl_value key, val;
	uint32_t order;
	bool keep;
} ment;

typedef struct prun {
	dl_arena *a;         /* results */
	dl_snap *snap;
	dl_view view;
	const dl_schema *sch;
	bool history;
	dl_value kw_dbid;
	frame *st;
	size_t nst, cst;
	int64_t *set;        /* entities entered on the path: open addressing */
	size_t nset, cset;
	dl_value *tv;        /* values of the attribute being read */
	int64_t *ttx;        /* ... and the tx of their latest assertion */
	size_t ntv, ctv, cttx;
	pslot *sb;           /* slots of the frame being built */
	size_t nsb, csb;
	dl_value *vb;        /* ... their pending values and ids */
	int64_t *ib;
	size_t nvb, cvb, cib;
	ment *mb;            /* entries of the map being assembled */
	size_t cmb;
	uint64_t maps, max_maps;
} prun;

/* Make the heap array at *pp (a pointer to any object pointer) hold at
 * least `need` items of `size` bytes; *cap counts items. */
static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	void *p;
	memcpy(&p, pp, sizeof p);
	void *q = dl_realloc(p, nc * size);
	if (!q)
		return DL_ENOMEM;
	memcpy(pp, &q, sizeof q);
	*cap = nc;
	return 0;
}

static int prun_init(prun *r, dl_arena *a, dl_snap *snap, const dl_view *view)
{
	memset(r, 0, sizeof *r);
	r->a = a;
	r->snap = snap;
	r->view = view ? *view : (dl_view){DL_VIEW_CURRENT, 0};
	r->history = r->view.kind == DL_VIEW_HISTORY;
	DL_TRY(dl_schema_get(&r->sch, snap));
	return dl_keyword(&r->kw_dbid, "db/id", 5);
}

static void prun_fini(prun *r)
{
	for (size_t i = 0; i < r->nst; i++)
		dl_free(r->st[i].mem);
	dl_free(r->st);
	dl_free(r->set);
	dl_free(r->tv);
	dl_free(r->ttx);
	dl_free(r->sb);
	dl_free(r->vb);
	dl_free(r->ib);
	dl_free(r->mb);
}

static const dl_attr *attr_of(const prun *r, int64_t a)
{
	const dl_attr *at = dl_schema_attr(r->sch, a);
	return at ? at : &k_plain_attr;
}

/* The key of attribute a in * and entity maps: its ident (or its id). */
static dl_value attr_key(const prun *r, int64_t a)
{
	uint32_t kw = dl_schema_ident(r->sch, a);
	if (!kw)
		return dl_int(a);
	dl_value v = {.type = DL_KEYWORD};
	v.u.id = kw;
	return v;
}

static int dbid_map(prun *r, int64_t e, dl_value *out)
{
	dl_value *it = DL_ARENA_NEW(r->a, 2, dl_value);
	if (!it)
		return DL_ENOMEM;
	it[0] = r->kw_dbid;
	it[1] = dl_int(e);
	*out = (dl_value){.type = DL_MAP, .len = 1};
	out->u.items = it;
	return 0;
}

/* ---- the path set --------------------------------------------------------- */

static size_t set_home(const prun *r, int64_t e)
{
	uint64_t h = (uint64_t)e * 0x9E3779B97F4A7C15ull;
	return (size_t)(h ^ (h >> 29)) & (r->cset - 1);
}

static bool set_has(const prun *r, int64_t e)
{
	if (!r->nset)
		return false;
	for (size_t i = set_home(r, e);; i = (i + 1) & (r->cset - 1)) {
		if (r->set[i] == e)
			return true;
		if (r->set[i] == 0)
			return false;
	}
}

static int set_add(prun *r, int64_t e)
{
	if ((r->nset + 1) * 2 > r->cset) {
		size_t oc = r->cset, nc = oc ? oc * 2 : 64;
		int64_t *old = r->set, *ns = dl_calloc(nc, sizeof *ns);
		if (!ns)
			return DL_ENOMEM;
		r->set = ns;
		r->cset = nc;
		for (size_t i = 0; i < oc; i++) {
			if (old[i]) {
				size_t j = set_home(r, old[i]);
				while (ns[j])
					j = (j + 1) & (nc - 1);
				ns[j] = old[i];
			}
		}
		dl_free(old);
	}
	size_t i = set_home(r, e);
	while (r->set[i] && r->set[i] != e)
		i = (i + 1) & (r->cset - 1);
	if (!r->set[i]) {
		r->set[i] = e;
		r->nset++;
	}
	return 0;
}

/* Remove e, shifting the entries after it back (no tombstones). */
static void set_del(prun *r, int64_t e)
{
	size_t mask = r->cset - 1, i = set_home(r, e);
	while (r->set[i] != e) {
		if (r->set[i] == 0)
			return;
		i = (i + 1) & mask;
	}
	r->nset--;
	for (size_t j = (i + 1) & mask; r->set[j]; j = (j + 1) & mask) {
		size_t h = set_home(r, r->set[j]);
		/* move set[j] into the hole at i unless its home lies in (i, j] */
		bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!stays) {
			r->set[i] = r->set[j];
			i = j;
		}
	}
	r->set[i] = 0;
}

/* ---- reading datoms --------------------------------------------------------- */

/* Take datom d's value for the attribute being read: 0 go on, 1 the limit
 * (0: none) is reached and d was not taken, or an error.  In a history view
 * an [e a v] comes as several records: a value is taken once, if asserted,
 * remembering its latest assertion. */
static int take(prun *r, const dl_datom *d, int64_t limit)
{
	if (!d->added)
		return 0;
	if (r->history && r->ntv && dl_value_equal(&r->tv[r->ntv - 1], &d->v)) {
		if (d->tx > r->ttx[r->ntv - 1])
			r->ttx[r->ntv - 1] = d->tx;
		return 0;
	}
	if (limit && r->ntv >= (size_t)limit)
		return 1;
	DL_TRY(grow(&r->tv, &r->ctv, r->ntv + 1, sizeof *r->tv));
	DL_TRY(grow(&r->ttx, &r->cttx, r->ntv + 1, sizeof *r->ttx));
	DL_TRY(dl_value_copy(&r->tv[r->ntv], r->a, &d->v));
	r->ttx[r->ntv++] = d->tx;
	return 0;
}

/* How many values to read of an attribute: cardinality one reads one
 * (history: all, to find the latest). */
static int64_t read_limit(const prun *r, bool many, const pspec *sp)
{
	if (!many)
		return r->history ? 0 : 1;
	return sp && sp->limit_set ? sp->limit : DL_PULL_DEFAULT_LIMIT;
}

/* After reading a cardinality-one attribute: keep the latest assertion. */
static void settle_one(prun *r, bool many)
{
	if (many || r->ntv <= 1)
		return;
	size_t best = 0;
	for (size_t i = 1; i < r->ntv; i++)
		if (r->ttx[i] > r->ttx[best])
			best = i;
	r->tv[0] = r->tv[best];
	r->ttx[0] = r->ttx[best];
	r->ntv = 1;
}

/* Read attribute a of f->e into r->tv through `it`, an EAVT iterator over
 * f->e's datoms: seek to the attribute, read while it lasts. */
static int read_attr(prun *r, frame *f, dl_iter *it, int64_t a, bool many, int64_t limit)
{
	r->ntv = 0;
	dl_datom key = {.e = f->e, .a = a, .v = dl_nil()}, d;
	DL_TRY(dl_iter_seek(it, &key));
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0 && d.a == a) {
		f->read_any = true;
		if ((rc = take(r, &d, limit)) != 0)
			break;
	}
	if (rc < 0)
		return rc;
	settle_one(r, many);
	return 0;
}

/* The entities whose attribute a refers to f->e, as refs in r->tv. */
static int read_rev(prun *r, frame *f, int64_t a, int64_t limit)
{
	r->ntv = 0;
	dl_iter *it;
	dl_datom pre = {.a = a, .v = dl_ref(f->e)}, d;
	DL_TRY(dl_iter_open(&it, r->snap, DL_VAET, &r->view, &pre, 2));
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		f->read_any = true;
		dl_datom x = d;
		x.v = dl_ref(d.e);
		if ((rc = take(r, &x, limit)) != 0)
			break;
	}
	dl_iter_close(it);
	return rc < 0 ? rc : 0;
}

/* ---- building a frame ------------------------------------------------------- */

static pslot *slot_new(prun *r, dl_value key, uint32_t order)
{
	if (grow(&r->sb, &r->csb, r->nsb + 1, sizeof *r->sb) < 0)
		return NULL;
	pslot *s = &r->sb[r->nsb++];
	memset(s, 0, sizeof *s);
	s->key = key;
	s->order = order;
	return s;
}

static int key_out(prun *r, const dl_value *k, dl_value *out)
{
	return dl_value_copy(out, r->a, k);
}

static int slot_ready(prun *r, const dl_value *key, uint32_t order, dl_value v)
{
	dl_value k;
	DL_TRY(key_out(r, key, &k));
	pslot *s = slot_new(r, k, order);
	if (!s)
		return DL_ENOMEM;
	s->kind = SL_VAL;
	s->val = v;
	return 0;
}

/* A slot from the values in r->tv.  many: a vector; np: the pattern
 * referenced entities are pulled with (NULL: they show as {:db/id n});
 * mark/recursive: see pslot. */
static int slot_values(prun *r, const dl_value *key, uint32_t order, const pspec *sp, bool many,
		       const dl_pull_pattern *np, bool mark, bool recursive)
{
	size_t n = r->ntv;
	if (n == 0) {
		if (sp && sp->has_default) {
			dl_value d;
			DL_TRY(dl_value_copy(&d, r->a, &sp->def));
			return slot_ready(r, key, order, d);
		}
		return 0;
	}
	bool nested = false;
	for (size_t i = 0; i < n; i++) {
		if (r->tv[i].type == DL_REF) {
			if (np || recursive)
				nested = true;
			else
				DL_TRY(dbid_map(r, r->tv[i].u.i, &r->tv[i]));
		}
	}
	if (!nested) {
		if (!many)
			return slot_ready(r, key, order, r->tv[0]);
		dl_value *items = DL_ARENA_NEW(r->a, n, dl_value);
		if (!items)
			return DL_ENOMEM;
		memcpy(items, r->tv, n * sizeof *items);
		dl_value vec = {.type = DL_VECTOR, .len = (uint32_t)n};
		vec.u.items = items;
		return slot_ready(r, key, order, vec);
	}
	dl_value k;
	DL_TRY(key_out(r, key, &k));
	size_t m = many ? n : 1;
	DL_TRY(grow(&r->vb, &r->cvb, r->nvb + m, sizeof *r->vb));
	DL_TRY(grow(&r->ib, &r->cib, r->nvb + m, sizeof *r->ib));
	pslot *s = slot_new(r, k, order);
	if (!s)
		return DL_ENOMEM;
	dl_value *vals = r->vb + r->nvb;
	int64_t *ids = r->ib + r->nvb;
	s->off = r->nvb;
	r->nvb += m;
	s->kind = many ? SL_MANY : SL_ONE;
	s->n = (uint32_t)m;
	s->mark = mark;
	s->recursive = recursive;
	s->sp = sp;
	s->pat = np;
	for (size_t i = 0; i < s->n; i++) {
		if (r->tv[i].type == DL_REF) {
			ids[i] = r->tv[i].u.i;
			vals[i] = dl_nil();
		} else {
			ids[i] = 0;
			vals[i] = r->tv[i];
		}
	}
	return 0;
}

/* A forward attribute's slot: how its refs are pulled follows from the spec
 * (recursion, nested pattern) and the attribute (component). */
static int slot_fwd(prun *r, const dl_value *key, uint32_t order, const pspec *sp,
		    const dl_attr *at, const dl_pull_pattern *owner)
{
	const dl_pull_pattern *np = NULL;
	bool mark = false, rec = false;
	if (sp && sp->rec) {
		rec = mark = true;
		np = owner;
	} else if (sp && sp->sub) {
		np = sp->sub;
		mark = at->component;
	} else if (at->component) {
		np = &k_wildcard;
		mark = true;
	}
	return slot_values(r, key, order, sp, at->many, np, mark, rec);
}

static bool explicit_fwd(const dl_pull_pattern *p, int64_t a)
{
	size_t lo = 0, hi = p->nfwd;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->fwd[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->nfwd && p->fwd[lo] == a;
}

/* Skip the rest of attribute a of the scan over e's datoms. */
static int skip_attr(dl_iter *it, int64_t e, int64_t a)
{
	dl_datom key = {.e = e, .a = a + 1, .v = dl_nil()};
	return dl_iter_seek(it, &key);
}

/* *: every attribute of f->e without an explicit spec, through `it`, a
 * fresh EAVT iterator over f->e's datoms. */
static int scan_wildcard(prun *r, frame *f, dl_iter *it, uint32_t *order)
{
	dl_datom d;
	int64_t cur = 0, limit = 0;
	const dl_attr *at = NULL;
	bool skip = false;
	int rc;
	r->ntv = 0;
	for (;;) {
		rc = dl_iter_next(it, &d);
		if (rc < 0)
			break;
		if (rc > 0)
			f->read_any = true;
		if (rc == 0 || d.a != cur) {
			if (cur && !skip) {
				settle_one(r, at->many);
				dl_value k = attr_key(r, cur);
				int sr = slot_fwd(r, &k, (*order)++, NULL, at, f->pat);
				if (sr < 0) {
					rc = sr;
					break;
				}
			}
			if (rc == 0)
				break;
			cur = d.a;
			at = attr_of(r, cur);
			limit = read_limit(r, at->many, NULL);
			r->ntv = 0;
			skip = explicit_fwd(f->pat, cur);
			if (skip) {
				if ((rc = skip_attr(it, f->e, cur)) < 0)
					break;
				continue;
			}
		}
		if (skip)
			continue;
		int t = take(r, &d, limit);
		if (t < 0) {
			rc = t;
			break;
		}
		if (t > 0 && (rc = skip_attr(it, f->e, cur)) < 0)
			break;
	}
	return rc < 0 ? rc : 0;
}

/* The slots of f: *, then each spec in turn; `it` is an EAVT iterator
 * over f->e's datoms (NULL when p reads no forward attribute). */
static int build_slots(prun *r, frame *f, dl_iter *it, uint32_t *order)
{
	const dl_pull_pattern *p = f->pat;
	if (p->wildcard) {
		DL_TRY(slot_ready(r, &r->kw_dbid, (*order)++, dl_int(f->e)));
		DL_TRY(scan_wildcard(r, f, it, order));
	}
	for (uint32_t i = 0; i < p->n; i++) {
		const pspec *sp = &p->specs[i];
		const dl_attr *at;
		switch (sp->kind) {
		case PS_DBID:
			DL_TRY(slot_ready(r, &sp->key, (*order)++, dl_int(f->e)));
			break;
		case PS_ATTR:
			at = attr_of(r, sp->aid);
			DL_TRY(read_attr(r, f, it, sp->aid, at->many, read_limit(r, at->many, sp)));
			DL_TRY(slot_fwd(r, &sp->key, (*order)++, sp, at, p));
			break;
		case PS_REV: {
			/* the reverse of a component is its one owner; of anything
			 * else, a collection (limited like cardinality many) */
			at = attr_of(r, sp->aid);
			bool comp = at->component;
			DL_TRY(read_rev(r, f, sp->aid, comp ? 1 : read_limit(r, true, sp)));
			const dl_pull_pattern *np = sp->rec ? p : sp->sub;
			DL_TRY(slot_values(r, &sp->key, (*order)++, sp, !comp, np,
					   sp->rec || (np && comp), sp->rec != 0));
			break;
		}
		default:
			assert(!"bad pull spec");
		}
	}
	return 0;
}

/* Build f's slots into one heap block (with room for `lim` first). */
static int build_frame(prun *r, frame *f, const limnode *lim)
{
	const dl_pull_pattern *p = f->pat;
	uint32_t order = 0;
	r->nsb = 0;
	r->nvb = 0;
	/* one iterator over f->e's datoms serves * and every attribute */
	dl_iter *it = NULL;
	if (p->wildcard || p->nfwd) {
		dl_datom pre = {.e = f->e};
		DL_TRY(dl_iter_open(&it, r->snap, DL_EAVT, &r->view, &pre, 1));
	}
	int rc = build_slots(r, f, it, &order);
	dl_iter_close(it);
	DL_TRY(rc);
	size_t nl = lim ? 1 : 0;
	size_t bytes = nl * sizeof(limnode) + r->nsb * sizeof(pslot) +
		       r->nvb * (sizeof(dl_value) + sizeof(int64_t));
	f->nslots = (uint32_t)r->nsb;
	if (bytes == 0)
		return 0;
	char *mem = dl_malloc(bytes);
	if (!mem)
		return DL_ENOMEM;
	f->mem = mem;
	if (lim) {
		limnode *l = (limnode *)mem;
		*l = *lim;
		f->lim = l;
		mem += sizeof *l;
	}
	f->slots = (pslot *)mem;
	mem += r->nsb * sizeof(pslot);
	dl_value *vals = (dl_value *)mem;
	int64_t *ids = (int64_t *)(vals + r->nvb);
	if (r->nvb) {
		memcpy(vals, r->vb, r->nvb * sizeof *vals);
		memcpy(ids, r->ib, r->nvb * sizeof *ids);
	}
	for (size_t i = 0; i < r->nsb; i++) {
		f->slots[i] = r->sb[i];
		if (r->sb[i].kind != SL_VAL) {
			f->slots[i].vals = vals + r->sb[i].off;
			f->slots[i].ids = ids + r->sb[i].off;
		}
	}
	return 0;
}

/* ---- finishing a frame: its map ---------------------------------------------- */

static int cmp_ment(const void *x, const void *y)
{
	const ment *a = x, *b = y;
	int c = dl_value_compare(&a->key, &b->key);
	if (c)
		return c;
	return (a->order > b->order) - (a->order < b->order);
}

/* Sort the n entries of r->mb by key, keep the last of equal keys and the
 * entries marked keep, and make the map (nil when empty). */
static int make_map(prun *r, size_t n, dl_value *out)
{
	if (n > 1)
		qsort(r->mb, n, sizeof *r->mb, cmp_ment);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && dl_value_equal(&r->mb[i].key, &r->mb[i + 1].key))
			r->mb[i].keep = false;
		k += r->mb[i].keep;
	}
	if (k == 0) {
		*out = dl_nil();
		return 0;
	}
	dl_value *items = DL_ARENA_NEW(r->a, 2 * k, dl_value);
	if (!items)
		return DL_ENOMEM;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (r->mb[i].keep) {
			items[j++] = r->mb[i].key;
			items[j++] = r->mb[i].val;
		}
	}
	*out = (dl_value){.type = DL_MAP, .len = (uint32_t)k};
	out->u.items = items;
	return 0;
}

static int finish_frame(prun *r, const frame *f, dl_value *out)
{
	DL_TRY(grow(&r->mb, &r->cmb, f->nslots ? f->nslots : 1, sizeof *r->mb));
	for (uint32_t i = 0; i < f->nslots; i++) {
		const pslot *s = &f->slots[i];
		ment *m = &r->mb[i];
		m->key = s->key;
		m->order = s->order;
		m->keep = true;
		switch (s->kind) {
		case SL_VAL:
			m->val = s->val;
			break;
		case SL_ONE:
			m->val = s->vals[0];
			m->keep = m->val.type != DL_NIL;
			break;
		default: {
			/* entities that came out empty are left out, and so is
			 * the attribute when none is left */
			uint32_t k = 0;
			for (uint32_t j = 0; j < s->n; j++)
				k += s->vals[j].type != DL_NIL;
			m->keep = k > 0;
			if (!k)
				break;
			dl_value *items = DL_ARENA_NEW(r->a, k, dl_value);
			if (!items)
				return DL_ENOMEM;
			k = 0;
			for (uint32_t j = 0; j < s->n; j++)
				if (s->vals[j].type != DL_NIL)
					items[k++] = s->vals[j];
			m->val = (dl_value){.type = DL_VECTOR, .len = k};
			m->val.u.items = items;
		}
		}
	}
	return make_map(r, f->nslots, out);
}

/* ---- the loop ------------------------------------------------------------------ */

/* Push a frame pulling e with p.  `lim` (NULL: none) is a new recursion
 * limit node, copied into the frame; otherwise `inherit` is in force. */
static int push_frame(prun *r, int64_t e, const dl_pull_pattern *p, const limnode *inherit,
		      const limnode *lim, bool mark)
{
	if (++r->maps > r->max_maps)
		return dl_error(DL_ELIMIT,
				"pull: more than %llu entity maps (recursion on densely "
				"connected data?); give the recursion a depth",
				(unsigned long long)r->max_maps);
	DL_TRY(grow(&r->st, &r->cst, r->nst + 1, sizeof *r->st));
	frame *f = &r->st[r->nst];
	memset(f, 0, sizeof *f);
	f->e = e;
	f->pat = p;
	f->lim = inherit;
	int rc = build_frame(r, f, lim);
	if (rc == 0 && mark) {
		rc = set_add(r, e);
		f->marked = rc == 0;
	}
	if (rc < 0) {
		dl_free(f->mem);
		return rc;
	}
	r->nst++;
	return 0;
}

static const limnode *lim_find(const limnode *l, const pspec *sp)
{
	for (; l; l = l->next)
		if (l->sp == sp)
			return l;
	return NULL;
}

/* Does e have any datom in the view (as entity or as ref value)? */
static int has_datoms(prun *r, int64_t e)
{
	dl_iter *it;
	dl_datom pre = {.e = e}, d;
	DL_TRY(dl_iter_open(&it, r->snap, DL_EAVT, &r->view, &pre, 1));
	int rc = dl_iter_next(it, &d);
	dl_iter_close(it);
	if (rc != 0)
		return rc;
	pre = (dl_datom){.v = dl_ref(e)};
	DL_TRY(dl_iter_open(&it, r->snap, DL_VAET, &r->view, &pre, 1));
	rc = dl_iter_next(it, &d);
	dl_iter_close(it);
	return rc;
}

/* Pull e with p into *out.  On an error the frames left on the stack are
 * freed by prun_fini. */
static int run_one(prun *r, const dl_pull_pattern *p, int64_t e, dl_value *out)
{
	*out = dl_nil();
	if (e <= 0)
		return 0;
	r->maps = 0;
	r->max_maps = p->max_maps ? p->max_maps : DL_PULL_MAX_MAPS;
	bool root_read = false;
	DL_TRY(push_frame(r, e, p, NULL, NULL, false));
	for (;;) {
		frame *f = &r->st[r->nst - 1];
		pslot *s = NULL;
		while (f->si < f->nslots) {
			s = &f->slots[f->si];
			if (s->ids) {
				while (f->ti < s->n && !s->ids[f->ti])
					f->ti++;
				if (f->ti < s->n)
					break;
			}
			f->si++;
			f->ti = 0;
		}
		if (f->si >= f->nslots) {
			/* nothing pending: f's map goes to the frame below */
			dl_value v;
			DL_TRY(finish_frame(r, f, &v));
			if (f->marked)
				set_del(r, f->e);
			dl_free(f->mem);
			r->nst--;
			if (r->nst == 0) {
				root_read = f->read_any;
				*out = v;
				break;
			}
			frame *pf = &r->st[r->nst - 1];
			pslot *ps = &pf->slots[pf->si];
			ps->vals[pf->ti] = v;
			ps->ids[pf->ti++] = 0;
			continue;
		}
		int64_t t = s->ids[f->ti];
		if (s->mark && set_has(r, t)) {
			/* entered already on this path: a cycle */
			DL_TRY(dbid_map(r, t, &s->vals[f->ti]));
			s->ids[f->ti++] = 0;
			continue;
		}
		const dl_pull_pattern *np = s->pat;
		limnode ln, *lim = NULL;
		if (s->recursive) {
			const limnode *cur = lim_find(f->lim, s->sp);
			int32_t left = cur ? cur->left : s->sp->rec;
			if (cur && left <= 0) {
				/* past the depth: left out */
				s->vals[f->ti] = dl_nil();
				s->ids[f->ti++] = 0;
				continue;
			}
			if (left > 0) {
				ln = (limnode){s->sp, left - 1, f->lim};
				lim = &ln;
			}
			np = f->pat;
		}
		DL_TRY(push_frame(r, t, np, f->lim, lim, s->mark));
	}
	if (out->type != DL_NIL && !root_read) {
		/* only :db/id or defaults: nil unless the entity exists */
		int rc = has_datoms(r, e);
		if (rc < 0)
			return rc;
		if (rc == 0)
			*out = dl_nil();
	}
	return 0;
}

int dl_pull_many(dl_value *out, dl_arena *a, dl_snap *snap, const dl_view *view,
		 const dl_pull_pattern *p, const int64_t *es, size_t n)
{
	assert(out && a && snap && p && (es || n == 0));
	prun r;
	int rc = prun_init(&r, a, snap, view);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = run_one(&r, p, es[i], &out[i]);
		if (rc < 0) {
			/* leave the set empty for the next call: it is per call */
			break;
		}
	}
	prun_fini(&r);
	return rc < 0 ? rc : 0;
}

int dl_pull_run(dl_value *out, dl_arena *a, dl_snap *snap, const dl_view *view,
		const dl_pull_pattern *p, int64_t e)
{
	return dl_pull_many(out, a, snap, view, p, &e, 1);
}

/* ---- entity maps -------------------------------------------------------------- */

/* Add the entry for attribute a from the values in r->tv. */
static int entity_entry(prun *r, size_t *n, int64_t a, const dl_attr *at)
{
	settle_one(r, at->many);
	for (size_t i = 0; i < r->ntv; i++)
		if (r->tv[i].type == DL_REF)
			DL_TRY(dbid_map(r, r->tv[i].u.i, &r->tv[i]));
	if (r->ntv == 0)
		return 0;
	dl_value v = r->tv[0];
	if (at->many) {
		dl_value *items = DL_ARENA_NEW(r->a, r->ntv, dl_value);
		if (!items)
			return DL_ENOMEM;
		memcpy(items, r->tv, r->ntv * sizeof *items);
		v = (dl_value){.type = DL_SET, .len = (uint32_t)r->ntv};
		v.u.items = items;
	}
	DL_TRY(grow(&r->mb, &r->cmb, *n + 1, sizeof *r->mb));
	r->mb[*n] = (ment){attr_key(r, a), v, (uint32_t)*n, true};
	(*n)++;
	return 0;
}

int dl_entity_map(dl_value *out, dl_arena *a, dl_snap *snap, const dl_view *view, int64_t e)
{
	assert(out && a && snap);
	*out = dl_nil();
	if (e <= 0)
		return 0;
	prun r;
	int rc = prun_init(&r, a, snap, view);
	dl_iter *it = NULL;
	if (rc == 0) {
		dl_datom pre = {.e = e};
		rc = dl_iter_open(&it, snap, DL_EAVT, &r.view, &pre, 1);
	}
	size_t n = 0;
	bool any = false;
	int64_t cur = 0;
	const dl_attr *at = NULL;
	while (rc == 0) {
		dl_datom d;
		int k = dl_iter_next(it, &d);
		if (k < 0) {
			rc = k;
			break;
		}
		if (k == 0 || d.a != cur) {
			if (cur && (rc = entity_entry(&r, &n, cur, at)) < 0)
				break;
			if (k == 0)
				break;
			cur = d.a;
			at = attr_of(&r, cur);
			r.ntv = 0;
		}
		any = true;
		if ((k = take(&r, &d, at->many ? 0 : read_limit(&r, false, NULL))) < 0)
			rc = k;
	}
	dl_iter_close(it);
	if (rc == 0 && any) {
		rc = grow(&r.mb, &r.cmb, n + 1, sizeof *r.mb);
		if (rc == 0) {
			r.mb[n] = (ment){r.kw_dbid, dl_int(e), (uint32_t)n, true};
			rc = make_map(&r, n + 1, out);
		}
	}
	prun_fini(&r);
	return rc;
}

/* ---- entity references ---------------------------------------------------------- */

static int entid(dl_snap *snap, const dl_view *view, const dl_schema *sch, const dl_value *ref,
		 int64_t *out, int depth)
{
	char vs[FORM_MAX];
	switch (ref->type) {
	case DL_INT:
	case DL_REF:
		if (ref->u.i <= 0)
			return 0;
		*out = ref->u.i;
		return 1;
	case DL_KEYWORD:
		*out = dl_schema_entid(sch, ref->u.id);
		return *out != 0;
	case DL_VECTOR:
	case DL_LIST: {
		if (ref->len != 2 || depth > 8)
			break;
		const dl_value *av = &ref->u.items[0], *vv = &ref->u.items[1];
		int64_t a = av->type == DL_KEYWORD ? dl_schema_entid(sch, av->u.id)
			    : av->type == DL_INT   ? av->u.i
						   : 0;
		const dl_attr *at = a > 0 ? dl_schema_attr(sch, a) : NULL;
		if (!at) {
			vstr(vs, sizeof vs, av);
			return dl_error(av->type == DL_KEYWORD || av->type == DL_INT ? DL_ENOTFOUND
										     : DL_EINVAL,
					"lookup ref %s: unknown attribute", vs);
		}
		if (at->unique == DL_UNIQUE_NONE) {
			vstr(vs, sizeof vs, av);
			return dl_error(DL_EINVAL, "lookup ref %s: the attribute is not unique", vs);
		}
		dl_value key = *vv;
		if (at->vtype == DL_VT_REF) {
			int64_t t = 0;
			int rc = entid(snap, view, sch, vv, &t, depth + 1);
			if (rc <= 0)
				return rc;
			key = dl_ref(t);
		}
		dl_iter *it;
		dl_datom pre = {.a = a, .v = key}, d;
		DL_TRY(dl_iter_open(&it, snap, DL_AVET, view, &pre, 2));
		int rc;
		while ((rc = dl_iter_next(it, &d)) > 0 && !d.added)
			; /* history: an assertion names the entity */
		if (rc > 0)
			*out = d.e;
		dl_iter_close(it);
		return rc;
	}
	default:
		break;
	}
	vstr(vs, sizeof vs, ref);
	return dl_error(DL_EINVAL, "not an entity reference (an id, ident or lookup ref): %s", vs);
}

int dl_pull_entid(int64_t *out, dl_snap *snap, const dl_view *view, const dl_value *ref)
{
	assert(out && snap && ref);
	*out = 0;
	dl_view cur = {DL_VIEW_CURRENT, 0};
	const dl_schema *sch;
	DL_TRY(dl_schema_get(&sch, snap));
	int rc = entid(snap, view ? view : &cur, sch, ref, out, 0);
	if (rc <= 0)
		*out = 0;
	return rc;
}
