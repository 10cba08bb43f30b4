/* Query results as EDN, JSON, CSV and aligned tables (see output.h). */
#include "output.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define FLUSH_AT (64 * 1024)

int cli_format_parse(cli_format *out, const char *name)
{
	static const char *const names[] = {"edn", "json", "csv", "table"};
	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (cli_format)i;
			return 0;
		}
	return -1;
}

cli_format cli_format_default(FILE *f)
{
	return isatty(fileno(f)) ? CLI_FMT_TABLE : CLI_FMT_EDN;
}

int cli_term_width(FILE *f)
{
	if (!isatty(fileno(f)))
		return 0;
	const char *c = getenv("COLUMNS");
	if (c && atoi(c) > 0)
		return atoi(c);
	struct winsize ws;
	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* ---- values ---------------------------------------------------------------- */

/* EDN text of a tagged scalar without its tag and quotes: #inst "x" -> x. */
static int untagged(dl_buf *b, const dl_value *v)
{
	size_t at = b->len;
	DL_TRY(dl_edn_print(b, v));
	char *q = memchr(b->data + at, '"', b->len - at);
	if (!q)
		return 0;
	size_t skip = (size_t)(q - (b->data + at)) + 1;
	memmove(b->data + at, q + 1, b->len - at - skip);
	b->len -= skip + 1; /* and the closing quote */
	b->data[b->len] = 0;
	return 0;
}

/* A number without EDN's N and M suffixes. */
static int number(dl_buf *b, const dl_value *v)
{
	dl_value x = *v;
	x.flags = 0;
	return dl_edn_print(b, &x);
}

static int json_string(dl_buf *b, const char *s, size_t n)
{
	DL_TRY(dl_buf_append(b, "\"", 1));
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		DL_TRY(dl_buf_append(b, s + run, i - run));
		run = i + 1;
		switch (c) {
		case '"': DL_TRY(dl_buf_puts(b, "\\\"")); break;
		case '\\': DL_TRY(dl_buf_puts(b, "\\\\")); break;
		case '\n': DL_TRY(dl_buf_puts(b, "\\n")); break;
		case '\t': DL_TRY(dl_buf_puts(b, "\\t")); break;
		case '\r': DL_TRY(dl_buf_puts(b, "\\r")); break;
		default: DL_TRY(dl_buf_printf(b, "\\u%04x", c)); break;
		}
	}
	DL_TRY(dl_buf_append(b, s + run, n - run));
	return dl_buf_append(b, "\"", 1);
}

/* The text of a value as a string (for JSON strings and map keys). */
static int text_of(dl_buf *b, const dl_value *v);

static int json_value(dl_buf *b, const dl_value *v)
{
	switch ((dl_type)v->type) {
	case DL_NIL: return dl_buf_puts(b, "null");
	case DL_BOOL: return dl_buf_puts(b, v->u.b ? "true" : "false");
	case DL_INT:
	case DL_REF: return number(b, v);
	case DL_DOUBLE:
		if (v->u.d != v->u.d || v->u.d - v->u.d != 0) /* NaN, infinities */
			return dl_buf_puts(b, "null");
		return number(b, v);
	case DL_STRING: return json_string(b, v->u.s, v->len);
	case DL_VECTOR:
	case DL_LIST:
	case DL_SET:
		DL_TRY(dl_buf_append(b, "[", 1));
		for (uint32_t i = 0; i < v->len; i++) {
			if (i)
				DL_TRY(dl_buf_append(b, ",", 1));
			DL_TRY(json_value(b, &v->u.items[i]));
		}
		return dl_buf_append(b, "]", 1);
	case DL_MAP:
		DL_TRY(dl_buf_append(b, "{", 1));
		for (uint32_t i = 0; i < v->len; i++) {
			if (i)
				DL_TRY(dl_buf_append(b, ",", 1));
			const dl_value *k = &v->u.items[2 * i];
			if (k->type == DL_STRING) {
				DL_TRY(json_string(b, k->u.s, k->len));
			} else {
				dl_buf t = DL_BUF_INIT;
				int rc = text_of(&t, k);
				if (rc == 0)
					rc = json_string(b, t.data ? t.data : "", t.len);
				dl_buf_free(&t);
				DL_TRY(rc);
			}
			DL_TRY(dl_buf_append(b, ":", 1));
			DL_TRY(json_value(b, &v->u.items[2 * i + 1]));
		}
		return dl_buf_append(b, "}", 1);
	default: {
		dl_buf t = DL_BUF_INIT;
		int rc = text_of(&t, v);
		if (rc == 0)
			rc = json_string(b, t.data ? t.data : "", t.len);
		dl_buf_free(&t);
		return rc;
	}
	}
}

