/*
 * The keyword/symbol intern table.
 *
 * Readers never lock.  Everything a reader can reach is immutable once it
 * has been published with a release store, and nothing is ever freed while
 * the process may still read it:
 *
 *  - An entry {hash, id, len, ns_len, name} is filled in completely before
 *    any pointer to it is stored, and never changes afterwards.
 *  - id -> entry is a segmented array: segment k holds 2^(k+6) slots, so a
 *    slot, once it exists, never moves.  Lookup is two acquire loads.
 *  - name -> entry is an open-addressing (linear probing) table of entry
 *    pointers behind one atomic table pointer.  A table is only ever written
 *    while it is the current one, and only into empty slots, so a reader
 *    scanning it sees each slot as either empty or a finished entry.  When
 *    it reaches half full, a writer builds a twice-as-large copy and
 *    publishes it in one store; the old table is frozen from then on and
 *    parked on a list (readers may still be scanning it) rather than freed.
 *
 * Writers (a miss in dl_intern) serialise on one mutex that readers never
 * touch.  All allocation happens under that mutex and before anything is
 * published, so a failed allocation leaves the table exactly as it was.
 */
#include "intern_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <xxhash.h>

typedef struct intern_entry {
	uint64_t hash;
	uint32_t id;
	uint32_t len;
	uint32_t ns_len;
	char name[]; /* len bytes and a NUL */
} intern_entry;

typedef _Atomic(intern_entry *) entry_slot;

typedef struct intern_table {
	size_t mask;                   /* slots - 1; slots is a power of two */
	struct intern_table *retired;  /* next on the retired list (writers only) */
	entry_slot slots[];
} intern_table;

#define SEG_SHIFT 6     /* segment 0 holds 2^6 ids */
#define NSEGS 32        /* 2^38 - 64 ids in all: more than a uint32_t id */
#define MIN_TABLE 256   /* slots in the first hash table */

/*
 * The state is all static and zero-initialised (a valid state for atomics
 * with static storage since C17), so there is nothing to set up: no
 * pthread_once, and no initial allocation that could fail where nobody can
 * report it.  A reader that finds no table or no segment sees "not found".
 *
 * The pointers every lookup reads sit on their own cache line, away from the
 * mutex and count that writers dirty, so interning new names does not make
 * readers' cache lines bounce.
 */
static struct {
	_Alignas(64) _Atomic(intern_table *) table;
	_Atomic(entry_slot *) segs[NSEGS];
} g_read;

static struct {
	_Alignas(64) pthread_mutex_t lock;
	_Atomic uint32_t count;
	intern_table *retired; /* tables replaced by a bigger one */
} g_write = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Which segment holds index i (= id - 1), and where in it. */
static unsigned seg_of(uint64_t i, size_t *off)
{
	uint64_t j = i + ((uint64_t)1 << SEG_SHIFT);
	unsigned top = 63u - (unsigned)__builtin_clzll(j); /* floor(log2(j)) */
	*off = (size_t)(j - ((uint64_t)1 << top));
	return top - SEG_SHIFT;
}

static size_t seg_size(unsigned k) { return (size_t)1 << (k + SEG_SHIFT); }

/* Probe t for name.  Tables are never more than half full, so the probe
 * always ends at an empty slot.  Acquire pairs with the writer's release of
 * the slot: seeing the pointer means seeing the finished entry. */
static intern_entry *table_find(intern_table *t, uint64_t h, const char *name,
				size_t n)
{
	for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
		intern_entry *e = atomic_load_explicit(&t->slots[i], memory_order_acquire);
		if (!e)
			return NULL;
		if (e->hash == h && e->len == n && memcmp(e->name, name, n) == 0)
			return e;
	}
}

