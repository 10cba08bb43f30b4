/*
 * Private helpers shared by the EDN reader (edn_read.c) and printer
 * (edn_print.c): UTF-8, calendar arithmetic for #inst, base64 for #bytes and
 * the "C" locale that number conversion must use whatever the process set.
 */
#ifndef DL_EDN_INT_H
#define DL_EDN_INT_H

#include "value.h"

#include <locale.h>

/* The "C" locale (or (locale_t)0 if it cannot be had): strtod and printf
 * follow LC_NUMERIC, and a program that calls setlocale() must not change
 * what "1.5" means. */
locale_t dl_edn_c_locale(void);

#define DL_MS_PER_DAY 86400000LL

/* Decode one UTF-8 sequence at s (n > 0 bytes available).  Returns its
 * length and sets *cp, or 0 when the bytes are not well-formed UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF are refused). */
static inline size_t dl_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		if (n < 2 || (s[1] & 0xC0) != 0x80)
			return 0;
		*cp = ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
		return 2;
	}
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		uint32_t x = ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
		if (x < 0x800 || (x >= 0xD800 && x <= 0xDFFF))
			return 0;
		*cp = x;
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		uint32_t x = ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) |
			     ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
		if (x < 0x10000 || x > 0x10FFFF)
			return 0;
		*cp = x;
		return 4;
	}
	return 0;
}

/* Encode code point cp (a Unicode scalar value) at out; returns the length. */
static inline size_t dl_utf8_encode(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Proleptic Gregorian calendar <-> days since 1970-01-01, for any year an
 * int64 of milliseconds can reach (H. Hinnant's algorithms). */
static inline int64_t dl_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static inline void dl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static const char dl_base64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#endif
