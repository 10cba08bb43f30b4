/* storage: open/create/reopen and format checks, writes, every index with
 * every bound-prefix length, every view, long values, value ranges,
 * statistics, check (on good and damaged databases), abort and allocation
 * failure.  The randomized test compares everything against an in-memory
 * model of the datom set and its history. */
#include "testutil.h"

#include "storage/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* 1 GiB of address space: enough here, and valgrind cannot map 64 GiB */
#define MAP_SIZE ((size_t)1 << 30)

static char g_dir[512];
static int g_dbn;

static void mkdirs(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static void db_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/store_%d_%d_%s.db", g_dir, (int)getpid(), g_dbn++, name);
	char lock[700];
	snprintf(lock, sizeof lock, "%s-lock", out);
	unlink(out);
	unlink(lock);
}

static dl_store *open_at(const char *path)
{
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.sync = 0;
	o.map_size = MAP_SIZE;
	dl_store *s = NULL;
	if (dl_store_open(&s, path, &o))
		fail_msg("open %s: %s", path, dl_errmsg());
	return s;
}

static dl_store *open_db(const char *name, char *path, size_t n)
{
	char buf[600];
	if (!path) {
		path = buf;
		n = sizeof buf;
	}
	db_path(path, n, name);
	return open_at(path);
}

static int g_nproblems;
static void count_problem(void *ud, const char *msg)
{
	(void)ud;
	if (getenv("DL_TEST_VERBOSE"))
		fprintf(stderr, "problem: %s\n", msg);
	g_nproblems++;
}

static void check_ok(dl_store *s)
{
	g_nproblems = 0;
	int rc = dl_store_check(s, count_problem, NULL);
	if (rc)
		fail_msg("check: %s (%d problems)", dl_errmsg(), g_nproblems);
}

#define USER(n) DL_EID(DL_PART_USER, (n))

/* One transaction of [e a v] (e 0: a new entity, whose id is returned). */
static int64_t put_one(dl_store *s, int64_t e, int64_t a, int64_t v)
{
	dl_wtxn *w;
	if (dl_wtxn_begin(&w, s))
		return -1;
	dl_value x = dl_int(v);
	if ((!e && dl_wtxn_new_eid(w, &e, DL_PART_USER)) || dl_wtxn_add(w, e, a, &x, 0) != 1) {
		dl_wtxn_abort(w);
		return -1;
	}
	return dl_wtxn_commit(w) ? -1 : e;
}

/* A forked child (which exits with a code of its own choosing) ended well. */
static void expect_child_ok(pid_t pid)
{
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}


/* ---- open, create, format ----------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DL_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DL_TEST_SANITIZED 1
#endif
#endif

/* With the default map size (64 GiB of address space) in a process allowed
 * far less, open falls back to a smaller map instead of failing, and the
 * database works.  In a child, since the limit cannot be lifted again. */
static void test_open_small_address_space(void **state)
{
	(void)state;
#ifdef DL_TEST_SANITIZED
	skip(); /* the sanitizers' shadow memory needs terabytes of address space */
#else
	char path[600];
	db_path(path, sizeof path, "small_as");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { (rlim_t)6 << 30, (rlim_t)6 << 30 };
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(10);
		dl_store_opts o = DL_STORE_OPTS_INIT;
		o.sync = 0;
		dl_store *s = NULL;
		if (dl_store_open(&s, path, &o) != 0) {
			fprintf(stderr, "open: %s\n", dl_errmsg());
			_exit(11);
		}
		if (put_one(s, 0, 10, 7) < 0)
			_exit(12);
		dl_store_close(s);
		_exit(0);
	}
	expect_child_ok(pid);
	/* and the database opens again without the limit */
	dl_store *s = open_at(path);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	assert_int_equal(dl_snap_basis_tx(sn), DL_EID(DL_PART_TX, 1));
	dl_snap_end(sn);
	dl_store_close(s);
#endif
}

static void test_open(void **state)
{
	(void)state;
	char path[600];
	db_path(path, sizeof path, "open");
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.map_size = MAP_SIZE;
	o.create = false;
	dl_store *s = NULL;
	assert_int_equal(dl_store_open(&s, path, &o), DL_ENOTFOUND);
	o.create = true;
	o.sync = 0;
	assert_int_equal(dl_store_open(&s, path, &o), 0);
	assert_string_equal(dl_store_path(s), path);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	assert_int_equal(dl_snap_basis_tx(sn), 0);
	dl_snap_end(sn);
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	int64_t tx = dl_wtxn_tx(w);
	assert_int_equal(tx, DL_EID(DL_PART_TX, 1));
	int64_t e1, e2, a1;
	assert_int_equal(dl_wtxn_new_eid(w, &a1, DL_PART_DB), 0);
	assert_int_equal(a1, 100);
	assert_int_equal(dl_wtxn_new_eid(w, &e1, DL_PART_USER), 0);
	assert_int_equal(dl_wtxn_new_eid(w, &e2, DL_PART_USER), 0);
	assert_int_equal(e2, e1 + 1);
	assert_int_equal(dl_wtxn_new_eid(w, &e2, DL_PART_TX), DL_EINVAL);
	dl_value v = dl_int(42);
	assert_int_equal(dl_wtxn_add(w, e1, a1, &v, 0), 1);
	assert_int_equal(dl_wtxn_meta_put(w, "tx.test", "hello", 5), 0);
	assert_int_equal(dl_wtxn_commit(w), 0);
	dl_store_close(s);

	/* reopen: the data, counters and meta are there */
	s = open_at(path);
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	assert_int_equal(dl_snap_basis_tx(sn), tx);
	int64_t t;
	assert_int_equal(dl_snap_has(sn, e1, a1, &v, &t), 1);
	assert_int_equal(t, tx);
	const void *mv;
	size_t mn;
	assert_int_equal(dl_snap_meta_get(sn, "tx.test", &mv, &mn), 1);
	assert_int_equal(mn, 5);
	assert_memory_equal(mv, "hello", 5);
	assert_int_equal(dl_snap_meta_get(sn, "tx.none", &mv, &mn), 0);
	dl_snap_end(sn);
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	assert_int_equal(dl_wtxn_tx(w), DL_EID(DL_PART_TX, 2));
	assert_int_equal(dl_wtxn_new_eid(w, &a1, DL_PART_DB), 0);
	assert_int_equal(a1, 101);
	assert_int_equal(dl_wtxn_new_eid(w, &e2, DL_PART_USER), 0);
	assert_true(e2 > e1 + 1);
	dl_wtxn_abort(w);
	check_ok(s);
	dl_store_close(s);

	/* read-only, on a read-only file */
	chmod(path, 0444);
	o.read_only = true;
	assert_int_equal(dl_store_open(&s, path, &o), 0);
	assert_int_equal(dl_wtxn_begin(&w, s), DL_EINVAL);
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	assert_int_equal(dl_snap_has(sn, e1, 100, &v, NULL), 1);
	dl_snap_end(sn);
	dl_store_close(s);
	chmod(path, 0644);

	/* a newer format version is refused */
	s = open_at(path);
	uint8_t ver[4] = {0, 0, 0, DL_STORE_FORMAT_VERSION + 1};
	assert_int_equal(dl_store_test_raw_put(s, DB_META, "format", 6, ver, 4), 0);
	dl_store_close(s);
	o.read_only = false;
	assert_int_equal(dl_store_open(&s, path, &o), DL_ECORRUPT);
	assert_non_null(strstr(dl_errmsg(), "newer"));

	/* a file that is not LMDB at all, and one that is empty junk */
	char junk[600];
	db_path(junk, sizeof junk, "junk");
	FILE *f = fopen(junk, "w");
	for (int i = 0; i < 20000; i++)
		fputc('x', f);
	fclose(f);
	assert_int_equal(dl_store_open(&s, junk, &o), DL_ECORRUPT);
	assert_non_null(strstr(dl_errmsg(), "not a datalite database"));
}

