/*
 * storage: the LMDB environment, snapshots, write transactions and the
 * datom write path (one datom at a time; the bulk path is in bulk.c).
 *
 * Every write keeps the four current indexes, the history, the statistics
 * and the tx log in step inside one LMDB write transaction, so a commit is
 * atomic and (with sync) durable, and an abort leaves nothing behind.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

const char *const dl_store_db_names[DB_COUNT] = {
	"eavt", "aevt", "avet", "vaet", "heavt", "haevt", "havet", "hvaet", "log", "blobs", "meta",
};

#define DEFAULT_MAP_SIZE ((size_t)64 << 30)

int dl_mdb_err(int rc, const char *what)
{
	switch (rc) {
	case MDB_MAP_FULL:
		return dl_error(DL_EFULL, "%s: the database is full (its map size is reached)",
				what);
	case MDB_TXN_FULL:
		return dl_error(DL_EFULL, "%s: the transaction is too large", what);
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_DBI:
		return dl_error(DL_ECORRUPT, "%s: %s", what, mdb_strerror(rc));
	case EAGAIN:
	case EBUSY:
	case MDB_READERS_FULL:
		return dl_error(DL_EBUSY, "%s: %s", what, mdb_strerror(rc));
	case ENOMEM:
		return dl_error(DL_ENOMEM, "%s: %s", what, mdb_strerror(rc));
	default:
		return dl_error(DL_EIO, "%s: %s", what, mdb_strerror(rc));
	}
}

/* ---- meta helpers ------------------------------------------------------ */

int dl_meta_get_u64(MDB_txn *txn, dl_store *s, const char *name, uint64_t *out, bool *found)
{
	MDB_val k = {strlen(name), (void *)name}, d;
	int rc = mdb_get(txn, s->dbi[DB_META], &k, &d);
	*out = 0;
	if (found)
		*found = false;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return dl_mdb_err(rc, "reading metadata");
	if (d.mv_size != 8)
		return dl_error(DL_ECORRUPT, "metadata \"%s\" is malformed", name);
	*out = dl_get_be64(d.mv_data);
	if (found)
		*found = true;
	return 0;
}

static int meta_put_raw(dl_wtxn *w, const void *name, size_t n, const void *val, size_t vn)
{
	MDB_val k = {n, (void *)name}, d = {vn, (void *)val};
	DL_TRY(dl_wtxn_charge(w, n + vn));
	int rc = mdb_put(w->snap.txn, w->snap.s->dbi[DB_META], &k, &d, 0);
	return rc ? dl_mdb_err(rc, "writing metadata") : 0;
}

static int meta_put_u64(dl_wtxn *w, const char *name, uint64_t x)
{
	uint8_t b[8];
	dl_put_be64(b, x);
	return meta_put_raw(w, name, strlen(name), b, 8);
}

/* ---- open and close ---------------------------------------------------- */

static int open_dbs(dl_store *s, bool create)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, create ? 0 : MDB_RDONLY, &txn);
	if (rc)
		return dl_mdb_err(rc, s->path);
	MDB_dbi meta;
	rc = mdb_dbi_open(txn, "meta", 0, &meta);
	if (rc == MDB_NOTFOUND && create) {
		/* A fresh file has an empty main database. */
		MDB_stat st;
		MDB_dbi main;
		if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) == 0 &&
		    (rc = mdb_stat(txn, main, &st)) == 0 && st.ms_entries != 0)
			rc = MDB_NOTFOUND;
		else if (rc == 0)
			rc = -1; /* create */
	}
	if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
		mdb_txn_abort(txn);
		return dl_error(DL_ECORRUPT, "%s: not a datalite database", s->path);
	}
	if (rc > 0) {
		mdb_txn_abort(txn);
		return dl_mdb_err(rc, s->path);
	}
	bool fresh = rc == -1;
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, dl_store_db_names[i], fresh ? MDB_CREATE : 0, &s->dbi[i]);
		if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
			mdb_txn_abort(txn);
			return dl_error(DL_ECORRUPT, "%s: not a datalite database (no \"%s\")",
					s->path, dl_store_db_names[i]);
		}
		if (rc) {
			mdb_txn_abort(txn);
			return dl_mdb_err(rc, s->path);
		}
	}
	MDB_val k = {strlen(META_FORMAT), META_FORMAT}, d;
	if (fresh) {
		uint8_t b[4];
		dl_put_be32(b, DL_STORE_FORMAT_VERSION);
		d = (MDB_val){4, b};
		rc = mdb_put(txn, s->dbi[DB_META], &k, &d, 0);
		if (rc) {
			mdb_txn_abort(txn);
			return dl_mdb_err(rc, s->path);
		}
	} else {
		rc = mdb_get(txn, s->dbi[DB_META], &k, &d);
		if (rc == MDB_NOTFOUND || (rc == 0 && d.mv_size != 4)) {
			mdb_txn_abort(txn);
			return dl_error(DL_ECORRUPT, "%s: not a datalite database", s->path);
		}
		if (rc) {
			mdb_txn_abort(txn);
			return dl_mdb_err(rc, s->path);
		}
		uint32_t ver = dl_get_be32(d.mv_data);
		if (ver > DL_STORE_FORMAT_VERSION || ver == 0) {
			mdb_txn_abort(txn);
			return dl_error(DL_ECORRUPT,
					"%s: format version %u is newer than this build supports (%d)",
					s->path, ver, DL_STORE_FORMAT_VERSION);
		}
	}
	rc = mdb_txn_commit(txn);
	return rc ? dl_mdb_err(rc, s->path) : 0;
}

static int env_open(dl_store *s, unsigned flags)
{
	int rc = mdb_env_create(&s->env);
	if (rc)
		return dl_mdb_err(rc, "creating the LMDB environment");
	mdb_env_set_maxdbs(s->env, DB_COUNT);
	mdb_env_set_maxreaders(s->env, 256);
	rc = mdb_env_set_mapsize(s->env, s->opts.map_size ? s->opts.map_size : DEFAULT_MAP_SIZE);
	if (rc == 0)
		rc = mdb_env_open(s->env, s->path, flags, 0644);
	if (rc) {
		mdb_env_close(s->env);
		s->env = NULL;
	}
	return rc;
}

