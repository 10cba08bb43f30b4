/*
 * The bulk write path (dl_wtxn_add_batch): a batch of assertions is put in
 * each index's key order once and each index is written in that order
 * through one cursor, with MDB_APPEND once the keys pass the index's last
 * key (always, for a fresh database), which also packs pages full instead
 * of half full.  The log records the written datoms in the batch's order.
 *
 * The orders are derived from one another, so the common path runs no
 * comparison sort at all:
 *   EAVT  the batch order when it is already sorted (an importer emits
 *         entity after entity); otherwise a radix sort on (E, A), then a
 *         comparison sort of each run of datoms sharing both;
 *   AEVT  the EAVT order, stably radix-sorted on A;
 *   AVET  the AEVT order, each attribute's span stably radix-sorted on the
 *         first 12 bytes of V, which keeps equal values in E order; a run
 *         of values that agree on those bytes but differ further on is
 *         sorted by whole keys;
 *   VAET  the refs in EAVT order, stably radix-sorted on (ref, A).
 * The radix sort skips the key bytes every element shares, so it makes one
 * pass per byte that varies (one for A; a span of doubles takes about
 * eight, in cache).  AVET's keys are also built while sorting, into one
 * array in key order: in value order the records are scattered in memory,
 * and reading them there at write time cost more than the writes.
 *
 * A large batch sorts on a helper thread while this thread writes EAVT
 * (which decides which datoms are kept: duplicates and datoms already
 * current are dropped there) and the log; each index's order is handed
 * over as soon as it is ready.  The helper reads the batch and writes only
 * its own scratch; it never touches LMDB.
 *
 * Statistics come from the sorted runs: a value (entity) is new for its
 * attribute when the first of its run that is kept finds the index held
 * none before.
 *
 * The spool (dl_wtxn_defer_indexes, for imports of many batches): a batch
 * writes EAVT and the log as above, but its AEVT, AVET and VAET entries,
 * already in key order, are appended as three sorted runs to an unlinked
 * temporary file; a merge of all runs writes them into the indexes in key
 * order, once.  Batch after batch, EAVT only grows at its end (new
 * entities), but AVET's values and AEVT's and VAET's attributes and
 * referenced entities land all over their indexes: written batch by batch,
 * every batch rewrote pages everywhere (and LMDB splits a page in half when
 * a key goes into its middle, leaving pages half full).  Merged once, each
 * page is written once, appended and full when the database was empty.
 * EAVT decides what is written (duplicates and datoms already current are
 * dropped there), so spooled entries never collide with each other or
 * with the indexes.  Distinct-value counts are taken while merging.
 *
 * Scratch per datom, kept in the transaction and reused by its next batch:
 * a record (24 bytes), the value's key form, a flag, three 4-byte orders,
 * two 16-byte sort elements and AVET's key (18 bytes and the value's key
 * form): some 110 bytes for small values.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { TAG_REF = 0x19 }; /* the ref tag of the value encoding */

/* Batches at least this long sort on a helper thread. */
#define HELPER_MIN 16384

typedef struct brec {
	int64_t e;
	uint32_t a;
	uint32_t voff; /* key form of V in w->bvals */
	uint16_t vlen;
	uint8_t ref;   /* V is a ref: its key form is TAG_REF + 8 bytes */
} brec;

/* A radix sort element: the key (k0, k1) and the record it stands for. */
typedef struct relem {
	uint64_t k0; /* most significant */
	uint32_t k1;
	uint32_t r;
} relem;

/* Per-datom outcome of the EAVT pass. */
enum { KEEP = 0, SKIP = 1, KEEP_NEWENT = 2 /* kept, first of its entity */ };

typedef struct bctx {
	dl_wtxn *w;
	size_t n, nref;
	brec *rec;
	const uint8_t *vals;
	uint8_t *fate;             /* KEEP, SKIP or KEEP_NEWENT per record */
	uint32_t *eord, *aord, *vord; /* record indices in index order */
	relem *ra, *rb;            /* sort scratch, n each */
	uint8_t *avkeys;           /* AVET's entries in order, see order_rest */
	/* with a helper thread: the orders ready so far (1 AEVT, 2 AVET,
	 * 3 VAET), under mu */
	bool threaded;
	int ready;
	pthread_mutex_t mu;
	pthread_cond_t cv;
} bctx;

static inline int64_t rec_refid(const bctx *c, const brec *r)
{
	return (int64_t)(dl_get_be64(c->vals + r->voff + 1) ^ UINT64_C(0x8000000000000000));
}

/* Bytes off.. of v (n bytes long) as a big-endian number of `w` bytes,
 * zero padded (a zero sorts like "shorter": ties are settled later). */
static inline uint64_t vbytes(const uint8_t *v, size_t n, size_t off, size_t w)
{
	if (off + 8 <= n && w == 8)
		return dl_get_be64(v + off);
	uint8_t b[8] = {0};
	for (size_t i = 0; i < w && off + i < n; i++)
		b[i] = v[off + i];
	return dl_get_be64(b) >> (64 - 8 * w);
}

/* ---- sorting ---------------------------------------------------------------- */

static inline bool rless(const relem *x, const relem *y)
{
	return x->k0 < y->k0 || (x->k0 == y->k0 && x->k1 < y->k1);
}

static inline unsigned rdigit(const relem *x, int d)
{
	/* digits 0..3: k1, least significant first; 4..11: k0 */
	return d < 4 ? (x->k1 >> (8 * d)) & 0xFF : (unsigned)(x->k0 >> (8 * (d - 4))) & 0xFF;
}

/* Stable sort of a[0..n) by (k0, k1); tmp has room for n.  Returns the
 * array holding the result (a or tmp). */
