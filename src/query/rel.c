/*
 * query/rel: in-memory relations and the operators between them (hash
 * index, hash join, product, distinct, sort).  Rows are arrays of dl_value;
 * the strings they point to live in the query arena, so rows are copied by
 * value.
 */
#include "exec_int.h"

#include <stdlib.h>
#include <string.h>

dl_rel *dl_rel_new(dl_qenv *env, uint32_t ncols, const uint32_t *vars)
{
	dl_rel *r = dl_calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->ncols = ncols;
	r->vars = dl_malloc((ncols ? ncols : 1) * sizeof *r->vars);
	if (!r->vars) {
		dl_free(r);
		return NULL;
	}
	if (ncols)
		memcpy(r->vars, vars, ncols * sizeof *vars);
	return r;
}

void dl_rel_free(dl_rel *r)
{
	if (!r)
		return;
	if (r->budget)
		atomic_fetch_sub(&r->budget->bytes, r->charged);
	dl_free(r->vars);
	dl_block_free(r->rows);
	dl_free(r);
}

static int rel_resize(dl_qenv *env, dl_rel *r, size_t cap)
{
	if (env && r->n >= env->max_rows)
		return dl_error(DL_ELIMIT,
				"query exceeded its row budget: an intermediate relation passed %llu rows",
				(unsigned long long)env->max_rows);
	if (env && cap > env->max_rows)
		cap = env->max_rows > r->n ? env->max_rows : r->n + 1;
	size_t w = r->ncols ? r->ncols : 1;
	if (env) {
		/* rows are charged to one budget: the first env that grows them */
		if (!r->budget)
			r->budget = env->budget;
		size_t more = (cap - r->cap) * w * sizeof(dl_value);
		int rc = r->budget == env->budget ? dl_qenv_charge(env, more) : 0;
		if (r->budget == env->budget)
			r->charged += more; /* given back when freed, even on failure */
		if (rc)
			return rc;
	}
	dl_value *p = dl_block_realloc(r->rows, cap * w * sizeof *p);
	if (!p)
		return DL_ENOMEM;
	r->rows = p;
	r->cap = cap;
	return 0;
}

int dl_rel_reserve(dl_qenv *env, dl_rel *r, size_t n)
{
	if (r->cap - r->n >= n)
		return 0;
	return rel_resize(env, r, r->n + n);
}

dl_value *dl_rel_grow(dl_qenv *env, dl_rel *r)
{
	if (rel_resize(env, r, r->cap ? r->cap * 2 : 16))
		return NULL;
	return &r->rows[r->n++ * r->ncols];
}

int dl_rel_col(const dl_rel *r, uint32_t var)
{
	for (uint32_t i = 0; i < r->ncols; i++)
		if (r->vars[i] == var)
			return (int)i;
	return -1;
}

uint64_t dl_row_hash(const dl_value *row, const uint32_t *cols, uint32_t n)
{
	uint64_t h = 0x243F6A8885A308D3ull;
	for (uint32_t i = 0; i < n; i++) {
		h ^= dl_value_hash(&row[cols[i]]) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
		h *= 0xFF51AFD7ED558CCDull;
	}
	return h;
}

bool dl_row_eq(const dl_value *a, const uint32_t *ca, const dl_value *b, const uint32_t *cb,
	       uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (!dl_value_equal(&a[ca[i]], &b[cb[i]]))
			return false;
	return true;
}

int dl_rel_group_ids(uint32_t *gid, size_t *ngroups, const dl_rel *r, const uint32_t *keys,
		     uint32_t nkeys)
{
	*ngroups = 0;
	if (r->n >= UINT32_MAX)
		return dl_error(DL_ELIMIT, "relation too large to group (%zu rows)", r->n);
	/* open addressing over group numbers (+1), at most half full; each
	 * group's first row and hash kept for compares and regrowth */
	size_t cap = 0, n = 0, slots = 0;
	uint32_t *first = NULL, *table = NULL;
	uint64_t *ghash = NULL;
	int rc = 0;
	for (size_t i = 0; i < r->n; i++) {
		const dl_value *row = &r->rows[i * r->ncols];
		if (i && dl_row_eq(row - r->ncols, keys, row, keys, nkeys)) {
			gid[i] = gid[i - 1];
			continue;
		}
		uint64_t h = dl_row_hash(row, keys, nkeys);
		size_t at = slots ? h & (slots - 1) : 0;
		uint32_t g = UINT32_MAX;
		for (; slots && table[at]; at = (at + 1) & (slots - 1)) {
			uint32_t c = table[at] - 1;
			if (ghash[c] == h &&
			    dl_row_eq(&r->rows[(size_t)first[c] * r->ncols], keys, row, keys, nkeys)) {
				g = c;
				break;
			}
		}
		if (g != UINT32_MAX) {
			gid[i] = g;
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			uint32_t *f2 = dl_block_realloc(first, nc * sizeof *f2);
			if (!f2) {
				rc = DL_ENOMEM;
				goto out;
			}
			first = f2;
			uint64_t *h2 = dl_block_realloc(ghash, nc * sizeof *h2);
			if (!h2) {
				rc = DL_ENOMEM;
				goto out;
			}
			ghash = h2;
			cap = nc;
		}
		if ((n + 1) * 2 > slots) {
			size_t ns = slots ? slots * 2 : 128;
			uint32_t *t2 = dl_block_calloc(ns, sizeof *t2);
			if (!t2) {
				rc = DL_ENOMEM;
				goto out;
			}
			for (size_t c = 0; c < n; c++) {
				size_t b = ghash[c] & (ns - 1);
				while (t2[b])
					b = (b + 1) & (ns - 1);
				t2[b] = (uint32_t)(c + 1);
			}
			dl_block_free(table);
			table = t2;
			slots = ns;
			for (at = h & (slots - 1); table[at]; at = (at + 1) & (slots - 1))
				;
		}
		first[n] = (uint32_t)i;
		ghash[n] = h;
		table[at] = (uint32_t)(n + 1);
		gid[i] = (uint32_t)n++;
	}
	*ngroups = n;
out:
	dl_block_free(first);
	dl_block_free(ghash);
	dl_block_free(table);
	return rc;
}