/* ---- file space for MDB_WRITEMAP ---------------------------------------------
 *
 * With MDB_WRITEMAP LMDB commits by writing pages into its shared map of the
 * file (no write system calls: small transactions cost a third), and it
 * extends the file, sparse, to the map size.  A page written where the file
 * system then finds no free block is a SIGBUS, not an error.  So write
 * transactions reserve blocks (fallocate) ahead of the pages they may add:
 * at the start the pages in use plus headroom (a sixteenth, at least
 * 512 KiB), and more whenever the bytes they write (dl_wtxn_charge, doubled
 * for page overhead; a single-datom write counts PUT_COST more, as it may
 * land on a page of its own) pass what is reserved.  A full disk is then
 * DL_EFULL before a page lands in a hole.  This is an estimate: one
 * transaction that scatters far more pages than it writes bytes past the
 * headroom, on a disk that fills meanwhile, can still meet a hole.
 * Reservations are per process (blocks already allocated cost fallocate
 * nothing).  fallocate without KEEP_SIZE: should another process have
 * truncated the file to a smaller map, the reservation extends it again.
 * Where fallocate is not supported the store does not use MDB_WRITEMAP
 * (the file stays as long as LMDB made it when it tried). */
#define PUT_COST 256
#define RESERVE_MIN ((uint64_t)512 << 10)

static uint64_t reserve_headroom(uint64_t used)
{
	return used / 16 > RESERVE_MIN ? used / 16 : RESERVE_MIN;
}

static int reserve_to(dl_store *s, uint64_t to)
{
	int r;
	do
		r = fallocate(s->fd, 0, (off_t)s->reserved, (off_t)(to - s->reserved));
	while (r && errno == EINTR);
	if (r)
		return errno;
	s->reserved = to;
	return 0;
}

/* Can the file's blocks be reserved (and is the map writable at all)? */
static bool writemap_ok(dl_store *s)
{
	MDB_stat st;
	if (mdb_env_get_fd(s->env, &s->fd) || mdb_env_stat(s->env, &st))
		return false;
	s->psize = st.ms_psize;
	s->reserved = 0;
	if (reserve_to(s, s->psize * 2))
		return false;
	s->writemap = true;
	return true;
}

int dl_wtxn_reserve(dl_wtxn *w)
{
	dl_store *s = w->snap.s;
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	uint64_t head = reserve_headroom(w->base_bytes), map = info.me_mapsize;
	uint64_t need = w->base_bytes + 2 * w->wbytes + head;
	if (need > s->reserved && s->reserved < map) {
		uint64_t to = need + head < map ? need + head : map;
		int err = reserve_to(s, to);
		if (err == ENOSPC || err == EDQUOT || err == EFBIG)
			return dl_error(DL_EFULL, "%s: no space left for the database to grow (%s)",
					s->path, strerror(err));
		if (err)
			return dl_error(DL_EIO, "%s: reserving space: %s", s->path, strerror(err));
	}
	/* check again once the estimate passes what is reserved */
	w->wcheck = s->reserved >= map ? UINT64_MAX
		    : s->reserved > w->base_bytes + head
			    ? (s->reserved - w->base_bytes - head) / 2 + 1
			    : w->wbytes + 1;
	return 0;
}

/* Opens the environment.  The default map is only address space, but a
 * process may not have 64 GiB of it (ulimit -v, valgrind, 32-bit-like
 * sandboxes): then mmap fails with ENOMEM or EINVAL, and the default is
 * halved until it maps, down to MIN_MAP_SIZE.  A map size the caller chose
 * is never changed. */
#define MIN_MAP_SIZE ((size_t)256 << 20)
static int env_open_fit(dl_store *s, unsigned flags)
{
	int rc = env_open(s, flags);
	if (s->opts.map_size)
		return rc;
	for (size_t size = DEFAULT_MAP_SIZE / 2;
	     (rc == ENOMEM || rc == EINVAL) && size >= MIN_MAP_SIZE; size /= 2) {
		s->opts.map_size = size;
		rc = env_open(s, flags);
	}
	if (rc)
		s->opts.map_size = 0;
	return rc;
}

int dl_store_open(dl_store **out, const char *path, const dl_store_opts *opts)
{
	assert(out && path);
	static const dl_store_opts dflt = DL_STORE_OPTS_INIT;
	*out = NULL;
	dl_store *s = dl_calloc(1, sizeof *s);
	if (!s)
		return DL_ENOMEM;
	s->opts = opts ? *opts : dflt;
	int rc;
	if (!(s->path = dl_strndup(path, strlen(path)))) {
		rc = DL_ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&s->hist_mu, NULL);
	pthread_mutex_init(&s->wc_mu, NULL);
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT && (!s->opts.create || s->opts.read_only)) {
			rc = dl_error(DL_ENOTFOUND, "%s: no such database", path);
			goto fail_mu;
		}
		if (errno != ENOENT) {
			rc = dl_error(DL_EIO, "%s: %s", path, strerror(errno));
			goto fail_mu;
		}
	} else if (!S_ISREG(st.st_mode)) {
		rc = dl_error(DL_EINVAL, "%s: not a regular file", path);
		goto fail_mu;
	}
	unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD;
	if (s->opts.read_only)
		flags |= MDB_RDONLY;
	else if (s->opts.sync == 0)
		flags |= MDB_NOSYNC;
	if (!s->opts.read_only && s->opts.writemap)
		flags |= MDB_WRITEMAP;
	int mrc = env_open_fit(s, flags);
	if (mrc == 0 && (flags & MDB_WRITEMAP) && !writemap_ok(s)) {
		/* no way to reserve blocks here: write pages with pwrite */
		mdb_env_close(s->env);
		flags &= ~(unsigned)MDB_WRITEMAP;
		mrc = env_open_fit(s, flags);
	}
	if (mrc && s->opts.read_only && (mrc == EACCES || mrc == EROFS))
		mrc = env_open_fit(s, flags | MDB_NOLOCK); /* no writable lock file */
	if (mrc) {
		if (mrc == MDB_INVALID || mrc == MDB_VERSION_MISMATCH)
			rc = dl_error(DL_ECORRUPT, "%s: not a datalite database (%s)", path,
				      mdb_strerror(mrc));
		else
			rc = dl_mdb_err(mrc, path);
		goto fail_mu;
	}
	if ((rc = open_dbs(s, !s->opts.read_only)) < 0)
		goto fail_env;
	*out = s;
	return 0;