/* ---- basic writes -------------------------------------------------------- */

static void test_add_retract(void **state)
{
	(void)state;
	dl_store *s = open_db("addret", NULL, 0);
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	int64_t tx1 = dl_wtxn_tx(w);
	dl_value v1 = dl_string("hello", 5), v2 = dl_ref(USER(7));
	assert_int_equal(dl_wtxn_add(w, USER(1), 100, &v1, 0), 1);
	assert_int_equal(dl_wtxn_add(w, USER(1), 100, &v1, 0), 0); /* redundant */
	assert_int_equal(dl_wtxn_add(w, USER(1), 101, &v2, DL_AF_REF), 1);
	assert_int_equal(dl_wtxn_retract(w, USER(2), 100, &v1, 0), 0); /* not current */
	assert_int_equal(dl_wtxn_datom_count(w), 2);
	/* the write view sees its own writes */
	int64_t t;
	assert_int_equal(dl_snap_has(dl_wtxn_snap(w), USER(1), 100, &v1, &t), 1);
	assert_int_equal(t, tx1);
	assert_int_equal(dl_snap_basis_tx(dl_wtxn_snap(w)), 0);
	dl_attr_stats st;
	assert_int_equal(dl_snap_attr_stats(dl_wtxn_snap(w), 100, &st), 0);
	assert_int_equal(st.datoms, 1);
	assert_int_equal(dl_wtxn_commit(w), 0);

	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	int64_t tx2 = dl_wtxn_tx(w);
	assert_int_equal(dl_wtxn_retract(w, USER(1), 101, &v2, DL_AF_REF), 1);
	assert_int_equal(dl_wtxn_retract(w, USER(1), 101, &v2, DL_AF_REF), 0);
	assert_int_equal(dl_wtxn_commit(w), 0);

	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	assert_int_equal(dl_snap_basis_tx(sn), tx2);
	assert_int_equal(dl_snap_has(sn, USER(1), 101, &v2, NULL), 0);
	/* history holds the ref, vaet's history view shows it */
	dl_iter *it;
	dl_view hv = {DL_VIEW_HISTORY, 0};
	dl_datom pre = {0}, d;
	pre.v = v2;
	assert_int_equal(dl_iter_open(&it, sn, DL_VAET, &hv, &pre, 1), 0);
	assert_int_equal(dl_iter_next(it, &d), 1);
	assert_true(d.added && d.tx == tx1 && d.e == USER(1));
	assert_int_equal(dl_iter_next(it, &d), 1);
	assert_true(!d.added && d.tx == tx2);
	assert_int_equal(dl_iter_next(it, &d), 0);
	assert_true(dl_iter_scanned(it) >= 1);
	dl_iter_close(it);
	dl_store_stats ss;
	assert_int_equal(dl_snap_stats(sn, &ss), 0);
	assert_int_equal(ss.datoms, 1);
	assert_int_equal(ss.history, 1);
	assert_int_equal(ss.transactions, 2);
	assert_true(ss.file_bytes > 0);
	dl_snap_end(sn);
	check_ok(s);

	/* abort leaves nothing */
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	assert_int_equal(dl_wtxn_add(w, USER(3), 100, &v1, 0), 1);
	assert_int_equal(dl_wtxn_retract(w, USER(1), 100, &v1, 0), 1);
	dl_wtxn_abort(w);
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	assert_int_equal(dl_snap_basis_tx(sn), tx2);
	assert_int_equal(dl_snap_has(sn, USER(3), 100, &v1, NULL), 0);
	assert_int_equal(dl_snap_has(sn, USER(1), 100, &v1, NULL), 1);
	dl_snap_end(sn);
	check_ok(s);
	dl_store_close(s);
}

/* ---- the model ------------------------------------------------------------ */

typedef struct mdatom {
	int64_t e, a;
	dl_value v;
	int64_t t0, t1; /* t1 = 0: current */
} mdatom;

typedef struct model {
	mdatom *d;
	size_t n, cap;
} model;

static void m_push(model *m, mdatom x)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->d = realloc(m->d, m->cap * sizeof *m->d);
	}
	m->d[m->n++] = x;
}

static mdatom *m_current(model *m, int64_t e, int64_t a, const dl_value *v)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->d[i].t1 && m->d[i].e == e && m->d[i].a == a &&
		    dl_value_equal(&m->d[i].v, v))
			return &m->d[i];
	return NULL;
}

static int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

static dl_index g_sort_idx;

static int cmp_key(const dl_datom *x, const dl_datom *y, dl_index idx)
{
	int c = 0;
	switch (idx) {
	case DL_EAVT:
		if ((c = cmp_i64(x->e, y->e)) || (c = cmp_i64(x->a, y->a)))
			return c;
		return dl_value_compare(&x->v, &y->v);
	case DL_AEVT:
		if ((c = cmp_i64(x->a, y->a)) || (c = cmp_i64(x->e, y->e)))
			return c;
		return dl_value_compare(&x->v, &y->v);
	case DL_AVET:
		if ((c = cmp_i64(x->a, y->a)) || (c = dl_value_compare(&x->v, &y->v)))
			return c;
		return cmp_i64(x->e, y->e);
	default:
		if ((c = cmp_i64(x->v.u.i, y->v.u.i)) || (c = cmp_i64(x->a, y->a)))
			return c;
		return cmp_i64(x->e, y->e);
	}
}

static int cmp_datom(const void *px, const void *py)
{
	const dl_datom *x = px, *y = py;
	int c = cmp_key(x, y, g_sort_idx);
	if (c)
		return c;
	if ((c = cmp_i64(x->tx, y->tx)))
		return c;
	return (int)x->added - (int)y->added;
}

/* Does d match the first nbound components of p in index order? */
static bool matches(const dl_datom *d, const dl_datom *p, dl_index idx, int nbound)
{
	static const char *order[] = {"EAVT", "AEVT", "AVET", "VAET"};
	for (int i = 0; i < nbound; i++) {
		switch (order[idx][i]) {
		case 'E':
			if (d->e != p->e)
				return false;
			break;
		case 'A':
			if (d->a != p->a)
				return false;
			break;
		case 'V':
			if (!dl_value_equal(&d->v, &p->v))
				return false;
			break;
		default:
			if (d->tx != p->tx)
				return false;
		}
	}
	return true;
}

typedef struct dvec {
	dl_datom *d;
	size_t n, cap;
} dvec;

static void dv_push(dvec *v, dl_datom d)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 256;
		v->d = realloc(v->d, v->cap * sizeof *v->d);
	}
	v->d[v->n++] = d;
}

static void expected(dvec *out, const model *m, dl_index idx, const dl_view *vw,
		     const dl_datom *p, int nbound)
{
	out->n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const mdatom *x = &m->d[i];
		if (idx == DL_VAET && x->v.type != DL_REF)
			continue;
		dl_datom a = {x->e, x->a, x->v, x->t0, true};
		dl_datom r = {x->e, x->a, x->v, x->t1, false};
		switch (vw->kind) {
		case DL_VIEW_CURRENT:
			if (!x->t1 && matches(&a, p, idx, nbound))
				dv_push(out, a);
			break;
		case DL_VIEW_SINCE:
			if (!x->t1 && x->t0 > vw->t && matches(&a, p, idx, nbound))
				dv_push(out, a);
			break;
		case DL_VIEW_AS_OF:
			if (x->t0 <= vw->t && (!x->t1 || vw->t < x->t1) && matches(&a, p, idx, nbound))
				dv_push(out, a);
			break;
		case DL_VIEW_HISTORY:
			if (matches(&a, p, idx, nbound))
				dv_push(out, a);
			if (x->t1 && matches(&r, p, idx, nbound))
				dv_push(out, r);
			break;
		}
	}
	g_sort_idx = idx;
	qsort(out->d, out->n, sizeof *out->d, cmp_datom);
}

