/*
 * api/query: prepared queries (dl_stmt), pull and entity navigation over a
 * snapshot, for datalite.h's "Queries" section.
 *
 * A statement parses its text once.  Each execution plans afresh (plans
 * depend on the bound inputs, which are inlined as constants, and on the
 * statistics of the snapshot it runs on; planning costs microseconds),
 * runs to a materialized answer, and dl_stmt_step walks its rows.
 */
#include "api_int.h"
#include "query/exec.h"
#include "query/pull.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct dl_stmt {
	dl_arena arena;      /* the parsed query, bound inputs */
	dl_arena run;        /* the last answer */
	dl_query *q;
	uint32_t ninputs;
	dl_value *inputs;
	bool *bound;
	dl_qresult res;
	bool ran;
	size_t row;          /* rows stepped so far */
	int64_t timeout_ms;
	int threads;         /* dl_qopts.threads */
	atomic_bool cancel;
};

static uint32_t count_inputs(const dl_query *q)
{
	uint32_t first = q->nin && q->in[0].kind == DL_IN_SRC &&
				 dl_intern_name(q->in[0].sym, NULL, NULL)[1] == 0
			 ? 1
			 : 0;
	return q->nin - first;
}

int dl_stmt_prepare(dl_stmt **out, const char *text, size_t len, const char *source)
{
	assert(out && text);
	*out = NULL;
	dl_stmt *st = dl_calloc(1, sizeof *st);
	if (!st)
		return DL_ENOMEM;
	st->arena = (dl_arena)DL_ARENA_INIT;
	st->run = (dl_arena)DL_ARENA_INIT;
	atomic_init(&st->cancel, false);
	int rc = dl_query_parse(&st->q, &st->arena, text, len, source ? source : "<query>");
	if (rc)
		goto fail;
	st->ninputs = count_inputs(st->q);
	st->inputs = DL_ARENA_NEW(&st->arena, st->ninputs + 1, dl_value);
	st->bound = DL_ARENA_NEW(&st->arena, st->ninputs + 1, bool);
	if (!st->inputs || !st->bound) {
		rc = DL_ENOMEM;
		goto fail;
	}
	memset(st->bound, 0, (st->ninputs + 1) * sizeof *st->bound);
	*out = st;
	return 0;
fail:
	dl_arena_free(&st->arena);
	dl_free(st);
	return rc;
}

unsigned dl_stmt_ninputs(const dl_stmt *st) { return st->ninputs; }

static int check_index(const dl_stmt *st, unsigned i)
{
	if (i >= st->ninputs)
		return dl_error(DL_EINVAL, "input %u: the query takes %u input%s after $", i,
				st->ninputs, st->ninputs == 1 ? "" : "s");
	return 0;
}

int dl_stmt_bind(dl_stmt *st, unsigned i, const dl_value *v)
{
	DL_TRY(check_index(st, i));
	/* the statement keeps its own copy (bindings accumulate in its arena
	 * until it is finalized; rebinding in a loop grows it slowly) */
	DL_TRY(dl_value_copy(&st->inputs[i], &st->arena, v));
	st->bound[i] = true;
	return 0;
}

int dl_stmt_bind_edn(dl_stmt *st, unsigned i, const char *edn, size_t len)
{
	DL_TRY(check_index(st, i));
	char name[32];
	snprintf(name, sizeof name, "<input %u>", i);
	dl_edn_opts o = DL_EDN_OPTS_INIT;
	o.source = dl_arena_strndup(&st->arena, name, strlen(name));
	size_t used;
	DL_TRY(dl_edn_read(&st->inputs[i], &used, &st->arena, edn, len, &o));
	st->bound[i] = true;
	return 0;
}

void dl_stmt_set_timeout(dl_stmt *st, int64_t ms) { st->timeout_ms = ms > 0 ? ms : 0; }

