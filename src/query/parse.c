/*
 * The query parser: EDN (text or value) to the AST of ast.h, with the static
 * checks Datomic makes before running a query (binding of find variables,
 * not / or / or-join scoping, rule arity), each error naming its position.
 *
 * Positions: the EDN reader gives none per value, so for text input a small
 * scanner walks the text beside it and builds a tree of positions (pnode)
 * with the same shape as the value: collections are scanned here, every
 * other form is measured by dl_edn_read itself, so the two cannot disagree
 * on where a scalar ends.  The parser walks value and pnode in step; where
 * the shapes differ (they should not) a node stands in for its children.
 */
#include "query/ast.h"

#include <stdio.h>
#include <string.h>

/* Clause and subquery nesting bound: queries given as values have no reader
 * depth limit, and the checks below recurse. */
#define MAX_NEST 200

/* ---- messages ---------------------------------------------------------- */

static int perr_code(int code, const char *source, dl_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr_code(int code, const char *source, dl_pos pos, const char *fmt, ...)
{
	char msg[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (pos.line)
		return dl_error(code, "%s:%u:%u: %s", source, pos.line, pos.col, msg);
	return dl_error(code, "%s: %s", source, msg);
}

#define perr(c, pos, ...) perr_code(DL_EINVAL, (c)->source, (pos), __VA_ARGS__)

/* A value's EDN text, shortened, for messages. */
typedef struct desc {
	char s[100];
} desc;

static const char *describe(desc *d, const dl_value *v)
{
	dl_buf b = DL_BUF_INIT;
	if (dl_edn_print(&b, v) == 0 && b.data) {
		if (b.len >= sizeof d->s) {
			memcpy(d->s, b.data, sizeof d->s - 4);
			memcpy(d->s + sizeof d->s - 4, "...", 4);
		} else {
			memcpy(d->s, b.data, b.len + 1);
		}
	} else {
		snprintf(d->s, sizeof d->s, "a value of type %d", v->type);
	}
	dl_buf_free(&b);
	return d->s;
}

static const char *sym_text(uint32_t id)
{
	const char *s = dl_intern_name(id, NULL, NULL);
	return s ? s : "?";
}

/* ---- positions --------------------------------------------------------- */

typedef struct pnode pnode;
struct pnode {
	dl_pos pos;
	size_t off;  /* byte offset of the form's first character */
	uint32_t n;  /* children, when scanned as a collection */
	pnode *kids; /* n + 1 entries: kids[n] is a childless copy of this node */
};

typedef struct scan {
	const char *text;
	size_t len, p;
	uint32_t line, col;
	dl_arena *mem; /* the nodes */
	dl_arena tmp;  /* values read only to measure them */
	unsigned depth;
} scan;

enum { SCAN_MISMATCH = 1 };

/* Columns count code points, like the reader's. */
static void sc_adv(scan *s, size_t n)
{
	for (size_t i = 0; i < n && s->p < s->len; i++) {
		unsigned char ch = (unsigned char)s->text[s->p++];
		if (ch == '\n') {
			s->line++;
			s->col = 1;
		} else if ((ch & 0xC0) != 0x80) {
			s->col++;
		}
	}
}

static int sc_form(scan *s, pnode *out);

static int sc_ws(scan *s)
{
	while (s->p < s->len) {
		char ch = s->text[s->p];
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' ||
		    ch == '\v' || ch == ',') {
			sc_adv(s, 1);
		} else if (ch == ';') {
			while (s->p < s->len && s->text[s->p] != '\n')
				sc_adv(s, 1);
		} else if (ch == '#' && s->p + 1 < s->len && s->text[s->p + 1] == '_') {
			if (++s->depth > 2048)
				return SCAN_MISMATCH;
			sc_adv(s, 2);
			int rc = sc_ws(s);
			if (!rc)
				rc = sc_form(s, NULL);
			s->depth--;
			if (rc)
				return rc;
		} else {
			break;
		}
	}
	return 0;
}

/* Scan one form at s->p into *out (NULL: just skip it).  Returns 0,
 * SCAN_MISMATCH when the text is not what the reader accepted, or
 * DL_ENOMEM. */
static int sc_form(scan *s, pnode *out)
{
	if (s->p >= s->len)
		return SCAN_MISMATCH;
	dl_pos pos = {s->line, s->col};
	size_t off = s->p, open = 1;
	char ch = s->text[s->p], close = 0;
	if (out)
		*out = (pnode){pos, off, 0, NULL};
	if (ch == '[')
		close = ']';
	else if (ch == '(')
		close = ')';
	else if (ch == '{')
		close = '}';
	else if (ch == '#' && s->p + 1 < s->len && s->text[s->p + 1] == '{')
		close = '}', open = 2;
	if (!close) {
		if (ch == ')' || ch == ']' || ch == '}')
			return SCAN_MISMATCH;
		dl_value v;
		size_t used = 0;
		dl_edn_opts o = DL_EDN_OPTS_INIT;
		dl_arena_reset(&s->tmp);
		int rc = dl_edn_read(&v, &used, &s->tmp, s->text + s->p, s->len - s->p, &o);
		if (rc == DL_ENOMEM)
			return rc;
		if (rc < 0 || used == 0)
			return SCAN_MISMATCH;
		sc_adv(s, used);
		return 0;
	}
	if (++s->depth > 2048)
		return SCAN_MISMATCH;
	sc_adv(s, open);
	pnode *kids = NULL;
	uint32_t n = 0, cap = 0;
	for (;;) {
		int rc = sc_ws(s);
		if (rc)
			return rc;
		if (s->p >= s->len)
			return SCAN_MISMATCH;
		if (s->text[s->p] == close) {
			sc_adv(s, 1);
			break;
		}
		if (out && n + 1 >= cap) {
			uint32_t ncap = cap ? cap * 2 : 4;
			pnode *k = DL_ARENA_NEW(s->mem, ncap, pnode);
			if (!k)
				return DL_ENOMEM;
			if (n)
				memcpy(k, kids, n * sizeof *k);
			kids = k;
			cap = ncap;
		}
		rc = sc_form(s, out ? &kids[n] : NULL);
		if (rc)
			return rc;
		n++;
	}
	s->depth--;
	if (out) {
		if (!kids) {
			kids = DL_ARENA_NEW(s->mem, 1, pnode);
			if (!kids)
				return DL_ENOMEM;
		}
		kids[n] = (pnode){pos, off, 0, NULL};
		out->n = n;
		out->kids = kids;
	}
	return 0;
}

/* The position of byte `off` of text. */
static dl_pos pos_at(const char *text, size_t len, size_t off)
{
	scan s = {.text = text, .len = len, .line = 1, .col = 1};
	sc_adv(&s, off);
	return (dl_pos){s.line, s.col};
}

/* Position tree of the first form of text (in mem).  *root stays NULL only
 * on ENOMEM; if the scan disagrees with the reader, the root alone stands
 * for everything. */
static int build_pos(pnode **root, dl_arena *mem, const char *text, size_t len)
{
	scan s = {.text = text, .len = len, .line = 1, .col = 1, .mem = mem};
	pnode *r = DL_ARENA_NEW(mem, 1, pnode);
	if (!r)
		return DL_ENOMEM;
	int rc = sc_ws(&s);
	*r = (pnode){{s.line, s.col}, s.p, 0, NULL};
	if (!rc)
		rc = sc_form(&s, r);
	dl_arena_free(&s.tmp);
	if (rc < 0)
		return rc;
	if (rc) {
		r->n = 0;
		r->kids = NULL;
	}
	*root = r;
	return 0;
}

static dl_pos pos_of(const pnode *p) { return p ? p->pos : (dl_pos){0, 0}; }

/* The node of item i of collection v (whose node is p). */
static const pnode *kid(const pnode *p, const dl_value *v, uint32_t i)
{
	if (!p || !p->kids)
		return p;
	if (p->n == v->len && i < p->n)
		return &p->kids[i];
	return &p->kids[p->n];
}

/* ---- parser state ------------------------------------------------------ */

typedef struct vartab {
	dl_var *v;
	uint32_t n, cap;
} vartab;

typedef struct qctx {
	dl_arena *a;       /* the AST */
	dl_arena *scratch; /* positions; freed when the parse ends */
	const char *source;
	const char *text; /* NULL when parsing a value */
	size_t len;
	bool copy;  /* constants are the caller's: copy them into a */
	vartab *vt; /* the current scope's variables */
	unsigned depth;
	uint32_t sym_dollar; /* intern id of $ */
} qctx;

/* A run of items of one collection: items coll[off..off+n), or a single
 * value (a map-form section holding a scalar). */
typedef struct seq {
	const dl_value *coll;
	const pnode *pc;
	uint32_t off, n;
	const dl_value *single;
	const pnode *ps;
} seq;

static seq seq_of(const dl_value *coll, const pnode *pc, uint32_t off)
{
	return (seq){coll, pc, off, coll->len - off, NULL, NULL};
}

static const dl_value *seq_item(const seq *s, uint32_t i)
{
	return s->coll ? &s->coll->u.items[s->off + i] : s->single;
}

static const pnode *seq_kid(const seq *s, uint32_t i)
{
	return s->coll ? kid(s->pc, s->coll, s->off + i) : s->ps;
}

/* ---- symbols ----------------------------------------------------------- */

enum { SK_NONE, SK_VAR, SK_BLANK, SK_SRC, SK_RULES, SK_DOT, SK_DOTS, SK_PLAIN };

static int sym_kind(const dl_value *v)
{
	if (v->type != DL_SYMBOL)
		return SK_NONE;
	size_t n;
	const char *s = dl_intern_name(v->u.id, &n, NULL);
	if (!s || !n)
		return SK_PLAIN;
	if (s[0] == '?')
		return SK_VAR;
	if (s[0] == '$')
		return SK_SRC;
	if (n == 1 && s[0] == '_')
		return SK_BLANK;
	if (n == 1 && s[0] == '%')
		return SK_RULES;
	if (n == 1 && s[0] == '.')
		return SK_DOT;
	if (n == 3 && memcmp(s, "...", 3) == 0)
		return SK_DOTS;
	return SK_PLAIN;
}

/* v is the symbol or keyword `name` (no namespace). */
static bool named_is(const dl_value *v, dl_type t, const char *name)
{
	if (v->type != t)
		return false;
	size_t n;
	const char *s = dl_intern_name(v->u.id, &n, NULL);
	return s && n == strlen(name) && memcmp(s, name, n) == 0;
}

static bool sym_is(const dl_value *v, const char *name) { return named_is(v, DL_SYMBOL, name); }

static bool is_special(const dl_value *v)
{
	return sym_is(v, "not") || sym_is(v, "not-join") || sym_is(v, "or") ||
	       sym_is(v, "or-join") || sym_is(v, "and");
}

/* ---- variables and terms ----------------------------------------------- */

static int var_ref(qctx *c, uint32_t sym, dl_pos pos, uint32_t *out)
{
	vartab *t = c->vt;
	/* Linear: queries have few variables. */
	for (uint32_t i = 0; i < t->n; i++)
		if (t->v[i].sym == sym) {
			*out = i;
			return 0;
		}
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		dl_var *v = DL_ARENA_NEW(c->a, cap, dl_var);
		if (!v)
			return DL_ENOMEM;
		if (t->n)
			memcpy(v, t->v, t->n * sizeof *v);
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n] = (dl_var){sym, sym_text(sym), pos};
	*out = t->n++;
	return 0;
}

enum { A_VAR = 1, A_BLANK = 2, A_CONST = 4, A_SRC = 8, A_RULES = 16, A_SYM = 32 };

