/* Arenas: chunked bump allocation.  Per-query and per-transaction memory
 * comes from here and is released in one step, so the hot paths never free
 * individual values. */
#include "base.h"

#include <string.h>

struct dl_arena_chunk {
	dl_arena_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

#define ARENA_MIN_CHUNK 4096

void *dl_arena_alloc(dl_arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	dl_arena_chunk *c = a->head;
	if (DL_LIKELY(c && c->size - c->used >= size)) {
		void *p = c->data + c->used;
		c->used += size;
		return p;
	}
	/* Chunks grow geometrically so that big arenas need few chunks. */
	size_t want = a->chunk_size ? a->chunk_size : ARENA_MIN_CHUNK;
	if (a->total > want) /* (64 MiB at most, headers included) */
		want = a->total < (64u << 20) - 64 ? a->total : (64u << 20) - 64;
	if (want < size)
		want = size;
	if (want > SIZE_MAX - sizeof(dl_arena_chunk)) {
		dl_error(DL_ENOMEM, "out of memory (arena allocation of %zu bytes)", size);
		return NULL;
	}
	/* a block: big chunks come back from the block cache, not fresh pages */
	dl_arena_chunk *n = dl_block_alloc(sizeof(dl_arena_chunk) + want);
	if (!n)
		return NULL;
	n->size = dl_block_cap(n) - sizeof(dl_arena_chunk);
	n->used = size;
	a->total += n->size;
	if (c && size > ARENA_MIN_CHUNK && c->size - c->used > ARENA_MIN_CHUNK / 4) {
		/* A big one-off block: keep filling the current chunk afterwards. */
		n->next = c->next;
		c->next = n;
	} else {
		n->next = c;
		a->head = n;
	}
	return n->data;
}

char *dl_arena_strndup(dl_arena *a, const char *s, size_t n)
{
	char *d = dl_arena_alloc(a, n + 1);
	if (d) {
		if (n)
			memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

void dl_arena_reset(dl_arena *a)
{
	dl_arena_chunk *c = a->head;
	if (!c)
		return;
	if (!c->next) { /* the common case: one chunk */
		c->used = 0;
		a->total = c->size;
		return;
	}
	/* keep the largest chunk: the next use of the arena likely needs as much */
	dl_arena_chunk *keep = c;
	for (dl_arena_chunk *x = c; x; x = x->next)
		if (x->size > keep->size)
			keep = x;
	while (c) {
		dl_arena_chunk *next = c->next;
		if (c != keep)
			dl_block_free(c);
		c = next;
	}
	keep->next = NULL;
	keep->used = 0;
	a->head = keep;
	a->total = keep->size;
}

void dl_arena_free(dl_arena *a)
{
	dl_arena_chunk *c = a->head;
	while (c) {
		dl_arena_chunk *next = c->next;
		dl_block_free(c);
		c = next;
	}
	a->head = NULL;
	a->total = 0;
}
