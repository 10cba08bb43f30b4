/*
 * The value model: constructors, the total order, equality, hashing and the
 * order-preserving binary encoding that index keys are built from.
 *
 * The order and the encoding are defined together: compare() and
 * memcmp(encode(a), encode(b)) must always agree, and the property tests in
 * tests/unit/test_value.c check it on random values of every type.
 */
#include "value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- constructors ------------------------------------------------------ */

dl_value dl_nil(void) { return (dl_value){.type = DL_NIL}; }
dl_value dl_bool(bool b) { return (dl_value){.type = DL_BOOL, .u.b = b}; }
dl_value dl_int(int64_t i) { return (dl_value){.type = DL_INT, .u.i = i}; }
dl_value dl_inst(int64_t ms) { return (dl_value){.type = DL_INST, .u.i = ms}; }
dl_value dl_ref(int64_t e) { return (dl_value){.type = DL_REF, .u.i = e}; }
dl_value dl_char(uint32_t cp) { return (dl_value){.type = DL_CHAR, .u.cp = cp}; }

dl_value dl_double(double d)
{
	if (isnan(d))
		d = NAN; /* one NaN: equality, hashing and encoding need it */
	return (dl_value){.type = DL_DOUBLE, .u.d = d};
}

dl_value dl_string(const char *s, size_t n)
{
	assert(n <= UINT32_MAX);
	return (dl_value){.type = DL_STRING, .len = (uint32_t)n, .u.s = s};
}

dl_value dl_bytes(const void *p, size_t n)
{
	assert(n <= UINT32_MAX);
	return (dl_value){.type = DL_BYTES, .len = (uint32_t)n, .u.s = p};
}

dl_value dl_uuid(const uint8_t bytes[16])
{
	dl_value v = {.type = DL_UUID};
	memcpy(v.u.uuid, bytes, 16);
	return v;
}

static int named(dl_value *out, dl_type t, const char *name, size_t n)
{
	uint32_t id;
	DL_TRY(dl_intern(&id, name, n));
	*out = (dl_value){.type = (uint8_t)t, .u.id = id};
	return 0;
}

int dl_keyword(dl_value *out, const char *name, size_t n)
{
	return named(out, DL_KEYWORD, name, n);
}

int dl_symbol(dl_value *out, const char *name, size_t n)
{
	return named(out, DL_SYMBOL, name, n);
}

/* ---- order ------------------------------------------------------------- */

/* Rank of each type in the total order; int and double share one. */
static const uint8_t k_rank[DL_TYPE_COUNT] = {
	[DL_NIL] = 0,     [DL_BOOL] = 1,    [DL_INT] = 2,     [DL_DOUBLE] = 2,
	[DL_INST] = 3,    [DL_STRING] = 4,  [DL_KEYWORD] = 5, [DL_SYMBOL] = 6,
	[DL_UUID] = 7,    [DL_BYTES] = 8,   [DL_REF] = 9,     [DL_CHAR] = 10,
	[DL_VECTOR] = 11, [DL_LIST] = 12,   [DL_SET] = 13,    [DL_MAP] = 14,
};

int dl_value_rank(dl_type t)
{
	assert(t < DL_TYPE_COUNT);
	return k_rank[t];
}

/* Doubles as order-preserving unsigned integers (Java's Double.compareTo:
 * -0.0 < 0.0, NaN above +Inf): flip all bits of negatives, the sign bit of
 * the rest. */
static inline uint64_t double_key(double d)
{
	uint64_t u;
	if (isnan(d))
		d = NAN;
	memcpy(&u, &d, 8);
	return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

static inline double key_double(uint64_t k)
{
	uint64_t u = (k & 0x8000000000000000ull) ? (k & ~0x8000000000000000ull) : ~k;
	double d;
	memcpy(&d, &u, 8);
	return d;
}

/*
 * A number's position in the shared int/double order, as (key, tie):
 *   key: double_key of the value rounded to a double;
 *   tie: for an int, how far it is from that double (|r| <= 1024, since ints
 *        past 2^53 round to doubles at most 2048 apart) and a kind bit, so
 *        ints order exactly and an int sorts before an equal double.
 */
typedef struct numkey {
	uint64_t key;
	uint16_t tie;
} numkey;

#define TIE_BIAS 0x2000

static inline numkey number_key(const dl_value *v)
{
	numkey k;
	if (v->type == DL_DOUBLE) {
		k.key = double_key(v->u.d);
		k.tie = (uint16_t)((TIE_BIAS << 1) | 1);
	} else {
		double d = (double)v->u.i;
		__int128 r = (__int128)v->u.i - (__int128)d; /* d is integral */
		k.key = double_key(d);
		k.tie = (uint16_t)(((int)r + TIE_BIAS) << 1);
	}
	return k;
}

static inline int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }
static inline int cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