/* One term; `what` ends the messages ("in a data pattern"). */
static int parse_term(qctx *c, const dl_value *v, const pnode *p, unsigned allow, const char *what,
		      dl_term *t)
{
	desc d;
	memset(t, 0, sizeof *t);
	t->pos = pos_of(p);
	switch (sym_kind(v)) {
	case SK_VAR:
		if (!(allow & A_VAR))
			return perr(c, t->pos, "unexpected variable %s %s", sym_text(v->u.id),
				    what);
		t->kind = DL_T_VAR;
		t->sym = v->u.id;
		return var_ref(c, v->u.id, t->pos, &t->var);
	case SK_BLANK:
		if (!(allow & A_BLANK))
			return perr(c, t->pos, "'_' is not allowed %s", what);
		t->kind = DL_T_BLANK;
		t->sym = v->u.id;
		return 0;
	case SK_SRC:
		if (!(allow & A_SRC))
			return perr(c, t->pos, "unexpected source %s %s", sym_text(v->u.id), what);
		t->kind = DL_T_SRC;
		t->sym = v->u.id;
		return 0;
	case SK_RULES:
		if (!(allow & A_RULES))
			return perr(c, t->pos, "unexpected '%%' %s", what);
		t->kind = DL_T_RULES;
		t->sym = v->u.id;
		return 0;
	case SK_NONE:
		if (!(allow & A_CONST))
			return perr(c, t->pos, "expected a variable %s, got %s", what,
				    describe(&d, v));
		t->kind = DL_T_CONST;
		if (c->copy)
			return dl_value_copy(&t->val, c->a, v);
		t->val = *v;
		return 0;
	default:
		if (!(allow & A_SYM))
			return perr(c, t->pos, "unexpected symbol %s %s (variables start with ?)",
				    sym_text(v->u.id), what);
		t->kind = DL_T_SYM;
		t->sym = v->u.id;
		return 0;
	}
}

static dl_term *new_terms(qctx *c, uint32_t n) { return n ? DL_ARENA_NEW(c->a, n, dl_term) : NULL; }

/* The first variable that occurs twice among terms (NULL if none). */
static const dl_term *dup_var(const dl_term *t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < i; j++)
			if (t[i].kind == DL_T_VAR && t[j].kind == DL_T_VAR && t[i].var == t[j].var)
				return &t[i];
	return NULL;
}