static relem *rsort(relem *a, relem *tmp, size_t n)
{
	if (n < 2)
		return a;
	uint64_t d0 = 0;
	uint32_t d1 = 0;
	bool sorted = true;
	for (size_t i = 1; i < n; i++) {
		d0 |= a[i].k0 ^ a[0].k0;
		d1 |= a[i].k1 ^ a[0].k1;
		sorted &= !rless(&a[i], &a[i - 1]);
	}
	if (sorted)
		return a;
	if (n <= 32) {
		for (size_t i = 1; i < n; i++) {
			relem x = a[i];
			size_t j = i;
			for (; j > 0 && rless(&x, &a[j - 1]); j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return a;
	}
	int dig[12], nd = 0;
	for (int d = 0; d < 4; d++)
		if ((d1 >> (8 * d)) & 0xFF)
			dig[nd++] = d;
	for (int d = 0; d < 8; d++)
		if ((d0 >> (8 * d)) & 0xFF)
			dig[nd++] = 4 + d;
	uint32_t cnt[12][256];
	memset(cnt, 0, (size_t)nd * sizeof cnt[0]);
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < nd; j++)
			cnt[j][rdigit(&a[i], dig[j])]++;
	relem *src = a, *dst = tmp;
	for (int j = 0; j < nd; j++) {
		uint32_t sum = 0;
		for (int b = 0; b < 256; b++) {
			uint32_t c = cnt[j][b];
			cnt[j][b] = sum;
			sum += c;
		}
		int d = dig[j];
		for (size_t i = 0; i < n; i++)
			dst[cnt[j][rdigit(&src[i], d)]++] = src[i];
		relem *t = src;
		src = dst;
		dst = t;
	}
	return src;
}

typedef int (*rcmp)(const bctx *c, uint32_t x, uint32_t y);

/* Merge sort of record indices a[0..n) by cmp; tmp has room for n / 2 + 1. */
static void msort(const bctx *c, rcmp cmp, uint32_t *a, uint32_t *tmp, size_t n)
{
	if (n <= 12) {
		for (size_t i = 1; i < n; i++) {
			uint32_t x = a[i];
			size_t j = i;
			for (; j > 0 && cmp(c, x, a[j - 1]) < 0; j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return;
	}
	size_t h = n / 2;
	msort(c, cmp, a, tmp, h);
	msort(c, cmp, a + h, tmp, n - h);
	if (cmp(c, a[h - 1], a[h]) <= 0)
		return;
	memcpy(tmp, a, h * sizeof *a);
	size_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		a[k++] = cmp(c, a[j], tmp[i]) < 0 ? a[j++] : tmp[i++];
	while (i < h)
		a[k++] = tmp[i++];
}

/* EAVT order of two records with the same E and A: V decides. */
static int cmp_v(const bctx *c, uint32_t x, uint32_t y)
{
	const brec *p = &c->rec[x], *q = &c->rec[y];
	return dl_key_cmp(c->vals + p->voff, p->vlen, c->vals + q->voff, q->vlen);
}

/* AVET order of two records with the same A: their keys' V E parts. */
static int cmp_ve(const bctx *c, uint32_t x, uint32_t y)
{
	const brec *p = &c->rec[x], *q = &c->rec[y];
	const uint8_t *pv = c->vals + p->voff, *qv = c->vals + q->voff;
	size_t m = p->vlen < q->vlen ? p->vlen : q->vlen;
	int r = memcmp(pv, qv, m);
	if (r)
		return r;
	if (p->vlen == q->vlen)
		return (p->e > q->e) - (p->e < q->e);
	/* one V is a prefix of the other (the encoding never does this, but
	 * the order must be the keys' order regardless) */
	uint8_t kp[DL_KEY_VALUE_OOL + 8], kq[DL_KEY_VALUE_OOL + 8];
	memcpy(kp, pv, p->vlen);
	dl_put_be64(kp + p->vlen, (uint64_t)p->e);
	memcpy(kq, qv, q->vlen);
	dl_put_be64(kq + q->vlen, (uint64_t)q->e);
	return dl_key_cmp(kp, p->vlen + 8u, kq, q->vlen + 8u);
}

/* The EAVT order into c->eord (uses ra, rb). */
static void order_eavt(bctx *c)
{
	const brec *rec = c->rec;
	size_t n = c->n;
	bool sorted = true;
	for (size_t i = 1; i < n && sorted; i++) {
		const brec *p = &rec[i - 1], *q = &rec[i];
		if (p->e != q->e)
			sorted = p->e < q->e;
		else if (p->a != q->a)
			sorted = p->a < q->a;
		else
			sorted = cmp_v(c, (uint32_t)i - 1, (uint32_t)i) <= 0;
	}
	if (sorted) {
		for (size_t i = 0; i < n; i++)
			c->eord[i] = (uint32_t)i;
		return;
	}
	for (size_t i = 0; i < n; i++)
		c->ra[i] = (relem){(uint64_t)rec[i].e, rec[i].a, (uint32_t)i};
	relem *s = rsort(c->ra, c->rb, n);
	for (size_t i = 0; i < n; i++)
		c->eord[i] = s[i].r;
	/* runs with the same E and A: by V */
	uint32_t *tmp = (uint32_t *)(s == c->ra ? c->rb : c->ra);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && s[j].k0 == s[i].k0 && s[j].k1 == s[i].k1)
			j++;
		if (j - i > 1)
			msort(c, cmp_v, c->eord + i, tmp, j - i);
		i = j;
	}
}

/* Orders up to `stage` are ready (see bctx.ready). */
static void stage_done(bctx *c, int stage)
{
	if (!c->threaded) {
		c->ready = stage;
		return;
	}
	pthread_mutex_lock(&c->mu);
	c->ready = stage;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void stage_wait(bctx *c, int stage)
{
	if (!c->threaded)
		return;
	pthread_mutex_lock(&c->mu);
	while (c->ready < stage)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

/* AEVT, AVET and VAET orders (uses ra, rb; reads rec, vals, eord). */
static void order_rest(bctx *c)
{
	const brec *rec = c->rec;
	size_t n = c->n;

	/* AEVT: EAVT stably by A */
	for (size_t i = 0; i < n; i++)
		c->ra[i] = (relem){rec[c->eord[i]].a, 0, c->eord[i]};
	relem *s = rsort(c->ra, c->rb, n);
	for (size_t i = 0; i < n; i++)
		c->aord[i] = s[i].r;
	stage_done(c, 1);

	/* AVET: each attribute's span of AEVT stably by V's first 12 bytes */
	uint8_t *p = c->avkeys;
	for (size_t i = 0; i < n;) {
		uint32_t a = rec[c->aord[i]].a;
		size_t j = i;
		for (; j < n && rec[c->aord[j]].a == a; j++) {
			const brec *r = &rec[c->aord[j]];
			const uint8_t *v = c->vals + r->voff;
			c->ra[j - i] = (relem){vbytes(v, r->vlen, 0, 8),
					       (uint32_t)vbytes(v, r->vlen, 8, 4), c->aord[j]};
		}
		size_t m = j - i;
		s = rsort(c->ra, c->rb, m);
		/* the span's order, and merge scratch, in the other array */
		uint32_t *out = (uint32_t *)(s == c->ra ? c->rb : c->ra), *tmp = out + m;
		for (size_t k = 0; k < m; k++)
			out[k] = s[k].r;
		/* values equal in their first 12 bytes: unless they are equal
		 * throughout (then E order is right), sort by whole keys */
		for (size_t k = 0; k < m;) {
			size_t l = k + 1;
			bool same = true;
			const brec *f = &rec[out[k]];
			for (; l < m && s[l].k0 == s[k].k0 && s[l].k1 == s[k].k1; l++) {
				const brec *g = &rec[out[l]];
				same = same && g->vlen == f->vlen &&
				       (f->vlen <= 12 ||
					memcmp(c->vals + g->voff + 12, c->vals + f->voff + 12,
					       f->vlen - 12u) == 0);
			}
			if (!same)
				msort(c, cmp_ve, out + k, tmp, l - k);
			k = l;
		}
		/* AVET's entries, built here so that writing them reads memory
		 * in order (records in value order are scattered): per datom
		 * its record index (4 bytes), key length (2; the top bit set
		 * when it starts a new value) and the key */
		for (size_t k = 0; k < m; k++) {
			const brec *r = &rec[out[k]];
			const uint8_t *v = c->vals + r->voff;
			/* equal 12-byte sort keys and lengths: values of up to 12
			 * bytes are equal (the keys are their zero-padded bytes) */
			const brec *q = k ? &rec[out[k - 1]] : NULL;
			bool head = k == 0 || s[k].k0 != s[k - 1].k0 || s[k].k1 != s[k - 1].k1 ||
				    q->vlen != r->vlen ||
				    (r->vlen > 12 && cmp_v(c, out[k - 1], out[k]) != 0);
			uint16_t kl = (uint16_t)((12 + r->vlen) | (head ? 0x8000 : 0));
			memcpy(p, &out[k], 4);
			memcpy(p + 4, &kl, 2);
			dl_key_build(p + 6, DL_AVET, r->e, r->a, v, r->vlen);
			p += 6 + 12 + r->vlen;
		}
		i = j;
	}
	stage_done(c, 2);

	/* VAET: the refs in EAVT order, stably by (ref, A) */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const brec *r = &rec[c->eord[i]];
		if (r->ref)
			c->ra[m++] = (relem){(uint64_t)rec_refid(c, r), r->a, c->eord[i]};
	}
	s = rsort(c->ra, c->rb, m);
	for (size_t i = 0; i < m; i++)
		c->vord[i] = s[i].r;
	c->nref = m;
	stage_done(c, 3);
}

static void *helper_main(void *arg)
{
	order_rest(arg);
	return NULL;
}

/* ---- the spool -------------------------------------------------------------- */

#define SPOOL_BUF (1u << 20)            /* bytes buffered before a write */
#define SPOOL_MAX_RUNS 384              /* runs merged at once beyond this */
#define SPOOL_READ_BUDGET (48u << 20)   /* read buffers of one index's merge */

/* Run slots: DB_AEVT, DB_AVET, DB_VAET are 1, 2, 3. */
enum { SP_AEVT, SP_AVET, SP_VAET, SP_N };

/* One sorted run: entries (a 2-byte key length, then the key) of one
 * index, from one batch (one transaction: tx). */
typedef struct srun {
	uint8_t slot;
	int64_t tx;
	uint64_t off, len;
} srun;

typedef struct spool {
	int fd;
	uint64_t end;          /* bytes in the file */
	uint64_t epoch;        /* merges so far */
	dl_buf buf;            /* bytes not yet in the file (they follow `end`) */
	uint64_t run_off;      /* where the run being written began */
	srun *runs;
	size_t nruns, cruns;
	/* attributes with entries in the runs of AEVT and AVET */
	uint32_t *attrs[SP_N];
	size_t nattrs[SP_N], cattrs[SP_N];
	uint32_t *now;         /* attributes whose AVET entries are never deferred */
	size_t nnow, cnow;
} spool;

static bool u32_has(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static int u32_add(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (u32_has(*v, *n, x))
		return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		uint32_t *p = dl_realloc(*v, nc * sizeof *p);
		if (!p)
			return DL_ENOMEM;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = x;
	return 0;
}

void dl_wtxn_defer_indexes(dl_wtxn *w)
{
	if (w->spool)
		return;
	spool *sp = dl_calloc(1, sizeof *sp);
	if (!sp)
		return;
	/* beside the database: the same file system, which has room for it */
	char *name = dl_malloc(strlen(w->snap.s->path) + 16);
	if (!name) {
		dl_free(sp);
		return;
	}
	sprintf(name, "%s-spool.XXXXXX", w->snap.s->path);
	sp->fd = mkstemp(name);
	if (sp->fd >= 0)
		unlink(name);
	dl_free(name);
	if (sp->fd < 0) {
		dl_free(sp); /* not fatal: batches are written directly */
		return;
	}
	w->spool = sp;
}

bool dl_wtxn_deferring(const dl_wtxn *w) { return w->spool != NULL; }

int dl_wtxn_index_now(dl_wtxn *w, int64_t a)
{
	spool *sp = w->spool;
	if (!sp || a < 0 || a > (int64_t)UINT32_MAX)
		return 0;
	if (u32_has(sp->now, sp->nnow, (uint32_t)a))
		return 0;
	/* entries of it already spooled must reach the index first */
	DL_TRY(dl_spool_settle(w, DB_AVET, a));
	return u32_add(&sp->now, &sp->nnow, &sp->cnow, (uint32_t)a);
}

void dl_spool_free(dl_wtxn *w)
{
	spool *sp = w->spool;
	if (!sp)
		return;
	close(sp->fd);
	dl_buf_free(&sp->buf);
	dl_free(sp->runs);
	for (int i = 0; i < SP_N; i++)
		dl_free(sp->attrs[i]);
	dl_free(sp->now);
	dl_free(sp);
	w->spool = NULL;
}

static int sp_write_out(spool *sp)
{
	size_t done = 0;
	while (done < sp->buf.len) {
		ssize_t n = pwrite(sp->fd, sp->buf.data + done, sp->buf.len - done,
				   (off_t)(sp->end + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return dl_error(n < 0 && errno == ENOSPC ? DL_EFULL : DL_EIO,
					"writing the import's temporary file: %s",
					n < 0 ? strerror(errno) : "short write");
		done += (size_t)n;
	}
	sp->end += sp->buf.len;
	sp->buf.len = 0;
	return 0;
}

static void sp_run_begin(spool *sp) { sp->run_off = sp->end + sp->buf.len; }

static inline int sp_put(spool *sp, const uint8_t *k, size_t kn)
{
	if (sp->buf.len + 2 + kn > sp->buf.cap) {
		if (sp->buf.len >= SPOOL_BUF)
			DL_TRY(sp_write_out(sp));
		DL_TRY(dl_buf_reserve(&sp->buf, SPOOL_BUF + KEY_MAX + 2));
	}
	uint16_t l = (uint16_t)kn;
	memcpy(sp->buf.data + sp->buf.len, &l, 2);
	memcpy(sp->buf.data + sp->buf.len + 2, k, kn);
	sp->buf.len += 2 + kn;
	return 0;
}

static int sp_run_end(spool *sp, int slot, int64_t tx)
{
	uint64_t len = sp->end + sp->buf.len - sp->run_off;
	if (!len)
		return 0;
	if (sp->nruns == sp->cruns) {
		size_t nc = sp->cruns ? sp->cruns * 2 : 64;
		srun *p = dl_realloc(sp->runs, nc * sizeof *p);
		if (!p)
			return DL_ENOMEM;
		sp->runs = p;
		sp->cruns = nc;
	}
	sp->runs[sp->nruns++] = (srun){(uint8_t)slot, tx, sp->run_off, len};
	return 0;
}

/* A run being read back: a window of it in buf. */
typedef struct rdr {
	const srun *run;
	uint64_t pos;      /* file offset of buf[0] */
	uint8_t *buf;
	size_t cap, n, at; /* buf holds n bytes; the current entry is at `at` */
	const uint8_t *k;
	size_t kn;
	uint64_t p0, p1;   /* the key's first 16 bytes, zero padded */
} rdr;

/* The next entry of r into r->k: 1, 0 at the run's end, or an error. */
static int rdr_next(spool *sp, rdr *r)
{
	uint64_t run_end = r->run->off + r->run->len;
	for (int pass = 0;; pass++) {
		size_t left = r->n - r->at;
		if (left >= 2) {
			uint16_t l;
			memcpy(&l, r->buf + r->at, 2);
			if (left >= 2u + l) {
				r->k = r->buf + r->at + 2;
				r->kn = l;
				r->at += 2u + l;
				r->p0 = vbytes(r->k, l, 0, 8);
				r->p1 = vbytes(r->k, l, 8, 8);
				return 1;
			}
		}
		if (r->pos + r->n >= run_end) {
			if (left)
				return dl_error(DL_EIO, "the import's temporary file is damaged");
			return 0;
		}
		if (pass > 1)
			return dl_error(DL_EIO, "the import's temporary file is damaged");
		/* slide what is left to the front and read more */
		memmove(r->buf, r->buf + r->at, left);
		r->pos += r->at;
		r->at = 0;
		r->n = left;
		uint64_t want = run_end - (r->pos + r->n);
		size_t room = r->cap - r->n;
		size_t m = want < room ? (size_t)want : room;
		while (m) {
			ssize_t got = pread(sp->fd, r->buf + r->n, m, (off_t)(r->pos + r->n));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return dl_error(DL_EIO, "reading the import's temporary file: %s",
						got < 0 ? strerror(errno) : "short read");
			r->n += (size_t)got;
			m -= (size_t)got;
		}
	}
}

/* Key order, by the first 16 bytes as numbers first (keys of one
 * attribute share their first 4 bytes, and often many more). */
static inline bool rdr_less(const rdr *x, const rdr *y)
{
	if (x->p0 != y->p0)
		return x->p0 < y->p0;
	if (x->p1 != y->p1)
		return x->p1 < y->p1;
	int c = dl_key_cmp(x->k, x->kn, y->k, y->kn);
	return c < 0 || (c == 0 && x->run < y->run);
}

static void heap_down(rdr **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && rdr_less(h[l], h[m]))
			m = l;
		if (l + 1 < n && rdr_less(h[l + 1], h[m]))
			m = l + 1;
		if (m == i)
			return;
		rdr *t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* The runs of one slot merged into one stream of entries in key order. */
typedef struct merger {
	spool *sp;
	rdr *rs;
	rdr **heap;
	size_t nh;
	uint8_t *mem;
	uint64_t bytes; /* of the runs */
} merger;

static void mg_free(merger *mg)
{
	dl_free(mg->rs);
	dl_free(mg->heap);
	dl_free(mg->mem);
}

/* 1 with a merger of the slot's runs, 0 if there are none, or an error. */
static int mg_init(merger *mg, spool *sp, int slot)
{
	memset(mg, 0, sizeof *mg);
	mg->sp = sp;
	size_t nr = 0;
	for (size_t i = 0; i < sp->nruns; i++)
		nr += sp->runs[i].slot == slot;
	if (!nr)
		return 0;
	size_t cap = SPOOL_READ_BUDGET / nr;
	cap = cap < 16384 ? 16384 : cap > (1u << 20) ? (1u << 20) : cap;
	mg->rs = dl_calloc(nr, sizeof *mg->rs);
	mg->heap = dl_calloc(nr, sizeof *mg->heap);
	mg->mem = dl_malloc(nr * cap);
	if (!mg->rs || !mg->heap || !mg->mem) {
		mg_free(mg);
		return DL_ENOMEM;
	}
	size_t j = 0;
	for (size_t i = 0; i < sp->nruns; i++) {
		if (sp->runs[i].slot != slot)
			continue;
		rdr *r = &mg->rs[j];
		r->run = &sp->runs[i];
		r->pos = r->run->off;
		r->buf = mg->mem + j * cap;
		r->cap = cap;
		mg->bytes += r->run->len;
		j++;
		int rc = rdr_next(sp, r);
		if (rc < 0) {
			mg_free(mg);
			return rc;
		}
		if (rc)
			mg->heap[mg->nh++] = r;
	}
	for (size_t i = mg->nh / 2; i-- > 0;)
		heap_down(mg->heap, mg->nh, i);
	return 1;
}

/* The next entry (valid until the next call): 1, 0 at the end, or an
 * error. */
static int mg_next(merger *mg, const uint8_t **k, size_t *kn, int64_t *tx)
{
	if (!mg->nh)
		return 0;
	rdr *r = mg->heap[0];
	*k = r->k;
	*kn = r->kn;
	*tx = r->run->tx;
	/* the entry stays in r's buffer until r reads its next one, which
	 * happens at the next call */
	return 1;
}

static int mg_advance(merger *mg)
{
	rdr *r = mg->heap[0];
	int rc = rdr_next(mg->sp, r);
	if (rc < 0)
		return rc;
	if (rc == 0)
		mg->heap[0] = mg->heap[--mg->nh];
	heap_down(mg->heap, mg->nh, 0);
	return 0;
}

/*
 * A large merge runs on a helper thread, which reads the runs and merges
 * them into blocks of entries (a 2-byte key length, the tx, the key) while
 * this thread writes the blocks' entries into the index.
 */
#define MQ_BLOCKS 4
#define MQ_BLOCK (1u << 20)
#define MQ_MIN (4u << 20) /* runs this large (bytes) merge on a helper */

typedef struct mqueue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	merger *mg;
	uint8_t *blk[MQ_BLOCKS];
	size_t len[MQ_BLOCKS];
	size_t head, tail; /* blocks tail - head are ready, from head */
	bool done, stop;
	int err;
	char msg[512];
} mqueue;

static void *mq_main(void *arg)
{
	mqueue *q = arg;
	int rc = 0;
	for (bool more = true; more;) {
		pthread_mutex_lock(&q->mu);
		while (q->tail - q->head == MQ_BLOCKS && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		bool stop = q->stop;
		pthread_mutex_unlock(&q->mu);
		if (stop)
			return NULL;
		size_t b = q->tail % MQ_BLOCKS, len = 0;
		uint8_t *p = q->blk[b];
		const uint8_t *k;
		size_t kn;
		int64_t tx;
		while (len + 10 + KEY_MAX <= MQ_BLOCK) {
			if ((rc = mg_next(q->mg, &k, &kn, &tx)) <= 0) {
				more = false;
				break;
			}
			uint16_t l = (uint16_t)kn;
			memcpy(p + len, &l, 2);
			memcpy(p + len + 2, &tx, 8);
			memcpy(p + len + 10, k, kn);
			len += 10 + kn;
			if ((rc = mg_advance(q->mg)) < 0) {
				more = false;
				break;
			}
		}
		pthread_mutex_lock(&q->mu);
		q->len[b] = len;
		q->tail++;
		if (!more) {
			q->done = true;
			if (rc < 0) {
				q->err = rc;
				snprintf(q->msg, sizeof q->msg, "%s", dl_errmsg());
			}
		}
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
	}
	return NULL;
}

typedef struct appender appender;
static int app_init(appender *ap, dl_wtxn *w, int db);
static int app_put(appender *ap, const uint8_t *k, size_t kn, const uint8_t *txb, bool check);
static int app_has_prefix(appender *ap, const uint8_t *p, size_t n, size_t rest, bool *out);
static appender *app_new(void);

/* Writes the merged entries into the index (and counts AVET's distinct
 * values). */
typedef struct mwriter {
	dl_wtxn *w;
	appender *ap;
	bool avet;
	uint8_t prev[KEY_MAX];
	size_t nprev;
	dl_attr_stats *st;
	uint32_t st_a;
} mwriter;

static int mw_put(mwriter *mw, const uint8_t *k, size_t kn, int64_t tx)
{
	if (mw->avet) {
		/* the first of its value: new to the attribute? */
		size_t vn = kn - 8;
		if (mw->nprev != vn || memcmp(mw->prev, k, vn) != 0) {
			bool had;
			DL_TRY(app_has_prefix(mw->ap, k, vn, 8, &had));
			if (!had) {
				uint32_t a = dl_get_be32(k);
				if (!mw->st || mw->st_a != a)
					DL_TRY(dl_wtxn_stat(mw->w, a, &mw->st));
				mw->st_a = a;
				mw->st->values++;
			}
			memcpy(mw->prev, k, vn);
			mw->nprev = vn;
		}
	}
	uint8_t txb[8];
	dl_put_be64(txb, (uint64_t)tx);
	int rc = app_put(mw->ap, k, kn, txb, false);
	return rc < 0 ? rc : 0;
}

/* Merge the runs of one slot into its index. */
static int sp_merge(dl_wtxn *w, spool *sp, int slot, appender *ap)
{
	merger mg;
	int rc = mg_init(&mg, sp, slot);
	if (rc <= 0)
		return rc;
	mwriter mw = {.w = w, .ap = ap, .avet = slot == SP_AVET};
	if ((rc = app_init(ap, w, slot + DB_AEVT)) < 0)
		goto out;
	mqueue q = {.mg = &mg};
	pthread_t th;
	bool threaded = false;
	if (mg.bytes >= MQ_MIN) {
		uint8_t *mem = dl_malloc((size_t)MQ_BLOCKS * MQ_BLOCK);
		if (mem) {
			for (int i = 0; i < MQ_BLOCKS; i++)
				q.blk[i] = mem + (size_t)i * MQ_BLOCK;
			pthread_mutex_init(&q.mu, NULL);
			pthread_cond_init(&q.cv, NULL);
			threaded = pthread_create(&th, NULL, mq_main, &q) == 0;
			if (!threaded) {
				pthread_cond_destroy(&q.cv);
				pthread_mutex_destroy(&q.mu);
				dl_free(mem);
			}
		}
	}
	if (!threaded) {
		const uint8_t *k;
		size_t kn;
		int64_t tx;
		while ((rc = mg_next(&mg, &k, &kn, &tx)) > 0)
			if ((rc = mw_put(&mw, k, kn, tx)) < 0 || (rc = mg_advance(&mg)) < 0)
				break;
		goto out;
	}
	for (;;) {
		pthread_mutex_lock(&q.mu);
		while (q.head == q.tail && !q.done)
			pthread_cond_wait(&q.cv, &q.mu);
		bool end = q.head == q.tail;
		pthread_mutex_unlock(&q.mu);
		if (end)
			break;
		size_t b = q.head % MQ_BLOCKS;
		const uint8_t *p = q.blk[b], *e = p + q.len[b];
		while (p < e && rc == 0) {
			uint16_t l;
			int64_t tx;
			memcpy(&l, p, 2);
			memcpy(&tx, p + 2, 8);
			rc = mw_put(&mw, p + 10, l, tx);
			p += 10 + l;
		}
		pthread_mutex_lock(&q.mu);
		q.head++;
		if (rc < 0)
			q.stop = true;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.mu);
		if (rc < 0)
			break;
	}
	pthread_join(th, NULL);
	if (rc == 0 && q.err)
		rc = dl_error(q.err, "%s", q.msg);
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
	dl_free(q.blk[0]);
out:
	mg_free(&mg);
	return rc;
}

static int sp_merge_all(dl_wtxn *w)
{
	spool *sp = w->spool;
	if (!sp || !sp->nruns)
		return 0;
	DL_TRY(sp_write_out(sp));
	appender *ap = app_new();
	if (!ap)
		return DL_ENOMEM;
	int rc = 0;
	for (int slot = 0; slot < SP_N && rc == 0; slot++)
		rc = sp_merge(w, sp, slot, ap);
	dl_free(ap);
	if (rc < 0)
		return rc;
	sp->nruns = 0;
	for (int i = 0; i < SP_N; i++)
		sp->nattrs[i] = 0;
	sp->end = 0;
	sp->epoch++;
	/* give the disk space back */
	if (ftruncate(sp->fd, 0) != 0)
		return dl_error(DL_EIO, "truncating the import's temporary file: %s",
				strerror(errno));
	return 0;
}

int dl_spool_flush(dl_wtxn *w) { return dl_wtxn_fail(w, sp_merge_all(w)); }

int dl_spool_settle(dl_wtxn *w, int db, int64_t a)
{
	spool *sp = w->spool;
	if (!sp || !sp->nruns)
		return 0;
	int slot = db - DB_AEVT;
	if (slot < 0 || slot >= SP_N)
		return 0;
	if (slot != SP_VAET && a >= 0 &&
	    (a > (int64_t)UINT32_MAX || !u32_has(sp->attrs[slot], sp->nattrs[slot], (uint32_t)a)))
		return 0;
	bool any = false;
	for (size_t i = 0; i < sp->nruns && !any; i++)
		any = sp->runs[i].slot == slot;
	return any ? dl_spool_flush(w) : 0;
}

void dl_spool_pos(const dl_wtxn *w, size_t *nruns, uint64_t *end, uint64_t *epoch)
{
	const spool *sp = w->spool;
	*nruns = sp ? sp->nruns : 0;
	*end = sp ? sp->end + sp->buf.len : 0;
	*epoch = sp ? sp->epoch : 0;
}

int dl_spool_truncate(dl_wtxn *w, size_t nruns, uint64_t end, uint64_t epoch)
{
	spool *sp = w->spool;
	if (!sp)
		return 0;
	if (sp->epoch != epoch) {
		/* merged since: what is left came after the mark */
		nruns = 0;
		end = 0;
	}
	if (nruns > sp->nruns || end > sp->end + sp->buf.len)
		return dl_error(DL_EINVAL, "undo past the spool's end");
	sp->nruns = nruns;
	if (end >= sp->end) {
		sp->buf.len = (size_t)(end - sp->end);
	} else {
		sp->buf.len = 0;
		sp->end = end;
	}
	/* the attribute sets may now name too much: that only costs a merge */
	return 0;
}

/* ---- writing ------------------------------------------------------------------ */

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (*cap >= n)
		return 0;
	void *q = dl_realloc(*p, n * size);
	if (!q)
		return DL_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* The index's last key (for the append decision); *n = 0 if empty. */
static int last_key(dl_wtxn *w, int db, uint8_t *buf, size_t *n)
{
	MDB_val k, d;
	MDB_cursor *c;
	DL_TRY(dl_wtxn_cur(w, db, &c));
	int rc = mdb_cursor_get(c, &k, &d, MDB_LAST);
	*n = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return dl_mdb_err(rc, "reading an index");
	if (k.mv_size > KEY_MAX)
		return dl_error(DL_ECORRUPT, "oversized key in %s", dl_store_db_names[db]);
	memcpy(buf, k.mv_data, k.mv_size);
	*n = k.mv_size;
	return 0;
}

/* Put through the index's cursor: appended while keys pass its last key. */
struct appender {
	dl_wtxn *w;
	int db;
	uint8_t last[KEY_MAX];
	size_t nlast;
	bool appending;
};

static appender *app_new(void) { return dl_malloc(sizeof(appender)); }

static int app_init(appender *ap, dl_wtxn *w, int db)
{
	ap->w = w;
	ap->db = db;
	DL_TRY(last_key(w, db, ap->last, &ap->nlast));
	ap->appending = ap->nlast == 0;
	return 0;
}

/* 1 written, 0 already there (only checked when !appending && check). */
static int app_put(appender *ap, const uint8_t *k, size_t kn, const uint8_t *txb,
			  bool check)
{
	if (!ap->appending && dl_key_cmp(k, kn, ap->last, ap->nlast) > 0)
		ap->appending = true;
	MDB_val kk = {kn, (void *)k}, dd = {8, (void *)txb};
	unsigned fl = ap->appending ? MDB_APPEND : check ? MDB_NOOVERWRITE : 0;
	DL_TRY(dl_wtxn_charge(ap->w, kn + 8));
	int rc = mdb_cursor_put(ap->w->cur[ap->db], &kk, &dd, fl);
	if (rc == MDB_KEYEXIST && !ap->appending)
		return 0;
	return rc ? dl_mdb_err(rc, "writing an index") : 1;
}

/* Does the index hold a key starting with p[0..n) (of total length n+rest,
 * or any length if rest is 0)?  The first key >= the prefix answers it. */
static int app_has_prefix(appender *ap, const uint8_t *p, size_t n, size_t rest, bool *out)
{
	const uint8_t *kp;
	size_t kn;
	if (ap->appending) {
		/* a key past the last one: only the last can share its prefix */
		kp = ap->last;
		kn = ap->nlast;
	} else {
		MDB_val k = {n, (void *)p}, d;
		int rc = mdb_cursor_get(ap->w->cur[ap->db], &k, &d, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			*out = false;
			return 0;
		}
		if (rc)
			return dl_mdb_err(rc, "reading an index");
		kp = k.mv_data;
		kn = k.mv_size;
	}
	*out = (rest ? kn == n + rest : kn >= n) && memcmp(kp, p, n) == 0;
	return 0;
}

/* EAVT: drops duplicates and datoms already current (fate SKIP), marks the
 * first datom of an entity new to its attribute (KEEP_NEWENT); *kept. */
static int write_eavt(bctx *c, const uint8_t *txb, size_t *kept)
{
	dl_wtxn *w = c->w;
	uint8_t *k = w->k1;
	appender ap;
	DL_TRY(app_init(&ap, w, DB_EAVT));
	const brec *prev = NULL;
	bool group_had = false;
	*kept = 0;
	for (size_t i = 0; i < c->n; i++) {
		uint32_t ri = c->eord[i];
		const brec *r = &c->rec[ri];
		const uint8_t *v = c->vals + r->voff;
		bool head = !prev || prev->e != r->e || prev->a != r->a;
		if (!head && dl_key_cmp(c->vals + prev->voff, prev->vlen, v, r->vlen) == 0) {
			c->fate[ri] = SKIP;
			continue;
		}
		prev = r;
		size_t kn = dl_key_build(k, DL_EAVT, r->e, r->a, v, r->vlen);
		if (head) {
			if (!ap.appending && dl_key_cmp(k, kn, ap.last, ap.nlast) > 0)
				ap.appending = true;
			DL_TRY(app_has_prefix(&ap, k, 12, 0, &group_had));
		}
		int rc = app_put(&ap, k, kn, txb, group_had);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			c->fate[ri] = SKIP;
			continue;
		}
		c->fate[ri] = head && !group_had ? KEEP_NEWENT : KEEP;
		++*kept;
	}
	return 0;
}

/* The log, in the batch's order. */
static int write_log(bctx *c)
{
	dl_wtxn *w = c->w;
	int64_t noted = -1;
	for (size_t i = 0; i < c->n; i++) {
		if (c->fate[i] == SKIP)
			continue;
		const brec *r = &c->rec[i];
		if (r->e != noted) {
			DL_TRY(dl_wtxn_note_eid(w, r->e));
			noted = r->e;
		}
		if (r->ref) {
			int64_t id = rec_refid(c, r);
			if (id >= 0)
				DL_TRY(dl_wtxn_note_eid(w, id));
		}
		DL_TRY(dl_wtxn_log(w, r->e, r->a, c->vals + r->voff, r->vlen, true));
	}
	return 0;
}

/* AEVT (or its run in the spool): also counts datoms and entities per
 * attribute. */
static int write_aevt(bctx *c, const uint8_t *txb)
{
	dl_wtxn *w = c->w;
	spool *sp = w->spool;
	uint8_t *k = w->k1;
	appender ap;
	if (sp)
		sp_run_begin(sp);
	else
		DL_TRY(app_init(&ap, w, DB_AEVT));
	dl_attr_stats *st = NULL;
	uint32_t st_a = 0;
	for (size_t i = 0; i < c->n; i++) {
		uint32_t ri = c->aord[i];
		if (c->fate[ri] == SKIP)
			continue;
		const brec *r = &c->rec[ri];
		if (!st || st_a != r->a) {
			DL_TRY(dl_wtxn_stat(w, r->a, &st));
			st_a = r->a;
			if (sp)
				DL_TRY(u32_add(&sp->attrs[SP_AEVT], &sp->nattrs[SP_AEVT],
					       &sp->cattrs[SP_AEVT], r->a));
		}
		st->datoms++;
		st->entities += c->fate[ri] == KEEP_NEWENT;
		size_t kn = dl_key_build(k, DL_AEVT, r->e, r->a, c->vals + r->voff, r->vlen);
		int rc = sp ? sp_put(sp, k, kn) : app_put(&ap, k, kn, txb, false);
		if (rc < 0)
			return rc;
	}
	return sp ? sp_run_end(sp, SP_AEVT, c->w->tx) : 0;
}

/* AVET: counts distinct values (spooled entries: when they are merged). */
static int write_avet(bctx *c, const uint8_t *txb)
{
	dl_wtxn *w = c->w;
	spool *sp = w->spool;
	appender ap;
	DL_TRY(app_init(&ap, w, DB_AVET));
	dl_attr_stats *st = NULL;
	uint32_t st_a = 0, sp_a = 0;
	bool have_a = false, deferred = false; /* sp_a's entries go to the spool */
	bool value_seen = false; /* a datom of the current value was kept */
	const uint8_t *p = c->avkeys;
	if (sp)
		sp_run_begin(sp);
	for (size_t i = 0; i < c->n; i++) {
		uint32_t ri;
		uint16_t kl;
		memcpy(&ri, p, 4);
		memcpy(&kl, p + 4, 2);
		const uint8_t *k = p + 6;
		size_t kn = kl & 0x7FFF;
		p += 6 + kn;
		if (kl & 0x8000)
			value_seen = false;
		if (c->fate[ri] == SKIP)
			continue;
		if (sp) {
			uint32_t a = dl_get_be32(k);
			if (!have_a || a != sp_a) {
				have_a = true;
				sp_a = a;
				deferred = !u32_has(sp->now, sp->nnow, a);
				if (deferred)
					DL_TRY(u32_add(&sp->attrs[SP_AVET], &sp->nattrs[SP_AVET],
						       &sp->cattrs[SP_AVET], a));
			}
			if (deferred) {
				DL_TRY(sp_put(sp, k, kn));
				continue;
			}
		}
		if (!value_seen) {
			/* the first of its value: new to the attribute? */
			bool had;
			value_seen = true;
			if (!ap.appending && dl_key_cmp(k, kn, ap.last, ap.nlast) > 0)
				ap.appending = true;
			DL_TRY(app_has_prefix(&ap, k, kn - 8, 8, &had));
			if (!had) {
				uint32_t a = dl_get_be32(k);
				if (!st || st_a != a) {
					DL_TRY(dl_wtxn_stat(w, a, &st));
					st_a = a;
				}
				st->values++;
			}
		}
		int rc = app_put(&ap, k, kn, txb, false);
		if (rc < 0)
			return rc;
	}
	return sp ? sp_run_end(sp, SP_AVET, c->w->tx) : 0;
}

/* VAET: the refs. */
static int write_vaet(bctx *c, const uint8_t *txb)
{
	if (!c->nref)
		return 0;
	dl_wtxn *w = c->w;
	spool *sp = w->spool;
	uint8_t *k = w->k1;
	appender ap;
	if (sp)
		sp_run_begin(sp);
	else
		DL_TRY(app_init(&ap, w, DB_VAET));
	for (size_t i = 0; i < c->nref; i++) {
		uint32_t ri = c->vord[i];
		if (c->fate[ri] == SKIP)
			continue;
		const brec *r = &c->rec[ri];
		uint8_t rb[8];
		dl_put_be64(rb, (uint64_t)rec_refid(c, r));
		size_t kn = dl_key_build(k, DL_VAET, r->e, r->a, rb, 8);
		int rc = sp ? sp_put(sp, k, kn) : app_put(&ap, k, kn, txb, false);
		if (rc < 0)
			return rc;
	}
	return sp ? sp_run_end(sp, SP_VAET, c->w->tx) : 0;
}

/* Records and key forms of d[0..n) (long values' blobs are written here). */
static int encode(dl_wtxn *w, const dl_datom *d, size_t n, brec *rec)
{
	dl_buf *b = &w->bvals;
	b->len = 0;
	DL_TRY(dl_buf_reserve(b, n * 12));
	for (size_t i = 0; i < n; i++) {
		if (d[i].e < 0 || d[i].a < 0 || d[i].a > (int64_t)UINT32_MAX)
			return dl_error(DL_EINVAL, "bad datom [%lld %lld ...] in batch",
					(long long)d[i].e, (long long)d[i].a);
		size_t off = b->len, vlen;
		DL_TRY(dl_value_encode(b, &d[i].v));
		vlen = b->len - off;
		if (DL_UNLIKELY(vlen >= DL_KEY_VALUE_INLINE_MAX)) {
			/* out of line: the key holds a prefix and a hash */
			b->len = off;
			DL_TRY(dl_buf_reserve(b, DL_KEY_VALUE_OOL));
			DL_TRY(dl_vkey((uint8_t *)b->data + off, &vlen, &w->venc, &d[i].v, w));
			b->len = off + vlen;
		}
		if (b->len > UINT32_MAX)
			return dl_error(DL_ELIMIT, "batch too large");
		rec[i] = (brec){d[i].e, (uint32_t)d[i].a, (uint32_t)off, (uint16_t)vlen,
				d[i].v.type == DL_REF};
	}
	return 0;
}

static int batch(dl_wtxn *w, const dl_datom *d, size_t n)
{
	uint8_t txb[8];
	dl_put_be64(txb, (uint64_t)w->tx);
	/* sort scratch: two element arrays, three orders, AVET's entries */
	size_t bytes = n * (2 * sizeof(relem) + 3 * sizeof(uint32_t));
	DL_TRY(grow(&w->brec, &w->brec_cap, n, sizeof(brec)));
	DL_TRY(grow((void **)&w->bskip, &w->bskip_cap, n, 1));
	bctx c = {.w = w, .n = n, .rec = w->brec, .fate = w->bskip};
	DL_TRY(encode(w, d, n, c.rec));
	/* AVET's entries after the rest (6 bytes + the key each) */
	bytes += n * (6 + 12) + w->bvals.len;
	DL_TRY(grow(&w->bsort, &w->bsort_cap, bytes, 1));
	c.ra = w->bsort;
	c.rb = c.ra + n;
	c.eord = (uint32_t *)(c.rb + n);
	c.aord = c.eord + n;
	c.vord = c.aord + n;
	c.avkeys = (uint8_t *)(c.vord + n);
	c.vals = (const uint8_t *)w->bvals.data;
	memset(c.fate, KEEP, n);

	order_eavt(&c);
	pthread_t helper;
	if (n >= HELPER_MIN) {
		pthread_mutex_init(&c.mu, NULL);
		pthread_cond_init(&c.cv, NULL);
		c.threaded = true;
		if (pthread_create(&helper, NULL, helper_main, &c) != 0) {
			c.threaded = false;
			pthread_cond_destroy(&c.cv);
			pthread_mutex_destroy(&c.mu);
		}
	}
	if (!c.threaded)
		order_rest(&c);
	size_t kept = 0;
	int rc = write_eavt(&c, txb, &kept);
	if (rc == 0 && kept)
		rc = write_log(&c);
	if (rc == 0 && kept) {
		stage_wait(&c, 1);
		rc = write_aevt(&c, txb);
	}
	if (rc == 0 && kept) {
		stage_wait(&c, 2);
		rc = write_avet(&c, txb);
	}
	if (rc == 0 && kept) {
		stage_wait(&c, 3);
		rc = write_vaet(&c, txb);
	}
	if (c.threaded) {
		pthread_join(helper, NULL);
		pthread_cond_destroy(&c.cv);
		pthread_mutex_destroy(&c.mu);
	}
	if (rc < 0 || !kept)
		return rc;
	w->ndatoms += kept;
	w->d_datoms += (int64_t)kept;
	/* many runs: merge them now (each needs a read buffer when merged) */
	if (w->spool && w->spool->nruns >= SPOOL_MAX_RUNS)
		return sp_merge_all(w);
	return 0;
}

int dl_wtxn_add_batch(dl_wtxn *w, const dl_datom *d, size_t n, const unsigned *aflags)
{
	assert(w && (d || !n));
	DL_UNUSED(aflags); /* vaet holds every ref value, whatever the flags */
	if (w->failed)
		return dl_error(w->failed, "the write transaction failed earlier");
	if (n > UINT32_MAX)
		return dl_error(DL_ELIMIT, "batch too large (%zu datoms)", n);
	if (!n)
		return 0;
	return dl_wtxn_fail(w, batch(w, d, n));
}

bool dl_wtxn_batch_written(const dl_wtxn *w, size_t i)
{
	assert(i < w->bskip_cap);
	return w->bskip[i] != SKIP;
}