static int cmp_number(const dl_value *a, const dl_value *b)
{
	if (a->type == DL_INT && b->type == DL_INT)
		return cmp_i64(a->u.i, b->u.i);
	numkey x = number_key(a), y = number_key(b);
	if (x.key != y.key)
		return cmp_u64(x.key, y.key);
	return (x.tie > y.tie) - (x.tie < y.tie);
}

/* Byte permutation that makes UTF-8 byte order equal UTF-16 code unit order
 * (Java's and JavaScript's string order): lead bytes 0xEE/0xEF (U+E000 to
 * U+FFFF) move above 0xF0..0xF4 (supplementary planes, which UTF-16 codes as
 * surrogates D800-DFFF).  It is a permutation of 0xEE..0xF4, so it stays
 * injective on arbitrary bytes. */
static inline uint8_t utf16_byte(uint8_t b)
{
	if (b < 0xEE || b > 0xF4)
		return b;
	return b >= 0xF0 ? (uint8_t)(b - 2) : (uint8_t)(b + 5);
}

static inline uint8_t utf16_unbyte(uint8_t b)
{
	if (b < 0xEE || b > 0xF4)
		return b;
	return b >= 0xF3 ? (uint8_t)(b - 5) : (uint8_t)(b + 2);
}

/* Text order (see utf16_byte); a prefix sorts first. */
static int cmp_text(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	if (n && memcmp(a, b, n) != 0) {
		size_t i = 0;
		while (a[i] == b[i])
			i++;
		return (int)utf16_byte((uint8_t)a[i]) - (int)utf16_byte((uint8_t)b[i]);
	}
	return (an > bn) - (an < bn);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return (an > bn) - (an < bn);
}

/* Split an interned name into namespace and name. */
typedef struct nameparts {
	const char *ns, *name;
	size_t ns_len, name_len;
	bool has_ns;
} nameparts;

static nameparts name_parts(uint32_t id)
{
	size_t n = 0, ns_len = 0;
	const char *s = dl_intern_name(id, &n, &ns_len);
	nameparts p = {0};
	if (!s) {
		p.name = "";
		return p;
	}
	if (ns_len) {
		p.has_ns = true;
		p.ns = s;
		p.ns_len = ns_len;
		p.name = s + ns_len + 1;
		p.name_len = n - ns_len - 1;
	} else {
		p.name = s;
		p.name_len = n;
	}
	return p;
}

static int cmp_named(uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	nameparts x = name_parts(a), y = name_parts(b);
	if (x.has_ns != y.has_ns)
		return x.has_ns ? 1 : -1;
	if (x.has_ns) {
		int c = cmp_text(x.ns, x.ns_len, y.ns, y.ns_len);
		if (c)
			return c;
	}
	return cmp_text(x.name, x.name_len, y.name, y.name_len);
}

static int cmp_seq(const dl_value *a, size_t an, const dl_value *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	for (size_t i = 0; i < n; i++) {
		int c = dl_value_compare(&a[i], &b[i]);
		if (c)
			return c;
	}
	return (an > bn) - (an < bn);
}

/* Sets and maps compare as sorted sequences (maps by entry), so the order
 * their items were written in does not matter. */
typedef struct entry_ref {
	const dl_value *v;
	size_t width; /* 1 for sets, 2 for map entries */
} entry_ref;

static int cmp_entry(const void *x, const void *y)
{
	const entry_ref *a = x, *b = y;
	return cmp_seq(a->v, a->width, b->v, b->width);
}

