/* Growable byte buffers for printing and key building. */
#include "base.h"

#include <stdio.h>
#include <string.h>

int dl_buf_reserve(dl_buf *b, size_t extra)
{
	if (DL_LIKELY(b->cap - b->len > extra))
		return 0;
	size_t need = b->len + extra + 1;
	if (need < b->len)
		return dl_error(DL_ENOMEM, "out of memory (buffer size overflows)");
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap * 2 > cap ? cap * 2 : need;
	char *d = dl_realloc(b->data, cap);
	if (!d)
		return DL_ENOMEM;
	b->data = d;
	b->cap = cap;
	return 0;
}

int dl_buf_append(dl_buf *b, const void *p, size_t n)
{
	DL_TRY(dl_buf_reserve(b, n));
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int dl_buf_puts(dl_buf *b, const char *s) { return dl_buf_append(b, s, strlen(s)); }

int dl_buf_printf(dl_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char small[128];
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return dl_error(DL_EINVAL, "bad format string");
	if ((size_t)n < sizeof small)
		return dl_buf_append(b, small, (size_t)n);
	DL_TRY(dl_buf_reserve(b, (size_t)n));
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void dl_buf_free(dl_buf *b)
{
	dl_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
