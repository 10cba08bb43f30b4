/* Per-thread error state: a code and a message, like errno plus strerror but
 * with the specific problem and its position spelled out. */
#include "base.h"

#include <stdio.h>
#include <string.h>

#define DL_ERRMSG_MAX 1024

static _Thread_local int t_code;
static _Thread_local char t_msg[DL_ERRMSG_MAX];

const char *dl_version(void) { return DL_VERSION_STRING; }

const char *dl_errmsg(void) { return t_msg; }
int dl_errcode_last(void) { return t_code; }

void dl_error_clear(void)
{
	t_code = DL_OK;
	t_msg[0] = 0;
}

const char *dl_errstr(int code)
{
	switch (code) {
	case DL_OK: return "ok";
	case DL_ENOMEM: return "out of memory";
	case DL_ESYNTAX: return "syntax error";
	case DL_EINVAL: return "invalid input";
	case DL_ETYPE: return "type error";
	case DL_ENOTFOUND: return "not found";
	case DL_ECONFLICT: return "conflict";
	case DL_ELIMIT: return "limit exceeded";
	case DL_EIO: return "I/O error";
	case DL_ECORRUPT: return "database corrupt";
	case DL_EFULL: return "database full";
	case DL_EBUSY: return "database busy";
	case DL_ETIMEOUT: return "timeout";
	case DL_ECANCELED: return "canceled";
	}
	return "unknown error";
}

int dl_verror(int code, const char *fmt, va_list ap)
{
	t_code = code;
	vsnprintf(t_msg, sizeof t_msg, fmt, ap);
	return code;
}

int dl_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	dl_verror(code, fmt, ap);
	va_end(ap);
	return code;
}

void dl_error_prefix(const char *fmt, ...)
{
	char pre[256], old[DL_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, t_msg, sizeof old);
	size_t n = strlen(pre);
	if (n > sizeof t_msg - 3)
		n = sizeof t_msg - 3;
	memcpy(t_msg, pre, n);
	t_msg[n] = ':';
	t_msg[n + 1] = ' ';
	size_t room = sizeof t_msg - n - 3, m = strlen(old);
	if (m > room)
		m = room;
	memcpy(t_msg + n + 2, old, m);
	t_msg[n + 2 + m] = 0;
}
