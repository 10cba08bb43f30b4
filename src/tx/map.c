/* Arena-backed open-addressing hash maps for the transaction processor and
 * the schema: tempids, upserts, card-one checks and entity sets are all
 * looked up per datom, so they must not malloc per entry. */
#include "tx/tx_int.h"

#include <string.h>

#define MAP_MIN_CAP 16

void dl_u64map_init(dl_u64map *m, dl_arena *a)
{
	memset(m, 0, sizeof *m);
	m->a = a;
}

static int u64map_grow(dl_u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : MAP_MIN_CAP;
	uint64_t *keys = DL_ARENA_NEW(m->a, cap, uint64_t);
	uint64_t *vals = DL_ARENA_NEW(m->a, cap, uint64_t);
	if (!keys || !vals)
		return DL_ENOMEM;
	memset(keys, 0, cap * sizeof *keys);
	for (size_t i = 0; i < m->cap; i++) {
		uint64_t k = m->keys[i];
		if (!k)
			continue;
		size_t j = dl_mix64(k) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = k;
		vals[j] = m->vals[i];
	}
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

int dl_u64map_put(dl_u64map *m, uint64_t key, uint64_t val)
{
	assert(key != 0);
	if ((m->n + 1) * 4 > m->cap * 3)
		DL_TRY(u64map_grow(m));
	size_t j = dl_mix64(key) & (m->cap - 1);
	while (m->keys[j] && m->keys[j] != key)
		j = (j + 1) & (m->cap - 1);
	if (!m->keys[j]) {
		m->keys[j] = key;
		m->n++;
	}
	m->vals[j] = val;
	return 0;
}

bool dl_u64map_get(const dl_u64map *m, uint64_t key, uint64_t *val)
{
	if (!m->cap)
		return false;
	size_t j = dl_mix64(key) & (m->cap - 1);
	for (;;) {
		uint64_t k = m->keys[j];
		if (k == key) {
			if (val)
				*val = m->vals[j];
			return true;
		}
		if (!k)
			return false;
		j = (j + 1) & (m->cap - 1);
	}
}

void dl_hidx_init(dl_hidx *m, dl_arena *a)
{
	memset(m, 0, sizeof *m);
	m->a = a;
}

static int hidx_grow_to(dl_hidx *m, size_t cap)
{
	uint64_t *hashes = DL_ARENA_NEW(m->a, cap, uint64_t);
	uint32_t *items = DL_ARENA_NEW(m->a, cap, uint32_t);
	if (!hashes || !items)
		return DL_ENOMEM;
	memset(items, 0, cap * sizeof *items);
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->items[i])
			continue;
		size_t j = dl_mix64(m->hashes[i]) & (cap - 1);
		while (items[j])
			j = (j + 1) & (cap - 1);
		items[j] = m->items[i];
		hashes[j] = m->hashes[i];
	}
	m->hashes = hashes;
	m->items = items;
	m->cap = cap;
	return 0;
}

static int hidx_grow(dl_hidx *m)
{
	return hidx_grow_to(m, m->cap ? m->cap * 2 : MAP_MIN_CAP);
}

int dl_hidx_reserve(dl_hidx *m, size_t n)
{
	size_t cap = m->cap ? m->cap : MAP_MIN_CAP;
	while (n * 4 > cap * 3)
		cap *= 2;
	return cap > m->cap ? hidx_grow_to(m, cap) : 0;
}

int64_t dl_hidx_find(const dl_hidx *m, uint64_t hash, dl_hidx_eq eq, const void *ctx)
{
	if (!m->cap)
		return -1;
	size_t j = dl_mix64(hash) & (m->cap - 1);
	for (;;) {
		uint32_t it = m->items[j];
		if (!it)
			return -1;
		if (m->hashes[j] == hash && eq(ctx, it - 1))
			return (int64_t)(it - 1);
		j = (j + 1) & (m->cap - 1);
	}
}

int dl_hidx_add(dl_hidx *m, uint64_t hash, uint32_t item)
{
	if ((m->n + 1) * 4 > m->cap * 3)
		DL_TRY(hidx_grow(m));
	size_t j = dl_mix64(hash) & (m->cap - 1);
	while (m->items[j])
		j = (j + 1) & (m->cap - 1);
	m->items[j] = item + 1;
	m->hashes[j] = hash;
	m->n++;
	return 0;
}