static void compare_iter(dl_snap *sn, const model *m, dl_index idx, const dl_view *vw,
			 const dl_datom *p, int nbound, dvec *exp)
{
	expected(exp, m, idx, vw, p, nbound);
	dl_iter *it;
	assert_int_equal(dl_iter_open(&it, sn, idx, vw, p, nbound), 0);
	dl_datom d;
	size_t i = 0;
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		if (i >= exp->n)
			fail_msg("idx %d view %d nbound %d: extra datom [%lld %lld tx %lld %d]", idx,
				 vw->kind, nbound, (long long)d.e, (long long)d.a, (long long)d.tx,
				 d.added);
		const dl_datom *x = &exp->d[i++];
		if (d.e != x->e || d.a != x->a || d.tx != x->tx || d.added != x->added ||
		    !dl_value_equal(&d.v, &x->v))
			fail_msg("idx %d view %d nbound %d item %zu: got [%lld %lld tx %lld %d], "
				 "want [%lld %lld tx %lld %d]",
				 idx, vw->kind, nbound, i - 1, (long long)d.e, (long long)d.a,
				 (long long)d.tx, d.added, (long long)x->e, (long long)x->a,
				 (long long)x->tx, x->added);
	}
	assert_int_equal(rc, 0);
	if (i != exp->n)
		fail_msg("idx %d view %d nbound %d: %zu datoms, want %zu", idx, vw->kind, nbound, i,
			 exp->n);
	dl_iter_close(it);
}

static void model_stats(const model *m, int64_t a, dl_attr_stats *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < m->n; i++) {
		const mdatom *x = &m->d[i];
		if (x->t1 || x->a != a)
			continue;
		out->datoms++;
		bool vnew = true, enew = true;
		for (size_t j = 0; j < i; j++) {
			const mdatom *y = &m->d[j];
			if (y->t1 || y->a != a)
				continue;
			if (dl_value_equal(&y->v, &x->v))
				vnew = false;
			if (y->e == x->e)
				enew = false;
		}
		out->values += vnew;
		out->entities += enew;
	}
}

/* A long string whose first 500 bytes differ by k (so key order = value order). */
static dl_value long_str(dl_arena *a, int k, int len)
{
	char *s = dl_arena_alloc(a, (size_t)len);
	for (int i = 0; i < len; i++)
		s[i] = (char)('a' + (k + i) % 26);
	s[0] = (char)('A' + k % 26);
	s[len / 2] = 0; /* an embedded NUL */
	return dl_string(s, (size_t)len);
}

static dl_value random_value(dl_arena *a, int64_t attr)
{
	switch (attr) {
	case 100: /* numbers: ints and doubles mixed */
		return tu_rand() % 2 ? dl_int((int64_t)(tu_rand() % 6) - 2)
				     : dl_double((double)(tu_rand() % 6) / 2 - 1);
	case 101: { /* strings, some long */
		int k = (int)(tu_rand() % 6);
		if (k < 3) {
			static const char *w[] = {"ab", "abc", "z\xc3\xa9"};
			return dl_string(w[k], strlen(w[k]));
		}
		return long_str(a, k, 450 + k);
	}
	case 102: /* noHistory instants */
		return dl_inst((int64_t)(tu_rand() % 5) * 1000);
	default: /* refs */
		return dl_ref(USER(1 + (int64_t)(tu_rand() % 4)));
	}
}

static unsigned aflags_of(int64_t a)
{
	return a == 103 ? DL_AF_REF : a == 102 ? DL_AF_NOHISTORY : 0;
}

static void test_model(void **state)
{
	(void)state;
	tu_seed_from_env(12345);
	dl_store *s = open_db("model", NULL, 0);
	model m = {0};
	dl_arena va = DL_ARENA_INIT;
	dvec exp = {0};
	int64_t txs[64];
	int ntx = 0;
	/* at least 14 rounds, so a scaled run still has batch, abort and
	 * check rounds */
	const long rounds = tu_scale(40) < 14 ? 14 : tu_scale(40);
	for (long round = 0; round < rounds; round++) {
		dl_wtxn *w;
		assert_int_equal(dl_wtxn_begin(&w, s), 0);
		int64_t tx = dl_wtxn_tx(w);
		int nops = 1 + (int)(tu_rand() % 12);
		bool use_batch = round % 5 == 4;
		dl_datom batch[16];
		size_t nb = 0;
		for (int k = 0; k < nops; k++) {
			int64_t e = USER(1 + (int64_t)(tu_rand() % 6));
			int64_t a = 100 + (int64_t)(tu_rand() % 4);
			dl_value v = random_value(&va, a);
			mdatom *cur = m_current(&m, e, a, &v);
			if (use_batch) {
				/* batch path: adds only (duplicates allowed) */
				batch[nb++] = (dl_datom){e, a, v, 0, true};
				continue;
			}
			if (tu_rand() % 3 == 0) {
				int rc = dl_wtxn_retract(w, e, a, &v, aflags_of(a));
				assert_int_equal(rc, cur ? 1 : 0);
				if (cur) {
					if (a == 102 || cur->t0 == tx) {
						*cur = m.d[--m.n]; /* no history */
					} else {
						cur->t1 = tx;
					}
				}
			} else if (tu_rand() % 4 == 0) {
				/* cardinality-one style: retract every old value, add new */
				for (size_t i = 0; i < m.n; i++) {
					mdatom *x = &m.d[i];
					if (x->t1 || x->e != e || x->a != a || dl_value_equal(&x->v, &v))
						continue;
					assert_int_equal(dl_wtxn_retract(w, e, a, &x->v, aflags_of(a)), 1);
					if (a == 102 || x->t0 == tx) {
						*x = m.d[--m.n];
						i--;
					} else {
						x->t1 = tx;
					}
				}
				int rc = dl_wtxn_add(w, e, a, &v, aflags_of(a));
				assert_int_equal(rc, m_current(&m, e, a, &v) ? 0 : 1);
				if (rc)
					m_push(&m, (mdatom){e, a, v, tx, 0});
			} else {
				int rc = dl_wtxn_add(w, e, a, &v, aflags_of(a));
				assert_int_equal(rc, cur ? 0 : 1);
				if (!cur)
					m_push(&m, (mdatom){e, a, v, tx, 0});
			}
		}
		if (use_batch) {
			size_t before = dl_wtxn_datom_count(w);
			assert_int_equal(dl_wtxn_add_batch(w, batch, nb, NULL), 0);
			size_t added = 0;
			for (size_t i = 0; i < nb; i++)
				if (!m_current(&m, batch[i].e, batch[i].a, &batch[i].v)) {
					m_push(&m, (mdatom){batch[i].e, batch[i].a, batch[i].v, tx, 0});
					added++;
				}
			assert_int_equal(dl_wtxn_datom_count(w) - before, added);
		}
		if (round % 7 == 6) {
			/* an aborted transaction changes nothing: undo in the model */
			dl_wtxn_abort(w);
			size_t j = 0;
			for (size_t i = 0; i < m.n; i++) {
				if (m.d[i].t0 == tx)
					continue; /* added in the aborted tx */
				if (m.d[i].t1 == tx)
					m.d[i].t1 = 0;
				m.d[j++] = m.d[i];
			}
			m.n = j;
			/* retractions without history in the aborted tx were dropped
			 * from the model: rebuild is not possible, so this round only
			 * aborts when it had none (checked via the store below) */
		} else {
			assert_int_equal(dl_wtxn_commit(w), 0);
			txs[ntx++] = tx;
		}
		if (round % 7 == 6) {
			/* resync the model with the store for dropped no-history
			 * datoms: compare the current counts instead */
			dl_snap *sn;
			assert_int_equal(dl_snap_begin(&sn, s), 0);
			model fix = {0};
			dl_iter *it;
			dl_view hv = {DL_VIEW_HISTORY, 0};
			assert_int_equal(dl_iter_open(&it, sn, DL_EAVT, &hv, NULL, 0), 0);
			dl_datom d;
			while (dl_iter_next(it, &d) > 0) {
				dl_value cv;
				assert_int_equal(dl_value_copy(&cv, &va, &d.v), 0);
				if (d.added) {
					m_push(&fix, (mdatom){d.e, d.a, cv, d.tx, 0});
				} else {
					for (size_t i = fix.n; i-- > 0;)
						if (fix.d[i].e == d.e && fix.d[i].a == d.a && !fix.d[i].t1 &&
						    dl_value_equal(&fix.d[i].v, &cv)) {
							fix.d[i].t1 = d.tx;
							break;
						}
				}
			}
			dl_iter_close(it);
			dl_snap_end(sn);
			free(m.d);
			m = fix;
		}

		/* compare every index, view and prefix length */
		dl_snap *sn;
		assert_int_equal(dl_snap_begin(&sn, s), 0);
		for (int idx = 0; idx < DL_INDEX_COUNT; idx++) {
			for (int kind = 0; kind < 4; kind++) {
				dl_view vw = {(dl_view_kind)kind, 0};
				if (ntx)
					vw.t = txs[tu_rand() % (uint64_t)ntx];
				for (int nb2 = 0; nb2 <= 4; nb2++) {
					dl_datom p = {0};
					if (m.n) {
						const mdatom *x = &m.d[tu_rand() % m.n];
						p = (dl_datom){x->e, x->a, x->v, x->t0, true};
						if (idx == DL_VAET && x->v.type != DL_REF)
							p.v = dl_ref(USER(2));
					} else if (idx == DL_VAET) {
						p.v = dl_ref(USER(2));
					}
					compare_iter(sn, &m, (dl_index)idx, &vw, &p, nb2, &exp);
				}
			}
		}
		for (int64_t a = 100; a <= 103; a++) {
			dl_attr_stats got, want;
			assert_int_equal(dl_snap_attr_stats(sn, a, &got), 0);
			model_stats(&m, a, &want);
			assert_int_equal(got.datoms, want.datoms);
			assert_int_equal(got.values, want.values);
			assert_int_equal(got.entities, want.entities);
		}
		dl_snap_end(sn);
		if (round % 10 == 9)
			check_ok(s);
	}
	check_ok(s);
	free(m.d);
	free(exp.d);
	dl_arena_free(&va);
	dl_store_close(s);
}

