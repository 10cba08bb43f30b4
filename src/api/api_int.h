/*
 * api: the public database API (datalite.h, "Databases") over storage
 * (src/storage) and the transaction processor (src/tx), and the bulk
 * importer behind dl_db_import and `datalite import`.
 *
 * The structs are here so the rest of the library (and the CLI) can reach
 * the store and snapshot underneath a public handle; applications only see
 * the opaque names.
 */
#ifndef DL_API_INT_H
#define DL_API_INT_H

#include "base.h"
#include "storage/store.h"
#include "tx/tx.h"

struct dl_db {
	dl_store *store;
};

struct dl_snapshot {
	dl_db *db;
	dl_snap *snap;
	dl_view view;      /* resolved: t is a tx id */
	dl_db_view pview;  /* as asked, with t resolved */
	const dl_schema *schema;
	dl_arena arena;    /* attribute table, docs */
	dl_db_attr *attrs; /* built on first dl_snapshot_attrs */
	size_t nattrs;
};

/* The storage objects under the public handles, for the query engine and
 * the CLI (valid as long as the handle). */
dl_store *dl_db_store(dl_db *db);
dl_snap *dl_snapshot_snap(dl_snapshot *s);
const dl_schema *dl_snapshot_schema(dl_snapshot *s);
/* The storage view of a snapshot (t is a tx id). */
dl_view dl_snapshot_store_view(const dl_snapshot *s);

/* Resolve a public view (t as tx id, tx number or instant) in snap. */
int dl_api_resolve_view(dl_view *out, dl_snap *snap, const dl_db_view *v);

/* The attribute keyword of id `a` as a value (DL_INT of a if it has none). */
dl_value dl_api_attr_value(const dl_schema *s, int64_t a);

/* Skip whitespace, commas and ; comments like the EDN reader, keeping the
 * reader's line and column. */
void dl_api_skip_ws(dl_edn_reader *r);

/* ---- the bulk importer ------------------------------------------------- */

/*
 * An import session applies several inputs (EDN texts, CSV files) in order
 * through one bulk writer, so small inputs share transactions and CSV row
 * ids stay meaningful across files.  The session is one storage write
 * transaction: dl_imp_begin, dl_imp_edn/dl_imp_csv per input, then
 * dl_imp_finish commits everything; after an error (syntax errors
 * included) nothing is written and the session only takes dl_imp_stat and
 * dl_imp_free.  dl_imp_free always (it aborts what was not committed).
 */
typedef struct dl_imp dl_imp;

/* CSV column mapping (see dl_imp_csv_map). */
typedef enum dl_csv_kind {
	DL_CSV_SKIP = 0, /* ignored */
	DL_CSV_ATTR,     /* a value of `attr` */
	DL_CSV_ID,       /* the row's entity: an id shared by every CSV of the session
			    (a ref attribute's cell names such an id) */
	DL_CSV_LOOKUP    /* a ref through the lookup ref [lookup cell] */
} dl_csv_kind;

typedef struct dl_csv_col {
	uint8_t kind;   /* dl_csv_kind */
	int8_t type;    /* dl_vtype to parse the cell as; -1: the attribute's */
	uint32_t attr;  /* keyword intern id */
	uint32_t lookup;/* keyword intern id (DL_CSV_LOOKUP) */
} dl_csv_col;

typedef struct dl_csv_map {
	bool header;       /* the first row names the columns */
	size_t ncols;      /* columns described (by position) */
	dl_csv_col *cols;
	/* by header name, resolved against the header row when `header` */
	size_t nnamed;
	char **names;
	dl_csv_col *named;
	dl_arena arena;
} dl_csv_map;

/* Parse a mapping (EDN text, see `datalite import --help`) into *m.
 * Errors name "source:line:col". */
int dl_imp_csv_map(dl_csv_map *m, const char *text, size_t len, const char *source);
void dl_csv_map_free(dl_csv_map *m);

int dl_imp_begin(dl_imp **out, dl_db *db, const dl_import_opts *opts, uint64_t bytes_total);
int dl_imp_edn(dl_imp *im, const char *text, size_t len, const char *source);
/* map NULL: the header row names the attributes (":ns/name" or "ns/name",
 * ":db/id" for the row id). */
int dl_imp_csv(dl_imp *im, const char *text, size_t len, const char *source,
	       const dl_csv_map *map);
/* Commit the whole session; *out (may be NULL) gets the figures. */
int dl_imp_finish(dl_imp *im, dl_import_stat *out);
/* The figures so far (also after a failure). */
void dl_imp_stat(const dl_imp *im, dl_import_stat *out);
void dl_imp_free(dl_imp *im);

#endif