int dl_rhash_build(dl_rhash *h, const dl_rel *r, const uint32_t *keys, uint32_t nkeys)
{
	memset(h, 0, sizeof *h);
	if (r->n >= UINT32_MAX)
		return dl_error(DL_ELIMIT, "relation too large to hash (%zu rows)", r->n);
	size_t nb = 16;
	while (nb < r->n * 2)
		nb <<= 1;
	h->nkeys = nkeys;
	h->keys = keys;
	h->mask = nb - 1;
	h->head = dl_block_calloc(nb, sizeof *h->head);
	h->next = dl_block_alloc((r->n ? r->n : 1) * sizeof *h->next);
	h->hash = dl_block_alloc((r->n ? r->n : 1) * sizeof *h->hash);
	if (!h->head || !h->next || !h->hash) {
		dl_rhash_free(h);
		return DL_ENOMEM;
	}
	/* insert in reverse so chains list rows in relation order */
	for (size_t i = r->n; i-- > 0;) {
		uint64_t x = dl_row_hash(&r->rows[i * r->ncols], keys, nkeys);
		size_t b = x & h->mask;
		h->hash[i] = x;
		h->next[i] = h->head[b];
		h->head[b] = (uint32_t)(i + 1);
	}
	return 0;
}

void dl_rhash_free(dl_rhash *h)
{
	dl_block_free(h->head);
	dl_block_free(h->next);
	dl_block_free(h->hash);
	memset(h, 0, sizeof *h);
}

static uint32_t chain_from(const dl_rhash *h, const dl_rel *r, uint32_t at, const dl_value *row,
			   const uint32_t *kc, uint64_t hash)
{
	while (at) {
		uint32_t i = at - 1;
		if (h->hash[i] == hash &&
		    dl_row_eq(&r->rows[(size_t)i * r->ncols], h->keys, row, kc, h->nkeys))
			return at;
		at = h->next[i];
	}
	return 0;
}

uint32_t dl_rhash_find(const dl_rhash *h, const dl_rel *r, const dl_value *row,
		       const uint32_t *kc, uint64_t hash)
{
	return chain_from(h, r, h->head[hash & h->mask], row, kc, hash);
}

uint32_t dl_rhash_next(const dl_rhash *h, const dl_rel *r, uint32_t at, const dl_value *row,
		       const uint32_t *kc, uint64_t hash)
{
	return chain_from(h, r, h->next[at - 1], row, kc, hash);
}