/* ---- long values ---------------------------------------------------------- */

static void test_long_values(void **state)
{
	(void)state;
	dl_store *s = open_db("long", NULL, 0);
	dl_arena a = DL_ARENA_INIT;
	/* 20 strings of 600..1200 bytes sharing a 500-byte prefix, with NULs */
	dl_value vs[20];
	for (int i = 0; i < 20; i++) {
		size_t n = 600 + (size_t)i * 30;
		char *p = dl_arena_alloc(&a, n);
		memset(p, 'p', 500);
		for (size_t j = 500; j < n; j++)
			p[j] = (char)((j * 7 + (size_t)i) % 5); /* NULs and control bytes */
		p[520] = (char)('a' + i);
		vs[i] = dl_string(p, n);
	}
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(dl_wtxn_add(w, USER(i + 1), 100, &vs[i], 0), 1);
	assert_int_equal(dl_wtxn_add(w, USER(1), 100, &vs[0], 0), 0);
	assert_int_equal(dl_wtxn_commit(w), 0);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(dl_snap_has(sn, USER(i + 1), 100, &vs[i], NULL), 1);
		assert_int_equal(dl_snap_has(sn, USER(i + 2), 100, &vs[i], NULL), 0);
		/* equality lookup through AVET */
		dl_iter *it;
		dl_datom p = {0}, d;
		p.a = 100;
		p.v = vs[i];
		assert_int_equal(dl_iter_open(&it, sn, DL_AVET, NULL, &p, 2), 0);
		assert_int_equal(dl_iter_next(it, &d), 1);
		assert_int_equal(d.e, USER(i + 1));
		assert_true(dl_value_equal(&d.v, &vs[i]));
		assert_int_equal(dl_iter_next(it, &d), 0);
		dl_iter_close(it);
	}
	/* range scans compare exactly even though keys order by hash */
	for (int lo = 0; lo < 20; lo += 3) {
		for (int hi = lo; hi < 20; hi += 4) {
			dl_iter *it;
			dl_datom p = {0}, d;
			p.a = 100;
			assert_int_equal(dl_iter_open(&it, sn, DL_AVET, NULL, &p, 1), 0);
			assert_int_equal(dl_iter_value_range(it, &vs[lo], true, &vs[hi], false), 0);
			int n = 0;
			while (dl_iter_next(it, &d) > 0) {
				assert_true(dl_value_compare(&d.v, &vs[lo]) >= 0);
				assert_true(dl_value_compare(&d.v, &vs[hi]) < 0);
				n++;
			}
			int want = 0;
			for (int k = 0; k < 20; k++)
				want += dl_value_compare(&vs[k], &vs[lo]) >= 0 &&
					dl_value_compare(&vs[k], &vs[hi]) < 0;
			assert_int_equal(n, want);
			dl_iter_close(it);
		}
	}
	dl_snap_end(sn);
	check_ok(s);
	dl_arena_free(&a);
	dl_store_close(s);
}

/* ---- value ranges ----------------------------------------------------------- */

/* dl_iter_seek_near agrees with dl_iter_seek: random forward seeks on AEVT
 * (entity keys) and AVET with a value range (value keys, entries the range
 * skips), each walk length from 0 (seek at once) to past the gap. */
static void test_seek_near(void **state)
{
	(void)state;
	dl_store *s = open_db("seek_near", NULL, 0);
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	for (int e = 1; e <= 3000; e++) {
		if (e % 7 == 3)
			continue; /* gaps of several sizes */
		dl_value v = dl_int((int64_t)(e * 7919 % 1000));
		assert_int_equal(dl_wtxn_add(w, USER(e), 100, &v, 0), 1);
		if (e % 3 == 0)
			assert_int_equal(dl_wtxn_add(w, USER(e), 101, &v, 0), 1);
	}
	assert_int_equal(dl_wtxn_commit(w), 0);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	tu_seed(tu_seed_from_env(77));
	for (int round = 0; round < tu_scale(200); round++) {
		int idx = round % 2 ? DL_AVET : DL_AEVT;
		int walk = (int)(tu_rand() % 12);
		dl_datom p = {.a = 100};
		dl_value lo = dl_int(100), hi = dl_int(900);
		dl_iter *a, *b;
		assert_int_equal(dl_iter_open(&a, sn, (dl_index)idx, NULL, &p, 1), 0);
		if (idx == DL_AVET)
			assert_int_equal(dl_iter_value_range(a, &lo, true, &hi, false), 0);
		dl_datom da, db;
		int ra = dl_iter_next(a, &da);
		int64_t at = 0;
		while (ra > 0) {
			/* the next target: a little or a lot past the last datom */
			dl_datom key = {.v = dl_nil()};
			at += 1 + (int64_t)(tu_rand() % (tu_rand() % 2 ? 4 : 60));
			if (idx == DL_AEVT)
				key.e = USER(at);
			else
				key.v = dl_int(100 + at);
			if (idx == DL_AEVT ? da.e >= key.e : dl_value_compare(&da.v, &key.v) >= 0)
				continue; /* the merge would not seek */
			int rc = dl_iter_seek_near(a, &key, walk);
			assert_true(rc == 0 || rc == 1);
			ra = dl_iter_next(a, &da);
			assert_int_equal(dl_iter_open(&b, sn, (dl_index)idx, NULL, &p, 1), 0);
			if (idx == DL_AVET)
				assert_int_equal(dl_iter_value_range(b, &lo, true, &hi, false), 0);
			assert_int_equal(dl_iter_seek(b, &key), 0);
			int rb = dl_iter_next(b, &db);
			assert_int_equal(ra, rb);
			if (ra > 0) {
				assert_int_equal(da.e, db.e);
				assert_true(dl_value_equal(&da.v, &db.v));
			}
			dl_iter_close(b);
		}
		dl_iter_close(a);
	}
	dl_snap_end(sn);
	dl_store_close(s);
}