fail_env:
	mdb_env_close(s->env);
fail_mu:
	pthread_mutex_destroy(&s->hist_mu);
	pthread_mutex_destroy(&s->wc_mu);
fail:
	dl_free(s->path);
	dl_free(s);
	return rc;
}

void dl_store_close(dl_store *s)
{
	if (!s)
		return;
	void *p = atomic_load_explicit(&s->ext, memory_order_acquire);
	if (p && s->ext_fini)
		s->ext_fini(p);
	dl_stats_free(s);
	pthread_mutex_destroy(&s->hist_mu);
	pthread_mutex_destroy(&s->wc_mu);
	dl_free(s->wc.stats);
	mdb_env_close(s->env);
	dl_free(s->path);
	dl_free(s);
}

const char *dl_store_path(const dl_store *s) { return s->path; }

void *dl_store_ext(dl_store *s)
{
	return atomic_load_explicit(&s->ext, memory_order_acquire);
}

bool dl_store_ext_cas(dl_store *s, void *expect, void *p, void (*fini)(void *p))
{
	if (!atomic_compare_exchange_strong_explicit(&s->ext, &expect, p, memory_order_acq_rel,
						     memory_order_acquire))
		return false;
	s->ext_fini = fini;
	return true;
}

/* ---- snapshots ---------------------------------------------------------- */

static int txn_begin(dl_store *s, unsigned flags, MDB_txn **out)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, out);
	if (rc == MDB_MAP_RESIZED) {
		/* another process grew the map: adopt its size and retry */
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, flags, out);
	}
	return rc ? dl_mdb_err(rc, flags & MDB_RDONLY ? "beginning a snapshot"
						       : "beginning a write transaction")
		  : 0;
}

static int read_basis(dl_snap *snap)
{
	uint64_t b;
	DL_TRY(dl_meta_get_u64(snap->txn, snap->s, META_BASIS, &b, NULL));
	snap->basis = (int64_t)b;
	return 0;
}

int dl_snap_begin(dl_snap **out, dl_store *s)
{
	assert(out && s);
	*out = NULL;
	dl_snap *snap = dl_calloc(1, sizeof *snap);
	if (!snap)
		return DL_ENOMEM;
	snap->s = s;
	int rc = txn_begin(s, MDB_RDONLY, &snap->txn);
	if (rc < 0)
		goto fail;
	DL_TSAN_ACQUIRE(s);
	if ((rc = read_basis(snap)) < 0) {
		mdb_txn_abort(snap->txn);
		goto fail;
	}
	*out = snap;
	return 0;
fail:
	dl_free(snap);
	return rc;
}

void dl_snap_end(dl_snap *snap)
{
	if (!snap)
		return;
	assert(!snap->w); /* a write txn's view ends with the txn */
	DL_TSAN_RELEASE(snap->s);
	mdb_txn_abort(snap->txn);
	dl_free(snap);
}

int64_t dl_snap_basis_tx(const dl_snap *snap) { return snap->basis; }

uint64_t dl_snap_id(const dl_snap *snap)
{
	/* a write transaction's view is never the same as a read snapshot's */
	return snap->w ? 0 : (uint64_t)mdb_txn_id(snap->txn);
}

dl_store *dl_snap_store(dl_snap *snap) { return snap->s; }