static int text_of(dl_buf *b, const dl_value *v)
{
	switch ((dl_type)v->type) {
	case DL_NIL: return 0;
	case DL_STRING: return dl_buf_append(b, v->u.s, v->len);
	case DL_INT:
	case DL_DOUBLE:
	case DL_REF: return number(b, v);
	case DL_INST:
	case DL_UUID:
	case DL_BYTES: return untagged(b, v);
	case DL_SYMBOL: return dl_edn_print(b, v);
	case DL_CHAR: {
		char u[4];
		uint32_t c = v->u.cp;
		size_t n;
		if (c < 0x80) {
			u[0] = (char)c;
			n = 1;
		} else if (c < 0x800) {
			u[0] = (char)(0xC0 | c >> 6);
			u[1] = (char)(0x80 | (c & 63));
			n = 2;
		} else if (c < 0x10000) {
			u[0] = (char)(0xE0 | c >> 12);
			u[1] = (char)(0x80 | ((c >> 6) & 63));
			u[2] = (char)(0x80 | (c & 63));
			n = 3;
		} else {
			u[0] = (char)(0xF0 | c >> 18);
			u[1] = (char)(0x80 | ((c >> 12) & 63));
			u[2] = (char)(0x80 | ((c >> 6) & 63));
			u[3] = (char)(0x80 | (c & 63));
			n = 4;
		}
		return dl_buf_append(b, u, n);
	}
	default: return dl_edn_print(b, v); /* keywords (with ':'), booleans, collections */
	}
}

int cli_format_value(dl_buf *b, const dl_value *v, cli_format fmt)
{
	switch (fmt) {
	case CLI_FMT_JSON: return json_value(b, v);
	case CLI_FMT_CSV:
	case CLI_FMT_TABLE: return text_of(b, v);
	default: return dl_edn_print(b, v);
	}
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct out {
	FILE *f;
	dl_buf b;
	int rc;
} out;

static int out_flush(out *o)
{
	if (o->b.len && fwrite(o->b.data, 1, o->b.len, o->f) != o->b.len && !o->rc)
		o->rc = dl_error(DL_EIO, "writing the result failed");
	o->b.len = 0;
	return o->rc;
}

static int out_maybe_flush(out *o) { return o->b.len >= FLUSH_AT ? out_flush(o) : 0; }

static const dl_value *cell(const dl_qresult *r, size_t row, uint32_t col)
{
	return &r->rows[row * r->ncols + col];
}

/* The name of column c for a header or a map key (without ':'). */
static const char *col_name(const dl_qresult *r, uint32_t c)
{
	if (r->keys_kind != DL_KEYS_NONE && r->keys && r->keys[c])
		return r->keys[c];
	return r->colnames && r->colnames[c] ? r->colnames[c] : "?";
}

/* A map key of a :keys/:strs/:syms row, in EDN or JSON. */
static int map_key(dl_buf *b, const dl_qresult *r, uint32_t c, cli_format fmt)
{
	const char *k = col_name(r, c);
	if (fmt == CLI_FMT_JSON) {
		if (r->keys_kind == DL_KEYS_KEYS) {
			dl_buf t = DL_BUF_INIT;
			int rc = dl_buf_printf(&t, ":%s", k);
			if (rc == 0)
				rc = json_string(b, t.data, t.len);
			dl_buf_free(&t);
			return rc;
		}
		return json_string(b, k, strlen(k));
	}
	switch (r->keys_kind) {
	case DL_KEYS_KEYS: return dl_buf_printf(b, ":%s", k);
	case DL_KEYS_STRS: {
		dl_value s = dl_string(k, strlen(k));
		return dl_edn_print(b, &s);
	}
	default: return dl_buf_puts(b, k);
	}
}

/* Row i as an EDN/JSON vector or map. */
static int print_row(dl_buf *b, const dl_qresult *r, size_t i, cli_format fmt)
{
	bool map = r->keys_kind != DL_KEYS_NONE;
	bool json = fmt == CLI_FMT_JSON;
	DL_TRY(dl_buf_puts(b, map ? "{" : "["));
	for (uint32_t c = 0; c < r->ncols; c++) {
		if (c)
			DL_TRY(dl_buf_puts(b, json ? "," : " "));
		if (map) {
			DL_TRY(map_key(b, r, c, fmt));
			DL_TRY(dl_buf_puts(b, json ? ":" : " "));
		}
		DL_TRY(cli_format_value(b, cell(r, i, c), fmt));
	}
	return dl_buf_puts(b, map ? "}" : "]");
}

static int print_structured(out *o, const dl_qresult *r, cli_format fmt)
{
	bool json = fmt == CLI_FMT_JSON;
	dl_buf *b = &o->b;
	switch (r->find_spec) {
	case DL_FIND_SCALAR:
		if (!r->nrows)
			return dl_buf_puts(b, json ? "null\n" : "nil\n");
		DL_TRY(cli_format_value(b, cell(r, 0, 0), fmt));
		return dl_buf_puts(b, "\n");
	case DL_FIND_TUPLE:
		if (!r->nrows)
			return dl_buf_puts(b, json ? "null\n" : "nil\n");
		DL_TRY(print_row(b, r, 0, fmt));
		return dl_buf_puts(b, "\n");
	case DL_FIND_COLL:
		DL_TRY(dl_buf_puts(b, "["));
		for (size_t i = 0; i < r->nrows; i++) {
			if (i)
				DL_TRY(dl_buf_puts(b, json ? ", " : " "));
			DL_TRY(cli_format_value(b, cell(r, i, 0), fmt));
			DL_TRY(out_maybe_flush(o));
		}
		return dl_buf_puts(b, "]\n");
	default: {
		const char *open = json || r->ordered ? "[" : "#{";
		const char *close = json || r->ordered ? "]" : "}";
		DL_TRY(dl_buf_puts(b, open));
		for (size_t i = 0; i < r->nrows; i++) {
			if (i)
				DL_TRY(dl_buf_puts(b, json ? ",\n " : "\n "));
			DL_TRY(print_row(b, r, i, fmt));
			DL_TRY(out_maybe_flush(o));
		}
		DL_TRY(dl_buf_puts(b, close));
		return dl_buf_puts(b, "\n");
	}
	}
}

/* ---- CSV ------------------------------------------------------------------------ */

static int csv_field(dl_buf *b, const char *s, size_t n, bool is_nil)
{
	bool quote = !is_nil && n == 0; /* "" is an empty string, nothing is nil */
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quote)
		return dl_buf_append(b, s, n);
	DL_TRY(dl_buf_append(b, "\"", 1));
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		DL_TRY(dl_buf_append(b, s + run, i + 1 - run));
		DL_TRY(dl_buf_append(b, "\"", 1));
		run = i + 1;
	}
	DL_TRY(dl_buf_append(b, s + run, n - run));
	return dl_buf_append(b, "\"", 1);
}