static entry_ref *sorted_entries(const dl_value *v, entry_ref *stack, size_t cap)
{
	size_t n = v->len, w = v->type == DL_MAP ? 2 : 1;
	entry_ref *e = n <= cap ? stack : dl_malloc(n * sizeof *e);
	if (!e)
		return NULL;
	for (size_t i = 0; i < n; i++)
		e[i] = (entry_ref){&v->u.items[i * w], w};
	qsort(e, n, sizeof *e, cmp_entry);
	return e;
}

static int cmp_unordered(const dl_value *a, const dl_value *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	entry_ref sa[32], sb[32];
	entry_ref *x = sorted_entries(a, sa, 32);
	entry_ref *y = sorted_entries(b, sb, 32);
	int c = 0;
	if (x && y) {
		for (size_t i = 0; i < a->len && !c; i++)
			c = cmp_entry(&x[i], &y[i]);
	} else {
		/* Out of memory: fall back to stored order (still a total order
		 * on the items as written). */
		size_t w = a->type == DL_MAP ? 2 : 1;
		c = cmp_seq(a->u.items, a->len * w, b->u.items, b->len * w);
	}
	if (x && x != sa)
		dl_free(x);
	if (y && y != sb)
		dl_free(y);
	return c;
}

int dl_value_compare(const dl_value *a, const dl_value *b)
{
	if (a->type != b->type) {
		int ra = k_rank[a->type], rb = k_rank[b->type];
		if (ra != rb)
			return ra < rb ? -1 : 1;
	}
	switch ((dl_type)a->type) {
	case DL_NIL:
		return 0;
	case DL_BOOL:
		return (int)a->u.b - (int)b->u.b;
	case DL_INT:
	case DL_DOUBLE:
		return cmp_number(a, b);
	case DL_INST:
	case DL_REF:
		return cmp_i64(a->u.i, b->u.i);
	case DL_CHAR:
		return (a->u.cp > b->u.cp) - (a->u.cp < b->u.cp);
	case DL_STRING:
		return cmp_text(a->u.s, a->len, b->u.s, b->len);
	case DL_BYTES:
		return cmp_bytes(a->u.s, a->len, b->u.s, b->len);
	case DL_KEYWORD:
	case DL_SYMBOL:
		return cmp_named(a->u.id, b->u.id);
	case DL_UUID:
		return memcmp(a->u.uuid, b->u.uuid, 16);
	case DL_VECTOR:
	case DL_LIST:
		return cmp_seq(a->u.items, a->len, b->u.items, b->len);
	case DL_SET:
	case DL_MAP:
		return cmp_unordered(a, b);
	case DL_TYPE_COUNT:
		break;
	}
	assert(!"bad value type");
	return 0;
}

bool dl_value_equal(const dl_value *a, const dl_value *b)
{
	if (a->type != b->type)
		return false;
	switch ((dl_type)a->type) {
	case DL_INT:
	case DL_INST:
	case DL_REF:
		return a->u.i == b->u.i;
	case DL_KEYWORD:
	case DL_SYMBOL:
		return a->u.id == b->u.id;
	case DL_STRING:
	case DL_BYTES:
		return a->len == b->len && (!a->len || memcmp(a->u.s, b->u.s, a->len) == 0);
	default:
		return dl_value_compare(a, b) == 0;
	}
}

/* ---- hashing ----------------------------------------------------------- */

static inline uint64_t mix(uint64_t h, uint64_t x)
{
	h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0xFF51AFD7ED558CCDull;
}

/* A full-avalanche 64-bit finalizer (MurmurHash3's): 8-byte values hash
 * in a few instructions, and every bit of the result depends on every bit
 * of the input, so masks of it index hash tables well. */
static inline uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xFF51AFD7ED558CCDull;
	k ^= k >> 33;
	k *= 0xC4CEB9FE1A85EC53ull;
	k ^= k >> 33;
	return k;
}