int dl_snap_meta_get(dl_snap *snap, const char *name, const void **val, size_t *n)
{
	MDB_val k = {strlen(name), (void *)name}, d;
	if (k.mv_size == 0 || k.mv_size > 400)
		return dl_error(DL_EINVAL, "bad metadata name");
	int rc = mdb_get(snap->txn, snap->s->dbi[DB_META], &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return dl_mdb_err(rc, "reading metadata");
	*val = d.mv_data;
	*n = d.mv_size;
	return 1;
}

/* ---- write transactions ----------------------------------------------- */

/* ---- the write cache ---------------------------------------------------------
 *
 * A small transaction would otherwise read back what the one before it
 * wrote: the basis, the totals, the id counters and the statistics of each
 * attribute it touches (a tree search each, a fifth of a one-datom
 * transaction's LMDB calls).  A commit leaves them in s->wc under its LMDB
 * txn id; the next write transaction takes them if its own txn id is the
 * next one, i.e. no commit of any process or thread came between (LMDB's
 * writer lock orders them).  The statistics table goes back to the store
 * when a write transaction ends, valid after a commit, as memory only
 * otherwise (so an aborted transaction leaves the allocations as they
 * were). */

static bool wcache_take(dl_wtxn *w)
{
	dl_store *s = w->snap.s;
	wcache *c = &s->wc;
	pthread_mutex_lock(&s->wc_mu);
	bool hit = c->txnid && (uint64_t)mdb_txn_id(w->snap.txn) == c->txnid + 1;
	if (hit) {
		w->snap.basis = c->basis;
		w->have_totals = true;
		memcpy(w->totals, c->totals, sizeof w->totals);
		memcpy(w->ids, c->ids, sizeof w->ids);
		w->nids = c->nids;
	} else if (c->stats) {
		memset(c->stats, 0, c->capstats * sizeof *c->stats);
		c->nstats = 0;
	}
	w->stats = c->stats;
	w->nstats = c->nstats;
	w->capstats = c->capstats;
	memset(c, 0, sizeof *c);
	pthread_mutex_unlock(&s->wc_mu);
	return hit;
}

/* After the commit of LMDB txn `txnid`: what it left in meta. */
static void wcache_put(dl_wtxn *w, uint64_t txnid)
{
	dl_store *s = w->snap.s;
	for (size_t i = 0; i < w->capstats; i++)
		w->stats[i].dirty = false;
	for (int i = 0; i < w->nids; i++)
		w->ids[i].dirty = false;
	pthread_mutex_lock(&s->wc_mu);
	wcache *c = &s->wc;
	dl_free(c->stats);
	c->txnid = txnid;
	c->basis = w->tx;
	memcpy(c->totals, w->totals, sizeof c->totals);
	memcpy(c->ids, w->ids, sizeof c->ids);
	c->nids = w->nids;
	c->stats = w->stats;
	c->nstats = w->nstats;
	c->capstats = w->capstats;
	w->stats = NULL;
	w->nstats = w->capstats = 0;
	pthread_mutex_unlock(&s->wc_mu);
}

/* The table of a write transaction that did not commit, as memory. */
static void wcache_return(dl_wtxn *w)
{
	dl_store *s = w->snap.s;
	if (!w->stats)
		return;
	pthread_mutex_lock(&s->wc_mu);
	if (!s->wc.stats) {
		s->wc.stats = w->stats;
		s->wc.capstats = w->capstats;
		w->stats = NULL;
	}
	pthread_mutex_unlock(&s->wc_mu);
	dl_free(w->stats);
}

static void wtxn_free(dl_wtxn *w)
{
	wcache_return(w);
	dl_spool_free(w);
	dl_buf_free(&w->log);
	dl_buf_free(&w->venc);
	dl_buf_free(&w->bvals);
	dl_free(w->brec);
	dl_free(w->bsort);
	dl_free(w->bskip);
	dl_free(w);
}

int dl_wtxn_begin(dl_wtxn **out, dl_store *s)
{
	assert(out && s);
	*out = NULL;
	if (s->opts.read_only)
		return dl_error(DL_EINVAL, "%s: the database is open read-only", s->path);
	dl_wtxn *w = dl_calloc(1, sizeof *w);
	if (!w)
		return DL_ENOMEM;
	w->snap.s = s;
	w->snap.w = w;
	int rc = txn_begin(s, 0, &w->snap.txn);
	if (rc < 0) {
		wtxn_free(w);
		return rc;
	}
	if (!wcache_take(w) && (rc = read_basis(&w->snap)) < 0)
		goto fail;
	w->tx = DL_EID(DL_PART_TX, DL_EID_NUM(w->snap.basis) + 1);
	w->wcheck = UINT64_MAX;
	if (s->writemap) {
		/* the writer lock is ours: the newest meta page is the current one */
		MDB_envinfo info;
		mdb_env_info(s->env, &info);
		w->base_bytes = ((uint64_t)info.me_last_pgno + 1) * s->psize;
		if ((rc = dl_wtxn_reserve(w)) < 0)
			goto fail;
	}
	*out = w;
	return 0;
fail:
	mdb_txn_abort(w->snap.txn);
	wtxn_free(w);
	return rc;
}

int dl_wtxn_cursor_open(dl_wtxn *w, int db)
{
	int mrc = mdb_cursor_open(w->snap.txn, w->snap.s->dbi[db], &w->cur[db]);
	if (mrc) {
		w->cur[db] = NULL;
		return dl_mdb_err(mrc, "opening a cursor");
	}
	return 0;
}

dl_snap *dl_wtxn_snap(dl_wtxn *w) { return &w->snap; }

int64_t dl_wtxn_tx(const dl_wtxn *w) { return w->tx; }

size_t dl_wtxn_datom_count(const dl_wtxn *w) { return (size_t)w->ndatoms; }

void dl_wtxn_abort(dl_wtxn *w)
{
	if (!w)
		return;
	mdb_txn_abort(w->snap.txn); /* closes the cursors too */
	wtxn_free(w);
}

/* Remember that the transaction is half-written after a failure. */
int dl_wtxn_fail(dl_wtxn *w, int rc)
{
	if (rc < 0 && !w->failed)
		w->failed = rc;
	return rc;
}

static int write_stats(dl_wtxn *w)
{
	for (size_t i = 0; i < w->capstats; i++) {
		stat_slot *x = &w->stats[i];
		if (!x->used || !x->dirty)
			continue;
		uint8_t k[7], d[24];
		memcpy(k, META_ST_PREFIX, 3);
		dl_put_be32(k + 3, x->a);
		dl_put_be64(d, x->st.datoms);
		dl_put_be64(d + 8, x->st.values);
		dl_put_be64(d + 16, x->st.entities);
		DL_TRY(meta_put_raw(w, k, 7, d, 24));
	}
	return 0;
}

/* The totals plus this transaction's changes; w->totals receives them. */
static int write_totals(dl_wtxn *w)
{
	uint64_t *t = w->totals;
	if (!w->have_totals) {
		MDB_val k = {strlen(META_TOTALS), META_TOTALS}, d;
		int rc = mdb_get(w->snap.txn, w->snap.s->dbi[DB_META], &k, &d);
		t[0] = t[1] = 0;
		if (rc == 0 && d.mv_size == 16) {
			t[0] = dl_get_be64(d.mv_data);
			t[1] = dl_get_be64((const uint8_t *)d.mv_data + 8);
		} else if (rc && rc != MDB_NOTFOUND) {
			return dl_mdb_err(rc, "reading metadata");
		}
	}
	t[0] += (uint64_t)w->d_datoms;
	t[1] += (uint64_t)w->d_history;
	w->have_totals = false; /* no longer the committed ones */
	uint8_t b[16];
	dl_put_be64(b, t[0]);
	dl_put_be64(b + 8, t[1]);
	return meta_put_raw(w, META_TOTALS, strlen(META_TOTALS), b, 16);
}

/* The log entry of the current Datomic transaction (tx ids only grow, so it
 * goes at the end of the log). */
static int write_log(dl_wtxn *w)
{
	uint8_t k[8];
	dl_put_be64(k, (uint64_t)w->tx);
	MDB_val kk = {8, k}, d = {w->log.len, w->log.data ? w->log.data : ""};
	DL_TRY(dl_wtxn_charge(w, 8 + w->log.len));
	int mrc = mdb_put(w->snap.txn, w->snap.s->dbi[DB_LOG], &kk, &d, MDB_APPEND);
	return mrc ? dl_mdb_err(mrc, "writing the log") : 0;
}

int dl_wtxn_next_tx(dl_wtxn *w)
{
	assert(w);
	if (w->failed)
		return dl_error(w->failed, "the write transaction failed earlier");
	if (DL_EID_NUM(w->tx) + 1 >= (INT64_C(1) << DL_PART_SHIFT))
		return dl_error(DL_EFULL, "no transaction ids left");
	DL_TRY(dl_wtxn_fail(w, write_log(w)));
	/* what the next transaction sees as "the transaction before it" */
	w->snap.basis = w->tx;
	w->tx++;
	w->log.len = 0;
	w->nlog = 0;
	w->last_e = 0; /* each log entry starts its delta coding afresh */
	w->ndatoms = 0;
	return 0;
}

int dl_wtxn_commit(dl_wtxn *w)
{
	assert(w);
	int rc = w->failed;
	int mrc;
	if (rc < 0) {
		dl_wtxn_abort(w);
		return dl_error(rc, "the transaction failed earlier and was aborted");
	}
	if ((rc = dl_spool_flush(w)) < 0 || (rc = write_log(w)) < 0)
		goto fail;
	for (int i = 0; i < w->nids; i++) {
		if (!w->ids[i].dirty)
			continue;
		char name[32];
		snprintf(name, sizeof name, META_ID_PREFIX "%d", w->ids[i].part);
		if ((rc = meta_put_u64(w, name, w->ids[i].next)) < 0)
			goto fail;
	}
	if ((rc = write_stats(w)) < 0 || (rc = write_totals(w)) < 0 ||
	    (rc = meta_put_u64(w, META_BASIS, (uint64_t)w->tx)) < 0)
		goto fail;
	uint64_t txnid = (uint64_t)mdb_txn_id(w->snap.txn);
	DL_TSAN_ACQUIRE(w->snap.s); /* the commit writes the free list */
	DL_TSAN_RELEASE(w->snap.s);
	mrc = mdb_txn_commit(w->snap.txn); /* frees the txn and cursors, even on error */
	w->snap.txn = NULL;
	if (mrc) {
		rc = dl_mdb_err(mrc, "committing");
		wtxn_free(w);
		return rc;
	}
	wcache_put(w, txnid);
	wtxn_free(w);
	return 0;
fail:
	dl_wtxn_abort(w);
	return rc;
}

/* ---- entity ids --------------------------------------------------------- */

static int id_slot_get(dl_wtxn *w, int part, id_slot **out)
{
	for (int i = 0; i < w->nids; i++)
		if (w->ids[i].part == part) {
			*out = &w->ids[i];
			return 0;
		}
	if (w->nids == ID_SLOTS) {
		/* rare: many partitions in one transaction; flush one */
		id_slot *x = &w->ids[ID_SLOTS - 1];
		if (x->dirty) {
			char name[32];
			snprintf(name, sizeof name, META_ID_PREFIX "%d", x->part);
			DL_TRY(meta_put_u64(w, name, x->next));
		}
		w->nids--;
	}
	char name[32];
	snprintf(name, sizeof name, META_ID_PREFIX "%d", part);
	uint64_t next;
	bool found;
	DL_TRY(dl_meta_get_u64(w->snap.txn, w->snap.s, name, &next, &found));
	if (!found)
		next = part == DL_PART_DB ? FIRST_DB_ID : FIRST_USER_ID;
	id_slot *x = &w->ids[w->nids++];
	*x = (id_slot){part, next, false};
	*out = x;
	return 0;
}

int dl_wtxn_new_eid(dl_wtxn *w, int64_t *out, int part)
{
	assert(w && out);
	if (part < 0 || part >= (1 << 21) || part == DL_PART_TX)
		return dl_error(DL_EINVAL, "cannot allocate an entity id in partition %d", part);
	id_slot *x;
	DL_TRY(id_slot_get(w, part, &x));
	if (x->next >= (UINT64_C(1) << DL_PART_SHIFT))
		return dl_error(DL_EFULL, "partition %d has no free entity ids left", part);
	*out = DL_EID(part, (int64_t)x->next);
	x->next++;
	x->dirty = true;
	return 0;
}

/* Keep the partition counter above an id written explicitly. */
int dl_wtxn_note_eid(dl_wtxn *w, int64_t e)
{
	int part = DL_EID_PART(e);
	if (part == DL_PART_TX)
		return 0;
	uint64_t num = (uint64_t)DL_EID_NUM(e);
	id_slot *x;
	if (w->nids && w->ids[0].part == part)
		x = &w->ids[0];
	else
		DL_TRY(id_slot_get(w, part, &x));
	if (num >= x->next) {
		x->next = num + 1;
		x->dirty = true;
	}
	return 0;
}

/* ---- statistics in a write transaction -------------------------------- */

int dl_wtxn_stat(dl_wtxn *w, uint32_t a, dl_attr_stats **out)
{
	if (w->nstats * 2 >= w->capstats) {
		size_t ncap = w->capstats ? w->capstats * 2 : 64;
		stat_slot *ns = dl_calloc(ncap, sizeof *ns);
		if (!ns)
			return DL_ENOMEM;
		for (size_t i = 0; i < w->capstats; i++) {
			if (!w->stats[i].used)
				continue;
			size_t j = (w->stats[i].a * 0x9E3779B1u) & (ncap - 1);
			while (ns[j].used)
				j = (j + 1) & (ncap - 1);
			ns[j] = w->stats[i];
		}
		dl_free(w->stats);
		w->stats = ns;
		w->capstats = ncap;
	}
	size_t j = (a * 0x9E3779B1u) & (w->capstats - 1);
	while (w->stats[j].used) {
		if (w->stats[j].a == a) {
			w->stats[j].dirty = true; /* the callers change it */
			*out = &w->stats[j].st;
			return 0;
		}
		j = (j + 1) & (w->capstats - 1);
	}
	/* first touch: start from the committed figures */
	dl_attr_stats st;
	uint8_t k[7];
	memcpy(k, META_ST_PREFIX, 3);
	dl_put_be32(k + 3, a);
	MDB_val kk = {7, k}, d;
	int rc = mdb_get(w->snap.txn, w->snap.s->dbi[DB_META], &kk, &d);
	memset(&st, 0, sizeof st);
	if (rc == 0 && d.mv_size == 24) {
		st.datoms = dl_get_be64(d.mv_data);
		st.values = dl_get_be64((uint8_t *)d.mv_data + 8);
		st.entities = dl_get_be64((uint8_t *)d.mv_data + 16);
	} else if (rc && rc != MDB_NOTFOUND) {
		return dl_mdb_err(rc, "reading statistics");
	}
	w->stats[j] = (stat_slot){a, true, true, st};
	w->nstats++;
	*out = &w->stats[j].st;
	return 0;
}

/* ---- the log ------------------------------------------------------------ */

static inline size_t put_varint(uint8_t *p, uint64_t x)
{
	size_t n = 0;
	while (x >= 0x80) {
		p[n++] = (uint8_t)(x | 0x80);
		x >>= 7;
	}
	p[n++] = (uint8_t)x;
	return n;
}

/* One log record: flags (bit 0 = added), zigzag(e - previous e), a, then
 * the V key form with its length. */
int dl_wtxn_log(dl_wtxn *w, int64_t e, uint32_t a, const uint8_t *vk, size_t vlen,
		bool added)
{
	DL_TRY(dl_buf_reserve(&w->log, 1 + 10 + 5 + 3 + vlen));
	uint8_t *p = (uint8_t *)w->log.data + w->log.len, *p0 = p;
	int64_t de = (int64_t)((uint64_t)e - (uint64_t)w->last_e);
	*p++ = added ? 1 : 0;
	p += put_varint(p, ((uint64_t)de << 1) ^ (uint64_t)(de >> 63));
	p += put_varint(p, a);
	p += put_varint(p, vlen);
	memcpy(p, vk, vlen);
	p += vlen;
	w->log.len += (size_t)(p - p0);
	w->last_e = e;
	w->nlog++;
	return 0;
}

/* ---- single datom writes ------------------------------------------------ */

static inline bool key_has_prefix(const MDB_val *k, const uint8_t *p, size_t n)
{
	return k->mv_size >= n && memcmp(k->mv_data, p, n) == 0;
}

/* Is there an entry (other than key) starting with prefix[0..n) whose total
 * length is n + rest (rest 0 = any)?  Looks at the first key >= prefix. */
static int prefix_exists(dl_wtxn *w, int db, const uint8_t *prefix, size_t n, size_t rest,
			 bool *out)
{
	MDB_val k = {n, (void *)prefix}, d;
	MDB_cursor *c;
	DL_TRY(dl_wtxn_cur(w, db, &c));
	int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) {
		*out = false;
		return 0;
	}
	if (rc)
		return dl_mdb_err(rc, "reading an index");
	*out = key_has_prefix(&k, prefix, n) && (!rest || k.mv_size == n + rest);
	return 0;
}