void dl_stmt_set_threads(dl_stmt *st, int n) { st->threads = n > 0 ? n : 0; }

void dl_stmt_cancel(dl_stmt *st) { atomic_store(&st->cancel, true); }

int dl_stmt_reset(dl_stmt *st)
{
	dl_arena_reset(&st->run);
	memset(&st->res, 0, sizeof st->res);
	st->ran = false;
	st->row = 0;
	atomic_store(&st->cancel, false);
	return 0;
}

static int run(dl_stmt *st, dl_snapshot *snap, dl_buf *explain, bool analyze)
{
	for (unsigned i = 0; i < st->ninputs; i++)
		if (!st->bound[i])
			return dl_error(DL_EINVAL, "input %u is not bound", i);
	dl_qopts o = DL_QOPTS_INIT;
	o.view = dl_snapshot_store_view(snap);
	o.timeout_ms = st->timeout_ms;
	o.threads = st->threads;
	o.cancel = &st->cancel;
	o.analyze = analyze;
	dl_stmt_reset(st);
	int rc = dl_query_run(&st->res, &st->run, dl_snapshot_snap(snap), st->q, st->inputs,
			      st->ninputs, &o, explain);
	if (rc) {
		memset(&st->res, 0, sizeof st->res);
		return rc;
	}
	st->ran = true;
	return 0;
}

int dl_stmt_step(dl_stmt *st, dl_snapshot *snap)
{
	assert(st);
	if (!st->ran) {
		if (!snap)
			return dl_error(DL_EINVAL, "dl_stmt_step: the first step needs a snapshot");
		DL_TRY(run(st, snap, NULL, false));
	}
	if (st->row >= st->res.nrows)
		return DL_DONE;
	st->row++;
	return DL_ROW;
}

int dl_stmt_explain(dl_stmt *st, dl_snapshot *snap, bool analyze, dl_buf *out)
{
	if (analyze)
		return run(st, snap, out, true);
	for (unsigned i = 0; i < st->ninputs; i++)
		if (!st->bound[i])
			return dl_error(DL_EINVAL, "input %u is not bound", i);
	dl_qopts o = DL_QOPTS_INIT;
	o.view = dl_snapshot_store_view(snap);
	return dl_query_explain(out, dl_snapshot_snap(snap), st->q, st->inputs, st->ninputs, &o);
}

dl_stmt_shape dl_stmt_find_shape(const dl_stmt *st)
{
	switch (st->q->find_spec) {
	case DL_FIND_SCALAR: return DL_SHAPE_SCALAR;
	case DL_FIND_COLL: return DL_SHAPE_COLL;
	case DL_FIND_TUPLE: return DL_SHAPE_TUPLE;
	default: return DL_SHAPE_REL;
	}
}

size_t dl_stmt_nrows(const dl_stmt *st) { return st->ran ? st->res.nrows : 0; }

unsigned dl_stmt_ncols(const dl_stmt *st) { return st->q->nfind; }

const char *dl_stmt_colname(const dl_stmt *st, unsigned i)
{
	if (i >= st->q->nfind)
		return NULL;
	if (st->ran && st->res.colnames)
		return st->res.keys ? st->res.keys[i] : st->res.colnames[i];
	const dl_find_elem *fe = &st->q->find[i];
	return fe->kind == DL_FE_VAR ? st->q->vars[fe->var].name : "?";
}

static const dl_value *cell(const dl_stmt *st, unsigned i)
{
	static const dl_value nil = {.type = DL_NIL};
	if (!st->ran || st->row == 0 || st->row > st->res.nrows || i >= st->res.ncols)
		return &nil;
	return &st->res.rows[(st->row - 1) * st->res.ncols + i];
}

const dl_value *dl_stmt_column(const dl_stmt *st, unsigned i) { return cell(st, i); }

dl_type dl_stmt_column_type(const dl_stmt *st, unsigned i) { return (dl_type)cell(st, i)->type; }