static void test_ranges(void **state)
{
	(void)state;
	dl_store *s = open_db("ranges", NULL, 0);
	dl_value vals[64];
	int nv = 0;
	for (int i = -5; i <= 5; i++) {
		vals[nv++] = dl_int(i);
		vals[nv++] = dl_double(i + 0.5);
	}
	vals[nv++] = dl_double(-0.0);
	vals[nv++] = dl_int(INT64_MAX);
	vals[nv++] = dl_int(INT64_MIN);
	vals[nv++] = dl_double(1.0 / 0.0);
	for (int i = 0; i < 6; i++)
		vals[nv++] = dl_inst(1000LL * i - 2000);
	static const char *strs[] = {"", "a", "ab", "b", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
	for (int i = 0; i < 6; i++)
		vals[nv++] = dl_string(strs[i], strlen(strs[i]));
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	for (int i = 0; i < nv; i++) {
		/* even i through the batch path, odd one by one */
		if (i % 2)
			assert_int_equal(dl_wtxn_add(w, USER(i + 1), 100, &vals[i], 0), 1);
		else {
			dl_datom d = {USER(i + 1), 100, vals[i], 0, true};
			assert_int_equal(dl_wtxn_add_batch(w, &d, 1, NULL), 0);
		}
	}
	assert_int_equal(dl_wtxn_commit(w), 0);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	for (int li = -1; li < nv; li++) {
		for (int hi = -1; hi < nv; hi += 3) {
			for (int incl = 0; incl < 4; incl++) {
				const dl_value *lo = li < 0 ? NULL : &vals[li];
				const dl_value *h = hi < 0 ? NULL : &vals[hi];
				bool li_ = incl & 1, hi_ = incl & 2;
				dl_iter *it;
				dl_datom p = {0}, d;
				p.a = 100;
				assert_int_equal(dl_iter_open(&it, sn, DL_AVET, NULL, &p, 1), 0);
				assert_int_equal(dl_iter_value_range(it, lo, li_, h, hi_), 0);
				int n = 0;
				dl_value prev = dl_nil();
				while (dl_iter_next(it, &d) > 0) {
					if (n)
						assert_true(dl_value_compare(&prev, &d.v) < 0);
					prev = d.v;
					n++;
				}
				dl_iter_close(it);
				int want = 0;
				for (int k = 0; k < nv; k++) {
					int cl = lo ? dl_value_compare(&vals[k], lo) : 1;
					int ch = h ? dl_value_compare(&vals[k], h) : -1;
					want += (cl > 0 || (cl == 0 && li_)) && (ch < 0 || (ch == 0 && hi_));
				}
				assert_int_equal(n, want);
				uint64_t est;
				assert_int_equal(dl_snap_estimate_range(sn, 100, lo, h, &est), 0);
				if (li_ && hi_)
					assert_int_equal(est, (uint64_t)want); /* small: exact */
			}
		}
	}
	/* seek: position inside the prefix */
	dl_iter *it;
	dl_datom p = {0}, d, key = {0};
	p.a = 100;
	assert_int_equal(dl_iter_open(&it, sn, DL_AVET, NULL, &p, 1), 0);
	key.a = 100;
	key.v = dl_int(3);
	assert_int_equal(dl_iter_seek(it, &key), 0);
	assert_int_equal(dl_iter_next(it, &d), 1);
	assert_true(dl_value_equal(&d.v, &key.v));
	assert_int_equal(dl_iter_next(it, &d), 1);
	assert_true(dl_value_equal(&d.v, &vals[17])); /* 3.5 */
	dl_iter_close(it);
	/* a range on the wrong index shape is refused */
	assert_int_equal(dl_iter_open(&it, sn, DL_EAVT, NULL, &p, 0), 0);
	assert_int_equal(dl_iter_value_range(it, NULL, true, NULL, true), DL_EINVAL);
	dl_iter_close(it);
	dl_snap_end(sn);
	dl_store_close(s);
}

/* ---- histogram estimates on a big attribute ------------------------------ */

static void test_estimate(void **state)
{
	(void)state;
	dl_store *s = open_db("estimate", NULL, 0);
	enum { N = 40000 };
	dl_datom *d = malloc(N * sizeof *d);
	for (int i = 0; i < N; i++)
		d[i] = (dl_datom){USER(i + 1), 100, dl_int(i % 20000), 0, true};
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	assert_int_equal(dl_wtxn_add_batch(w, d, N, NULL), 0);
	assert_int_equal(dl_wtxn_commit(w), 0);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	dl_attr_stats st;
	assert_int_equal(dl_snap_attr_stats(sn, 100, &st), 0);
	assert_int_equal(st.datoms, N);
	assert_int_equal(st.values, 20000);
	assert_int_equal(st.entities, N);
	uint64_t est;
	dl_value lo = dl_int(5000), hi = dl_int(9999);
	assert_int_equal(dl_snap_estimate_range(sn, 100, &lo, &hi, &est), 0);
	assert_true(est > 8000 * 0.85 && est < 10000 * 1.15); /* truth: 10000 */
	assert_int_equal(dl_snap_estimate_range(sn, 100, NULL, NULL, &est), 0);
	assert_true(est > N * 0.9 && est < N * 1.1);
	dl_value big = dl_int(1000000);
	assert_int_equal(dl_snap_estimate_range(sn, 100, &big, NULL, &est), 0);
	assert_true(est <= 1);
	dl_snap_end(sn);
	check_ok(s);
	free(d);
	dl_store_close(s);
}

/* ---- check on damaged databases ------------------------------------------- */

static void fill_some(dl_store *s, int n)
{
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	for (int i = 0; i < n; i++) {
		dl_value v = dl_int(i * 3);
		assert_int_equal(dl_wtxn_add(w, USER(i + 1), 100, &v, 0), 1);
		char str[40];
		int len = snprintf(str, sizeof str, "MARKERSTRING-%06d", i);
		v = dl_string(str, (size_t)len);
		assert_int_equal(dl_wtxn_add(w, USER(i + 1), 101, &v, 0), 1);
		v = dl_ref(USER((i + 1) % n + 1));
		assert_int_equal(dl_wtxn_add(w, USER(i + 1), 102, &v, DL_AF_REF), 1);
	}
	assert_int_equal(dl_wtxn_commit(w), 0);
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	for (int i = 0; i < n; i += 3) {
		dl_value v = dl_int(i * 3);
		assert_int_equal(dl_wtxn_retract(w, USER(i + 1), 100, &v, 0), 1);
		v = dl_int(i * 3 + 1);
		assert_int_equal(dl_wtxn_add(w, USER(i + 1), 100, &v, 0), 1);
	}
	assert_int_equal(dl_wtxn_commit(w), 0);
}

static void expect_problems(dl_store *s)
{
	g_nproblems = 0;
	assert_int_equal(dl_store_check(s, count_problem, NULL), DL_ECORRUPT);
	assert_true(g_nproblems > 0);
}

static void test_check(void **state)
{
	(void)state;
	char path[600];
	dl_store *s = open_db("check", path, sizeof path);
	fill_some(s, 300);
	check_ok(s);

	/* an aevt entry vanishes */
	uint8_t k[KEY_MAX], vk[DL_KEY_VALUE_OOL];
	size_t vlen;
	dl_buf enc = DL_BUF_INIT;
	dl_value v = dl_int(3);
	assert_int_equal(dl_vkey(vk, &vlen, &enc, &v, NULL), 0);
	size_t kn = dl_key_build(k, DL_AEVT, USER(2), 100, vk, vlen);
	assert_int_equal(dl_store_test_raw_del(s, DB_AEVT, k, kn), 0);
	expect_problems(s);
	uint8_t txb[8];
	dl_put_be64(txb, (uint64_t)DL_EID(DL_PART_TX, 1));
	assert_int_equal(dl_store_test_raw_put(s, DB_AEVT, k, kn, txb, 8), 0);
	check_ok(s);

	/* garbage keys in several indexes */
	assert_int_equal(dl_store_test_raw_put(s, DB_AVET, "\x00\x00\x00\x64\x12zz", 7, txb, 8), 0);
	expect_problems(s);
	assert_int_equal(dl_store_test_raw_del(s, DB_AVET, "\x00\x00\x00\x64\x12zz", 7), 0);
	check_ok(s);
	/* an undecodable value in eavt */
	kn = dl_key_build(k, DL_EAVT, USER(5), 100, (const uint8_t *)"\x12\x01", 2);
	assert_int_equal(dl_store_test_raw_put(s, DB_EAVT, k, kn, txb, 8), 0);
	expect_problems(s);
	assert_int_equal(dl_store_test_raw_del(s, DB_EAVT, k, kn), 0);
	/* a history entry missing from havet */
	v = dl_int(0);
	assert_int_equal(dl_vkey(vk, &vlen, &enc, &v, NULL), 0);
	kn = dl_key_build(k, DL_AVET, USER(1), 100, vk, vlen);
	dl_put_be64(k + kn, (uint64_t)DL_EID(DL_PART_TX, 1));
	dl_put_be64(k + kn + 8, (uint64_t)DL_EID(DL_PART_TX, 2));
	assert_int_equal(dl_store_test_raw_del(s, DB_HAVET, k, kn + 16), 0);
	expect_problems(s);
	assert_int_equal(dl_store_test_raw_put(s, DB_HAVET, k, kn + 16, "", 0), 0);
	check_ok(s);
	/* wrong statistics */
	uint8_t st[24] = {0};
	st[7] = 1;
	assert_int_equal(dl_store_test_raw_put(s, DB_META, "st/\x00\x00\x00\x64", 7, st, 24), 0);
	expect_problems(s);
	dl_buf_free(&enc);
	dl_store_close(s);

	/* flipped bytes in copies of a good file: reported, never a crash (a
	 * file written without MDB_WRITEMAP: only as long as its pages) */
	char good[600];
	db_path(good, sizeof good, "check_good");
	dl_store_opts go = DL_STORE_OPTS_INIT;
	go.sync = 0;
	go.map_size = MAP_SIZE;
	go.writemap = 0;
	dl_store *g = NULL;
	assert_int_equal(dl_store_open(&g, good, &go), 0);
	fill_some(g, 300);
	check_ok(g);
	dl_store_close(g);
	FILE *f = fopen(good, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *img = malloc((size_t)size);
	assert_int_equal(fread(img, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	int damaged = 0;
	for (int trial = 0; trial < 12; trial++) {
		/* flip a byte in every copy of one marker string (the live page
		 * among them: old page versions linger in the file) */
		unsigned char *copy = malloc((size_t)size);
		memcpy(copy, img, (size_t)size);
		char marker[40];
		int ml = snprintf(marker, sizeof marker, "MARKERSTRING-%06d", trial * 23 + 1);
		for (long i = 0; i + ml < size; i++)
			if (memcmp(copy + i, marker, (size_t)ml) == 0)
				copy[i + 13 + trial % 6] ^= (unsigned char)(1 + trial);
		char bad[600];
		db_path(bad, sizeof bad, "check_bad");
		f = fopen(bad, "wb");
		fwrite(copy, 1, (size_t)size, f);
		fclose(f);
		free(copy);
		dl_store *b = NULL;
		dl_store_opts bo = DL_STORE_OPTS_INIT;
		bo.map_size = MAP_SIZE;
		if (dl_store_open(&b, bad, &bo) == 0) {
			g_nproblems = 0;
			int rc = dl_store_check(b, count_problem, NULL);
			if (rc == DL_ECORRUPT)
				damaged++;
			dl_store_close(b);
		} else {
			damaged++;
		}
	}
	assert_int_equal(damaged, 12);
	free(img);
}

/* ---- allocation failure -------------------------------------------------- */

static void test_failalloc(void **state)
{
	(void)state;
	char path[600];
	dl_store *s = open_db("failalloc", path, sizeof path);
	fill_some(s, 50);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	int64_t basis = dl_snap_basis_tx(sn);
	dl_snap_end(sn);
	dl_arena a = DL_ARENA_INIT;
	dl_datom batch[200];
	for (int i = 0; i < 200; i++)
		batch[i] = (dl_datom){USER(1000 + i), 100 + i % 3, dl_int(i), 0, true};
	batch[7].v = long_str(&a, 3, 700);
	/* the write cache fill_some's last commit left goes with the first
	 * write transaction that takes it: not a leak of the rounds below */
	dl_wtxn *w0;
	assert_int_equal(dl_wtxn_begin(&w0, s), 0);
	dl_wtxn_abort(w0);
	tu_failalloc_install();
	int fired_rounds = 0;
	for (long n = 1; n < 400; n++) {
		long live = tu_failalloc_live();
		tu_failalloc_arm(n);
		dl_wtxn *w = NULL;
		int rc = dl_wtxn_begin(&w, s);
		if (rc == 0) {
			for (int i = 0; i < 30 && rc >= 0; i++) {
				dl_value v = dl_int(i + 7);
				rc = dl_wtxn_add(w, USER(i + 1), 103 + i % 5, &v, 0);
				if (rc >= 0 && i % 4 == 0) {
					v = dl_int(i * 3);
					rc = dl_wtxn_retract(w, USER(i + 1), 100, &v, 0);
				}
			}
			if (rc >= 0)
				rc = dl_wtxn_add_batch(w, batch, 200, NULL);
			if (rc >= 0) {
				int64_t e;
				rc = dl_wtxn_new_eid(w, &e, DL_PART_USER);
			}
			if (rc >= 0 && tu_failalloc_fired())
				rc = -100; /* fired somewhere harmless: abort anyway */
			dl_wtxn_abort(w);
		}
		bool fired = tu_failalloc_fired();
		tu_failalloc_disarm();
		if (fired) {
			fired_rounds++;
			if (rc != -100)
				assert_int_equal(rc, DL_ENOMEM);
		}
		assert_int_equal(tu_failalloc_live(), live);
		if (!fired)
			break;
	}
	assert_true(fired_rounds > 5);
	dl_set_allocator(NULL);
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	assert_int_equal(dl_snap_basis_tx(sn), basis);
	dl_snap_end(sn);
	check_ok(s);
	dl_arena_free(&a);
	dl_store_close(s);
}

/* ---- bulk path on a non-empty database ------------------------------------ */

static void test_bulk(void **state)
{
	(void)state;
	dl_store *s = open_db("bulk", NULL, 0);
	enum { N = 5000 };
	dl_datom *d = malloc(2 * N * sizeof *d);
	for (int round = 0; round < 3; round++) {
		size_t n = 0;
		for (int i = 0; i < N; i++) {
			/* overlapping entities across rounds; some repeats */
			int e = i + round * (N / 2);
			d[n++] = (dl_datom){USER(e), 100 + (e % 3), dl_double(e * 0.25), 0, true};
			d[n++] = (dl_datom){USER(e), 104, dl_ref(USER(e / 7)), 0, true};
		}
		dl_wtxn *w;
		assert_int_equal(dl_wtxn_begin(&w, s), 0);
		assert_int_equal(dl_wtxn_add_batch(w, d, n / 2, NULL), 0);
		assert_int_equal(dl_wtxn_add_batch(w, d + n / 2, n - n / 2, NULL), 0);
		assert_int_equal(dl_wtxn_datom_count(w), round == 0 ? 2 * N : N);
		assert_int_equal(dl_wtxn_commit(w), 0);
		check_ok(s);
	}
	free(d);
	dl_store_close(s);
}

/* ---- the batch path against one-by-one writes ----------------------------- */

/* Every named database of x and y holds the same keys and values. */
/* Values from small pools, so that they repeat and share key prefixes:
 * 100 numbers (equal ints and doubles, ints past 2^53), 101 strings sharing
 * their first 12+ bytes, some prefixes of others, some with NULs, 102 long
 * strings (out of line) sharing their first 384 bytes or more, 103 and 106
 * refs to the same entities, 104 many values per entity, 105 instants. */
static dl_value bulk_value(dl_arena *ar, int64_t a)
{
	uint64_t r = tu_rand();
	switch (a) {
	case 100:
		switch (r % 4) {
		case 0:
			return dl_int((int64_t)(r >> 8) % 41 - 20);
		case 1:
			return dl_double((double)((int64_t)(r >> 8) % 41 - 20) / 2);
		case 2:
			return dl_int((INT64_C(1) << 60) + (int64_t)(r >> 8) % 5);
		default:
			return dl_double((double)(r >> 8) / 7.0);
		}
	case 101: {
		static const char *tails[] = {"", "a", "ab", "a\0b", "b", "\0", "zz", "aaa"};
		static const size_t tl[] = {0, 1, 2, 3, 1, 1, 2, 3};
		int k = (int)(r % 8);
		char *s = dl_arena_alloc(ar, 32);
		memcpy(s, "shared-prefix-", 14);
		memcpy(s + 14, tails[k], tl[k]);
		size_t n = 14 + tl[k];
		if ((r >> 8) % 3 == 0)
			n = 5 + (r >> 16) % 10; /* a prefix of the prefix */
		return dl_string(s, n);
	}
	case 102: {
		size_t n = 390 + (r >> 4) % 30;
		char *s = dl_arena_alloc(ar, n);
		for (size_t i = 0; i < n; i++)
			s[i] = (char)('a' + i % 26);
		s[n - 1] = (char)('A' + (r >> 12) % 3);
		return dl_string(s, n);
	}
	case 103:
	case 106:
		return dl_ref(USER(1 + (int64_t)((r >> 8) % 50)));
	case 104:
		return dl_int((int64_t)((r >> 8) % 400));
	default:
		return dl_inst((int64_t)((r >> 8) % 1000) * 60000);
	}
}

/* Write the same transactions through dl_wtxn_add_batch into one database
 * and datom by datom through dl_wtxn_add into another: the two must end up
 * identical, every index, statistic, log entry and counter.  The batches
 * are sorted or shuffled, above and below the size that sorts on a helper
 * thread, hold duplicates and datoms already current, and land both past
 * the indexes' ends and inside them. */
static void test_bulk_vs_single(void **state)
{
	(void)state;
	dl_store *sb = open_db("bulk_b", NULL, 0), *s1 = open_db("bulk_1", NULL, 0);
	dl_arena ar = DL_ARENA_INIT;
	long big = 20000; /* above the helper thread's threshold */
	const long sizes[] = {big, big, 500, 30, big, 1, 3000};
	const int nrounds = (int)(sizeof sizes / sizeof sizes[0]);
	dl_datom *d = malloc((size_t)big * 2 * sizeof *d);
	int64_t ents = 0;
	for (int round = 0; round < nrounds; round++) {
		size_t n = 0, want = (size_t)sizes[round];
		bool sorted = round == 0 || round == 5;
		/* new entities (past the end) and old ones (inside) */
		int64_t first = sorted ? ents + 1 : 1 + (ents ? (int64_t)(tu_rand() % (uint64_t)ents) : 0);
		for (int64_t e = first; n < want; e++) {
			for (int64_t a = 100; a <= 106 && n < want; a++) {
				if (sorted && a == 104)
					continue; /* one value per attribute: EAVT order */
				int nv = a == 104 ? 1 + (int)(tu_rand() % 12) : 1;
				for (int k = 0; k < nv && n < want; k++)
					d[n++] = (dl_datom){USER(e), a, bulk_value(&ar, a), 0, true};
			}
			if (e > ents)
				ents = e;
		}
		if (!sorted) {
			/* shuffle, and repeat some datoms */
			for (size_t i = n; i > 1; i--) {
				size_t j = (size_t)(tu_rand() % i);
				dl_datom t = d[i - 1];
				d[i - 1] = d[j];
				d[j] = t;
			}
			for (size_t i = 0; i < n / 10; i++)
				d[n + i] = d[tu_rand() % n];
			n += n / 10;
		}
		dl_wtxn *wb, *w1;
		assert_int_equal(dl_wtxn_begin(&wb, sb), 0);
		assert_int_equal(dl_wtxn_begin(&w1, s1), 0);
		/* two batches in one transaction in some rounds */
		size_t cut = round % 2 ? n / 3 : n;
		assert_int_equal(dl_wtxn_add_batch(wb, d, cut, NULL), 0);
		assert_int_equal(dl_wtxn_add_batch(wb, d + cut, n - cut, NULL), 0);
		for (size_t i = 0; i < n; i++)
			assert_true(dl_wtxn_add(w1, d[i].e, d[i].a, &d[i].v, 0) >= 0);
		assert_int_equal(dl_wtxn_datom_count(wb), dl_wtxn_datom_count(w1));
		assert_true(dl_wtxn_datom_count(wb) > 0);
		assert_int_equal(dl_wtxn_commit(wb), 0);
		assert_int_equal(dl_wtxn_commit(w1), 0);
		tu_same_store(sb, s1, "bulk");
		dl_arena_reset(&ar);
	}
	check_ok(sb);
	free(d);
	dl_arena_free(&ar);
	dl_store_close(sb);
	dl_store_close(s1);
}

/* A batch of nothing new writes nothing (and no log records). */
static void test_bulk_nothing_new(void **state)
{
	(void)state;
	dl_store *s = open_db("bulk_none", NULL, 0);
	enum { N = 20000 };
	dl_datom *d = malloc(N * sizeof *d);
	for (int i = 0; i < N; i++)
		d[i] = (dl_datom){USER(1 + i / 4), 100 + i % 4, dl_int(i % 7), 0, true};
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	assert_int_equal(dl_wtxn_add_batch(w, d, N, NULL), 0);
	assert_int_equal(dl_wtxn_datom_count(w), N);
	assert_int_equal(dl_wtxn_commit(w), 0);
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	assert_int_equal(dl_wtxn_add_batch(w, d, N, NULL), 0); /* helper thread */
	assert_int_equal(dl_wtxn_add_batch(w, d, 100, NULL), 0); /* inline */
	assert_int_equal(dl_wtxn_datom_count(w), 0);
	assert_int_equal(dl_wtxn_commit(w), 0);
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	dl_store_stats st;
	assert_int_equal(dl_snap_stats(sn, &st), 0);
	assert_int_equal(st.datoms, N);
	assert_int_equal(st.transactions, 2);
	dl_attr_stats as;
	assert_int_equal(dl_snap_attr_stats(sn, 101, &as), 0);
	assert_int_equal(as.datoms, N / 4);
	assert_int_equal(as.values, 7);
	assert_int_equal(as.entities, N / 4);
	dl_snap_end(sn);
	check_ok(s);
	free(d);
	dl_store_close(s);
}


/* ---- the write cache and MDB_WRITEMAP --------------------------------------- */

static void expect_stats(dl_store *s, int64_t a, uint64_t datoms, uint64_t values,
			 uint64_t entities, uint64_t total, uint64_t ntx)
{
	dl_snap *sn;
	assert_int_equal(dl_snap_begin(&sn, s), 0);
	dl_attr_stats as;
	assert_int_equal(dl_snap_attr_stats(sn, a, &as), 0);
	assert_int_equal(as.datoms, datoms);
	assert_int_equal(as.values, values);
	assert_int_equal(as.entities, entities);
	dl_store_stats st;
	assert_int_equal(dl_snap_stats(sn, &st), 0);
	assert_int_equal(st.datoms, total);
	assert_int_equal(st.transactions, ntx);
	dl_snap_end(sn);
}

/* A write transaction starts from what this process's last commit left
 * (basis, totals, id counters, statistics) only if nothing else committed
 * since: another process, a raw LMDB commit, an aborted transaction that
 * had taken the cache. */
static void test_write_cache(void **state)
{
	(void)state;
	char path[600];
	dl_store *s = open_db("wcache", path, sizeof path);
	assert_int_equal(put_one(s, 0, 10, 1), USER(FIRST_USER_ID));
	assert_int_equal(put_one(s, 0, 10, 1), USER(FIRST_USER_ID + 1));
	expect_stats(s, 10, 2, 1, 2, 2, 2);
	/* another process writes two transactions */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dl_store_opts o = DL_STORE_OPTS_INIT;
		o.sync = 0;
		o.map_size = MAP_SIZE;
		dl_store *s2 = NULL;
		if (dl_store_open(&s2, path, &o))
			_exit(11);
		if (put_one(s2, 0, 10, 2) != USER(FIRST_USER_ID + 2) ||
		    put_one(s2, 0, 11, 5) != USER(FIRST_USER_ID + 3))
			_exit(12);
		dl_store_close(s2);
		_exit(0);
	}
	expect_child_ok(pid);
	/* its id, tx, statistics and totals are seen, not this process's */
	int64_t e = put_one(s, 0, 10, 1);
	assert_int_equal(e, USER(FIRST_USER_ID + 4));
	expect_stats(s, 10, 4, 2, 4, 5, 5);
	expect_stats(s, 11, 1, 1, 1, 5, 5);
	/* a commit behind the store's back (the totals changed) */
	uint8_t tot[16];
	dl_put_be64(tot, 100);
	dl_put_be64(tot + 8, 0);
	assert_int_equal(dl_store_test_raw_put(s, DB_META, META_TOTALS, strlen(META_TOTALS), tot,
					       16), 0);
	assert_int_equal(put_one(s, e, 11, 6), e);
	expect_stats(s, 11, 2, 2, 2, 101, 6);
	dl_put_be64(tot, 6);
	assert_int_equal(dl_store_test_raw_put(s, DB_META, META_TOTALS, strlen(META_TOTALS), tot,
					       16), 0);
	/* an aborted transaction changed the statistics it started from */
	assert_int_equal(put_one(s, e, 12, 1), e); /* fills the cache */
	dl_wtxn *w;
	assert_int_equal(dl_wtxn_begin(&w, s), 0);
	dl_value v = dl_int(9);
	int64_t e2;
	assert_int_equal(dl_wtxn_new_eid(w, &e2, DL_PART_USER), 0);
	assert_int_equal(dl_wtxn_add(w, e2, 10, &v, 0), 1);
	assert_int_equal(dl_wtxn_add(w, e, 12, &v, 0), 1);
	dl_wtxn_abort(w);
	assert_int_equal(put_one(s, 0, 10, 1), e2); /* the aborted id is free again */
	expect_stats(s, 10, 5, 2, 5, 8, 8);
	expect_stats(s, 12, 1, 1, 1, 8, 8);
	check_ok(s);
	dl_store_close(s);
}

/* Writers in two threads of one process: each commit leaves the cache to
 * whichever transaction comes next. */
enum { WC_TXS = 200 };
static void *wc_writer(void *arg)
{
	dl_store *s = arg;
	for (int i = 0; i < WC_TXS; i++)
		if (put_one(s, 0, 10, i % 5) < 0)
			return (void *)1;
	return NULL;
}

static void test_write_cache_threads(void **state)
{
	(void)state;
	dl_store *s = open_db("wcache_thr", NULL, 0);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, wc_writer, s), 0);
	for (int i = 0; i < 2; i++) {
		void *r;
		assert_int_equal(pthread_join(th[i], &r), 0);
		assert_null(r);
	}
	expect_stats(s, 10, 2 * WC_TXS, 5, 2 * WC_TXS, 2 * WC_TXS, 2 * WC_TXS);
	check_ok(s);
	dl_store_close(s);
}

/* One file written with and without MDB_WRITEMAP in turn; with it the file
 * is extended (sparse) to the map, and the statistics report the pages in
 * use either way. */
static void test_writemap(void **state)
{
	(void)state;
	char path[600];
	db_path(path, sizeof path, "writemap");
	uint64_t used[3];
	for (int k = 0; k < 3; k++) {
		dl_store_opts o = DL_STORE_OPTS_INIT;
		o.sync = k == 1; /* msync with the map */
		o.map_size = MAP_SIZE;
		o.writemap = k == 1;
		dl_store *s = NULL;
		assert_int_equal(dl_store_open(&s, path, &o), 0);
		assert_int_equal(put_one(s, 0, 10, k), USER(FIRST_USER_ID + k));
		expect_stats(s, 10, (uint64_t)k + 1, (uint64_t)k + 1, (uint64_t)k + 1,
			     (uint64_t)k + 1, (uint64_t)k + 1);
		struct stat fst;
		assert_int_equal(stat(path, &fst), 0);
		dl_snap *sn;
		dl_store_stats ss;
		assert_int_equal(dl_snap_begin(&sn, s), 0);
		assert_int_equal(dl_snap_stats(sn, &ss), 0);
		dl_snap_end(sn);
		used[k] = ss.file_bytes;
		assert_true(used[k] > 0 && used[k] <= (uint64_t)fst.st_size);
		if (k == 1)
			assert_int_equal((uint64_t)fst.st_size, MAP_SIZE);
		else if (k == 0)
			assert_int_equal((uint64_t)fst.st_size, used[k]);
		check_ok(s);
		dl_store_close(s);
	}
	assert_true(used[2] < (uint64_t)1 << 20);
}

int main(void)
{
	const char *tmp = getenv("DL_TEST_TMP");
	snprintf(g_dir, sizeof g_dir, "%s/store", tmp ? tmp : "/tmp/dl_test");
	mkdirs(g_dir);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),       cmocka_unit_test(test_open_small_address_space),
		cmocka_unit_test(test_add_retract),
		cmocka_unit_test(test_model),      cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_ranges),     cmocka_unit_test(test_seek_near),
		cmocka_unit_test(test_estimate),
		cmocka_unit_test(test_check),      cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_bulk_vs_single), cmocka_unit_test(test_bulk_nothing_new),
		cmocka_unit_test(test_failalloc),  cmocka_unit_test(test_write_cache),
		cmocka_unit_test(test_write_cache_threads), cmocka_unit_test(test_writemap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