int dl_rel_join(dl_rel **out, dl_qenv *env, const dl_rel *a, const dl_rel *b)
{
	/* build on the smaller side, probe with the larger */
	const dl_rel *small = a->n <= b->n ? a : b, *big = small == a ? b : a;
	uint32_t nk = 0, ks[64], kb[64], extra[64], nextra = 0;
	for (uint32_t i = 0; i < small->ncols; i++) {
		int c = dl_rel_col(big, small->vars[i]);
		if (c >= 0) {
			if (nk == 64)
				return dl_error(DL_ELIMIT, "join on more than 64 variables");
			ks[nk] = i;
			kb[nk++] = (uint32_t)c;
		} else {
			if (nextra == 64)
				return dl_error(DL_ELIMIT, "relation wider than 64 columns");
			extra[nextra++] = i;
		}
	}
	uint32_t nc = big->ncols + nextra;
	uint32_t *vars = dl_malloc((nc ? nc : 1) * sizeof *vars);
	if (!vars)
		return DL_ENOMEM;
	memcpy(vars, big->vars, big->ncols * sizeof *vars);
	for (uint32_t i = 0; i < nextra; i++)
		vars[big->ncols + i] = small->vars[extra[i]];
	dl_rel *r = dl_rel_new(env, nc, vars);
	dl_free(vars);
	if (!r)
		return DL_ENOMEM;
	int rc = 0;
	dl_rhash h = {0};
	if (nk == 0) {
		for (size_t i = 0; i < big->n && !rc; i++)
			for (size_t j = 0; j < small->n; j++) {
				dl_value *row = dl_rel_push(env, r);
				if (!row || (rc = dl_qenv_tick(env))) {
					rc = rc ? rc : dl_errcode_last();
					break;
				}
				memcpy(row, &big->rows[i * big->ncols], big->ncols * sizeof *row);
				for (uint32_t k = 0; k < nextra; k++)
					row[big->ncols + k] = small->rows[j * small->ncols + extra[k]];
			}
		goto done;
	}
	if ((rc = dl_rhash_build(&h, small, ks, nk)))
		goto done;
	for (size_t i = 0; i < big->n && !rc; i++) {
		const dl_value *brow = &big->rows[i * big->ncols];
		uint64_t hv = dl_row_hash(brow, kb, nk);
		for (uint32_t at = dl_rhash_find(&h, small, brow, kb, hv); at;
		     at = dl_rhash_next(&h, small, at, brow, kb, hv)) {
			dl_value *row = dl_rel_push(env, r);
			if (!row || (rc = dl_qenv_tick(env))) {
				rc = rc ? rc : dl_errcode_last();
				break;
			}
			const dl_value *srow = &small->rows[(size_t)(at - 1) * small->ncols];
			memcpy(row, brow, big->ncols * sizeof *row);
			for (uint32_t k = 0; k < nextra; k++)
				row[big->ncols + k] = srow[extra[k]];
		}
	}
done:
	dl_rhash_free(&h);
	if (rc) {
		dl_rel_free(r);
		return rc < 0 ? rc : DL_ELIMIT;
	}
	r->distinct = big->distinct && small->distinct; /* joins of sets are sets */
	*out = r;
	return 0;
}

int dl_rel_distinct(dl_qenv *env, dl_rel *r)
{
	if (r->n < 2 || r->distinct)
		return 0;
	uint32_t cols[64];
	if (r->ncols > 64)
		return dl_error(DL_ELIMIT, "relation wider than 64 columns");
	for (uint32_t i = 0; i < r->ncols; i++)
		cols[i] = i;
	size_t nb = 16;
	while (nb < r->n * 2)
		nb <<= 1;
	uint32_t *slot = dl_block_calloc(nb, sizeof *slot);
	if (!slot)
		return DL_ENOMEM;
	size_t w = 0;
	bool one = r->ncols == 1; /* the common projection: no row hashing loop */
	for (size_t i = 0; i < r->n; i++) {
		dl_value *row = &r->rows[i * r->ncols];
		uint64_t hv = one ? dl_value_hash(row) : dl_row_hash(row, cols, r->ncols);
		size_t b = hv & (nb - 1);
		bool dup = false;
		while (slot[b]) {
			const dl_value *o = &r->rows[(size_t)(slot[b] - 1) * r->ncols];
			if (one ? dl_value_equal(o, row) : dl_row_eq(o, cols, row, cols, r->ncols)) {
				dup = true;
				break;
			}
			b = (b + 1) & (nb - 1);
		}
		if (dup)
			continue;
		if (w != i)
			memcpy(&r->rows[w * r->ncols], row, r->ncols * sizeof *row);
		slot[b] = (uint32_t)(w + 1);
		w++;
	}
	r->n = w;
	r->distinct = true;
	dl_block_free(slot);
	DL_UNUSED(env);
	return 0;
}

/* qsort has no context argument in C17; sorting is single-threaded per
 * call, but queries may run in several threads at once, so the context is
 * thread-local. */
static _Thread_local const uint32_t *t_sort_cols;
static _Thread_local uint32_t t_sort_n, t_sort_w;

static int cmp_rows(const void *x, const void *y)
{
	const dl_value *a = x, *b = y;
	for (uint32_t i = 0; i < t_sort_n; i++) {
		int c = dl_value_compare(&a[t_sort_cols[i]], &b[t_sort_cols[i]]);
		if (c)
			return c;
	}
	return 0;
}

void dl_rel_sort(dl_rel *r, const uint32_t *cols, uint32_t n)
{
	if (r->n < 2 || r->ncols == 0)
		return;
	t_sort_cols = cols;
	t_sort_n = n;
	t_sort_w = r->ncols;
	qsort(r->rows, r->n, r->ncols * sizeof(dl_value), cmp_rows);
}