static int csv_cell(dl_buf *b, dl_buf *tmp, const dl_value *v)
{
	tmp->len = 0;
	DL_TRY(text_of(tmp, v));
	return csv_field(b, tmp->data ? tmp->data : "", tmp->len, v->type == DL_NIL);
}

/* The rows as a table of values: a scalar or tuple is one row, a
 * collection one row per value (always one column). */
static size_t table_rows(const dl_qresult *r)
{
	if (r->find_spec == DL_FIND_SCALAR || r->find_spec == DL_FIND_TUPLE)
		return r->nrows ? 1 : 0;
	return r->nrows;
}

static uint32_t table_cols(const dl_qresult *r)
{
	return r->find_spec == DL_FIND_SCALAR || r->find_spec == DL_FIND_COLL ? 1 : r->ncols;
}

static int print_csv(out *o, const dl_qresult *r)
{
	dl_buf tmp = DL_BUF_INIT;
	int rc = 0;
	uint32_t nc = table_cols(r);
	size_t nr = table_rows(r);
	for (uint32_t c = 0; c < nc && !rc; c++) {
		const char *h = col_name(r, c);
		if (c)
			rc = dl_buf_append(&o->b, ",", 1);
		if (!rc)
			rc = csv_field(&o->b, h, strlen(h), false);
	}
	if (!rc)
		rc = dl_buf_append(&o->b, "\n", 1);
	for (size_t i = 0; i < nr && !rc; i++) {
		for (uint32_t c = 0; c < nc && !rc; c++) {
			if (c)
				rc = dl_buf_append(&o->b, ",", 1);
			if (!rc)
				rc = csv_cell(&o->b, &tmp, cell(r, i, c));
		}
		if (!rc)
			rc = dl_buf_append(&o->b, "\n", 1);
		if (!rc)
			rc = out_maybe_flush(o);
	}
	dl_buf_free(&tmp);
	return rc;
}

