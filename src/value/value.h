/*
 * value: the value model's internal interface.  The public half (types,
 * compare, hash, encode) is in datalite.h.
 */
#ifndef DL_VALUE_H
#define DL_VALUE_H

#include "base.h"

/* Rank of a type in the total order (int and double share one). */
int dl_value_rank(dl_type t);

/* True for the types a datom can hold (tuples: vectors of these). */
static inline bool dl_value_is_scalar(const dl_value *v)
{
	return v->type != DL_NIL && v->type != DL_CHAR && v->type < DL_VECTOR;
}

/* Decode an encoded int, double, instant or ref of exactly n bytes: 1 done,
 * 0 not one of those (use dl_value_decode). */
int dl_value_decode_scalar(dl_value *out, const uint8_t *p, size_t n);

#endif