/* Put e into the first empty slot of its probe sequence (writers only). */
static void table_put(intern_table *t, intern_entry *e, memory_order mo)
{
	size_t i = (size_t)e->hash & t->mask;
	while (atomic_load_explicit(&t->slots[i], memory_order_relaxed))
		i = (i + 1) & t->mask;
	atomic_store_explicit(&t->slots[i], e, mo);
}

static intern_table *table_new(size_t slots)
{
	if (slots > (SIZE_MAX - sizeof(intern_table)) / sizeof(entry_slot)) {
		dl_error(DL_ENOMEM, "out of memory (intern table too large)");
		return NULL;
	}
	/* All-zero bytes are a null pointer for a lock-free atomic pointer on
	 * every platform we target, so calloc stands in for atomic_init. */
	intern_table *t = dl_calloc(1, sizeof *t + slots * sizeof(entry_slot));
	if (t)
		t->mask = slots - 1;
	return t;
}

/* The namespace is what precedes the first '/', when there is one and it is
 * not the first byte ("/" alone and "/x" have none), as Clojure splits
 * :a/b/c into ns "a" and name "b/c". */
static uint32_t ns_length(const char *name, size_t n)
{
	const char *slash = memchr(name, '/', n);
	return slash && slash != name ? (uint32_t)(slash - name) : 0;
}

/* The miss path: under the writers' mutex, re-check, then allocate what the
 * new name needs (entry, maybe a segment, maybe a bigger table) before
 * changing anything, then publish in an order that keeps every reader's view
 * consistent. */
static int intern_slow(uint32_t *out, const char *name, size_t n, uint64_t h)
{
	int rc = 0;
	pthread_mutex_lock(&g_write.lock);

	/* Relaxed is enough here: the mutex orders us after every earlier
	 * writer, and only writers store these. */
	intern_table *t = atomic_load_explicit(&g_read.table, memory_order_relaxed);
	intern_entry *e = t ? table_find(t, h, name, n) : NULL;
	if (e) { /* another thread added it since our lock-free probe */
		*out = e->id;
		goto out;
	}

	uint32_t count = atomic_load_explicit(&g_write.count, memory_order_relaxed);
	if (count >= DL_INTERN_MAX_ID) {
		rc = dl_error(DL_ELIMIT, "too many interned names (%u)", count);
		goto out;
	}
	uint32_t id = count + 1;
	size_t off;
	unsigned k = seg_of(id - 1, &off);
	entry_slot *seg = atomic_load_explicit(&g_read.segs[k], memory_order_relaxed);
	size_t cap = t ? t->mask + 1 : 0;

	entry_slot *new_seg = NULL;
	intern_table *nt = NULL;
	e = dl_malloc(sizeof *e + n + 1);
	if (e && !seg)
		new_seg = dl_calloc(seg_size(k), sizeof *new_seg);
	if (e && (seg || new_seg) && (size_t)id * 2 > cap)
		nt = table_new(cap ? cap * 2 : MIN_TABLE);
	if (!e || (!seg && !new_seg) || ((size_t)id * 2 > cap && !nt)) {
		dl_free(nt);
		dl_free(new_seg);
		dl_free(e);
		rc = DL_ENOMEM; /* dl_malloc has set the message */
		goto out;
	}

	e->hash = h;
	e->id = id;
	e->len = (uint32_t)n;
	e->ns_len = ns_length(name, n);
	memcpy(e->name, name, n);
	e->name[n] = 0;

	if (nt) {
		/* Fill the new table privately (relaxed: nobody can see it yet),
		 * then publish it with release so a reader that loads it sees
		 * all its slots.  The old one is frozen from here on. */
		for (size_t i = 0; i < cap; i++) {
			intern_entry *x = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
			if (x)
				table_put(nt, x, memory_order_relaxed);
		}
		atomic_store_explicit(&g_read.table, nt, memory_order_release);
		if (t) {
			t->retired = g_write.retired;
			g_write.retired = t;
		}
		t = nt;
	}
	if (new_seg) {
		atomic_store_explicit(&g_read.segs[k], new_seg, memory_order_release);
		seg = new_seg;
	}

	/* id slot first, then the name slot, then the count, each with
	 * release: whoever finds the entry by name, or reads a count that
	 * includes it, can then also find it by id. */
	atomic_store_explicit(&seg[off], e, memory_order_release);
	table_put(t, e, memory_order_release);
	atomic_store_explicit(&g_write.count, id, memory_order_release);
	*out = id;
out:
	pthread_mutex_unlock(&g_write.lock);
	return rc;
}