static int check_args(int64_t e, int64_t a)
{
	if (e < 0)
		return dl_error(DL_EINVAL, "bad entity id %lld", (long long)e);
	if (a < 0 || a > (int64_t)UINT32_MAX)
		return dl_error(DL_EINVAL, "bad attribute id %lld", (long long)a);
	return 0;
}

static int put(dl_wtxn *w, int db, const uint8_t *k, size_t kn, const void *d, size_t dn)
{
	MDB_val kk = {kn, (void *)k}, dd = {dn, (void *)d};
	MDB_cursor *c;
	DL_TRY(dl_wtxn_cur(w, db, &c));
	DL_TRY(dl_wtxn_charge(w, kn + dn + PUT_COST));
	int rc = mdb_cursor_put(c, &kk, &dd, 0);
	return rc ? dl_mdb_err(rc, "writing an index") : 0;
}

static int del(dl_wtxn *w, int db, const uint8_t *k, size_t kn)
{
	MDB_val kk = {kn, (void *)k};
	DL_TRY(dl_wtxn_charge(w, kn + PUT_COST));
	int rc = mdb_del(w->snap.txn, w->snap.s->dbi[db], &kk, NULL);
	if (rc == MDB_NOTFOUND)
		return dl_error(DL_ECORRUPT, "index %s lacks an entry the others have",
				dl_store_db_names[db]);
	return rc ? dl_mdb_err(rc, "deleting from an index") : 0;
}