uint64_t dl_value_hash(const dl_value *v)
{
	uint64_t seed = (uint64_t)v->type * 0x100000001B3ull;
	switch ((dl_type)v->type) {
	case DL_NIL:
		return seed;
	case DL_BOOL:
		return mix(seed, v->u.b);
	case DL_INT:
	case DL_INST:
	case DL_REF:
		return fmix64((uint64_t)v->u.i ^ seed);
	case DL_DOUBLE:
		return fmix64(double_key(v->u.d) ^ seed);
	case DL_CHAR:
		return mix(seed, v->u.cp);
	case DL_KEYWORD:
	case DL_SYMBOL:
		return mix(seed, v->u.id);
	case DL_STRING:
	case DL_BYTES:
		return XXH3_64bits_withSeed(v->u.s, v->len, seed);
	case DL_UUID:
		return XXH3_64bits_withSeed(v->u.uuid, 16, seed);
	case DL_VECTOR:
	case DL_LIST: {
		uint64_t h = seed;
		for (uint32_t i = 0; i < v->len; i++)
			h = mix(h, dl_value_hash(&v->u.items[i]));
		return h;
	}
	case DL_SET:
	case DL_MAP: {
		/* order-independent: a sum of per-entry hashes */
		uint64_t h = 0;
		size_t w = v->type == DL_MAP ? 2 : 1;
		for (uint32_t i = 0; i < v->len; i++) {
			uint64_t e = dl_value_hash(&v->u.items[i * w]);
			if (w == 2)
				e = mix(e, dl_value_hash(&v->u.items[i * w + 1]));
			h += e;
		}
		return mix(seed, h);
	}
	case DL_TYPE_COUNT:
		break;
	}
	assert(!"bad value type");
	return 0;
}

int dl_value_copy(dl_value *out, dl_arena *a, const dl_value *v)
{
	*out = *v;
	out->flags &= (uint8_t)~DL_VF_PINNED; /* a copy lives in the arena */
	switch ((dl_type)v->type) {
	case DL_STRING:
	case DL_BYTES:
		if (v->len) {
			char *s = dl_arena_alloc(a, v->len);
			if (!s)
				return DL_ENOMEM;
			memcpy(s, v->u.s, v->len);
			out->u.s = s;
		}
		return 0;
	case DL_VECTOR:
	case DL_LIST:
	case DL_SET:
	case DL_MAP: {
		size_t n = (size_t)v->len * (v->type == DL_MAP ? 2 : 1);
		if (!n)
			return 0;
		dl_value *items = DL_ARENA_NEW(a, n, dl_value);
		if (!items)
			return DL_ENOMEM;
		for (size_t i = 0; i < n; i++)
			DL_TRY(dl_value_copy(&items[i], a, &v->u.items[i]));
		out->u.items = items;
		return 0;
	}
	default:
		return 0;
	}
}

/* ---- encoding ---------------------------------------------------------- */

/* Type tags, in rank order.  0x00 ends a sequence and sorts below them all. */
enum {
	TAG_END = 0x00,
	TAG_NIL = 0x10,
	TAG_BOOL,
	TAG_NUMBER,
	TAG_INST,
	TAG_STRING,
	TAG_KEYWORD,
	TAG_SYMBOL,
	TAG_UUID,
	TAG_BYTES,
	TAG_REF,
	TAG_CHAR,
	TAG_VECTOR,
	TAG_LIST,
	TAG_SET,
	TAG_MAP,
};

/* (memcpy and a byte swap compile to one load or store and a bswap) */
static inline void put_be64(uint8_t *p, uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	memcpy(p, &x, 8);
}

static inline uint64_t get_be64(const uint8_t *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* Escaped text: NUL becomes 00 FF and the end is 00 01, so a prefix sorts
 * first and embedded NULs keep their place. */
static int put_text(dl_buf *b, const char *s, size_t n, bool utf16)
{
	DL_TRY(dl_buf_reserve(b, n + n / 8 + 4));
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c == 0) {
			DL_TRY(dl_buf_reserve(b, n - i + 4));
			b->data[b->len++] = 0;
			b->data[b->len++] = (char)0xFF;
		} else {
			b->data[b->len++] = (char)(utf16 ? utf16_byte(c) : c);
		}
	}
	b->data[b->len++] = 0;
	b->data[b->len++] = 1;
	b->data[b->len] = 0;
	return 0;
}

static int put_raw(dl_buf *b, const void *p, size_t n)
{
	return dl_buf_append(b, p, n);
}

