/*
 * Index key codecs: the key form of a value (inline encoding, or prefix +
 * hash with the whole encoding in `blobs`), building and splitting the keys
 * of every index, and a value decoder that lends string bytes straight out
 * of LMDB's memory when they need no unescaping.
 */
#include "store_int.h"
#include "value/value.h"

#include <xxhash.h>

/* Tags of the value encoding (src/value/value.c). */
enum { TAG_STRING = 0x14, TAG_BYTES = 0x18, TAG_REF = 0x19 };

static int put_blob(dl_wtxn *w, const uint8_t *hash, const void *enc, size_t n)
{
	MDB_val k = {16, (void *)hash}, d = {n, (void *)enc};
	DL_TRY(dl_wtxn_charge(w, 16 + n));
	int rc = mdb_put(w->snap.txn, w->snap.s->dbi[DB_BLOBS], &k, &d, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return 0; /* content-addressed: same hash, same bytes */
	return rc ? dl_mdb_err(rc, "writing a long value") : 0;
}

int dl_vkey(uint8_t *out, size_t *len, dl_buf *enc, const dl_value *v, dl_wtxn *w)
{
	enc->len = 0;
	DL_TRY(dl_value_encode(enc, v));
	if (DL_LIKELY(enc->len < DL_KEY_VALUE_INLINE_MAX)) {
		memcpy(out, enc->data, enc->len);
		*len = enc->len;
		return 0;
	}
	XXH128_hash_t h = XXH3_128bits(enc->data, enc->len);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(out, enc->data, DL_KEY_VALUE_PREFIX);
	memcpy(out + DL_KEY_VALUE_PREFIX, c.digest, 16);
	*len = DL_KEY_VALUE_OOL;
	if (w)
		DL_TRY(put_blob(w, c.digest, enc->data, enc->len));
	return 0;
}

int dl_vkey_full(dl_snap *snap, const uint8_t *vk, size_t vlen, const uint8_t **full,
		 size_t *flen)
{
	if (vlen < DL_KEY_VALUE_OOL) {
		*full = vk;
		*flen = vlen;
		return 0;
	}
	MDB_val k = {16, (void *)(vk + DL_KEY_VALUE_PREFIX)}, d;
	int rc = mdb_get(snap->txn, snap->s->dbi[DB_BLOBS], &k, &d);
	if (rc == MDB_NOTFOUND)
		return dl_error(DL_ECORRUPT, "a long value's blob is missing");
	if (rc)
		return dl_mdb_err(rc, "reading a long value");
	if (d.mv_size < DL_KEY_VALUE_INLINE_MAX ||
	    memcmp(d.mv_data, vk, DL_KEY_VALUE_PREFIX) != 0)
		return dl_error(DL_ECORRUPT, "a long value's blob does not match its key");
	*full = d.mv_data;
	*flen = d.mv_size;
	return 0;
}

int dl_value_decode_fast(dl_value *out, dl_arena *a, const uint8_t *p, size_t n,
			 bool borrow)
{
	if (dl_value_decode_scalar(out, p, n))
		return 0;
	if (borrow && n >= 3 && (p[0] == TAG_STRING || p[0] == TAG_BYTES) &&
	    p[n - 2] == 0 && p[n - 1] == 1) {
		/* No escapes and (for strings) no remapped lead bytes: the
		 * encoded bytes are the string's bytes. */
		const uint8_t *s = p + 1, *e = p + n - 2;
		bool clean = memchr(s, 0, (size_t)(e - s)) == NULL;
		if (clean && p[0] == TAG_STRING)
			for (const uint8_t *q = s; q < e; q++)
				if (*q >= 0xEE) {
					clean = false;
					break;
				}
		if (clean) {
			size_t len = (size_t)(e - s);
			*out = p[0] == TAG_STRING ? dl_string((const char *)s, len)
						  : dl_bytes(s, len);
			out->flags |= DL_VF_PINNED;
			return 0;
		}
	}
	size_t used = 0;
	int rc = dl_value_decode(out, &used, a, p, n);
	if (rc < 0)
		return rc;
	if (used != n)
		return dl_error(DL_ECORRUPT, "malformed value encoding: trailing bytes");
	return 0;
}

size_t dl_key_build(uint8_t *k, dl_index idx, int64_t e, uint32_t a, const uint8_t *vk,
		    size_t vlen)
{
	switch (idx) {
	case DL_EAVT:
		dl_put_be64(k, (uint64_t)e);
		dl_put_be32(k + 8, a);
		memcpy(k + 12, vk, vlen);
		return 12 + vlen;
	case DL_AEVT:
		dl_put_be32(k, a);
		dl_put_be64(k + 4, (uint64_t)e);
		memcpy(k + 12, vk, vlen);
		return 12 + vlen;
	case DL_AVET:
		dl_put_be32(k, a);
		memcpy(k + 4, vk, vlen);
		dl_put_be64(k + 4 + vlen, (uint64_t)e);
		return 12 + vlen;
	case DL_VAET:
		memcpy(k, vk, 8);
		dl_put_be32(k + 8, a);
		dl_put_be64(k + 12, (uint64_t)e);
		return 20;
	default:
		break;
	}
	assert(!"bad index");
	return 0;
}

int dl_kparts_value(dl_value *out, dl_snap *snap, dl_arena *a, dl_index idx,
		    const dl_kparts *p, bool borrow)
{
	if (idx == DL_VAET) {
		*out = dl_ref((int64_t)dl_get_be64(p->v));
		return 0;
	}
	const uint8_t *full;
	size_t flen;
	DL_TRY(dl_vkey_full(snap, p->v, p->vlen, &full, &flen));
	return dl_value_decode_fast(out, a, full, flen, borrow);
}