static int add1(dl_wtxn *w, int64_t e, uint32_t a, const dl_value *v)
{
	uint8_t vk[DL_KEY_VALUE_OOL], txb[8];
	size_t vlen;
	DL_TRY(dl_vkey(vk, &vlen, &w->venc, v, w));
	uint8_t *k = w->k1;
	size_t kn = dl_key_build(k, DL_EAVT, e, a, vk, vlen);
	/* one seek answers "is it current?" and "has e any a yet?" */
	MDB_val kk = {kn, k}, d;
	bool had_ea = false;
	MDB_cursor *ce;
	DL_TRY(dl_wtxn_cur(w, DB_EAVT, &ce));
	int rc = mdb_cursor_get(ce, &kk, &d, MDB_SET_RANGE);
	if (rc == 0) {
		if (kk.mv_size == kn && memcmp(kk.mv_data, k, kn) == 0)
			return 0; /* already current */
		had_ea = key_has_prefix(&kk, k, 12);
		if (!had_ea)
			rc = mdb_cursor_get(ce, &kk, &d, MDB_PREV);
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_get(ce, &kk, &d, MDB_LAST);
	}
	if (rc == 0 && !had_ea)
		had_ea = key_has_prefix(&kk, k, 12);
	else if (rc && rc != MDB_NOTFOUND)
		return dl_mdb_err(rc, "reading an index");
	DL_TRY(dl_wtxn_note_eid(w, e));
	if (v->type == DL_REF && v->u.i >= 0)
		DL_TRY(dl_wtxn_note_eid(w, v->u.i));
	dl_put_be64(txb, (uint64_t)w->tx);
	DL_TRY(put(w, DB_EAVT, k, kn, txb, 8));
	kn = dl_key_build(k, DL_AEVT, e, a, vk, vlen);
	DL_TRY(put(w, DB_AEVT, k, kn, txb, 8));
	kn = dl_key_build(k, DL_AVET, e, a, vk, vlen);
	bool had_av;
	DL_TRY(prefix_exists(w, DB_AVET, k, 4 + vlen, 8, &had_av));
	DL_TRY(put(w, DB_AVET, k, kn, txb, 8));
	if (v->type == DL_REF) {
		uint8_t rb[8];
		dl_put_be64(rb, (uint64_t)v->u.i);
		kn = dl_key_build(k, DL_VAET, e, a, rb, 8);
		DL_TRY(put(w, DB_VAET, k, kn, txb, 8));
	}
	DL_TRY(dl_wtxn_log(w, e, a, vk, vlen, true));
	dl_attr_stats *st;
	DL_TRY(dl_wtxn_stat(w, a, &st));
	st->datoms++;
	st->values += !had_av;
	st->entities += !had_ea;
	w->ndatoms++;
	w->d_datoms++;
	return 1;
}