int64_t dl_stmt_column_int(const dl_stmt *st, unsigned i)
{
	const dl_value *v = cell(st, i);
	switch (v->type) {
	case DL_INT:
	case DL_INST:
	case DL_REF:
		return v->u.i;
	case DL_DOUBLE:
		return (int64_t)v->u.d;
	case DL_BOOL:
		return v->u.b;
	default:
		return 0;
	}
}

double dl_stmt_column_double(const dl_stmt *st, unsigned i)
{
	const dl_value *v = cell(st, i);
	switch (v->type) {
	case DL_DOUBLE:
		return v->u.d;
	case DL_INT:
	case DL_INST:
	case DL_REF:
		return (double)v->u.i;
	default:
		return 0;
	}
}

const char *dl_stmt_column_text(const dl_stmt *st, unsigned i, size_t *len)
{
	const dl_value *v = cell(st, i);
	size_t n = 0;
	const char *s = NULL;
	if (v->type == DL_STRING || v->type == DL_BYTES) {
		s = v->u.s;
		n = v->len;
	} else if (v->type == DL_KEYWORD || v->type == DL_SYMBOL) {
		s = dl_intern_name(v->u.id, &n, NULL);
	}
	if (len)
		*len = n;
	return s;
}

const dl_qresult *dl_stmt_qresult(const dl_stmt *st);
const dl_qresult *dl_stmt_qresult(const dl_stmt *st) { return &st->res; }

void dl_stmt_finalize(dl_stmt *st)
{
	if (!st)
		return;
	dl_arena_free(&st->run);
	dl_arena_free(&st->arena);
	dl_free(st);
}

/* ---- pull and entities ------------------------------------------------------- */

static int entity_arg(int64_t *e, dl_snapshot *s, const dl_value *ref)
{
	dl_view v = dl_snapshot_store_view(s);
	int rc = dl_pull_entid(e, dl_snapshot_snap(s), &v, ref);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		dl_buf b = DL_BUF_INIT;
		dl_edn_print(&b, ref);
		rc = dl_error(DL_ENOTFOUND, "no entity %.*s", (int)b.len, b.data ? b.data : "");
		dl_buf_free(&b);
		return rc;
	}
	return 0;
}

int dl_snapshot_pull(dl_value *out, dl_arena *a, dl_snapshot *s, const dl_value *pattern,
		     const dl_value *ref)
{
	assert(out && a && s && pattern && ref);
	dl_pull_pattern *p;
	int64_t e;
	DL_TRY(dl_pull_compile(&p, a, pattern, dl_snapshot_snap(s), "<pull>"));
	DL_TRY(entity_arg(&e, s, ref));
	dl_view v = dl_snapshot_store_view(s);
	return dl_pull_run(out, a, dl_snapshot_snap(s), &v, p, e);
}

int dl_snapshot_pull_many(dl_value *out, dl_arena *a, dl_snapshot *s, const dl_value *pattern,
			  const dl_value *refs, size_t n)
{
	assert(out && a && s && pattern && (refs || n == 0));
	dl_pull_pattern *p;
	DL_TRY(dl_pull_compile(&p, a, pattern, dl_snapshot_snap(s), "<pull>"));
	dl_view v = dl_snapshot_store_view(s);
	for (size_t i = 0; i < n; i++) {
		int64_t e;
		DL_TRY(entity_arg(&e, s, &refs[i]));
		DL_TRY(dl_pull_run(&out[i], a, dl_snapshot_snap(s), &v, p, e));
	}
	return 0;
}

int dl_snapshot_entity(dl_value *out, dl_arena *a, dl_snapshot *s, const dl_value *ref)
{
	assert(out && a && s && ref);
	int64_t e;
	DL_TRY(entity_arg(&e, s, ref));
	dl_view v = dl_snapshot_store_view(s);
	return dl_entity_map(out, a, dl_snapshot_snap(s), &v, e);
}