static int encode_unordered(dl_buf *b, const dl_value *v)
{
	/* Canonical: entries sorted, so equal sets encode identically. */
	entry_ref stack[32];
	entry_ref *e = sorted_entries(v, stack, 32);
	if (!e)
		return DL_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < v->len && rc == 0; i++)
		for (size_t j = 0; j < e[i].width && rc == 0; j++)
			rc = dl_value_encode(b, &e[i].v[j]);
	if (e != stack)
		dl_free(e);
	return rc;
}

int dl_value_encode(dl_buf *b, const dl_value *v)
{
	uint8_t tmp[20];
	switch ((dl_type)v->type) {
	case DL_NIL:
		tmp[0] = TAG_NIL;
		return put_raw(b, tmp, 1);
	case DL_BOOL:
		tmp[0] = TAG_BOOL;
		tmp[1] = v->u.b ? 1 : 0;
		return put_raw(b, tmp, 2);
	case DL_INT:
	case DL_DOUBLE: {
		numkey k = number_key(v);
		tmp[0] = TAG_NUMBER;
		put_be64(tmp + 1, k.key);
		tmp[9] = (uint8_t)(k.tie >> 8);
		tmp[10] = (uint8_t)k.tie;
		return put_raw(b, tmp, 11);
	}
	case DL_INST:
	case DL_REF:
		tmp[0] = v->type == DL_INST ? TAG_INST : TAG_REF;
		put_be64(tmp + 1, (uint64_t)v->u.i ^ 0x8000000000000000ull);
		return put_raw(b, tmp, 9);
	case DL_CHAR:
		tmp[0] = TAG_CHAR;
		tmp[1] = (uint8_t)(v->u.cp >> 24);
		tmp[2] = (uint8_t)(v->u.cp >> 16);
		tmp[3] = (uint8_t)(v->u.cp >> 8);
		tmp[4] = (uint8_t)v->u.cp;
		return put_raw(b, tmp, 5);
	case DL_UUID:
		tmp[0] = TAG_UUID;
		memcpy(tmp + 1, v->u.uuid, 16);
		return put_raw(b, tmp, 17);
	case DL_STRING:
	case DL_BYTES:
		tmp[0] = v->type == DL_STRING ? TAG_STRING : TAG_BYTES;
		DL_TRY(put_raw(b, tmp, 1));
		return put_text(b, v->u.s, v->len, v->type == DL_STRING);
	case DL_KEYWORD:
	case DL_SYMBOL: {
		nameparts p = name_parts(v->u.id);
		tmp[0] = v->type == DL_KEYWORD ? TAG_KEYWORD : TAG_SYMBOL;
		tmp[1] = p.has_ns ? 2 : 1;
		DL_TRY(put_raw(b, tmp, 2));
		if (p.has_ns)
			DL_TRY(put_text(b, p.ns, p.ns_len, true));
		return put_text(b, p.name, p.name_len, true);
	}
	case DL_VECTOR:
	case DL_LIST:
		tmp[0] = v->type == DL_VECTOR ? TAG_VECTOR : TAG_LIST;
		DL_TRY(put_raw(b, tmp, 1));
		for (uint32_t i = 0; i < v->len; i++)
			DL_TRY(dl_value_encode(b, &v->u.items[i]));
		tmp[0] = TAG_END;
		return put_raw(b, tmp, 1);
	case DL_SET:
	case DL_MAP:
		tmp[0] = v->type == DL_SET ? TAG_SET : TAG_MAP;
		put_be64(tmp + 1, v->len);
		DL_TRY(put_raw(b, tmp, 9));
		return encode_unordered(b, v);
	case DL_TYPE_COUNT:
		break;
	}
	assert(!"bad value type");
	return DL_EINVAL;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct decoder {
	const uint8_t *p, *end;
	dl_arena *a;
	unsigned depth;
} decoder;

#define DECODE_MAX_DEPTH 512

static int corrupt(const char *what)
{
	return dl_error(DL_ECORRUPT, "malformed value encoding: %s", what);
}

/* Decode escaped text into the arena. */
static int get_text(decoder *d, const char **out, size_t *outn, bool utf16)
{
	const uint8_t *p = d->p;
	size_t n = 0;
	for (;;) {
		if (p >= d->end)
			return corrupt("unterminated text");
		if (*p == 0) {
			if (p + 1 >= d->end)
				return corrupt("unterminated text");
			if (p[1] == 1)
				break;
			if (p[1] != 0xFF)
				return corrupt("bad escape in text");
			p += 2;
		} else {
			p++;
		}
		n++;
	}
	char *s = dl_arena_alloc(d->a, n + 1);
	if (!s)
		return DL_ENOMEM;
	size_t j = 0;
	for (const uint8_t *q = d->p; q < p;) {
		if (*q == 0) {
			s[j++] = 0;
			q += 2;
		} else {
			s[j++] = (char)(utf16 ? utf16_unbyte(*q) : *q);
			q++;
		}
	}
	s[j] = 0;
	d->p = p + 2;
	*out = s;
	*outn = n;
	return 0;
}

static int need(decoder *d, size_t n)
{
	return (size_t)(d->end - d->p) >= n ? 0 : corrupt("truncated");
}

static int decode_one(decoder *d, dl_value *out);

static int decode_items(decoder *d, dl_value *out, size_t count, bool ended)
{
	/* Collect into a growing arena array (items are few in practice). */
	size_t cap = ended ? 8 : count, n = 0;
	dl_value *items = cap ? DL_ARENA_NEW(d->a, cap, dl_value) : NULL;
	if (cap && !items)
		return DL_ENOMEM;
	for (;;) {
		if (ended) {
			DL_TRY(need(d, 1));
			if (*d->p == TAG_END) {
				d->p++;
				break;
			}
		} else if (n == count) {
			break;
		}
		if (n == cap) {
			dl_value *bigger = DL_ARENA_NEW(d->a, cap * 2, dl_value);
			if (!bigger)
				return DL_ENOMEM;
			memcpy(bigger, items, n * sizeof *items);
			items = bigger;
			cap *= 2;
		}
		DL_TRY(decode_one(d, &items[n]));
		n++;
	}
	if (n > UINT32_MAX)
		return corrupt("too many items");
	out->u.items = items;
	out->len = (uint32_t)(out->type == DL_MAP ? n / 2 : n);
	return 0;
}

static int decode_one(decoder *d, dl_value *out)
{
	DL_TRY(need(d, 1));
	uint8_t tag = *d->p++;
	memset(out, 0, sizeof *out);
	switch (tag) {
	case TAG_NIL:
		out->type = DL_NIL;
		return 0;
	case TAG_BOOL:
		DL_TRY(need(d, 1));
		if (*d->p > 1)
			return corrupt("bad boolean");
		*out = dl_bool(*d->p++ != 0);
		return 0;
	case TAG_NUMBER: {
		DL_TRY(need(d, 10));
		uint64_t key = get_be64(d->p);
		uint16_t tie = (uint16_t)(d->p[8] << 8 | d->p[9]);
		d->p += 10;
		double x = key_double(key);
		if (tie & 1) {
			if (tie != ((TIE_BIAS << 1) | 1))
				return corrupt("bad double");
			*out = dl_double(x);
			return 0;
		}
		int r = (tie >> 1) - TIE_BIAS;
		if (isnan(x) || x < -0x1p63 || x > 0x1p63 || x != floor(x))
			return corrupt("bad integer");
		__int128 i = (__int128)x + r;
		if (i < INT64_MIN || i > INT64_MAX)
			return corrupt("integer out of range");
		*out = dl_int((int64_t)i);
		return 0;
	}
	case TAG_INST:
	case TAG_REF: {
		DL_TRY(need(d, 8));
		int64_t i = (int64_t)(get_be64(d->p) ^ 0x8000000000000000ull);
		d->p += 8;
		*out = tag == TAG_INST ? dl_inst(i) : dl_ref(i);
		return 0;
	}
	case TAG_CHAR:
		DL_TRY(need(d, 4));
		*out = dl_char((uint32_t)d->p[0] << 24 | (uint32_t)d->p[1] << 16 |
			       (uint32_t)d->p[2] << 8 | d->p[3]);
		d->p += 4;
		return 0;
	case TAG_UUID:
		DL_TRY(need(d, 16));
		*out = dl_uuid(d->p);
		d->p += 16;
		return 0;
	case TAG_STRING:
	case TAG_BYTES: {
		const char *s;
		size_t n;
		DL_TRY(get_text(d, &s, &n, tag == TAG_STRING));
		if (n > UINT32_MAX)
			return corrupt("text too long");
		*out = tag == TAG_STRING ? dl_string(s, n) : dl_bytes(s, n);
		return 0;
	}
	case TAG_KEYWORD:
	case TAG_SYMBOL: {
		DL_TRY(need(d, 1));
		uint8_t has_ns = *d->p++;
		if (has_ns != 1 && has_ns != 2)
			return corrupt("bad name");
		const char *ns = NULL, *name;
		size_t ns_len = 0, name_len;
		if (has_ns == 2)
			DL_TRY(get_text(d, &ns, &ns_len, true));
		DL_TRY(get_text(d, &name, &name_len, true));
		size_t full_len = has_ns == 2 ? ns_len + 1 + name_len : name_len;
		char stack[256];
		char *full = full_len < sizeof stack ? stack : dl_arena_alloc(d->a, full_len + 1);
		if (!full)
			return DL_ENOMEM;
		if (has_ns == 2) {
			memcpy(full, ns, ns_len);
			full[ns_len] = '/';
			memcpy(full + ns_len + 1, name, name_len);
		} else {
			memcpy(full, name, name_len);
		}
		return named(out, tag == TAG_KEYWORD ? DL_KEYWORD : DL_SYMBOL, full, full_len);
	}
	case TAG_VECTOR:
	case TAG_LIST:
	case TAG_SET:
	case TAG_MAP: {
		if (++d->depth > DECODE_MAX_DEPTH)
			return corrupt("nested too deeply");
		size_t count = 0;
		bool ended = tag == TAG_VECTOR || tag == TAG_LIST;
		if (!ended) {
			DL_TRY(need(d, 8));
			uint64_t c = get_be64(d->p);
			d->p += 8;
			/* each entry takes at least one byte per item */
			uint64_t w = tag == TAG_MAP ? 2 : 1;
			if (c > UINT32_MAX || c * w > (uint64_t)(d->end - d->p))
				return corrupt("bad count");
			count = (size_t)(c * w);
		}
		out->type = tag == TAG_VECTOR ? DL_VECTOR
			  : tag == TAG_LIST ? DL_LIST
			  : tag == TAG_SET ? DL_SET : DL_MAP;
		DL_TRY(decode_items(d, out, count, ended));
		d->depth--;
		return 0;
	}
	}
	return corrupt("unknown type tag");
}

int dl_value_decode_scalar(dl_value *out, const uint8_t *p, size_t n)
{
	/* the fixed-size scalars of index keys, without the general decoder's
	 * bookkeeping (they dominate the values a query reads) */
	switch (n ? p[0] : TAG_END) {
	case TAG_NUMBER:
		if (n != 11)
			return 0;
		break;
	case TAG_INST:
	case TAG_REF:
		if (n != 9)
			return 0;
		*out = (dl_value){.type = p[0] == TAG_INST ? DL_INST : DL_REF,
				  .u.i = (int64_t)(get_be64(p + 1) ^ 0x8000000000000000ull)};
		return 1;
	default:
		return 0;
	}
	uint64_t key = get_be64(p + 1);
	uint16_t tie = (uint16_t)(p[9] << 8 | p[10]);
	double x = key_double(key);
	if (tie == ((TIE_BIAS << 1) | 1)) {
		*out = (dl_value){.type = DL_DOUBLE, .u.d = x};
		return 1;
	}
	if ((tie & 1) || !(x >= -0x1p62 && x <= 0x1p62) || x != (double)(int64_t)x)
		return 0; /* malformed, or an int near the limits: the full check */
	*out = (dl_value){.type = DL_INT, .u.i = (int64_t)x + ((int)(tie >> 1) - TIE_BIAS)};
	return 1;
}

int dl_value_decode(dl_value *out, size_t *used, dl_arena *a, const void *p, size_t n)
{
	decoder d = {p, (const uint8_t *)p + n, a, 0};
	int rc = decode_one(&d, out);
	if (rc < 0)
		return rc;
	if (used)
		*used = (size_t)(d.p - (const uint8_t *)p);
	return 0;
}