/* ---- tables ---------------------------------------------------------------------- */

/* Display columns of one code point: 0 for combining marks, 2 for East
 * Asian wide and emoji ranges, 1 otherwise (a close enough wcwidth that
 * does not depend on the locale). */
static int cp_width(uint32_t c)
{
	if ((c >= 0x300 && c <= 0x36F) || (c >= 0x200B && c <= 0x200F) || c == 0xFE0F)
		return 0;
	if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF && c != 0x303F) ||
	    (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
	    (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
	    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
	    (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD))
		return 2;
	return 1;
}

/* Decode one UTF-8 sequence at s (n > 0 bytes left); *len gets its length.
 * Malformed bytes count as one code point each. */
static uint32_t utf8_next(const char *s, size_t n, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k = u[0] < 0x80 ? 1 : u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC0 ? 2 : 1;
	if (k > n)
		k = 1;
	for (size_t i = 1; i < k; i++)
		if ((u[i] & 0xC0) != 0x80)
			k = 1;
	*len = k;
	if (k == 1)
		return u[0];
	uint32_t c = u[0] & (0x7F >> k);
	for (size_t i = 1; i < k; i++)
		c = c << 6 | (u[i] & 63);
	return c;
}

static size_t text_width(const char *s, size_t n)
{
	size_t w = 0, k;
	for (size_t i = 0; i < n; i += k)
		w += (size_t)cp_width(utf8_next(s + i, n - i, &k));
	return w;
}

/* A cell's text for a table: control characters become visible escapes,
 * so one cell stays on one line. */
static int table_text(dl_buf *b, dl_buf *tmp, const dl_value *v)
{
	tmp->len = 0;
	DL_TRY(text_of(tmp, v));
	for (size_t i = 0; i < tmp->len; i++) {
		unsigned char c = (unsigned char)tmp->data[i];
		if (c >= 0x20 && c != 0x7F) {
			DL_TRY(dl_buf_append(b, &tmp->data[i], 1));
			continue;
		}
		switch (c) {
		case '\n': DL_TRY(dl_buf_puts(b, "\\n")); break;
		case '\t': DL_TRY(dl_buf_puts(b, "\\t")); break;
		case '\r': DL_TRY(dl_buf_puts(b, "\\r")); break;
		default: DL_TRY(dl_buf_printf(b, "\\x%02x", c)); break;
		}
	}
	return 0;
}

/* Append s (n bytes, display width w) fitted to width `col`: cut with "…"
 * when wider, padded left or right when narrower. */
static int fit_cell(dl_buf *b, const char *s, size_t n, size_t w, size_t col, bool right)
{
	if (w > col) {
		size_t used = 0, i = 0, k;
		while (i < n) {
			int cw = cp_width(utf8_next(s + i, n - i, &k));
			if (used + (size_t)cw + 1 > col)
				break;
			used += (size_t)cw;
			i += k;
		}
		DL_TRY(dl_buf_append(b, s, i));
		if (col)
			DL_TRY(dl_buf_puts(b, "\xE2\x80\xA6")); /* … */
		for (size_t p = used + (col ? 1 : 0); p < col; p++)
			DL_TRY(dl_buf_append(b, " ", 1));
		return 0;
	}
	for (size_t p = w; right && p < col; p++)
		DL_TRY(dl_buf_append(b, " ", 1));
	DL_TRY(dl_buf_append(b, s, n));
	for (size_t p = w; !right && p < col; p++)
		DL_TRY(dl_buf_append(b, " ", 1));
	return 0;
}

/* Narrow the widest columns until the row fits `avail` display columns:
 * find the largest cap c with sum(min(w, c)) <= avail, then hand what is
 * left over to the columns that were capped, one each. */
static void fit_widths(size_t *w, uint32_t nc, size_t avail)
{
	size_t total = 0, maxw = 0;
	for (uint32_t c = 0; c < nc; c++) {
		total += w[c];
		if (w[c] > maxw)
			maxw = w[c];
	}
	if (total <= avail)
		return;
	size_t lo = 1, hi = maxw;
	while (lo < hi) {
		size_t mid = (lo + hi + 1) / 2, s = 0;
		for (uint32_t c = 0; c < nc; c++)
			s += w[c] < mid ? w[c] : mid;
		if (s <= avail)
			lo = mid;
		else
			hi = mid - 1;
	}
	size_t s = 0;
	for (uint32_t c = 0; c < nc; c++) {
		if (w[c] > lo)
			w[c] = lo;
		s += w[c];
	}
	for (uint32_t c = 0; c < nc && s < avail; c++)
		if (w[c] == lo) {
			w[c]++;
			s++;
		}
}