/* ?x, _, [?a _ ?b], [?x ...] or [[?a ?b]]. */
static int parse_binding(qctx *c, const dl_value *v, const pnode *p, const char *what,
			 dl_binding *b)
{
	desc d;
	memset(b, 0, sizeof *b);
	b->pos = pos_of(p);
	int k = sym_kind(v);
	if (k == SK_VAR || k == SK_BLANK) {
		b->kind = DL_B_SCALAR;
		b->n = 1;
		if (!(b->terms = new_terms(c, 1)))
			return DL_ENOMEM;
		return parse_term(c, v, p, A_VAR | A_BLANK, what, &b->terms[0]);
	}
	if (v->type != DL_VECTOR)
		return perr(
			c, b->pos,
			"expected a binding form (?x, [?a ?b], [?x ...] or [[?a ?b]]) %s, got %s",
			what, describe(&d, v));
	if (v->len == 0)
		return perr(c, b->pos, "empty binding form [] %s", what);
	const dl_value *it = v->u.items;
	const dl_value *elems = it;
	const pnode *pe = p;
	const dl_value *ev = v;
	if (v->len == 2 && sym_kind(&it[1]) == SK_DOTS) {
		b->kind = DL_B_COLL;
		b->n = 1;
		if (!(b->terms = new_terms(c, 1)))
			return DL_ENOMEM;
		return parse_term(c, &it[0], kid(p, v, 0), A_VAR, what, &b->terms[0]);
	}
	if (v->len == 1 && it[0].type == DL_VECTOR) {
		b->kind = DL_B_REL;
		ev = &it[0];
		pe = kid(p, v, 0);
		elems = ev->u.items;
		if (ev->len == 0)
			return perr(c, pos_of(pe), "empty relation binding [[]] %s", what);
	} else {
		b->kind = DL_B_TUPLE;
	}
	b->n = ev->len;
	if (!(b->terms = new_terms(c, b->n)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < b->n; i++) {
		const pnode *pi = kid(pe, ev, i);
		int ek = sym_kind(&elems[i]);
		if (elems[i].type == DL_VECTOR)
			return perr(c, pos_of(pi), "nested binding forms are not supported %s",
				    what);
		if (ek == SK_DOTS)
			return perr(
				c, pos_of(pi),
				"'...' must be the second and last item of a collection binding [?x ...]");
		if (ek != SK_VAR && ek != SK_BLANK)
			return perr(c, pos_of(pi),
				    "expected a variable or _ in a binding form %s, got %s", what,
				    describe(&d, &elems[i]));
		DL_TRY(parse_term(c, &elems[i], pi, A_VAR | A_BLANK, what, &b->terms[i]));
	}
	return 0;
}

/* ---- clauses ----------------------------------------------------------- */

static int parse_query_value(qctx *c, const dl_value *v, const pnode *p, dl_query **out);
static int parse_text(dl_query **out, dl_arena *a, const char *text, size_t len, const char *source,
		      unsigned depth);
static int parse_clause(qctx *c, const dl_value *v, const pnode *p, bool in_or, dl_clause *cl);

static int parse_clauses(qctx *c, const seq *s, bool in_or, dl_clause **out)
{
	*out = NULL;
	if (!s->n)
		return 0;
	dl_clause *cl = DL_ARENA_NEW(c->a, s->n, dl_clause);
	if (!cl)
		return DL_ENOMEM;
	for (uint32_t i = 0; i < s->n; i++)
		DL_TRY(parse_clause(c, seq_item(s, i), seq_kid(s, i), in_or, &cl[i]));
	*out = cl;
	return 0;
}

static int check_entity_const(qctx *c, const dl_value *v, dl_pos pos, const char *role)
{
	desc d;
	if (v->type == DL_INT || v->type == DL_KEYWORD)
		return 0;
	if (v->type == DL_VECTOR && v->len == 2 &&
	    (v->u.items[0].type == DL_KEYWORD || v->u.items[0].type == DL_INT) &&
	    v->u.items[1].type != DL_NIL && v->u.items[1].type != DL_LIST &&
	    v->u.items[1].type != DL_MAP && v->u.items[1].type != DL_SET)
		return 0;
	return perr(c, pos,
		    "the %s position of a data pattern takes a variable, _, an entity id, "
		    "an ident keyword or a lookup ref [attribute value], got %s",
		    role, describe(&d, v));
}

static int parse_pattern_term(qctx *c, const dl_value *v, const pnode *p, unsigned i, dl_term *t)
{
	static const char *const role[] = {"entity", "attribute", "value", "transaction", "added"};
	desc d;
	if (sym_kind(v) == SK_SRC)
		return perr(c, pos_of(p), "source %s must come first in a data pattern",
			    sym_text(v->u.id));
	DL_TRY(parse_term(c, v, p, A_VAR | A_BLANK | A_CONST, "in a data pattern", t));
	if (t->kind != DL_T_CONST)
		return 0;
	switch (i) {
	case 0:
	case 3:
		return check_entity_const(c, v, t->pos, role[i]);
	case 1:
		if (v->type == DL_KEYWORD || v->type == DL_INT)
			return 0;
		return perr(c, t->pos,
			    "the attribute position of a data pattern takes a variable, _, "
			    "a keyword or an attribute id, got %s",
			    describe(&d, v));
	case 2:
		if (v->type == DL_NIL || v->type == DL_LIST || v->type == DL_MAP ||
		    v->type == DL_SET)
			return perr(c, t->pos,
				    "the value position of a data pattern takes a variable, _ "
				    "or a scalar value, got %s",
				    describe(&d, v));
		for (uint32_t k = 0; v->type == DL_VECTOR && k < v->len; k++) {
			int sk = sym_kind(&v->u.items[k]);
			if (sk == SK_VAR || sk == SK_BLANK)
				return perr(c, pos_of(kid(p, v, k)),
					    "a tuple in the value position of a data pattern holds "
					    "constants only, not %s: match the tuple whole, [?e :a ?t], "
					    "and take it apart with [(untuple ?t) [?x ?y]]",
					    sym_text(v->u.items[k].u.id));
		}
		return 0;
	default:
		if (v->type == DL_BOOL)
			return 0;
		return perr(
			c, t->pos,
			"the added position of a data pattern takes a variable, _, true or false, got %s",
			describe(&d, v));
	}
}

/* A nested query: the first argument of `q`, when it is written out. */
static int parse_subquery(qctx *c, const dl_value *v, const pnode *p, dl_query **out)
{
	*out = NULL;
	if (v->type == DL_LIST && v->len == 2 && sym_is(&v->u.items[0], "quote")) {
		p = kid(p, v, 1);
		v = &v->u.items[1];
	}
	if (v->type == DL_STRING) {
		if (c->depth + 1 > MAX_NEST)
			return perr_code(DL_ELIMIT, c->source, pos_of(p),
					 "queries nested too deeply");
		int rc = parse_text(out, c->a, v->u.s, v->len, "<nested query>", c->depth + 1);
		if (rc < 0) {
			dl_pos pos = pos_of(p);
			if (pos.line)
				dl_error_prefix("%s:%u:%u: in nested query string", c->source,
						pos.line, pos.col);
			else
				dl_error_prefix("%s: in nested query string", c->source);
		}
		return rc;
	}
	if (v->type != DL_VECTOR && v->type != DL_MAP)
		return 0;
	vartab *saved = c->vt;
	int rc = parse_query_value(c, v, p, out);
	c->vt = saved;
	return rc;
}

/* [(f args...)] and [(f args...) binding] */
static int parse_fn(qctx *c, const dl_value *l, const pnode *pl, const dl_value *bind,
		    const pnode *pb, dl_clause *cl)
{
	desc d;
	if (l->len == 0)
		return perr(c, pos_of(pl), "empty function call () in a clause");
	cl->kind = bind ? DL_C_FN : DL_C_PRED;
	const dl_value *f = &l->u.items[0];
	int k = sym_kind(f);
	if (k == SK_NONE || k == SK_BLANK || k == SK_SRC || k == SK_RULES)
		return perr(c, pos_of(kid(pl, l, 0)), "a function name must be a symbol, got %s",
			    describe(&d, f));
	DL_TRY(parse_term(c, f, kid(pl, l, 0), A_VAR | A_SYM, "as a function name", &cl->u.fn.f));
	uint32_t n = l->len - 1;
	cl->u.fn.nargs = n;
	if (n && !(cl->u.fn.args = new_terms(c, n)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		DL_TRY(parse_term(c, &l->u.items[i + 1], kid(pl, l, i + 1),
				  A_VAR | A_CONST | A_SRC | A_RULES, "as a function argument",
				  &cl->u.fn.args[i]));
	if (bind) {
		DL_TRY(parse_binding(c, bind, pb, "as a function's output", &cl->u.fn.bind));
		const dl_term *dup = dup_var(cl->u.fn.bind.terms, cl->u.fn.bind.n);
		if (dup)
			return perr(c, dup->pos, "variable %s appears twice in a binding form",
				    sym_text(dup->sym));
	}
	if (cl->u.fn.f.kind == DL_T_SYM && sym_is(f, "q") && n >= 1)
		DL_TRY(parse_subquery(c, &l->u.items[1], kid(pl, l, 1), &cl->u.fn.sub));
	return 0;
}

static int parse_vec_clause(qctx *c, const dl_value *v, const pnode *p, dl_clause *cl)
{
	desc d;
	if (v->len == 0)
		return perr(c, cl->pos, "empty clause []");
	const dl_value *it = v->u.items;
	if (it[0].type == DL_LIST) {
		if (v->len > 2)
			return perr(c, pos_of(kid(p, v, 2)),
				    "a function expression is [(f args...) binding]; unexpected %s",
				    describe(&d, &it[2]));
		return parse_fn(c, &it[0], kid(p, v, 0), v->len == 2 ? &it[1] : NULL, kid(p, v, 1),
				cl);
	}
	uint32_t off = 0;
	if (sym_kind(&it[0]) == SK_SRC) {
		cl->src_given = true;
		cl->src = it[0].u.id;
		off = 1;
	}
	uint32_t n = v->len - off;
	if (n == 0)
		return perr(c, cl->pos, "data pattern %s has no terms", describe(&d, v));
	if (n > 5)
		return perr(c, pos_of(kid(p, v, off + 5)),
			    "a data pattern has at most 5 terms (e a v tx added), got %u", n);
	cl->kind = DL_C_PATTERN;
	cl->u.pat.n = n;
	for (uint32_t i = 0; i < 5; i++) {
		if (i < n) {
			DL_TRY(parse_pattern_term(c, &it[off + i], kid(p, v, off + i), i,
						  &cl->u.pat.t[i]));
		} else {
			memset(&cl->u.pat.t[i], 0, sizeof cl->u.pat.t[i]);
			cl->u.pat.t[i].kind = DL_T_BLANK;
			cl->u.pat.t[i].pos = cl->pos;
		}
	}
	return 0;
}

/* [?a ?b] or, for or-join, [[?req...] ?a ...] */
static int parse_join_vars(qctx *c, const dl_value *v, const pnode *p, bool allow_req,
			   const char *who, dl_clause *cl)
{
	desc d;
	if (v->type != DL_VECTOR || v->len == 0)
		return perr(c, pos_of(p), "%s needs a vector of join variables, got %s", who,
			    describe(&d, v));
	const dl_value *it = v->u.items;
	uint32_t nreq = 0, total = v->len, first = 0;
	if (allow_req && it[0].type == DL_VECTOR) {
		if (it[0].len == 0)
			return perr(c, pos_of(kid(p, v, 0)), "empty required-variable vector in %s",
				    who);
		nreq = it[0].len;
		total = nreq + v->len - 1;
		first = 1;
	}
	cl->u.sub.nvars = total;
	cl->u.sub.nreq = nreq;
	if (!(cl->u.sub.vars = new_terms(c, total)))
		return DL_ENOMEM;
	char what[64];
	snprintf(what, sizeof what, "in the join variables of %s", who);
	for (uint32_t i = 0; i < nreq; i++) {
		const pnode *pr = kid(p, v, 0);
		DL_TRY(parse_term(c, &it[0].u.items[i], kid(pr, &it[0], i), A_VAR, what,
				  &cl->u.sub.vars[i]));
	}
	for (uint32_t i = first; i < v->len; i++) {
		if (it[i].type == DL_VECTOR)
			return perr(c, pos_of(kid(p, v, i)),
				    "required variables of %s come first, in one vector", who);
		DL_TRY(parse_term(c, &it[i], kid(p, v, i), A_VAR, what,
				  &cl->u.sub.vars[nreq + i - first]));
	}
	const dl_term *dup = dup_var(cl->u.sub.vars, total);
	if (dup)
		return perr(c, dup->pos, "variable %s appears twice in the join variables of %s",
			    sym_text(dup->sym), who);
	return 0;
}

static int parse_list_clause(qctx *c, const dl_value *v, const pnode *p, bool in_or, dl_clause *cl)
{
	desc d;
	if (v->len == 0)
		return perr(c, cl->pos, "empty clause ()");
	const dl_value *it = v->u.items;
	uint32_t off = 0;
	if (sym_kind(&it[0]) == SK_SRC) {
		cl->src_given = true;
		cl->src = it[0].u.id;
		off = 1;
	}
	if (off >= v->len)
		return perr(c, cl->pos, "clause %s has nothing after its source", describe(&d, v));
	const dl_value *head = &it[off];
	const pnode *ph = kid(p, v, off);
	if (sym_kind(head) != SK_PLAIN)
		return perr(c, pos_of(ph),
			    "expected a rule name or not, not-join, or, or-join, and; got %s",
			    describe(&d, head));
	const char *name = sym_text(head->u.id);
	uint32_t rest = off + 1;
	bool join = sym_is(head, "not-join") || sym_is(head, "or-join");
	if (is_special(head)) {
		if (sym_is(head, "not"))
			cl->kind = DL_C_NOT;
		else if (sym_is(head, "not-join"))
			cl->kind = DL_C_NOT_JOIN;
		else if (sym_is(head, "or"))
			cl->kind = DL_C_OR;
		else if (sym_is(head, "or-join"))
			cl->kind = DL_C_OR_JOIN;
		else
			cl->kind = DL_C_AND;
		if (cl->kind == DL_C_AND && !in_or)
			return perr(c, cl->pos,
				    "'and' is only allowed directly inside 'or' or 'or-join'");
		if (cl->kind == DL_C_AND && cl->src_given)
			return perr(c, cl->pos, "'and' takes no source");
		if (join) {
			if (rest >= v->len)
				return perr(c, cl->pos, "%s needs a vector of join variables",
					    name);
			DL_TRY(parse_join_vars(c, &it[rest], kid(p, v, rest),
					       cl->kind == DL_C_OR_JOIN, name, cl));
			rest++;
		}
		if (rest >= v->len)
			return perr(c, cl->pos, "'%s' needs at least one clause", name);
		seq s = seq_of(v, p, rest);
		bool branches = cl->kind == DL_C_OR || cl->kind == DL_C_OR_JOIN;
		cl->u.sub.n = s.n;
		return parse_clauses(c, &s, branches, &cl->u.sub.items);
	}
	cl->kind = DL_C_RULE;
	cl->u.rule.name = head->u.id;
	uint32_t n = v->len - rest;
	if (n == 0)
		return perr(c, cl->pos, "rule call (%s) needs arguments", name);
	cl->u.rule.nargs = n;
	if (!(cl->u.rule.args = new_terms(c, n)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		DL_TRY(parse_term(c, &it[rest + i], kid(p, v, rest + i), A_VAR | A_BLANK | A_CONST,
				  "in a rule call", &cl->u.rule.args[i]));
	return 0;
}

static int parse_clause(qctx *c, const dl_value *v, const pnode *p, bool in_or, dl_clause *cl)
{
	desc d;
	memset(cl, 0, sizeof *cl);
	cl->pos = pos_of(p);
	cl->src = c->sym_dollar;
	if (c->depth + 1 > MAX_NEST)
		return perr_code(DL_ELIMIT, c->source, cl->pos, "clauses nested too deeply");
	c->depth++;
	int rc;
	if (v->type == DL_VECTOR)
		rc = parse_vec_clause(c, v, p, cl);
	else if (v->type == DL_LIST)
		rc = parse_list_clause(c, v, p, in_or, cl);
	else
		rc = perr(c, cl->pos, "expected a clause ([...] or (...)), got %s",
			  describe(&d, v));
	c->depth--;
	return rc;
}

/* ---- :find and the other sections -------------------------------------- */

static const struct {
	const char *name;
	uint8_t agg, min, max; /* argument counts */
} k_aggs[] = {
	{"count", DL_AGG_COUNT, 1, 1},   {"count-distinct", DL_AGG_COUNT_DISTINCT, 1, 1},
	{"sum", DL_AGG_SUM, 1, 1},       {"avg", DL_AGG_AVG, 1, 1},
	{"min", DL_AGG_MIN, 1, 2},       {"max", DL_AGG_MAX, 1, 2},
	{"median", DL_AGG_MEDIAN, 1, 1}, {"variance", DL_AGG_VARIANCE, 1, 1},
	{"stddev", DL_AGG_STDDEV, 1, 1}, {"distinct", DL_AGG_DISTINCT, 1, 1},
	{"rand", DL_AGG_RAND, 1, 2},     {"sample", DL_AGG_SAMPLE, 2, 2},
};

static int parse_pull(qctx *c, const dl_value *v, const pnode *p, dl_find_elem *fe)
{
	desc d;
	const dl_value *it = v->u.items;
	uint32_t off = 1;
	fe->kind = DL_FE_PULL;
	fe->src = c->sym_dollar;
	if (v->len == 4 && sym_kind(&it[1]) == SK_SRC) {
		fe->src_given = true;
		fe->src = it[1].u.id;
		off = 2;
	}
	if (v->len - off != 2)
		return perr(c, fe->pos,
			    "pull takes an entity variable and a pattern: (pull ?e pattern) "
			    "or (pull $src ?e pattern)");
	dl_term e;
	DL_TRY(parse_term(c, &it[off], kid(p, v, off), A_VAR, "as the entity of pull", &e));
	fe->var = e.var;
	const dl_value *pat = &it[off + 1];
	const pnode *pp = kid(p, v, off + 1);
	if (sym_kind(pat) != SK_VAR && pat->type != DL_VECTOR)
		return perr(c, pos_of(pp),
			    "a pull pattern must be a vector or an :in variable, got %s",
			    describe(&d, pat));
	return parse_term(c, pat, pp, A_VAR | A_CONST, "as a pull pattern", &fe->pattern);
}

static int parse_agg(qctx *c, const dl_value *v, const pnode *p, dl_find_elem *fe)
{
	desc d;
	const dl_value *it = v->u.items;
	const char *name = sym_text(it[0].u.id);
	fe->kind = DL_FE_AGG;
	fe->agg = DL_AGG_CUSTOM;
	fe->fn = it[0].u.id;
	uint32_t n = v->len - 1, min = 1, max = UINT32_MAX;
	for (size_t i = 0; i < sizeof k_aggs / sizeof *k_aggs; i++)
		if (sym_is(&it[0], k_aggs[i].name)) {
			fe->agg = k_aggs[i].agg;
			min = k_aggs[i].min;
			max = k_aggs[i].max;
		}
	if (n < min || n > max) {
		if (min == 2)
			return perr(c, fe->pos,
				    "aggregate %s takes a count and a variable: (%s n ?x)", name,
				    name);
		if (max == 2)
			return perr(c, fe->pos,
				    "aggregate %s takes a variable, or a count and a variable: "
				    "(%s ?x) or (%s n ?x)",
				    name, name, name);
		if (max == 1)
			return perr(c, fe->pos, "aggregate %s takes one variable: (%s ?x)", name,
				    name);
		return perr(c, fe->pos, "aggregate %s takes a variable: (%s ... ?x)", name, name);
	}
	fe->nargs = n;
	if (!(fe->args = new_terms(c, n)))
		return DL_ENOMEM;
	for (uint32_t i = 1; i < n; i++) {
		const dl_value *a = &it[i];
		const pnode *pa = kid(p, v, i);
		DL_TRY(parse_term(c, a, pa, A_VAR | A_CONST, "as an aggregate argument",
				  &fe->args[i - 1]));
		if (fe->agg != DL_AGG_CUSTOM && fe->args[i - 1].kind == DL_T_CONST &&
		    (a->type != DL_INT || a->u.i < 1))
			return perr(
				c, pos_of(pa),
				"the count in (%s n ?x) must be a positive integer or an :in variable, got %s",
				name, describe(&d, a));
	}
	const dl_value *last = &it[n];
	const pnode *pl = kid(p, v, n);
	if (sym_kind(last) != SK_VAR)
		return perr(c, pos_of(pl),
			    "the last argument of aggregate %s must be a variable, got %s", name,
			    describe(&d, last));
	DL_TRY(parse_term(c, last, pl, A_VAR, "in an aggregate", &fe->args[n - 1]));
	fe->var = fe->args[n - 1].var;
	return 0;
}

static int parse_find_elem(qctx *c, const dl_value *v, const pnode *p, dl_find_elem *fe)
{
	desc d;
	memset(fe, 0, sizeof *fe);
	fe->pos = pos_of(p);
	switch (sym_kind(v)) {
	case SK_VAR:
		fe->kind = DL_FE_VAR;
		return var_ref(c, v->u.id, fe->pos, &fe->var);
	case SK_BLANK:
		return perr(c, fe->pos, "'_' cannot be used in :find");
	case SK_DOT:
		return perr(c, fe->pos,
			    "'.' must follow the only :find element (a scalar find spec ?x .)");
	case SK_DOTS:
		return perr(c, fe->pos, "'...' belongs in a collection find spec [?x ...]");
	}
	if (v->type == DL_VECTOR)
		return perr(c, fe->pos,
			    "a collection or tuple find spec must be the only :find element");
	if (v->type != DL_LIST || v->len == 0)
		return perr(
			c, fe->pos,
			"expected a variable, an aggregate or a pull expression in :find, got %s",
			describe(&d, v));
	if (sym_kind(&v->u.items[0]) != SK_PLAIN)
		return perr(c, fe->pos, "expected an aggregate function name or pull, got %s",
			    describe(&d, &v->u.items[0]));
	if (sym_is(&v->u.items[0], "pull"))
		return parse_pull(c, v, p, fe);
	return parse_agg(c, v, p, fe);
}

static int parse_find(qctx *c, const seq *s, dl_pos kw, dl_query *q)
{
	if (s->n == 0)
		return perr(c, kw, ":find needs at least one element");
	const dl_value *first = seq_item(s, 0);
	const pnode *pf = seq_kid(s, 0);
	if (s->n == 2 && sym_kind(seq_item(s, 1)) == SK_DOT) {
		q->find_spec = DL_FIND_SCALAR;
		q->nfind = 1;
		if (!(q->find = DL_ARENA_NEW(c->a, 1, dl_find_elem)))
			return DL_ENOMEM;
		return parse_find_elem(c, first, pf, &q->find[0]);
	}
	seq elems = *s;
	if (s->n == 1 && first->type == DL_VECTOR) {
		if (first->len == 0)
			return perr(c, pos_of(pf), "empty tuple find spec []");
		elems = seq_of(first, pf, 0);
		q->find_spec = DL_FIND_TUPLE;
		if (first->len == 2 && sym_kind(&first->u.items[1]) == SK_DOTS) {
			q->find_spec = DL_FIND_COLL;
			elems.n = 1;
		}
	} else {
		q->find_spec = DL_FIND_REL;
	}
	q->nfind = elems.n;
	if (!(q->find = DL_ARENA_NEW(c->a, elems.n, dl_find_elem)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < elems.n; i++)
		DL_TRY(parse_find_elem(c, seq_item(&elems, i), seq_kid(&elems, i), &q->find[i]));
	return 0;
}

static int parse_keys(qctx *c, const seq *s, dl_pos kw, const char *sec, dl_query *q)
{
	desc d;
	q->keys_pos = kw;
	q->nkeys = s->n;
	if (s->n && !(q->keys = DL_ARENA_NEW(c->a, s->n, uint32_t)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < s->n; i++) {
		const dl_value *v = seq_item(s, i);
		if (sym_kind(v) != SK_PLAIN)
			return perr(c, pos_of(seq_kid(s, i)), ":%s takes plain symbols, got %s",
				    sec, describe(&d, v));
		for (uint32_t j = 0; j < i; j++)
			if (q->keys[j] == v->u.id)
				return perr(c, pos_of(seq_kid(s, i)), "duplicate key %s in :%s",
					    sym_text(v->u.id), sec);
		q->keys[i] = v->u.id;
	}
	if (q->find_spec != DL_FIND_REL && q->find_spec != DL_FIND_TUPLE)
		return perr(c, kw, ":%s needs a relation or tuple find spec", sec);
	if (q->nkeys != q->nfind)
		return perr(c, kw, ":%s names %u key%s but :find has %u element%s", sec, q->nkeys,
			    q->nkeys == 1 ? "" : "s", q->nfind, q->nfind == 1 ? "" : "s");
	return 0;
}

static int parse_in(qctx *c, const seq *s, dl_query *q)
{
	desc d;
	q->nin = s->n;
	if (s->n && !(q->in = DL_ARENA_NEW(c->a, s->n, dl_input)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < s->n; i++) {
		const dl_value *v = seq_item(s, i);
		const pnode *p = seq_kid(s, i);
		dl_input *in = &q->in[i];
		memset(in, 0, sizeof *in);
		in->pos = pos_of(p);
		int k = sym_kind(v);
		if (k == SK_SRC) {
			in->kind = DL_IN_SRC;
			in->sym = v->u.id;
		} else if (k == SK_RULES) {
			in->kind = DL_IN_RULES;
			in->sym = v->u.id;
		} else if (k == SK_VAR || k == SK_BLANK || v->type == DL_VECTOR) {
			in->kind = DL_IN_BIND;
			DL_TRY(parse_binding(c, v, p, "in :in", &in->bind));
		} else {
			return perr(
				c, in->pos,
				"expected a source ($...), rules (%%), a variable or a binding form in :in, got %s",
				describe(&d, v));
		}
	}
	return 0;
}

static int parse_with(qctx *c, const seq *s, dl_query *q)
{
	q->nwith = s->n;
	if (s->n && !(q->with = new_terms(c, s->n)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < s->n; i++) {
		const dl_value *v = seq_item(s, i);
		if (sym_kind(v) == SK_BLANK)
			return perr(c, pos_of(seq_kid(s, i)), "'_' cannot be used in :with");
		DL_TRY(parse_term(c, v, seq_kid(s, i), A_VAR, "in :with", &q->with[i]));
	}
	return 0;
}

static int order_one(qctx *c, dl_query *q, const dl_value *var, const pnode *pv,
		     const dl_value *dir, const pnode *pd, dl_order *o)
{
	desc d;
	o->pos = pos_of(pv);
	if (sym_kind(var) != SK_VAR)
		return perr(c, o->pos, "expected a variable in :order-by, got %s",
			    describe(&d, var));
	if (dir) {
		if (named_is(dir, DL_KEYWORD, "desc"))
			o->desc = true;
		else if (!named_is(dir, DL_KEYWORD, "asc"))
			return perr(c, pos_of(pd),
				    "an :order-by direction is :asc or :desc, got %s",
				    describe(&d, dir));
	}
	for (uint32_t j = 0; j < q->nfind; j++)
		if (q->find[j].kind == DL_FE_VAR && c->vt->v[q->find[j].var].sym == var->u.id) {
			o->var = q->find[j].var;
			o->col = j;
			return 0;
		}
	return perr(c, o->pos, ":order-by variable %s is not a :find variable",
		    sym_text(var->u.id));
}

/* [[?x :asc] [?y :desc]], [?x :asc ?y :desc], [?x ?y :desc] */
static int parse_order(qctx *c, const seq *s, dl_pos kw, bool vector_form, dl_query *q)
{
	desc d;
	seq l = *s;
	if (vector_form && l.n == 1 && seq_item(&l, 0)->type == DL_VECTOR)
		l = seq_of(seq_item(s, 0), seq_kid(s, 0), 0);
	if (l.n == 0)
		return perr(c, kw, ":order-by needs at least one variable");
	if (!(q->order = DL_ARENA_NEW(c->a, l.n, dl_order)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < l.n; i++) {
		const dl_value *v = seq_item(&l, i);
		const pnode *p = seq_kid(&l, i);
		dl_order *o = &q->order[q->norder];
		memset(o, 0, sizeof *o);
		if (v->type == DL_VECTOR) {
			if (v->len < 1 || v->len > 2)
				return perr(
					c, pos_of(p),
					"an :order-by entry is ?x, [?x] or [?x :asc|:desc], got %s",
					describe(&d, v));
			DL_TRY(order_one(c, q, &v->u.items[0], kid(p, v, 0),
					 v->len == 2 ? &v->u.items[1] : NULL, kid(p, v, 1), o));
		} else if (sym_kind(v) == SK_VAR) {
			const dl_value *dir = NULL;
			const pnode *pd = NULL;
			if (i + 1 < l.n && seq_item(&l, i + 1)->type == DL_KEYWORD) {
				dir = seq_item(&l, i + 1);
				pd = seq_kid(&l, i + 1);
				i++;
			}
			DL_TRY(order_one(c, q, v, p, dir, pd, o));
		} else {
			return perr(c, pos_of(p), "expected a variable in :order-by, got %s",
				    describe(&d, v));
		}
		q->norder++;
	}
	return 0;
}

static int parse_count(qctx *c, const seq *s, dl_pos kw, const char *sec, int64_t *out)
{
	desc d;
	if (s->n != 1)
		return perr(c, kw, ":%s takes one non-negative integer", sec);
	const dl_value *v = seq_item(s, 0);
	if (v->type != DL_INT || v->u.i < 0)
		return perr(c, pos_of(seq_kid(s, 0)), ":%s takes a non-negative integer, got %s",
			    sec, describe(&d, v));
	*out = v->u.i;
	return 0;
}

/* ---- checks ------------------------------------------------------------ */

typedef struct vctx {
	qctx *c;
	const dl_var *vars;
	uint32_t nvars;
	size_t words;
	const dl_query *q; /* NULL in rule bodies: no :in to check against */
	bool rules_given;  /* % is in :in */
} vctx;

static uint64_t *bs_new(const vctx *x) { return dl_calloc(x->words, sizeof(uint64_t)); }
static void bs_clear(const vctx *x, uint64_t *b) { memset(b, 0, x->words * sizeof *b); }
static void bs_set(uint64_t *b, uint32_t i) { b[i / 64] |= (uint64_t)1 << (i % 64); }
static bool bs_has(const uint64_t *b, uint32_t i) { return b[i / 64] >> (i % 64) & 1; }
static void bs_or(const vctx *x, uint64_t *a, const uint64_t *b)
{
	for (size_t i = 0; i < x->words; i++)
		a[i] |= b[i];
}
static void bs_and(const vctx *x, uint64_t *a, const uint64_t *b)
{
	for (size_t i = 0; i < x->words; i++)
		a[i] &= b[i];
}
static bool bs_any(const vctx *x, const uint64_t *b)
{
	for (uint32_t i = 0; i < x->words; i++)
		if (b[i])
			return true;
	return false;
}


/* "[?a ?b]" for messages. */
static const char *bs_text(const vctx *x, const uint64_t *b, char *buf, size_t cap)
{
	size_t n = 0;
	buf[n++] = '[';
	for (uint32_t i = 0; i < x->nvars; i++) {
		if (!bs_has(b, i))
			continue;
		size_t l = strlen(x->vars[i].name);
		if (n + l + 8 > cap) {
			memcpy(buf + n, " ...", 4);
			n += 4;
			break;
		}
		if (n > 1)
			buf[n++] = ' ';
		memcpy(buf + n, x->vars[i].name, l);
		n += l;
	}
	buf[n++] = ']';
	buf[n] = 0;
	return buf;
}

static void term_vars(const dl_term *t, uint32_t n, uint64_t *out)
{
	for (uint32_t i = 0; i < n; i++)
		if (t[i].kind == DL_T_VAR)
			bs_set(out, t[i].var);
}

/* Variables a clause shares with its surroundings. */
static void clause_free(const vctx *x, const dl_clause *cl, uint64_t *out)
{
	switch (cl->kind) {
	case DL_C_PATTERN:
		term_vars(cl->u.pat.t, cl->u.pat.n, out);
		break;
	case DL_C_PRED:
	case DL_C_FN:
		term_vars(&cl->u.fn.f, 1, out);
		term_vars(cl->u.fn.args, cl->u.fn.nargs, out);
		term_vars(cl->u.fn.bind.terms, cl->u.fn.bind.n, out);
		break;
	case DL_C_RULE:
		term_vars(cl->u.rule.args, cl->u.rule.nargs, out);
		break;
	case DL_C_NOT_JOIN:
	case DL_C_OR_JOIN:
		term_vars(cl->u.sub.vars, cl->u.sub.nvars, out);
		break;
	default: /* not, or, and */
		for (uint32_t i = 0; i < cl->u.sub.n; i++)
			clause_free(x, &cl->u.sub.items[i], out);
		break;
	}
}

/* Variables a clause can bind.  Allocates only for or / or-join. */
static int clause_bound(const vctx *x, const dl_clause *cl, uint64_t *out)
{
	switch (cl->kind) {
	case DL_C_PATTERN:
		term_vars(cl->u.pat.t, cl->u.pat.n, out);
		return 0;
	case DL_C_FN:
		term_vars(cl->u.fn.bind.terms, cl->u.fn.bind.n, out);
		return 0;
	case DL_C_RULE:
		term_vars(cl->u.rule.args, cl->u.rule.nargs, out);
		return 0;
	case DL_C_AND:
		for (uint32_t i = 0; i < cl->u.sub.n; i++)
			DL_TRY(clause_bound(x, &cl->u.sub.items[i], out));
		return 0;
	case DL_C_OR:
	case DL_C_OR_JOIN: {
		/* what every branch binds */
		uint64_t *all = bs_new(x), *one = bs_new(x);
		int rc = DL_ENOMEM;
		if (!all || !one)
			goto out;
		memset(all, 0xff, x->words * sizeof *all);
		for (uint32_t i = 0; i < cl->u.sub.n; i++) {
			bs_clear(x, one);
			if ((rc = clause_bound(x, &cl->u.sub.items[i], one)) < 0)
				goto out;
			bs_and(x, all, one);
		}
		if (cl->kind == DL_C_OR_JOIN) {
			bs_clear(x, one);
			term_vars(cl->u.sub.vars, cl->u.sub.nvars, one);
			bs_and(x, all, one);
		}
		bs_or(x, out, all);
		rc = 0;
	out:
		dl_free(all);
		dl_free(one);
		return rc;
	}
	default: /* pred, not, not-join */
		return 0;
	}
}

static bool src_declared(const vctx *x, uint32_t sym)
{
	const dl_query *q = x->q;
	for (uint32_t i = 0; i < q->nin; i++)
		if (q->in[i].kind == DL_IN_SRC && q->in[i].sym == sym)
			return true;
	return false;
}

static int check_sources(const vctx *x, const dl_clause *cl)
{
	qctx *c = x->c;
	if (!x->q)
		return 0;
	if ((cl->src_given || cl->kind == DL_C_PATTERN) && !src_declared(x, cl->src)) {
		if (cl->src_given)
			return perr(c, cl->pos, "source %s is not declared in :in",
				    sym_text(cl->src));
		return perr(c, cl->pos,
			    "data pattern uses the default source %s, which is not declared in :in",
			    sym_text(cl->src));
	}
	if (cl->kind == DL_C_PRED || cl->kind == DL_C_FN)
		for (uint32_t i = 0; i < cl->u.fn.nargs; i++) {
			const dl_term *t = &cl->u.fn.args[i];
			if (t->kind == DL_T_SRC && !src_declared(x, t->sym))
				return perr(c, t->pos, "source %s is not declared in :in",
					    sym_text(t->sym));
			if (t->kind == DL_T_RULES && !x->rules_given)
				return perr(c, t->pos, "rules %% are not declared in :in");
		}
	if (cl->kind == DL_C_RULE && !x->rules_given)
		return perr(c, cl->pos, "rule call %s needs %% in :in", sym_text(cl->u.rule.name));
	return 0;
}

static int check_conj(const vctx *x, const dl_clause *cls, uint32_t n, const uint64_t *outer,
		      uint64_t *bound);

/* One or / or-join branch: a clause or an and. */
static int check_branch(const vctx *x, const dl_clause *b, const uint64_t *outer)
{
	uint64_t *tmp = bs_new(x);
	if (!tmp)
		return DL_ENOMEM;
	int rc = b->kind == DL_C_AND ? check_conj(x, b->u.sub.items, b->u.sub.n, outer, tmp)
				     : check_conj(x, b, 1, outer, tmp);
	dl_free(tmp);
	return rc;
}

static int check_clause(const vctx *x, const dl_clause *cl, const uint64_t *bound,
			const uint64_t *outer, const uint32_t *cnt, uint64_t *t1, uint64_t *t2)
{
	qctx *c = x->c;
	char b1[200], b2[200];
	DL_TRY(check_sources(x, cl));
	switch (cl->kind) {
	case DL_C_PRED:
	case DL_C_FN: {
		/* arguments must be bound by some other clause */
		bs_clear(x, t1);
		term_vars(cl->u.fn.bind.terms, cl->u.fn.bind.n, t1);
		for (uint32_t i = 0; i <= cl->u.fn.nargs; i++) {
			const dl_term *t = i ? &cl->u.fn.args[i - 1] : &cl->u.fn.f;
			if (t->kind != DL_T_VAR || bs_has(outer, t->var))
				continue;
			if (cnt[t->var] - (bs_has(t1, t->var) ? 1 : 0) == 0)
				return perr(
					c, t->pos,
					"insufficient binding: %s, used by %s %s, is not bound by any other clause",
					x->vars[t->var].name,
					cl->kind == DL_C_PRED ? "predicate" : "function",
					cl->u.fn.f.kind == DL_T_SYM ? sym_text(cl->u.fn.f.sym)
								    : x->vars[cl->u.fn.f.var].name);
		}
		return 0;
	}
	case DL_C_NOT: {
		/* as in DataScript: the not joins on the variables it shares
		 * with the enclosing clauses, at least one of which must be
		 * bound; the others are local to it */
		bs_clear(x, t1);
		clause_free(x, cl, t1);
		memcpy(t2, t1, x->words * sizeof *t2);
		bs_and(x, t2, bound);
		if (!bs_any(x, t2))
			return perr(c, cl->pos,
				    "insufficient binding: none of %s is bound outside this not clause",
				    bs_text(x, t1, b1, sizeof b1));
		memcpy(t2, t1, x->words * sizeof *t2);
		bs_and(x, t2, bound);
		bs_or(x, t2, outer);
		return check_conj(x, cl->u.sub.items, cl->u.sub.n, t2, t1);
	}
	case DL_C_NOT_JOIN: {
		bs_clear(x, t1);
		for (uint32_t i = 0; i < cl->u.sub.n; i++)
			clause_free(x, &cl->u.sub.items[i], t1);
		for (uint32_t i = 0; i < cl->u.sub.nvars; i++) {
			const dl_term *t = &cl->u.sub.vars[i];
			if (!bs_has(bound, t->var))
				return perr(
					c, t->pos,
					"not-join variable %s must be bound outside the not-join",
					x->vars[t->var].name);
			if (!bs_has(t1, t->var))
				return perr(c, t->pos,
					    "not-join variable %s is not used in its clauses",
					    x->vars[t->var].name);
		}
		bs_clear(x, t1);
		term_vars(cl->u.sub.vars, cl->u.sub.nvars, t1);
		return check_conj(x, cl->u.sub.items, cl->u.sub.n, t1, t2);
	}
	case DL_C_OR: {
		bs_clear(x, t1);
		clause_free(x, &cl->u.sub.items[0], t1);
		for (uint32_t i = 1; i < cl->u.sub.n; i++) {
			bs_clear(x, t2);
			clause_free(x, &cl->u.sub.items[i], t2);
			if (memcmp(t1, t2, x->words * sizeof *t1))
				return perr(
					c, cl->u.sub.items[i].pos,
					"all clauses in 'or' must use the same set of free vars: "
					"this one uses %s, the first %s",
					bs_text(x, t2, b2, sizeof b2),
					bs_text(x, t1, b1, sizeof b1));
		}
		for (uint32_t i = 0; i < cl->u.sub.n; i++)
			DL_TRY(check_branch(x, &cl->u.sub.items[i], bound));
		return 0;
	}
	case DL_C_OR_JOIN: {
		/* required vars: bound by something other than this or-join */
		bs_clear(x, t2);
		DL_TRY(clause_bound(x, cl, t2));
		for (uint32_t i = 0; i < cl->u.sub.nreq; i++) {
			const dl_term *t = &cl->u.sub.vars[i];
			if (!bs_has(outer, t->var) &&
			    cnt[t->var] - (bs_has(t2, t->var) ? 1 : 0) == 0)
				return perr(c, t->pos, "or-join requires variable %s to be bound",
					    x->vars[t->var].name);
		}
		for (uint32_t i = 0; i < cl->u.sub.n; i++) {
			bs_clear(x, t2);
			clause_free(x, &cl->u.sub.items[i], t2);
			for (uint32_t j = 0; j < cl->u.sub.nvars; j++) {
				const dl_term *t = &cl->u.sub.vars[j];
				if (!bs_has(t2, t->var))
					return perr(
						c, cl->u.sub.items[i].pos,
						"this or-join branch does not use join variable %s",
						x->vars[t->var].name);
			}
		}
		bs_clear(x, t1);
		term_vars(cl->u.sub.vars, cl->u.sub.nvars, t1);
		for (uint32_t i = 0; i < cl->u.sub.n; i++)
			DL_TRY(check_branch(x, &cl->u.sub.items[i], t1));
		return 0;
	}
	default:
		return 0;
	}
}

/* Check a conjunction whose surroundings bind `outer`; *bound receives
 * outer plus what the conjunction binds. */
static int check_conj(const vctx *x, const dl_clause *cls, uint32_t n, const uint64_t *outer,
		      uint64_t *bound)
{
	uint32_t *cnt = dl_calloc(x->nvars ? x->nvars : 1, sizeof *cnt);
	uint64_t *t1 = bs_new(x), *t2 = bs_new(x);
	int rc = DL_ENOMEM;
	if (!cnt || !t1 || !t2)
		goto out;
	memcpy(bound, outer, x->words * sizeof *bound);
	for (uint32_t i = 0; i < n; i++) {
		bs_clear(x, t1);
		if ((rc = clause_bound(x, &cls[i], t1)) < 0)
			goto out;
		bs_or(x, bound, t1);
		for (uint32_t v = 0; v < x->nvars; v++)
			cnt[v] += bs_has(t1, v);
	}
	rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = check_clause(x, &cls[i], bound, outer, cnt, t1, t2);
out:
	dl_free(cnt);
	dl_free(t1);
	dl_free(t2);
	return rc;
}

static void vctx_init(vctx *x, qctx *c, const dl_var *vars, uint32_t nvars)
{
	*x = (vctx){.c = c, .vars = vars, .nvars = nvars};
	x->words = nvars ? (nvars + 63) / 64 : 1;
}

static const dl_term *find_var_term(const dl_find_elem *fe)
{
	return fe->kind == DL_FE_AGG ? &fe->args[fe->nargs - 1] : NULL;
}

/* ---- variables read once ------------------------------------------------ */

void dl_clause_terms(const dl_clause *cl, bool deep,
		     void (*f)(void *ud, const dl_term *t, uint32_t n), void *ud)
{
	switch (cl->kind) {
	case DL_C_PATTERN:
		f(ud, cl->u.pat.t, cl->u.pat.n);
		return;
	case DL_C_PRED:
	case DL_C_FN:
		f(ud, &cl->u.fn.f, 1);
		f(ud, cl->u.fn.args, cl->u.fn.nargs);
		f(ud, cl->u.fn.bind.terms, cl->u.fn.bind.n);
		return;
	case DL_C_RULE:
		f(ud, cl->u.rule.args, cl->u.rule.nargs);
		return;
	case DL_C_NOT_JOIN:
	case DL_C_OR_JOIN:
		f(ud, cl->u.sub.vars, cl->u.sub.nvars);
		if (!deep)
			return;
		break;
	default: /* not, or, and */
		break;
	}
	for (uint32_t i = 0; i < cl->u.sub.n; i++)
		dl_clause_terms(&cl->u.sub.items[i], deep, f, ud);
}

/* n[var]: occurrences, counted up to 2 */
static void count_terms(void *ud, const dl_term *t, uint32_t k)
{
	uint8_t *n = ud;
	for (uint32_t i = 0; i < k; i++)
		if (t[i].kind == DL_T_VAR && n[t[i].var] < 2)
			n[t[i].var]++;
}

/* dl_query.single: every occurrence counted (find, with, inputs, order,
 * every clause at any depth), then the variables seen once whose one
 * occurrence is in a top-level pattern on the default source. */
static int mark_single(qctx *c, dl_query *q)
{
	if (!q->nvars)
		return 0;
	/* n: occurrences (0, 1, 2 = more); top: seen in a top-level pattern */
	uint8_t *n = DL_ARENA_NEW(c->a, 2 * (size_t)q->nvars, uint8_t);
	if (!n)
		return DL_ENOMEM;
	memset(n, 0, 2 * (size_t)q->nvars);
	uint8_t *top = n + q->nvars;
	for (uint32_t i = 0; i < q->nfind; i++) {
		const dl_find_elem *fe = &q->find[i];
		dl_term v = {.kind = DL_T_VAR, .var = fe->var};
		count_terms(n, &v, 1);
		if (fe->kind == DL_FE_AGG)
			count_terms(n, fe->args, fe->nargs);
		if (fe->kind == DL_FE_PULL)
			count_terms(n, &fe->pattern, 1);
	}
	count_terms(n, q->with, q->nwith);
	for (uint32_t i = 0; i < q->nin; i++)
		if (q->in[i].kind == DL_IN_BIND)
			count_terms(n, q->in[i].bind.terms, q->in[i].bind.n);
	for (uint32_t i = 0; i < q->norder; i++) {
		dl_term v = {.kind = DL_T_VAR, .var = q->order[i].var};
		count_terms(n, &v, 1);
	}
	for (uint32_t i = 0; i < q->nwhere; i++)
		dl_clause_terms(&q->where[i], true, count_terms, n);
	bool any = false;
	for (uint32_t i = 0; i < q->nwhere; i++) {
		const dl_clause *cl = &q->where[i];
		if (cl->kind != DL_C_PATTERN ||
		    (cl->src_given && dl_intern_name(cl->src, NULL, NULL)[1] != 0))
			continue;
		for (uint32_t k = 0; k < cl->u.pat.n; k++)
			if (cl->u.pat.t[k].kind == DL_T_VAR && n[cl->u.pat.t[k].var] == 1)
				top[cl->u.pat.t[k].var] = any = true;
	}
	q->single = any ? top : NULL;
	return 0;
}

static int validate_query(qctx *c, const dl_query *q)
{
	vctx x;
	vctx_init(&x, c, q->vars, q->nvars);
	x.q = q;
	uint64_t *in = bs_new(&x), *bound = bs_new(&x), *findv = bs_new(&x);
	int rc = DL_ENOMEM;
	if (!in || !bound || !findv)
		goto out;
	rc = 0;
	/* :in: no variable, source or % twice */
	for (uint32_t i = 0; i < q->nin && rc == 0; i++) {
		const dl_input *ii = &q->in[i];
		if (ii->kind == DL_IN_RULES) {
			if (x.rules_given)
				rc = perr(c, ii->pos, "rules %% appear twice in :in");
			x.rules_given = true;
		} else if (ii->kind == DL_IN_SRC) {
			for (uint32_t j = 0; j < i; j++)
				if (q->in[j].kind == DL_IN_SRC && q->in[j].sym == ii->sym)
					rc = perr(c, ii->pos, "source %s appears twice in :in",
						  sym_text(ii->sym));
		} else {
			for (uint32_t j = 0; j < ii->bind.n && rc == 0; j++) {
				const dl_term *t = &ii->bind.terms[j];
				if (t->kind != DL_T_VAR)
					continue;
				if (bs_has(in, t->var))
					rc = perr(c, t->pos, "variable %s appears twice in :in",
						  q->vars[t->var].name);
				bs_set(in, t->var);
			}
		}
	}
	if (rc)
		goto out;
	if ((rc = check_conj(&x, q->where, q->nwhere, in, bound)) < 0)
		goto out;
	for (uint32_t i = 0; i < q->nfind; i++) {
		const dl_find_elem *fe = &q->find[i];
		const dl_term *vt = find_var_term(fe);
		bs_set(findv, fe->var);
		if (!bs_has(bound, fe->var)) {
			rc = perr(c, vt ? vt->pos : fe->pos,
				  "find variable %s is not bound by :where or :in",
				  q->vars[fe->var].name);
			goto out;
		}
		for (uint32_t j = 0; fe->kind == DL_FE_AGG && j + 1 < fe->nargs; j++) {
			const dl_term *t = &fe->args[j];
			if (t->kind == DL_T_VAR && !bs_has(in, t->var)) {
				rc = perr(
					c, t->pos,
					"aggregate argument %s must be a constant or an :in variable",
					q->vars[t->var].name);
				goto out;
			}
		}
		if (fe->kind == DL_FE_PULL) {
			if (fe->pattern.kind == DL_T_VAR && !bs_has(in, fe->pattern.var)) {
				rc = perr(c, fe->pattern.pos,
					  "pull pattern variable %s must be an :in variable",
					  q->vars[fe->pattern.var].name);
				goto out;
			}
			if (!src_declared(&x, fe->src)) {
				rc = fe->src_given
					     ? perr(c, fe->pos, "source %s is not declared in :in",
						    sym_text(fe->src))
					     : perr(c, fe->pos,
						    "pull uses the default source %s, which is not declared in :in",
						    sym_text(fe->src));
				goto out;
			}
		}
	}
	for (uint32_t i = 0; i < q->nwith; i++) {
		const dl_term *t = &q->with[i];
		if (!bs_has(bound, t->var)) {
			rc = perr(c, t->pos, "with variable %s is not bound by :where or :in",
				  q->vars[t->var].name);
			goto out;
		}
		if (bs_has(findv, t->var)) {
			rc = perr(c, t->pos, ":find and :with use the same variable %s",
				  q->vars[t->var].name);
			goto out;
		}
	}
out:
	dl_free(in);
	dl_free(bound);
	dl_free(findv);
	return rc;
}

/* ---- the query --------------------------------------------------------- */

enum {
	S_FIND,
	S_KEYS,
	S_STRS,
	S_SYMS,
	S_WITH,
	S_IN,
	S_WHERE,
	S_ORDER,
	S_LIMIT,
	S_OFFSET,
	S_TIMEOUT,
	S_COUNT
};
static const char *const k_sections[S_COUNT] = {
	"find",  "keys",     "strs",  "syms",   "with",    "in",
	"where", "order-by", "limit", "offset", "timeout",
};

typedef struct sect {
	bool present;
	dl_pos pos; /* the keyword */
	seq s;
} sect;

static int section_of(const dl_value *v)
{
	for (int i = 0; i < S_COUNT; i++)
		if (named_is(v, DL_KEYWORD, k_sections[i]))
			return i;
	return -1;
}

static int split_vector(qctx *c, const dl_value *v, const pnode *p, sect *secs)
{
	desc d;
	int cur = -1;
	for (uint32_t i = 0; i < v->len; i++) {
		const dl_value *it = &v->u.items[i];
		const pnode *pi = kid(p, v, i);
		if (it->type == DL_KEYWORD) {
			int s = section_of(it);
			if (s >= 0) {
				if (secs[s].present)
					return perr(c, pos_of(pi), "duplicate section :%s",
						    k_sections[s]);
				secs[s] = (sect){true, pos_of(pi), {v, p, i + 1, 0, NULL, NULL}};
				cur = s;
				continue;
			}
			if (cur != S_ORDER)
				return perr(
					c, pos_of(pi),
					cur < 0 ? "a query starts with a section keyword such as :find, got %s"
						: "unknown query section %s",
					describe(&d, it));
		}
		if (cur < 0)
			return perr(c, pos_of(pi),
				    "a query starts with a section keyword such as :find, got %s",
				    describe(&d, it));
		secs[cur].s.n++;
	}
	return 0;
}

/* The nodes of map entry `key` (*pk) and its value (*pv): the map's
 * children are in text order, which need not be the value's. */
static int map_kid(qctx *c, const pnode *p, const dl_value *key, const pnode **pk, const pnode **pv)
{
	*pk = *pv = p;
	if (!p || !p->kids || !c->text)
		return 0;
	*pk = *pv = &p->kids[p->n];
	dl_arena tmp = DL_ARENA_INIT;
	int rc = 0;
	for (uint32_t i = 0; i + 1 < p->n; i += 2) {
		dl_value v;
		size_t used;
		dl_edn_opts o = DL_EDN_OPTS_INIT;
		size_t off = p->kids[i].off;
		rc = dl_edn_read(&v, &used, &tmp, c->text + off, c->len - off, &o);
		if (rc == DL_ENOMEM)
			break;
		if (rc == 0 && dl_value_equal(&v, key)) {
			*pk = &p->kids[i];
			*pv = &p->kids[i + 1];
			break;
		}
		rc = 0;
		dl_arena_reset(&tmp);
	}
	dl_arena_free(&tmp);
	return rc == DL_ENOMEM ? rc : 0;
}

static int split_map(qctx *c, const dl_value *v, const pnode *p, sect *secs)
{
	desc d;
	for (uint32_t i = 0; i < v->len; i++) {
		const dl_value *key = &v->u.items[2 * i], *val = &v->u.items[2 * i + 1];
		const pnode *pk, *pv;
		DL_TRY(map_kid(c, p, key, &pk, &pv));
		int s = section_of(key);
		if (s < 0)
			return perr(c, pos_of(pk), "unknown query section %s", describe(&d, key));
		sect *x = &secs[s];
		x->present = true;
		x->pos = pos_of(pk);
		if (val->type == DL_VECTOR || val->type == DL_LIST)
			x->s = seq_of(val, pv, 0);
		else
			x->s = (seq){NULL, NULL, 0, 1, val, pv};
	}
	return 0;
}

static int parse_query_value(qctx *c, const dl_value *v, const pnode *p, dl_query **out)
{
	desc d;
	sect secs[S_COUNT];
	memset(secs, 0, sizeof secs);
	if (c->depth + 1 > MAX_NEST)
		return perr_code(DL_ELIMIT, c->source, pos_of(p), "queries nested too deeply");
	dl_query *q = DL_ARENA_NEW(c->a, 1, dl_query);
	if (!q)
		return DL_ENOMEM;
	memset(q, 0, sizeof *q);
	q->source = c->source;
	q->pos = pos_of(p);
	q->limit = q->offset = q->timeout_ms = -1;
	vartab vt = {NULL, 0, 0};
	c->vt = &vt;
	c->depth++;
	int rc;
	if (v->type == DL_VECTOR)
		rc = split_vector(c, v, p, secs);
	else if (v->type == DL_MAP)
		rc = split_map(c, v, p, secs);
	else
		rc = perr(c, q->pos,
			  "a query is a vector [:find ...] or a map {:find [...]}, got %s",
			  describe(&d, v));
	if (rc)
		goto out;
	if (!secs[S_FIND].present) {
		rc = perr(c, q->pos, "the query has no :find");
		goto out;
	}
	if ((rc = parse_find(c, &secs[S_FIND].s, secs[S_FIND].pos, q)) < 0)
		goto out;
	for (int k = S_KEYS; k <= S_SYMS; k++) {
		if (!secs[k].present)
			continue;
		if (q->keys_kind) {
			rc = perr(c, secs[k].pos,
				  "only one of :keys, :strs and :syms may be given");
			goto out;
		}
		q->keys_kind = (uint8_t)(DL_KEYS_KEYS + (k - S_KEYS));
		if ((rc = parse_keys(c, &secs[k].s, secs[k].pos, k_sections[k], q)) < 0)
			goto out;
	}
	if (secs[S_WITH].present && (rc = parse_with(c, &secs[S_WITH].s, q)) < 0)
		goto out;
	if (secs[S_IN].present) {
		q->in_given = true;
		if ((rc = parse_in(c, &secs[S_IN].s, q)) < 0)
			goto out;
	} else {
		if (!(q->in = DL_ARENA_NEW(c->a, 1, dl_input))) {
			rc = DL_ENOMEM;
			goto out;
		}
		memset(q->in, 0, sizeof *q->in);
		q->in->kind = DL_IN_SRC;
		q->in->sym = c->sym_dollar;
		q->in->pos = q->pos;
		q->nin = 1;
	}
	if (secs[S_WHERE].present) {
		const sect *w = &secs[S_WHERE];
		if (!w->s.coll) {
			rc = perr(c, w->pos, ":where takes a vector of clauses, got %s",
				  describe(&d, w->s.single));
			goto out;
		}
		q->nwhere = w->s.n;
		if ((rc = parse_clauses(c, &w->s, false, &q->where)) < 0)
			goto out;
	}
	if (secs[S_ORDER].present &&
	    (rc = parse_order(c, &secs[S_ORDER].s, secs[S_ORDER].pos, v->type == DL_VECTOR, q)) < 0)
		goto out;
	if (secs[S_LIMIT].present &&
	    (rc = parse_count(c, &secs[S_LIMIT].s, secs[S_LIMIT].pos, "limit", &q->limit)) < 0)
		goto out;
	if (secs[S_OFFSET].present &&
	    (rc = parse_count(c, &secs[S_OFFSET].s, secs[S_OFFSET].pos, "offset", &q->offset)) < 0)
		goto out;
	if (secs[S_TIMEOUT].present && (rc = parse_count(c, &secs[S_TIMEOUT].s, secs[S_TIMEOUT].pos,
							 "timeout", &q->timeout_ms)) < 0)
		goto out;
	q->vars = vt.v;
	q->nvars = vt.n;
	if ((rc = validate_query(c, q)) < 0 || (rc = mark_single(c, q)) < 0)
		goto out;
	*out = q;
out:
	c->depth--;
	c->vt = NULL;
	return rc;
}

static int ctx_init(qctx *c, dl_arena *a, dl_arena *scratch, const char *source)
{
	memset(c, 0, sizeof *c);
	c->a = a;
	c->scratch = scratch;
	c->source = dl_arena_strndup(a, source, strlen(source));
	if (!c->source)
		return DL_ENOMEM;
	return dl_intern(&c->sym_dollar, "$", 1);
}

/* Read the one form of text (into a) and its position tree (into scratch). */
static int read_text(dl_value *v, pnode **root, dl_arena *a, dl_arena *scratch, const char *text,
		     size_t len, const char *source, const char *what)
{
	dl_edn_opts o = {source, 0};
	dl_edn_reader r;
	dl_edn_reader_init(&r, text, len, &o);
	int rc = dl_edn_reader_next(&r, v, a);
	if (rc == DL_ENOTFOUND)
		return perr_code(DL_EINVAL, source, pos_at(text, len, len), "empty %s", what);
	if (rc < 0)
		return rc;
	size_t end = r.pos;
	dl_value extra;
	rc = dl_edn_reader_next(&r, &extra, scratch);
	if (rc == 0) {
		/* position of the extra form: skip what separates it */
		scan s = {.text = text, .len = len, .line = 1, .col = 1};
		sc_adv(&s, end);
		int wrc = sc_ws(&s);
		dl_arena_free(&s.tmp);
		if (wrc < 0)
			return wrc;
		desc d;
		return perr_code(DL_EINVAL, source, (dl_pos){s.line, s.col},
				 "unexpected %s after the %s", describe(&d, &extra), what);
	}
	if (rc != DL_ENOTFOUND)
		return rc;
	return build_pos(root, scratch, text, len);
}

static int parse_text(dl_query **out, dl_arena *a, const char *text, size_t len, const char *source,
		      unsigned depth)
{
	dl_arena scratch = DL_ARENA_INIT;
	qctx c;
	dl_value v;
	pnode *root = NULL;
	int rc = ctx_init(&c, a, &scratch, source);
	if (rc < 0)
		goto out;
	c.text = text;
	c.len = len;
	c.depth = depth;
	if ((rc = read_text(&v, &root, a, &scratch, text, len, c.source, "query")) < 0)
		goto out;
	rc = parse_query_value(&c, &v, root, out);
out:
	dl_arena_free(&scratch);
	return rc;
}

int dl_query_parse(dl_query **out, dl_arena *a, const char *text, size_t len, const char *source)
{
	assert(out && a && (text || !len));
	*out = NULL;
	return parse_text(out, a, text ? text : "", len, source ? source : "<query>", 0);
}

int dl_query_parse_value(dl_query **out, dl_arena *a, const dl_value *q, const char *source)
{
	assert(out && a && q);
	*out = NULL;
	if (!source)
		source = "<query>";
	if (q->type == DL_LIST && q->len == 2 && sym_is(&q->u.items[0], "quote"))
		q = &q->u.items[1];
	if (q->type == DL_STRING)
		return parse_text(out, a, q->u.s, q->len, source, 0);
	dl_arena scratch = DL_ARENA_INIT;
	qctx c;
	int rc = ctx_init(&c, a, &scratch, source);
	if (rc == 0) {
		c.copy = true;
		rc = parse_query_value(&c, q, NULL, out);
	}
	dl_arena_free(&scratch);
	return rc;
}

/* ---- rules ------------------------------------------------------------- */

static const dl_rule *find_rule(const dl_rule *rules, uint32_t n, uint32_t name)
{
	for (uint32_t i = 0; i < n; i++)
		if (rules[i].name == name)
			return &rules[i];
	return NULL;
}

const dl_rule *dl_ruleset_find(const dl_ruleset *rs, uint32_t name)
{
	return find_rule(rs->rules, rs->n, name);
}

/* Every rule call under cls names a rule of `rules` with the right arity. */
static int check_calls(const char *source, const dl_clause *cls, uint32_t n, const dl_rule *rules,
		       uint32_t nrules)
{
	for (uint32_t i = 0; i < n; i++) {
		const dl_clause *cl = &cls[i];
		if (cl->kind == DL_C_RULE) {
			const dl_rule *r = find_rule(rules, nrules, cl->u.rule.name);
			if (!r)
				return perr_code(DL_EINVAL, source, cl->pos, "unknown rule %s",
						 sym_text(cl->u.rule.name));
			if (r->arity != cl->u.rule.nargs)
				return perr_code(DL_EINVAL, source, cl->pos,
						 "rule %s takes %u argument%s, got %u",
						 sym_text(r->name), r->arity,
						 r->arity == 1 ? "" : "s", cl->u.rule.nargs);
		} else if (cl->kind >= DL_C_NOT) {
			DL_TRY(check_calls(source, cl->u.sub.items, cl->u.sub.n, rules, nrules));
		}
	}
	return 0;
}

/* The rules each rule's bodies call (dep, r * n + s) and those they call
 * inside a not or not-join, at any depth (neg, with the first such call). */
static void mark_calls(const dl_clause *cls, uint32_t ncl, const dl_rule *rules, uint32_t n,
		       uint32_t r, bool in_not, uint8_t *dep, const dl_clause **neg)
{
	for (uint32_t i = 0; i < ncl; i++) {
		const dl_clause *cl = &cls[i];
		if (cl->kind == DL_C_RULE) {
			const dl_rule *t = find_rule(rules, n, cl->u.rule.name);
			if (!t)
				continue; /* check_calls reports it */
			uint32_t s = (uint32_t)(t - rules);
			dep[r * n + s] = 1;
			if (in_not && !neg[r * n + s])
				neg[r * n + s] = cl;
		} else if (cl->kind >= DL_C_NOT) {
			mark_calls(cl->u.sub.items, cl->u.sub.n, rules, n, r,
				   in_not || cl->kind == DL_C_NOT || cl->kind == DL_C_NOT_JOIN, dep,
				   neg);
		}
	}
}

/* Stratified negation: no rule may depend on itself through a not.  (A
 * rule called both plainly and inside a not, by a rule it does not depend
 * on, is fine: it is evaluated completely first.)  Keeps rs->dep (in a). */
static int check_strata(const char *source, dl_arena *a, dl_arena *scratch, dl_ruleset *rs)
{
	const dl_rule *rules = rs->rules;
	uint32_t n = rs->n;
	if (n == 0)
		return 0;
	uint8_t *dep = DL_ARENA_NEW(a, (size_t)n * n, uint8_t);
	const dl_clause **neg = DL_ARENA_NEW(scratch, (size_t)n * n, const dl_clause *);
	if (!dep || !neg)
		return DL_ENOMEM;
	memset(dep, 0, (size_t)n * n);
	memset(neg, 0, (size_t)n * n * sizeof *neg);
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t b = 0; b < rules[r].nbodies; b++)
			mark_calls(rules[r].bodies[b].clauses, rules[r].bodies[b].n, rules, n, r, false,
				   dep, neg);
	/* transitive closure (rule sets are small) */
	for (uint32_t k = 0; k < n; k++)
		for (uint32_t i = 0; i < n; i++)
			if (dep[i * n + k])
				for (uint32_t j = 0; j < n; j++)
					dep[i * n + j] |= dep[k * n + j];
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t s = 0; s < n; s++)
			if (neg[r * n + s] && (s == r || dep[s * n + r]))
				return perr_code(DL_EINVAL, source, neg[r * n + s]->pos,
						 "rule %s depends on itself through not (it calls %s "
						 "inside a not): negation must be stratified",
						 sym_text(rules[r].name), sym_text(rules[s].name));
	rs->dep = dep;
	return 0;
}

int dl_query_check_rules(const dl_query *q, const dl_ruleset *rs)
{
	return check_calls(q->source, q->where, q->nwhere, rs->rules, rs->n);
}

/* [(name ?a [?req] ...) clause...] into body b; *name receives the name. */
static int parse_rule_body(qctx *c, const dl_value *v, const pnode *p, uint32_t *name,
			   dl_rule_body *b)
{
	desc d;
	memset(b, 0, sizeof *b);
	b->pos = pos_of(p);
	if (v->type != DL_VECTOR || v->len < 2 || v->u.items[0].type != DL_LIST)
		return perr(c, b->pos, "a rule is [(name ?var ...) clause ...], got %s",
			    describe(&d, v));
	const dl_value *h = &v->u.items[0];
	const pnode *ph = kid(p, v, 0);
	if (h->len == 0 || sym_kind(&h->u.items[0]) != SK_PLAIN)
		return perr(c, pos_of(ph), "a rule head starts with the rule's name, got %s",
			    describe(&d, h));
	if (is_special(&h->u.items[0]))
		return perr(c, pos_of(ph), "%s is reserved and cannot name a rule",
			    sym_text(h->u.items[0].u.id));
	*name = h->u.items[0].u.id;
	const char *rname = sym_text(*name);
	vartab *vt = c->vt;
	/* head: [?req...]? ?var... */
	uint32_t first = 1, nreq = 0;
	if (h->len > 1 && h->u.items[1].type == DL_VECTOR) {
		nreq = h->u.items[1].len;
		if (nreq == 0)
			return perr(c, pos_of(kid(ph, h, 1)),
				    "empty required-variable vector in rule %s", rname);
		first = 2;
	}
	b->nreq = nreq;
	b->nhead = nreq + h->len - first;
	if (b->nhead == 0)
		return perr(c, pos_of(ph), "rule %s has no variables in its head", rname);
	if (!(b->head = new_terms(c, b->nhead)))
		return DL_ENOMEM;
	for (uint32_t i = 0; i < nreq; i++) {
		const pnode *pr = kid(ph, h, 1);
		DL_TRY(parse_term(c, &h->u.items[1].u.items[i], kid(pr, &h->u.items[1], i), A_VAR,
				  "in a rule head", &b->head[i]));
	}
	for (uint32_t i = first; i < h->len; i++) {
		if (h->u.items[i].type == DL_VECTOR)
			return perr(c, pos_of(kid(ph, h, i)),
				    "required variables of rule %s come first, in one vector",
				    rname);
		DL_TRY(parse_term(c, &h->u.items[i], kid(ph, h, i), A_VAR, "in a rule head",
				  &b->head[nreq + i - first]));
	}
	const dl_term *dup = dup_var(b->head, b->nhead);
	if (dup)
		return perr(c, dup->pos, "variable %s appears twice in the head of rule %s",
			    sym_text(dup->sym), rname);
	seq s = seq_of(v, p, 1);
	b->n = s.n;
	DL_TRY(parse_clauses(c, &s, false, &b->clauses));
	b->vars = vt->v;
	b->nvars = vt->n;
	/* the body: checked as a conjunction whose surroundings bind the head */
	vctx x;
	vctx_init(&x, c, b->vars, b->nvars);
	uint64_t *head = bs_new(&x), *bound = bs_new(&x), *used = bs_new(&x);
	int rc = DL_ENOMEM;
	if (!head || !bound || !used)
		goto out;
	term_vars(b->head, b->nhead, head);
	if ((rc = check_conj(&x, b->clauses, b->n, head, bound)) < 0)
		goto out;
	for (uint32_t i = 0; i < b->n; i++)
		clause_free(&x, &b->clauses[i], used);
	for (uint32_t i = 0; i < b->nhead; i++)
		if (!bs_has(used, b->head[i].var)) {
			rc = perr(c, b->head[i].pos,
				  "variable %s of rule %s is not used in its body",
				  b->vars[b->head[i].var].name, rname);
			goto out;
		}
out:
	dl_free(head);
	dl_free(bound);
	dl_free(used);
	return rc;
}

static int parse_rules(qctx *c, const dl_value *v, const pnode *p, dl_ruleset **out)
{
	desc d;
	if (v->type != DL_VECTOR && v->type != DL_LIST)
		return perr(c, pos_of(p),
			    "rules are a vector [[(name ?var ...) clause ...] ...], got %s",
			    describe(&d, v));
	uint32_t n = v->len;
	dl_ruleset *rs = DL_ARENA_NEW(c->a, 1, dl_ruleset);
	dl_rule_body *bodies = n ? DL_ARENA_NEW(c->a, n, dl_rule_body) : NULL;
	uint32_t *names = n ? DL_ARENA_NEW(c->scratch, n, uint32_t) : NULL;
	uint32_t *order = n ? DL_ARENA_NEW(c->scratch, n, uint32_t) : NULL;
	dl_rule *rules = n ? DL_ARENA_NEW(c->a, n, dl_rule) : NULL;
	if (!rs || (n && (!bodies || !names || !order || !rules)))
		return DL_ENOMEM;
	rs->source = c->source;
	rs->n = 0;
	rs->rules = rules;
	for (uint32_t i = 0; i < n; i++) {
		vartab vt = {NULL, 0, 0};
		c->vt = &vt;
		int rc = parse_rule_body(c, &v->u.items[i], kid(p, v, i), &names[i], &bodies[i]);
		c->vt = NULL;
		DL_TRY(rc);
	}
	/* group the bodies by name, in order of first appearance */
	for (uint32_t i = 0; i < n; i++) {
		dl_rule *r = (dl_rule *)find_rule(rules, rs->n, names[i]);
		const dl_rule_body *b = &bodies[i];
		if (!r) {
			r = &rules[rs->n++];
			*r = (dl_rule){names[i], b->nhead, b->nreq, 0, NULL, b->pos};
		} else if (r->arity != b->nhead) {
			return perr(c, b->pos, "bodies of rule %s disagree on arity: %u and %u",
				    sym_text(r->name), r->arity, b->nhead);
		} else if (r->nreq != b->nreq) {
			return perr(c, b->pos,
				    "bodies of rule %s disagree on required variables: %u and %u",
				    sym_text(r->name), r->nreq, b->nreq);
		}
		r->nbodies++;
	}
	/* bodies of one rule side by side (a stable counting sort) */
	dl_rule_body *sorted = n ? DL_ARENA_NEW(c->a, n, dl_rule_body) : NULL;
	if (n && !sorted)
		return DL_ENOMEM;
	uint32_t at = 0;
	for (uint32_t r = 0; r < rs->n; r++) {
		rules[r].bodies = sorted + at;
		for (uint32_t i = 0; i < n; i++)
			if (names[i] == rules[r].name)
				sorted[at++] = bodies[i];
	}
	for (uint32_t r = 0; r < rs->n; r++)
		for (uint32_t i = 0; i < rules[r].nbodies; i++)
			DL_TRY(check_calls(c->source, rules[r].bodies[i].clauses,
					   rules[r].bodies[i].n, rules, rs->n));
	DL_TRY(check_strata(c->source, c->a, c->scratch, rs));
	*out = rs;
	return 0;
}

int dl_rules_parse(dl_ruleset **out, dl_arena *a, const dl_value *rules, const char *source)
{
	assert(out && a && rules);
	*out = NULL;
	dl_arena scratch = DL_ARENA_INIT;
	qctx c;
	int rc = ctx_init(&c, a, &scratch, source ? source : "<rules>");
	if (rc == 0) {
		c.copy = true;
		rc = parse_rules(&c, rules, NULL, out);
	}
	dl_arena_free(&scratch);
	return rc;
}

int dl_rules_parse_text(dl_ruleset **out, dl_arena *a, const char *text, size_t len,
			const char *source)
{
	assert(out && a && (text || !len));
	*out = NULL;
	dl_arena scratch = DL_ARENA_INIT;
	qctx c;
	dl_value v;
	pnode *root = NULL;
	int rc = ctx_init(&c, a, &scratch, source ? source : "<rules>");
	if (rc < 0)
		goto out;
	c.text = text ? text : "";
	c.len = len;
	if ((rc = read_text(&v, &root, a, &scratch, c.text, len, c.source, "rules")) < 0)
		goto out;
	rc = parse_rules(&c, &v, root, out);
out:
	dl_arena_free(&scratch);
	return rc;
}

/* ---- printing ---------------------------------------------------------- */

static int pr_sym(dl_buf *b, uint32_t id) { return dl_buf_puts(b, sym_text(id)); }

static int pr_term(dl_buf *b, const dl_term *t)
{
	switch (t->kind) {
	case DL_T_CONST:
		return dl_edn_print(b, &t->val);
	case DL_T_BLANK:
		return dl_buf_puts(b, "_");
	default:
		return pr_sym(b, t->sym);
	}
}

static int pr_terms(dl_buf *b, const dl_term *t, uint32_t n, bool lead_space)
{
	for (uint32_t i = 0; i < n; i++) {
		if ((i || lead_space))
			DL_TRY(dl_buf_puts(b, " "));
		DL_TRY(pr_term(b, &t[i]));
	}
	return 0;
}

static int pr_binding(dl_buf *b, const dl_binding *bd)
{
	switch (bd->kind) {
	case DL_B_SCALAR:
		return pr_term(b, &bd->terms[0]);
	case DL_B_COLL:
		DL_TRY(dl_buf_puts(b, "["));
		DL_TRY(pr_term(b, &bd->terms[0]));
		return dl_buf_puts(b, " ...]");
	case DL_B_REL:
		DL_TRY(dl_buf_puts(b, "[["));
		DL_TRY(pr_terms(b, bd->terms, bd->n, false));
		return dl_buf_puts(b, "]]");
	default:
		DL_TRY(dl_buf_puts(b, "["));
		DL_TRY(pr_terms(b, bd->terms, bd->n, false));
		return dl_buf_puts(b, "]");
	}
}

static int pr_clauses(dl_buf *b, const dl_clause *cl, uint32_t n);

static int pr_clause(dl_buf *b, const dl_clause *cl)
{
	static const char *const names[] = {
		[DL_C_NOT] = "not",         [DL_C_NOT_JOIN] = "not-join", [DL_C_OR] = "or",
		[DL_C_OR_JOIN] = "or-join", [DL_C_AND] = "and",
	};
	switch (cl->kind) {
	case DL_C_PATTERN:
		DL_TRY(dl_buf_puts(b, "["));
		if (cl->src_given) {
			DL_TRY(pr_sym(b, cl->src));
			DL_TRY(dl_buf_puts(b, " "));
		}
		DL_TRY(pr_terms(b, cl->u.pat.t, cl->u.pat.n, false));
		return dl_buf_puts(b, "]");
	case DL_C_PRED:
	case DL_C_FN:
		DL_TRY(dl_buf_puts(b, "[("));
		DL_TRY(pr_term(b, &cl->u.fn.f));
		DL_TRY(pr_terms(b, cl->u.fn.args, cl->u.fn.nargs, true));
		DL_TRY(dl_buf_puts(b, ")"));
		if (cl->kind == DL_C_FN) {
			DL_TRY(dl_buf_puts(b, " "));
			DL_TRY(pr_binding(b, &cl->u.fn.bind));
		}
		return dl_buf_puts(b, "]");
	case DL_C_RULE:
		DL_TRY(dl_buf_puts(b, "("));
		if (cl->src_given) {
			DL_TRY(pr_sym(b, cl->src));
			DL_TRY(dl_buf_puts(b, " "));
		}
		DL_TRY(pr_sym(b, cl->u.rule.name));
		DL_TRY(pr_terms(b, cl->u.rule.args, cl->u.rule.nargs, true));
		return dl_buf_puts(b, ")");
	default:
		DL_TRY(dl_buf_puts(b, "("));
		if (cl->src_given) {
			DL_TRY(pr_sym(b, cl->src));
			DL_TRY(dl_buf_puts(b, " "));
		}
		DL_TRY(dl_buf_puts(b, names[cl->kind]));
		if (cl->kind == DL_C_NOT_JOIN || cl->kind == DL_C_OR_JOIN) {
			uint32_t nreq = cl->u.sub.nreq;
			DL_TRY(dl_buf_puts(b, " ["));
			if (nreq) {
				DL_TRY(dl_buf_puts(b, "["));
				DL_TRY(pr_terms(b, cl->u.sub.vars, nreq, false));
				DL_TRY(dl_buf_puts(b, "]"));
			}
			DL_TRY(pr_terms(b, cl->u.sub.vars + nreq, cl->u.sub.nvars - nreq,
					nreq > 0));
			DL_TRY(dl_buf_puts(b, "]"));
		}
		DL_TRY(dl_buf_puts(b, " "));
		DL_TRY(pr_clauses(b, cl->u.sub.items, cl->u.sub.n));
		return dl_buf_puts(b, ")");
	}
}

static int pr_clauses(dl_buf *b, const dl_clause *cl, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			DL_TRY(dl_buf_puts(b, " "));
		DL_TRY(pr_clause(b, &cl[i]));
	}
	return 0;
}

int dl_clause_print(dl_buf *b, const dl_clause *cl) { return pr_clause(b, cl); }

static int pr_find_elem(dl_buf *b, const dl_query *q, const dl_find_elem *fe)
{
	switch (fe->kind) {
	case DL_FE_VAR:
		return dl_buf_puts(b, q->vars[fe->var].name);
	case DL_FE_AGG:
		DL_TRY(dl_buf_puts(b, "("));
		DL_TRY(pr_sym(b, fe->fn));
		DL_TRY(pr_terms(b, fe->args, fe->nargs, true));
		return dl_buf_puts(b, ")");
	default:
		DL_TRY(dl_buf_puts(b, "(pull "));
		if (fe->src_given) {
			DL_TRY(pr_sym(b, fe->src));
			DL_TRY(dl_buf_puts(b, " "));
		}
		DL_TRY(dl_buf_puts(b, q->vars[fe->var].name));
		DL_TRY(dl_buf_puts(b, " "));
		DL_TRY(pr_term(b, &fe->pattern));
		return dl_buf_puts(b, ")");
	}
}

int dl_query_print(dl_buf *b, const dl_query *q)
{
	static const char *const keys[] = {"", " :keys", " :strs", " :syms"};
	DL_TRY(dl_buf_puts(b, "[:find "));
	if (q->find_spec == DL_FIND_COLL || q->find_spec == DL_FIND_TUPLE)
		DL_TRY(dl_buf_puts(b, "["));
	for (uint32_t i = 0; i < q->nfind; i++) {
		if (i)
			DL_TRY(dl_buf_puts(b, " "));
		DL_TRY(pr_find_elem(b, q, &q->find[i]));
	}
	if (q->find_spec == DL_FIND_COLL)
		DL_TRY(dl_buf_puts(b, " ...]"));
	else if (q->find_spec == DL_FIND_TUPLE)
		DL_TRY(dl_buf_puts(b, "]"));
	else if (q->find_spec == DL_FIND_SCALAR)
		DL_TRY(dl_buf_puts(b, " ."));
	if (q->keys_kind) {
		DL_TRY(dl_buf_puts(b, keys[q->keys_kind]));
		for (uint32_t i = 0; i < q->nkeys; i++) {
			DL_TRY(dl_buf_puts(b, " "));
			DL_TRY(pr_sym(b, q->keys[i]));
		}
	}
	if (q->nwith) {
		DL_TRY(dl_buf_puts(b, " :with"));
		DL_TRY(pr_terms(b, q->with, q->nwith, true));
	}
	DL_TRY(dl_buf_puts(b, " :in"));
	for (uint32_t i = 0; i < q->nin; i++) {
		DL_TRY(dl_buf_puts(b, " "));
		if (q->in[i].kind == DL_IN_BIND)
			DL_TRY(pr_binding(b, &q->in[i].bind));
		else
			DL_TRY(pr_sym(b, q->in[i].sym));
	}
	if (q->nwhere) {
		DL_TRY(dl_buf_puts(b, " :where "));
		DL_TRY(pr_clauses(b, q->where, q->nwhere));
	}
	if (q->norder) {
		DL_TRY(dl_buf_puts(b, " :order-by ["));
		for (uint32_t i = 0; i < q->norder; i++)
			DL_TRY(dl_buf_printf(b, "%s[%s %s]", i ? " " : "",
					     q->vars[q->order[i].var].name,
					     q->order[i].desc ? ":desc" : ":asc"));
		DL_TRY(dl_buf_puts(b, "]"));
	}
	if (q->limit >= 0)
		DL_TRY(dl_buf_printf(b, " :limit %lld", (long long)q->limit));
	if (q->offset >= 0)
		DL_TRY(dl_buf_printf(b, " :offset %lld", (long long)q->offset));
	if (q->timeout_ms >= 0)
		DL_TRY(dl_buf_printf(b, " :timeout %lld", (long long)q->timeout_ms));
	return dl_buf_puts(b, "]");
}

int dl_rules_print(dl_buf *b, const dl_ruleset *rs)
{
	DL_TRY(dl_buf_puts(b, "["));
	bool first = true;
	for (uint32_t r = 0; r < rs->n; r++)
		for (uint32_t i = 0; i < rs->rules[r].nbodies; i++) {
			const dl_rule_body *bd = &rs->rules[r].bodies[i];
			DL_TRY(dl_buf_puts(b, first ? "[(" : " [("));
			first = false;
			DL_TRY(pr_sym(b, rs->rules[r].name));
			if (bd->nreq) {
				DL_TRY(dl_buf_puts(b, " ["));
				DL_TRY(pr_terms(b, bd->head, bd->nreq, false));
				DL_TRY(dl_buf_puts(b, "]"));
			}
			DL_TRY(pr_terms(b, bd->head + bd->nreq, bd->nhead - bd->nreq, true));
			DL_TRY(dl_buf_puts(b, ") "));
			DL_TRY(pr_clauses(b, bd->clauses, bd->n));
			DL_TRY(dl_buf_puts(b, "]"));
		}
	return dl_buf_puts(b, "]");
}