int dl_wtxn_add(dl_wtxn *w, int64_t e, int64_t a, const dl_value *v, unsigned aflags)
{
	assert(w && v);
	DL_UNUSED(aflags); /* vaet holds every ref value, whatever the flags */
	if (w->failed)
		return dl_error(w->failed, "the write transaction failed earlier");
	DL_TRY(check_args(e, a));
	/* add1 counts a's distinct values in AVET: its spooled ones first */
	DL_TRY(dl_spool_settle(w, DB_AVET, a));
	return dl_wtxn_fail(w, add1(w, e, (uint32_t)a, v));
}

static int retract1(dl_wtxn *w, int64_t e, uint32_t a, const dl_value *v, unsigned aflags)
{
	uint8_t vk[DL_KEY_VALUE_OOL], txb[8];
	size_t vlen;
	DL_TRY(dl_vkey(vk, &vlen, &w->venc, v, NULL));
	uint8_t *k = w->k1, *h = w->k2;
	size_t kn = dl_key_build(k, DL_EAVT, e, a, vk, vlen);
	MDB_val kk = {kn, k}, d;
	MDB_cursor *ce;
	DL_TRY(dl_wtxn_cur(w, DB_EAVT, &ce));
	int rc = mdb_cursor_get(ce, &kk, &d, MDB_SET_KEY);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return dl_mdb_err(rc, "reading an index");
	if (d.mv_size != 8)
		return dl_error(DL_ECORRUPT, "malformed eavt entry");
	int64_t t0 = (int64_t)dl_get_be64(d.mv_data);
	DL_TRY(dl_wtxn_charge(w, kn + PUT_COST));
	if ((rc = mdb_cursor_del(ce, 0)))
		return dl_mdb_err(rc, "deleting from an index");
	bool hist = !(aflags & DL_AF_NOHISTORY) && t0 != w->tx;
	uint8_t tt[16];
	dl_put_be64(tt, (uint64_t)t0);
	dl_put_be64(tt + 8, (uint64_t)w->tx);
	if (hist) {
		memcpy(h, k, kn);
		memcpy(h + kn, tt, 16);
		DL_TRY(put(w, DB_HEAVT, h, kn + 16, "", 0));
	}
	bool has_ea, has_av;
	DL_TRY(prefix_exists(w, DB_EAVT, k, 12, 0, &has_ea));
	kn = dl_key_build(k, DL_AEVT, e, a, vk, vlen);
	DL_TRY(del(w, DB_AEVT, k, kn));
	if (hist) {
		memcpy(h, k, kn);
		memcpy(h + kn, tt, 16);
		DL_TRY(put(w, DB_HAEVT, h, kn + 16, "", 0));
	}
	kn = dl_key_build(k, DL_AVET, e, a, vk, vlen);
	DL_TRY(del(w, DB_AVET, k, kn));
	if (hist) {
		memcpy(h, k, kn);
		memcpy(h + kn, tt, 16);
		DL_TRY(put(w, DB_HAVET, h, kn + 16, "", 0));
	}
	DL_TRY(prefix_exists(w, DB_AVET, k, 4 + vlen, 8, &has_av));
	if (v->type == DL_REF) {
		uint8_t rb[8];
		dl_put_be64(rb, (uint64_t)v->u.i);
		kn = dl_key_build(k, DL_VAET, e, a, rb, 8);
		DL_TRY(del(w, DB_VAET, k, kn));
		if (hist) {
			memcpy(h, k, kn);
			memcpy(h + kn, tt, 16);
			DL_TRY(put(w, DB_HVAET, h, kn + 16, "", 0));
		}
	}
	DL_UNUSED(txb);
	DL_TRY(dl_wtxn_log(w, e, a, vk, vlen, false));
	dl_attr_stats *st;
	DL_TRY(dl_wtxn_stat(w, a, &st));
	st->datoms--;
	st->values -= !has_av;
	st->entities -= !has_ea;
	w->ndatoms++;
	w->d_datoms--;
	w->d_history += hist;
	return 1;
}

int dl_wtxn_retract(dl_wtxn *w, int64_t e, int64_t a, const dl_value *v, unsigned aflags)
{
	assert(w && v);
	if (w->failed)
		return dl_error(w->failed, "the write transaction failed earlier");
	DL_TRY(check_args(e, a));
	/* the entries it deletes may still be in the spool */
	DL_TRY(dl_spool_settle(w, DB_AEVT, a));
	DL_TRY(dl_spool_settle(w, DB_AVET, a));
	if (v->type == DL_REF)
		DL_TRY(dl_spool_settle(w, DB_VAET, -1));
	return dl_wtxn_fail(w, retract1(w, e, (uint32_t)a, v, aflags));
}

int dl_wtxn_meta_put(dl_wtxn *w, const char *name, const void *val, size_t n)
{
	size_t nl = strlen(name);
	if (nl == 0 || nl > 400)
		return dl_error(DL_EINVAL, "bad metadata name");
	return dl_wtxn_fail(w, meta_put_raw(w, name, nl, val, n));
}

/* ---- marks: undoing a bulk vector ------------------------------------------ */

struct dl_wtxn_mark {
	int64_t tx, first_user; /* entities >= first_user (user partition) are new */
	uint64_t nlog, ndatoms;
	size_t loglen;
	int64_t last_e, d_datoms, d_history;
	id_slot ids[ID_SLOTS];
	int nids;
	stat_slot *stats;
	size_t nstats, capstats;
	size_t sp_runs;
	uint64_t sp_end, sp_epoch;
};