static bool is_number(const dl_value *v)
{
	return v->type == DL_INT || v->type == DL_DOUBLE || v->type == DL_REF;
}

static int print_table(out *o, const dl_qresult *r, int term_width)
{
	uint32_t nc = table_cols(r);
	size_t nr = table_rows(r);
	int rc = 0;
	/* every cell's text, then its offset and width */
	dl_buf text = DL_BUF_INIT, tmp = DL_BUF_INIT;
	size_t ncell = (nr + 1) * nc;
	size_t *off = calloc(ncell + 1, sizeof *off), *cw = calloc(ncell, sizeof *cw);
	size_t *w = calloc(nc ? nc : 1, sizeof *w);
	bool *right = calloc(nc ? nc : 1, sizeof *right);
	if (!off || !cw || !w || !right) {
		rc = dl_error(DL_ENOMEM, "out of memory");
		goto done;
	}
	for (uint32_t c = 0; c < nc; c++) {
		right[c] = nr > 0;
		for (size_t i = 0; i < nr && right[c]; i++) {
			const dl_value *v = cell(r, i, c);
			right[c] = is_number(v) || v->type == DL_NIL;
		}
	}
	for (size_t k = 0; k < ncell && !rc; k++) {
		size_t i = k / nc;
		uint32_t c = (uint32_t)(k % nc);
		off[k] = text.len;
		if (i == 0) {
			const char *h = col_name(r, c);
			rc = dl_buf_append(&text, h, strlen(h));
		} else {
			rc = table_text(&text, &tmp, cell(r, i - 1, c));
		}
		cw[k] = text_width(text.data + off[k], text.len - off[k]);
		if (cw[k] > w[c])
			w[c] = cw[k];
	}
	off[ncell] = text.len;
	if (rc)
		goto done;
	if (term_width > 0 && nc) {
		size_t overhead = 3 * (size_t)nc - 1; /* " a | b " */
		size_t avail = (size_t)term_width > overhead + nc ? (size_t)term_width - overhead : nc;
		fit_widths(w, nc, avail);
	}
	dl_buf *b = &o->b;
	for (size_t i = 0; i <= nr && !rc; i++) {
		for (uint32_t c = 0; c < nc && !rc; c++) {
			size_t k = i * nc + c;
			rc = dl_buf_puts(b, c ? " | " : " ");
			if (!rc)
				rc = fit_cell(b, text.data + off[k], off[k + 1] - off[k], cw[k], w[c],
					      i > 0 && right[c]);
		}
		while (b->len && b->data[b->len - 1] == ' ') /* no trailing blanks */
			b->len--;
		if (!rc)
			rc = dl_buf_puts(b, "\n");
		if (!rc && i == 0) {
			for (uint32_t c = 0; c < nc && !rc; c++) {
				if (c)
					rc = dl_buf_puts(b, "+");
				for (size_t p = 0; p < w[c] + 2 && !rc; p++)
					rc = dl_buf_append(b, "-", 1);
			}
			if (!rc)
				rc = dl_buf_puts(b, "\n");
		}
		if (!rc)
			rc = out_maybe_flush(o);
	}
	if (!rc)
		rc = dl_buf_printf(b, "(%zu row%s)\n", nr, nr == 1 ? "" : "s");
done:
	free(off);
	free(cw);
	free(w);
	free(right);
	dl_buf_free(&text);
	dl_buf_free(&tmp);
	return rc;
}

/* ---- entry point ---------------------------------------------------------------- */

int cli_print_result(FILE *f, const dl_qresult *r, cli_format fmt, int term_width)
{
	out o = {f, DL_BUF_INIT, 0};
	int rc;
	switch (fmt) {
	case CLI_FMT_CSV: rc = print_csv(&o, r); break;
	case CLI_FMT_TABLE: rc = print_table(&o, r, term_width); break;
	default: rc = print_structured(&o, r, fmt); break;
	}
	if (rc == 0)
		rc = out_flush(&o);
	if (rc == 0 && fflush(f) != 0)
		rc = dl_error(DL_EIO, "writing the result failed");
	dl_buf_free(&o.b);
	return rc;
}