int dl_intern(uint32_t *out, const char *name, size_t n)
{
	assert(out && (name || n == 0));
	if (DL_UNLIKELY(n == 0))
		return dl_error(DL_EINVAL, "empty name");
	if (DL_UNLIKELY(n > DL_INTERN_MAX_LEN))
		return dl_error(DL_ELIMIT, "name too long (%zu bytes, limit %u)",
				n, DL_INTERN_MAX_LEN);
	uint64_t h = XXH3_64bits(name, n);
	/* Acquire pairs with the release that published the table. */
	intern_table *t = atomic_load_explicit(&g_read.table, memory_order_acquire);
	if (DL_LIKELY(t)) {
		intern_entry *e = table_find(t, h, name, n);
		if (DL_LIKELY(e)) {
			*out = e->id;
			return 0;
		}
	}
	return intern_slow(out, name, n, h);
}

uint32_t dl_intern_find(const char *name, size_t n)
{
	assert(name || n == 0);
	if (n == 0 || n > DL_INTERN_MAX_LEN)
		return 0;
	intern_table *t = atomic_load_explicit(&g_read.table, memory_order_acquire);
	if (!t)
		return 0;
	intern_entry *e = table_find(t, XXH3_64bits(name, n), name, n);
	return e ? e->id : 0;
}

const char *dl_intern_name(uint32_t id, size_t *n, size_t *ns_len)
{
	intern_entry *e = NULL;
	if (id != 0) {
		size_t off;
		unsigned k = seg_of(id - 1, &off);
		/* Acquire on both: they pair with the writer's releases of the
		 * segment and of the slot, so the entry is complete. */
		entry_slot *seg = atomic_load_explicit(&g_read.segs[k], memory_order_acquire);
		if (seg)
			e = atomic_load_explicit(&seg[off], memory_order_acquire);
	}
	if (n)
		*n = e ? e->len : 0;
	if (ns_len)
		*ns_len = e ? e->ns_len : 0;
	return e ? e->name : NULL;
}

uint32_t dl_intern_count(void)
{
	return atomic_load_explicit(&g_write.count, memory_order_acquire);
}

void dl_intern_shutdown(void)
{
	pthread_mutex_lock(&g_write.lock);
	uint32_t count = atomic_load_explicit(&g_write.count, memory_order_relaxed);
	for (unsigned k = 0; k < NSEGS; k++) {
		entry_slot *seg = atomic_load_explicit(&g_read.segs[k], memory_order_relaxed);
		if (!seg)
			continue;
		uint64_t first = seg_size(k) - ((uint64_t)1 << SEG_SHIFT); /* index */
		for (size_t i = 0; i < seg_size(k) && first + i < count; i++)
			dl_free(atomic_load_explicit(&seg[i], memory_order_relaxed));
		atomic_store_explicit(&g_read.segs[k], NULL, memory_order_relaxed);
		dl_free(seg);
	}
	dl_free(atomic_load_explicit(&g_read.table, memory_order_relaxed));
	atomic_store_explicit(&g_read.table, NULL, memory_order_relaxed);
	while (g_write.retired) {
		intern_table *t = g_write.retired;
		g_write.retired = t->retired;
		dl_free(t);
	}
	atomic_store_explicit(&g_write.count, 0, memory_order_relaxed);
	pthread_mutex_unlock(&g_write.lock);
}