int dl_wtxn_mark_begin(dl_wtxn_mark **out, dl_wtxn *w)
{
	assert(out && w);
	*out = NULL;
	if (w->failed)
		return dl_error(w->failed, "the write transaction failed earlier");
	/* spooled entries of before the mark are merged: the runs after it are
	 * then all the mark's, and so are the distinct-value counts they add */
	DL_TRY(dl_spool_flush(w));
	dl_wtxn_mark *m = dl_calloc(1, sizeof *m);
	if (!m)
		return DL_ENOMEM;
	id_slot *x;
	int rc = id_slot_get(w, DL_PART_USER, &x);
	if (rc < 0 || (w->capstats && !(m->stats = dl_malloc(w->capstats * sizeof *m->stats)))) {
		dl_free(m);
		return rc < 0 ? rc : DL_ENOMEM;
	}
	m->tx = w->tx;
	m->first_user = DL_EID(DL_PART_USER, (int64_t)x->next);
	m->nlog = w->nlog;
	m->ndatoms = w->ndatoms;
	m->loglen = w->log.len;
	m->last_e = w->last_e;
	m->d_datoms = w->d_datoms;
	m->d_history = w->d_history;
	memcpy(m->ids, w->ids, sizeof m->ids);
	m->nids = w->nids;
	if (w->capstats)
		memcpy(m->stats, w->stats, w->capstats * sizeof *m->stats);
	m->nstats = w->nstats;
	m->capstats = w->capstats;
	dl_spool_pos(w, &m->sp_runs, &m->sp_end, &m->sp_epoch);
	*out = m;
	return 0;
}

void dl_wtxn_mark_free(dl_wtxn_mark *m)
{
	if (!m)
		return;
	dl_free(m->stats);
	dl_free(m);
}

/* Delete every current datom of entities [lo, hi) from the four indexes
 * (entries of AEVT, AVET and VAET that are not there were spooled). */
static int undo_range(dl_wtxn *w, int64_t lo, int64_t hi)
{
	uint8_t lok[8], *k = w->k1;
	dl_put_be64(lok, (uint64_t)lo);
	MDB_cursor *ce;
	DL_TRY(dl_wtxn_cur(w, DB_EAVT, &ce));
	for (;;) {
		MDB_val kk = {8, lok}, d;
		int rc = mdb_cursor_get(ce, &kk, &d, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc)
			return dl_mdb_err(rc, "reading an index");
		dl_kparts p = {0};
		uint8_t ek[KEY_MAX];
		size_t en = kk.mv_size;
		if (en > KEY_MAX)
			return dl_error(DL_ECORRUPT, "oversized key in eavt");
		memcpy(ek, kk.mv_data, en);
		DL_TRY(dl_key_split(&p, DL_EAVT, ek, en, false));
		if (p.e >= hi)
			return 0;
		DL_TRY(dl_wtxn_charge(w, en));
		if ((rc = mdb_cursor_del(ce, 0)))
			return dl_mdb_err(rc, "deleting from an index");
		uint8_t rb[8];
		bool ref = p.vlen == 9 && p.v[0] == 0x19; /* the ref tag */
		for (int db = DB_AEVT; db <= DB_VAET; db++) {
			size_t kn;
			if (db == DB_VAET) {
				if (!ref)
					break;
				dl_put_be64(rb, dl_get_be64(p.v + 1) ^ UINT64_C(0x8000000000000000));
				kn = dl_key_build(k, DL_VAET, p.e, p.a, rb, 8);
			} else {
				kn = dl_key_build(k, db == DB_AEVT ? DL_AEVT : DL_AVET, p.e, p.a, p.v,
						  p.vlen);
			}
			MDB_val dk = {kn, k};
			DL_TRY(dl_wtxn_charge(w, kn + PUT_COST));
			rc = mdb_del(w->snap.txn, w->snap.s->dbi[db], &dk, NULL);
			if (rc && rc != MDB_NOTFOUND)
				return dl_mdb_err(rc, "deleting from an index");
		}
		dl_put_be64(lok, (uint64_t)p.e);
	}
}

int dl_wtxn_undo(dl_wtxn *w, const dl_wtxn_mark *m)
{
	assert(w && m);
	if (w->failed)
		return dl_error(w->failed, "the write transaction failed earlier");
	if (w->tx != m->tx)
		return dl_error(DL_EINVAL, "undo across transactions");
	int rc = dl_spool_truncate(w, m->sp_runs, m->sp_end, m->sp_epoch);
	if (rc == 0)
		rc = undo_range(w, m->first_user, DL_EID(DL_PART_USER + 1, 0));
	if (rc == 0)
		rc = undo_range(w, w->tx, w->tx + 1);
	if (rc < 0)
		return dl_wtxn_fail(w, rc);
	stat_slot *st = m->capstats ? dl_malloc(m->capstats * sizeof *st) : NULL;
	if (m->capstats && !st)
		return dl_wtxn_fail(w, DL_ENOMEM);
	if (st)
		memcpy(st, m->stats, m->capstats * sizeof *st);
	dl_free(w->stats);
	w->stats = st;
	w->capstats = m->capstats;
	w->nstats = m->nstats;
	memcpy(w->ids, m->ids, sizeof w->ids);
	w->nids = m->nids;
	w->nlog = m->nlog;
	w->ndatoms = m->ndatoms;
	w->log.len = m->loglen;
	w->last_e = m->last_e;
	w->d_datoms = m->d_datoms;
	w->d_history = m->d_history;
	return 0;
}

/* ---- test hooks --------------------------------------------------------- */

int dl_store_test_raw_del(dl_store *s, int db, const void *key, size_t klen)
{
	MDB_txn *txn;
	DL_TRY(txn_begin(s, 0, &txn));
	MDB_val k = {klen, (void *)key};
	int rc = mdb_del(txn, s->dbi[db], &k, NULL);
	if (rc) {
		mdb_txn_abort(txn);
		return dl_mdb_err(rc, "test delete");
	}
	rc = mdb_txn_commit(txn);
	return rc ? dl_mdb_err(rc, "test delete") : 0;
}

int dl_store_test_raw_put(dl_store *s, int db, const void *key, size_t klen,
			  const void *val, size_t vlen)
{
	MDB_txn *txn;
	DL_TRY(txn_begin(s, 0, &txn));
	MDB_val k = {klen, (void *)key}, d = {vlen, (void *)val};
	int rc = mdb_put(txn, s->dbi[db], &k, &d, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return dl_mdb_err(rc, "test put");
	}
	rc = mdb_txn_commit(txn);
	return rc ? dl_mdb_err(rc, "test put") : 0;
}
