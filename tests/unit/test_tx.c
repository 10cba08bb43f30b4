/* The transaction processor and the schema: every tx form, every error (and
 * that an error leaves the database exactly as it was), schema enforcement
 * and changes, upserts, unique conflicts, cas, retractEntity, history and
 * as-of views, txInstant, tempids and allocation failure.
 *
 * Most cases are data: a setup, one transaction, and either the datoms it
 * must write (rendered with entity names, see render()) or the error it must
 * fail with. */
#include "testutil.h"

#include "tx/tx.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixtures ------------------------------------------------------------- */

static char g_dir[512];
static int g_dbn;

static void mkdirs(const char *path)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static dl_store *open_db(const char *name)
{
	char path[600], lock[640];
	snprintf(path, sizeof path, "%s/tx_%d_%s.db", g_dir, g_dbn++, name);
	snprintf(lock, sizeof lock, "%s-lock", path);
	unlink(path);
	unlink(lock);
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.sync = 0;
	o.map_size = (size_t)1 << 30; /* valgrind cannot map the default 64 GiB */
	dl_store *s = NULL;
	int rc = dl_store_open(&s, path, &o);
	if (rc)
		fail_msg("open %s: %s", path, dl_errmsg());
	return s;
}

/* Names for entities, gathered from the tempids of every transaction of a
 * test, so that cases can say "ann" for the entity of tempid "ann". */
typedef struct names {
	char name[64][32];
	int64_t e[64];
	int n;
} names;

static void names_add(names *nm, const dl_tx_report *r)
{
	for (size_t i = 0; i < r->ntempids && nm->n < 64; i++) {
		const dl_value *t = &r->tempids[i].tempid;
		char *s = t->type == DL_STRING ? NULL : tu_print(t);
		if (t->type == DL_STRING)
			snprintf(nm->name[nm->n], 32, "%.*s", (int)t->len, t->u.s);
		else
			snprintf(nm->name[nm->n], 32, "%s", s);
		free(s);
		nm->e[nm->n++] = r->tempids[i].e;
	}
}

static const char *names_find(const names *nm, int64_t e)
{
	for (int i = 0; i < nm->n; i++)
		if (nm->e[i] == e)
			return nm->name[i];
	return NULL;
}

/* "$ann" in tx text becomes ann's entity id. */
static char *subst(const names *nm, const char *text)
{
	dl_buf b = DL_BUF_INIT;
	for (const char *p = text; *p;) {
		if (*p == '$') {
			const char *q = p + 1;
			while (*q && (*q == '_' || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')))
				q++;
			int found = 0;
			for (int i = 0; i < nm->n; i++) {
				if (strlen(nm->name[i]) == (size_t)(q - p - 1) &&
				    !memcmp(nm->name[i], p + 1, (size_t)(q - p - 1))) {
					dl_buf_printf(&b, "%lld", (long long)nm->e[i]);
					found = 1;
					break;
				}
			}
			if (!found)
				fail_msg("unknown name in %s", text);
			p = q;
		} else {
			dl_buf_append(&b, p++, 1);
		}
	}
	dl_buf_append(&b, "", 1);
	char *s = strdup(b.data);
	dl_buf_free(&b);
	return s;
}

static int run_tx(dl_store *s, dl_arena *a, names *nm, const char *text, dl_tx_report *r)
{
	char *t = subst(nm, text);
	dl_value v = tu_edn(a, t);
	free(t);
	dl_tx_opts o = DL_TX_OPTS_INIT;
	int rc = dl_tx_run(r, a, s, &v, &o);
	if (rc == 0)
		names_add(nm, r);
	return rc;
}

static void tx_ok(dl_store *s, dl_arena *a, names *nm, const char *text, dl_tx_report *r)
{
	dl_tx_report tmp;
	int rc = run_tx(s, a, nm, text, r ? r : &tmp);
	if (rc)
		fail_msg("tx %s failed: %s", text, dl_errmsg());
}

/* Render an entity: "tx", a tempid name, an ident, "#n" for the n-th
 * anonymous new entity of the report, or the number. */
typedef struct rctx {
	const names *nm;
	const dl_schema *sch;
	const dl_tx_report *r;
	int64_t anon[64];
	int nanon;
} rctx;

static void render_e(dl_buf *b, rctx *c, int64_t e, bool attr)
{
	const char *n;
	uint32_t kw;
	if (e == c->r->tx) {
		dl_buf_puts(b, "tx");
	} else if (!attr && (n = names_find(c->nm, e))) {
		dl_buf_puts(b, n);
	} else if ((kw = dl_schema_ident(c->sch, e))) {
		size_t len;
		const char *s = dl_intern_name(kw, &len, NULL);
		dl_buf_printf(b, ":%.*s", (int)len, s);
	} else if (DL_EID_PART(e) == DL_PART_USER && e > c->r->basis_before) {
		int i;
		for (i = 0; i < c->nanon && c->anon[i] != e; i++)
			;
		if (i == c->nanon && c->nanon < 64)
			c->anon[c->nanon++] = e;
		dl_buf_printf(b, "#%d", i + 1);
	} else {
		dl_buf_printf(b, "%lld", (long long)e);
	}
}

/* "+[ann :person/age 31] -[ann :person/age 30]", without the txInstant. */
static char *render(dl_store *s, const names *nm, const dl_tx_report *r)
{
	dl_snap *snap;
	const dl_schema *sch;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	rctx c = {nm, sch, r, {0}, 0};
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "");
	for (size_t i = 0; i < r->ndatoms; i++) {
		const dl_datom *d = &r->datoms[i];
		if (d->a == DL_A_TX_INSTANT && d->e == r->tx)
			continue;
		assert_int_equal(d->tx, r->tx);
		if (b.len)
			dl_buf_puts(&b, " ");
		dl_buf_puts(&b, d->added ? "+[" : "-[");
		render_e(&b, &c, d->e, false);
		dl_buf_puts(&b, " ");
		render_e(&b, &c, d->a, true);
		dl_buf_puts(&b, " ");
		if (d->v.type == DL_REF)
			render_e(&b, &c, d->v.u.i, false);
		else
			dl_edn_print(&b, &d->v);
		dl_buf_puts(&b, "]");
	}
	dl_snap_end(snap);
	char *out = strdup(b.data ? b.data : "");
	dl_buf_free(&b);
	return out;
}

/* Everything the database holds: each index in the current view, the
 * history view and the basis, as text. */
static void dump_index(dl_buf *b, dl_snap *snap, dl_index idx, dl_view_kind kind)
{
	dl_iter *it;
	dl_view view = {kind, 0};
	dl_datom pre, d;
	memset(&pre, 0, sizeof pre);
	int rc = dl_iter_open(&it, snap, idx, &view, &pre, 0);
	if (rc)
		fail_msg("iter_open: %s", dl_errmsg());
	dl_buf_printf(b, "index %d view %d\n", (int)idx, (int)kind);
	while ((rc = dl_iter_next(it, &d)) > 0) {
		dl_buf_printf(b, "%lld %lld ", (long long)d.e, (long long)d.a);
		dl_edn_print(b, &d.v);
		dl_buf_printf(b, " %lld %d\n", (long long)d.tx, d.added);
	}
	assert_int_equal(rc, 0);
	dl_iter_close(it);
}

static char *dump(dl_store *s)
{
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	dl_buf b = DL_BUF_INIT;
	dl_buf_printf(&b, "basis %lld\n", (long long)dl_snap_basis_tx(snap));
	for (int i = 0; i < DL_INDEX_COUNT; i++)
		dump_index(&b, snap, (dl_index)i, DL_VIEW_CURRENT);
	dump_index(&b, snap, DL_EAVT, DL_VIEW_HISTORY);
	dump_index(&b, snap, DL_AEVT, DL_VIEW_HISTORY);
	dl_snap_end(snap);
	char *out = strdup(b.data ? b.data : "");
	dl_buf_free(&b);
	return out;
}

/* ---- data-driven cases ---------------------------------------------------- */

static const char *k_schema =
	"[{:db/ident :person/name :db/valueType :db.type/string"
	"  :db/cardinality :db.cardinality/one}"
	" {:db/ident :person/email :db/valueType :db.type/string"
	"  :db/unique :db.unique/identity}"
	" {:db/ident :person/ssn :db/valueType :db.type/string :db/unique :db.unique/value}"
	" {:db/ident :person/age :db/valueType :db.type/long}"
	" {:db/ident :person/friend :db/valueType :db.type/ref"
	"  :db/cardinality :db.cardinality/many}"
	" {:db/ident :person/spouse :db/valueType :db.type/ref}"
	" {:db/ident :person/tags :db/valueType :db.type/keyword"
	"  :db/cardinality :db.cardinality/many}"
	" {:db/ident :person/address :db/valueType :db.type/ref :db/isComponent true}"
	" {:db/ident :address/street :db/valueType :db.type/string}"
	" {:db/ident :address/city :db/valueType :db.type/string}"
	" {:db/ident :order/items :db/valueType :db.type/ref"
	"  :db/cardinality :db.cardinality/many :db/isComponent true}"
	" {:db/ident :item/sku :db/valueType :db.type/string :db/unique :db.unique/identity}"
	" {:db/ident :item/qty :db/valueType :db.type/long}"
	" {:db/ident :point/xy :db/valueType :db.type/tuple}"
	" {:db/ident :person/score :db/valueType :db.type/double}"
	" {:db/ident :person/active :db/valueType :db.type/boolean}"
	" {:db/ident :person/born :db/valueType :db.type/instant}"
	" {:db/ident :person/id :db/valueType :db.type/uuid :db/unique :db.unique/identity}"
	" {:db/ident :person/color :db/valueType :db.type/ref}"
	" {:db/ident :color/red} {:db/ident :color/blue}]";

static const char *k_data =
	"[{:db/id \"ann\" :person/name \"Ann\" :person/email \"ann@x\" :person/age 30"
	"  :person/tags [:a :b]}"
	" {:db/id \"bob\" :person/name \"Bob\" :person/email \"bob@x\" :person/ssn \"123\""
	"  :person/id #uuid \"00000000-0000-0000-0000-000000000001\"}]";

typedef struct txcase {
	const char *name;
	const char *setup; /* run after k_schema and k_data; may be NULL */
	const char *tx;
	int rc;
	const char *expect; /* rc 0: the rendered datoms; else an error substring */
} txcase;

static const txcase k_cases[] = {
	/* ---- forms ---- */
	{"map", NULL, "[{:db/id \"c\" :person/name \"Cid\" :person/age 5}]", 0,
	 "+[c :person/name \"Cid\"] +[c :person/age 5]"},
	{"map-no-id", NULL, "[{:person/name \"Cid\"}]", 0, "+[#1 :person/name \"Cid\"]"},
	{"list-add", NULL, "[[:db/add \"c\" :person/name \"Cid\"]]", 0,
	 "+[c :person/name \"Cid\"]"},
	{"list-as-list", NULL, "[(:db/add \"c\" :person/name \"Cid\")]", 0,
	 "+[c :person/name \"Cid\"]"},
	{"card-one-replace", NULL, "[[:db/add $ann :person/age 31]]", 0,
	 "-[ann :person/age 30] +[ann :person/age 31]"},
	{"redundant", NULL, "[[:db/add $ann :person/age 30] {:db/id $ann :person/name \"Ann\"}]",
	 0, ""},
	{"duplicate-in-tx", NULL, "[[:db/add $ann :person/age 7] [:db/add $ann :person/age 7]]",
	 0, "-[ann :person/age 30] +[ann :person/age 7]"},
	{"retract", NULL, "[[:db/retract $ann :person/age 30]]", 0, "-[ann :person/age 30]"},
	{"retract-not-current", NULL, "[[:db/retract $ann :person/age 99]]", 0, ""},
	{"retract-unknown-attr", NULL, "[[:db/retract $ann :no/attr 1]]", 0, ""},
	{"retract-all-values", NULL, "[[:db/retract $ann :person/tags]]", 0,
	 "-[ann :person/tags :a] -[ann :person/tags :b]"},
	{"retract-all-then-add", NULL,
	 "[[:db/retract $ann :person/tags] [:db/add $ann :person/tags :b]]", 0,
	 "-[ann :person/tags :a]"},
	{"card-many-add", NULL, "[{:db/id $ann :person/tags [:b :c]}]", 0,
	 "+[ann :person/tags :c]"},
	{"card-many-set", NULL, "[{:db/id \"c\" :person/tags #{:z}}]", 0,
	 "+[c :person/tags :z]"},
	{"card-many-scalar", NULL, "[{:db/id \"c\" :person/tags :z}]", 0,
	 "+[c :person/tags :z]"},
	{"cas", NULL, "[[:db/cas $ann :person/age 30 31]]", 0,
	 "-[ann :person/age 30] +[ann :person/age 31]"},
	{"cas-fn", NULL, "[[:db.fn/cas $ann :person/age 30 31]]", 0,
	 "-[ann :person/age 30] +[ann :person/age 31]"},
	{"cas-nil", NULL, "[[:db/cas $bob :person/age nil 40]]", 0, "+[bob :person/age 40]"},
	{"cas-same", NULL, "[[:db/cas $ann :person/age 30 30]]", 0, ""},
	{"cas-lookup", NULL, "[[:db/cas [:person/email \"ann@x\"] :person/age 30 31]]", 0,
	 "-[ann :person/age 30] +[ann :person/age 31]"},
	{"cas-mismatch", NULL, "[[:db/cas $ann :person/age 29 31]]", DL_ECONFLICT,
	 "cas failed: :person/age of entity"},
	{"cas-nil-mismatch", NULL, "[[:db/cas $ann :person/age nil 31]]", DL_ECONFLICT,
	 "is 30, expected no value"},
	{"cas-absent", NULL, "[[:db/cas $bob :person/age 3 4]]", DL_ECONFLICT,
	 "is absent, expected 3"},
	{"cas-many", NULL, "[[:db/cas $ann :person/tags :a :c]]", DL_EINVAL,
	 "cardinality-one"},
	/* ---- upserts ---- */
	{"upsert", NULL, "[{:person/email \"ann@x\" :person/age 32}]", 0,
	 "-[ann :person/age 30] +[ann :person/age 32]"},
	{"upsert-tempid", NULL, "[{:db/id \"x\" :person/email \"ann@x\" :person/name \"Annie\"}]",
	 0, "-[ann :person/name \"Ann\"] +[ann :person/name \"Annie\"]"},
	{"upsert-list", NULL,
	 "[[:db/add \"x\" :person/email \"bob@x\"] [:db/add \"x\" :person/age 50]]", 0,
	 "+[bob :person/age 50]"},
	{"upsert-uuid", NULL,
	 "[{:person/id #uuid \"00000000-0000-0000-0000-000000000001\" :person/age 9}]", 0,
	 "+[bob :person/age 9]"},
	{"unify-new", NULL,
	 "[{:db/id \"p\" :person/email \"new@x\"} {:db/id \"q\" :person/email \"new@x\""
	 " :person/name \"New\"}]",
	 0, "+[p :person/email \"new@x\"] +[p :person/name \"New\"]"},
	{"unify-existing", NULL,
	 "[{:db/id \"p\" :person/email \"ann@x\"} {:db/id \"q\" :person/email \"ann@x\""
	 " :person/age 33}]",
	 0, "-[ann :person/age 30] +[ann :person/age 33]"},
	{"unify-anonymous", NULL,
	 "[{:item/sku \"s1\" :item/qty 1} {:item/sku \"s1\" :item/qty 1}]", 0,
	 "+[#1 :item/sku \"s1\"] +[#1 :item/qty 1]"},
	{"upsert-conflict", NULL,
	 "[{:person/email \"ann@x\" :person/id #uuid \"00000000-0000-0000-0000-000000000001\"}]",
	 DL_ECONFLICT, "conflicting upsert"},
	{"unify-conflict", NULL,
	 "[{:db/id \"p\" :person/email \"ann@x\"} {:db/id \"p\" :person/email \"bob@x\"}]",
	 DL_ECONFLICT, "conflicting"},
	/* ---- unique ---- */
	{"unique-value-conflict", NULL, "[{:db/id \"z\" :person/ssn \"123\"}]", DL_ECONFLICT,
	 "unique conflict: :person/ssn \"123\" is already held by entity"},
	{"unique-value-in-tx", NULL, "[{:person/ssn \"9\"} {:person/ssn \"9\"}]", DL_ECONFLICT,
	 "unique conflict: :person/ssn \"9\""},
	{"unique-value-move", NULL,
	 "[[:db/retract $bob :person/ssn \"123\"] [:db/add $ann :person/ssn \"123\"]]", 0,
	 "-[bob :person/ssn \"123\"] +[ann :person/ssn \"123\"]"},
	{"unique-identity-on-id", NULL, "[[:db/add $bob :person/email \"ann@x\"]]",
	 DL_ECONFLICT, "unique conflict: :person/email \"ann@x\""},
	/* ---- refs ---- */
	{"reverse-many", NULL,
	 "[{:db/id \"c\" :person/name \"Cid\" :person/_friend [$ann $bob]}]", 0,
	 "+[c :person/name \"Cid\"] +[ann :person/friend c] +[bob :person/friend c]"},
	{"reverse-one", NULL, "[{:db/id \"c\" :person/_spouse $ann}]", 0,
	 "+[ann :person/spouse c]"},
	{"reverse-lookup", NULL, "[{:db/id \"c\" :person/_spouse [:person/email \"bob@x\"]}]", 0,
	 "+[bob :person/spouse c]"},
	{"reverse-map", NULL, "[{:db/id \"c\" :person/_spouse {:person/name \"Sp\"}}]", 0,
	 "+[#1 :person/name \"Sp\"] +[#1 :person/spouse c]"},
	{"nested", NULL,
	 "[{:db/id \"c\" :person/name \"Cid\" :person/address {:address/street \"Main\""
	 " :address/city \"X\"}}]",
	 0,
	 "+[c :person/name \"Cid\"] +[#1 :address/street \"Main\"] +[#1 :address/city \"X\"]"
	 " +[c :person/address #1]"},
	{"nested-many", NULL,
	 "[{:db/id \"o\" :order/items [{:item/sku \"a\" :item/qty 1} {:item/sku \"b\"}]}]", 0,
	 "+[#1 :item/sku \"a\"] +[#1 :item/qty 1] +[o :order/items #1] +[#2 :item/sku \"b\"]"
	 " +[o :order/items #2]"},
	{"nested-non-component", NULL, "[{:db/id \"c\" :person/spouse {:person/name \"S\"}}]", 0,
	 "+[#1 :person/name \"S\"] +[c :person/spouse #1]"},
	{"nested-upsert", NULL, "[{:db/id \"c\" :person/spouse {:person/email \"bob@x\"}}]", 0,
	 "+[c :person/spouse bob]"},
	{"ref-lookups-many", NULL,
	 "[{:db/id \"c\" :person/friend [[:person/email \"ann@x\"] [:person/email \"bob@x\"]]}]",
	 0, "+[c :person/friend ann] +[c :person/friend bob]"},
	{"ref-lookup-one-in-many", NULL,
	 "[{:db/id \"c\" :person/friend [:person/email \"ann@x\"]}]", 0,
	 "+[c :person/friend ann]"},
	{"ref-tempid", NULL,
	 "[{:db/id \"c\" :person/spouse \"d\"} {:db/id \"d\" :person/name \"Dee\"}]", 0,
	 "+[c :person/spouse d] +[d :person/name \"Dee\"]"},
	{"ref-negative-tempids", NULL,
	 "[[:db/add -1 :person/name \"Neg\"] [:db/add -2 :person/spouse -1]]", 0,
	 "+[-1 :person/name \"Neg\"] +[-2 :person/spouse -1]"},
	{"ref-ident", NULL, "[{:db/id \"c\" :person/color :color/red}]", 0,
	 "+[c :person/color :color/red]"},
	{"ref-id", NULL, "[[:db/add \"c\" :person/spouse $ann]]", 0, "+[c :person/spouse ann]"},
	{"ident-entity", NULL, "[[:db/add :color/red :db/doc \"Red\"]]", 0,
	 "+[:color/red :db/doc \"Red\"]"},
	{"ident-same-tx", NULL,
	 "[{:db/id \"c\" :person/color :color/green} {:db/ident :color/green}]", 0,
	 "+[c :person/color :color/green] +[:color/green :db/ident :color/green]"},
	{"tx-entity", NULL, "[[:db/add \"datomic.tx\" :db/doc \"import\"]]", 0,
	 "+[tx :db/doc \"import\"]"},
	{"tx-entity-kw", NULL, "[{:db/id :db/current-tx :db/doc \"import\"}]", 0,
	 "+[tx :db/doc \"import\"]"},
	{"tx-entity-ref", NULL, "[{:db/id \"c\" :person/spouse \"datomic.tx\"}]", 0,
	 "+[c :person/spouse tx]"},
	/* ---- lookup refs in every entity position ---- */
	{"lookup-add", NULL, "[[:db/add [:person/email \"ann@x\"] :person/age 44]]", 0,
	 "-[ann :person/age 30] +[ann :person/age 44]"},
	{"lookup-map-id", NULL, "[{:db/id [:person/email \"ann@x\"] :person/age 44}]", 0,
	 "-[ann :person/age 30] +[ann :person/age 44]"},
	{"lookup-retract", NULL, "[[:db/retract [:person/email \"ann@x\"] :person/age 30]]", 0,
	 "-[ann :person/age 30]"},
	{"lookup-value", NULL,
	 "[[:db/add [:person/email \"ann@x\"] :person/spouse [:person/email \"bob@x\"]]]", 0,
	 "+[ann :person/spouse bob]"},
	{"lookup-uuid", NULL,
	 "[[:db/add [:person/id #uuid \"00000000-0000-0000-0000-000000000001\"] :person/age 1]]",
	 0, "+[bob :person/age 1]"},
	{"lookup-missing", NULL, "[[:db/add [:person/email \"nobody\"] :person/age 1]]",
	 DL_ENOTFOUND, "lookup ref [:person/email \"nobody\"] not found"},
	{"lookup-missing-value", NULL, "[{:db/id \"c\" :person/spouse [:person/email \"no\"]}]",
	 DL_ENOTFOUND, "lookup ref [:person/email \"no\"] not found"},
	{"lookup-missing-attr", NULL, "[[:db/add [:no/attr 1] :person/age 1]]", DL_ENOTFOUND,
	 "lookup ref [:no/attr 1] not found"},
	{"lookup-not-unique", NULL, "[[:db/add [:person/name \"Ann\"] :person/age 1]]", DL_EINVAL,
	 ":person/name is not :db/unique"},
	{"lookup-retract-entity-missing", NULL, "[[:db/retractEntity [:person/email \"no\"]]]",
	 DL_ENOTFOUND, "not found"},
	/* ---- tuples, undeclared attributes ---- */
	{"tuple", NULL, "[{:db/id \"c\" :point/xy [1 \"a\" nil]}]", 0,
	 "+[c :point/xy [1 \"a\" nil]]"},
	{"undeclared", NULL, "[{:db/id \"c\" :free/thing 42 :free/kw :k}]", 0,
	 "+[:free/thing :db/ident :free/thing] +[c :free/thing 42]"
	 " +[:free/kw :db/ident :free/kw] +[c :free/kw :k]"},
	{"undeclared-existing", "[{:db/id \"c\" :free/thing 1}]",
	 "[{:db/id $c :free/thing \"now a string\"}]", 0,
	 "-[c :free/thing 1] +[c :free/thing \"now a string\"]"},
	{"undeclared-nested", NULL, "[{:free/x {:person/name \"A\"}}]", DL_ETYPE,
	 "nested map for :free/x, which is not a declared ref attribute"},
	{"undeclared-vector", NULL, "[{:free/x [1 2]}]", DL_ETYPE,
	 ":free/x is cardinality-one and not a tuple"},
	{"undeclared-retract", NULL, "[[:db/retract $ann :free/nothing 1]]", 0, ""},
	/* ---- schema ---- */
	{"schema-same-tx", NULL,
	 "[{:db/ident :new/attr :db/valueType :db.type/long} {:db/id \"c\" :new/attr 5}]", 0,
	 "+[:new/attr :db/ident :new/attr] +[:new/attr :db/valueType :db.type/long]"
	 " +[c :new/attr 5]"},
	{"schema-after-use", NULL,
	 "[{:db/id \"c\" :new/tags [1 2]} {:db/ident :new/tags :db/valueType :db.type/long"
	 " :db/cardinality :db.cardinality/many}]",
	 0,
	 "+[c :new/tags 1] +[c :new/tags 2] +[:new/tags :db/ident :new/tags]"
	 " +[:new/tags :db/valueType :db.type/long]"
	 " +[:new/tags :db/cardinality :db.cardinality/many]"},
	{"schema-list-forms", NULL,
	 "[[:db/add \"a\" :db/ident :new/l] [:db/add \"a\" :db/valueType :db.type/string]"
	 " [:db/add \"c\" :new/l \"s\"]]",
	 0, "+[a :db/ident :new/l] +[a :db/valueType :db.type/string] +[c :new/l \"s\"]"},
	{"schema-list-forms-type", NULL,
	 "[[:db/add \"a\" :db/ident :new/l] [:db/add \"a\" :db/valueType :db.type/string]"
	 " [:db/add \"c\" :new/l 5]]",
	 DL_ETYPE, ":new/l expects a string, got 5"},
	{"schema-same-tx-type", NULL,
	 "[{:db/ident :new/attr :db/valueType :db.type/long} {:new/attr \"x\"}]", DL_ETYPE,
	 ":new/attr expects a long, got \"x\""},
	{"schema-no-type", NULL,
	 "[{:db/ident :new/m :db/cardinality :db.cardinality/many} {:db/id \"c\" :new/m [1 \"a\"]}]",
	 0,
	 "+[:new/m :db/ident :new/m] +[:new/m :db/cardinality :db.cardinality/many]"
	 " +[c :new/m 1] +[c :new/m \"a\"]"},
	{"schema-idempotent", NULL,
	 "[{:db/ident :person/name :db/valueType :db.type/string"
	 "  :db/cardinality :db.cardinality/one}]",
	 0, ""},
	{"schema-rename", NULL, "[{:db/id :person/age :db/ident :person/years}]", 0,
	 "-[:person/years :db/ident :person/age] +[:person/years :db/ident :person/years]"},
	{"schema-one-to-many", NULL, "[{:db/id :person/name :db/cardinality :db.cardinality/many}]",
	 0,
	 "-[:person/name :db/cardinality :db.cardinality/one]"
	 " +[:person/name :db/cardinality :db.cardinality/many]"},
	{"schema-one-to-many-use", NULL,
	 "[{:db/ident :person/age :db/cardinality :db.cardinality/many}"
	 " {:db/id $ann :person/age [31 32]}]",
	 0,
	 "+[:person/age :db/cardinality :db.cardinality/many] +[ann :person/age 31]"
	 " +[ann :person/age 32]"},
	{"schema-alter-list", NULL,
	 "[[:db/add :person/age :db/cardinality :db.cardinality/many]]", 0,
	 "+[:person/age :db/cardinality :db.cardinality/many]"},
	{"schema-many-to-one", NULL, "[{:db/id :person/tags :db/cardinality :db.cardinality/one}]",
	 DL_EINVAL, "cannot change cardinality of :person/tags from many to one"},
	{"schema-type-change", NULL, "[{:db/ident :person/age :db/valueType :db.type/string}]",
	 DL_EINVAL, "cannot change :db/valueType of :person/age from long to string"},
	{"schema-type-change-list", NULL,
	 "[[:db/add :person/age :db/valueType :db.type/string]]", DL_EINVAL,
	 "cannot change :db/valueType of :person/age from long to string"},
	{"schema-builtin", NULL, "[{:db/id :db/doc :db/cardinality :db.cardinality/many}]",
	 DL_EINVAL, "built-in :db/doc cannot be changed"},
	{"schema-builtin-ident", NULL, "[[:db/add :db/ident :db/doc \"x\"]]", DL_EINVAL,
	 "built-in :db/ident cannot be changed"},
	{"schema-builtin-retract", NULL, "[[:db/retractEntity :db.type/string]]", DL_EINVAL,
	 "built-in"},
	{"schema-builtin-redundant", NULL, "[{:db/ident :db/doc}]", 0, ""},
	{"schema-unique-add", NULL, "[{:db/id :person/name :db/unique :db.unique/value}]", 0,
	 "+[:person/name :db/unique :db.unique/value]"},
	{"schema-unique-add-dup", "[{:db/id $bob :person/age 30}]",
	 "[{:db/id :person/age :db/unique :db.unique/identity}]", DL_ECONFLICT,
	 "cannot make :person/age unique"},
	{"schema-unique-drop", NULL, "[[:db/retract :person/ssn :db/unique :db.unique/value]]", 0,
	 "-[:person/ssn :db/unique :db.unique/value]"},
	{"schema-toggles", NULL,
	 "[[:db/add :person/age :db/index true] [:db/add :person/age :db/doc \"Age\"]"
	 " {:db/id :person/age :db/noHistory true}]",
	 0,
	 "+[:person/age :db/index true] +[:person/age :db/doc \"Age\"]"
	 " +[:person/age :db/noHistory true]"},
	{"schema-toggles-off", "[{:db/id :person/age :db/noHistory true}]",
	 "[{:db/id :person/age :db/noHistory false}]", 0,
	 "-[:person/age :db/noHistory true] +[:person/age :db/noHistory false]"},
	{"schema-declare-undeclared", "[{:db/id \"c\" :free/n 1}]",
	 "[{:db/ident :free/n :db/valueType :db.type/long}]", 0,
	 "+[:free/n :db/valueType :db.type/long]"},
	{"schema-declare-undeclared-bad", "[{:db/id \"c\" :free/n \"one\"}]",
	 "[{:db/ident :free/n :db/valueType :db.type/long}]", DL_EINVAL,
	 "cannot declare :free/n as long"},
	{"schema-component-non-ref", NULL,
	 "[{:db/ident :new/c :db/valueType :db.type/string :db/isComponent true}]", DL_EINVAL,
	 ":db/isComponent needs :db.type/ref"},
	{"schema-bad-type", NULL, "[{:db/ident :new/x :db/valueType :db.type/nope}]", DL_EINVAL,
	 "invalid value :db.type/nope for :db/valueType"},
	{"schema-bad-type-list", NULL,
	 "[[:db/add :person/age :db/cardinality :db.unique/value]]", DL_EINVAL,
	 "invalid value :db.unique/value for :db/cardinality"},
	{"schema-bad-card", NULL, "[{:db/ident :new/x :db/cardinality :db.type/long}]", DL_EINVAL,
	 "invalid value :db.type/long for :db/cardinality"},
	{"schema-no-ident", NULL, "[{:db/id \"q\" :db/valueType :db.type/long}]", DL_EINVAL,
	 "a new attribute needs :db/ident"},
	{"schema-enum-as-attr", NULL, "[{:db/ident :color/red :db/valueType :db.type/long}]",
	 DL_EINVAL, ":color/red already names an entity that is not an attribute"},
	{"schema-enum-used-as-attr", NULL, "[[:db/add $ann :color/red 1]]", DL_EINVAL,
	 ":color/red is not an attribute"},
	{"schema-retract-attr", NULL, "[[:db/retractEntity :person/age]]", DL_EINVAL,
	 "cannot retract the attribute :person/age"},
	{"schema-valuetype-on-user-entity", NULL,
	 "[[:db/add $ann :db/valueType :db.type/long]]", DL_EINVAL,
	 "only attributes (entities of the db partition) take"},
	/* ---- type enforcement ---- */
	{"type-long", NULL, "[{:person/age \"x\"}]", DL_ETYPE,
	 ":person/age expects a long, got \"x\""},
	{"type-string", NULL, "[[:db/add $ann :person/name 5]]", DL_ETYPE,
	 ":person/name expects a string, got 5"},
	{"type-double", NULL, "[[:db/add $ann :person/score 5]]", DL_ETYPE,
	 ":person/score expects a double, got 5"},
	{"type-double-ok", NULL, "[[:db/add $ann :person/score 5.5]]", 0,
	 "+[ann :person/score 5.5]"},
	{"type-boolean", NULL, "[[:db/add $ann :person/active \"yes\"]]", DL_ETYPE,
	 "expects a boolean"},
	{"type-instant", NULL, "[[:db/add $ann :person/born 5]]", DL_ETYPE, "expects a instant"},
	{"type-instant-ok", NULL, "[[:db/add $ann :person/born #inst \"1990-01-01T00:00:00Z\"]]",
	 0, "+[ann :person/born #inst \"1990-01-01T00:00:00.000Z\"]"},
	{"type-keyword", NULL, "[[:db/add $ann :person/tags \"a\"]]", DL_ETYPE,
	 "expects a keyword"},
	{"type-uuid", NULL, "[[:db/add $ann :person/id 5]]", DL_ETYPE, "expects a uuid"},
	{"type-tuple", NULL, "[[:db/add $ann :point/xy 5]]", DL_ETYPE, "expects a tuple"},
	{"type-tuple-nested", NULL, "[[:db/add $ann :point/xy [[1] 2]]]", DL_ETYPE,
	 "expects a tuple"},
	{"type-card-one-vector", NULL, "[{:person/name [\"a\" \"b\"]}]", DL_ETYPE,
	 ":person/name is cardinality-one"},
	{"type-card-one-set", NULL, "[{:person/age #{1}}]", DL_ETYPE,
	 ":person/age is cardinality-one"},
	{"type-ref-string-value", NULL, "[[:db/add $ann :person/spouse 1.5]]", DL_EINVAL,
	 "invalid entity 1.5"},
	{"type-nested-non-ref", NULL, "[{:person/name {:a 1}}]", DL_ETYPE,
	 "nested map for :person/name"},
	/* ---- malformed ---- */
	{"bad-not-vector", NULL, "{:person/name \"x\"}", DL_EINVAL,
	 "tx-data must be a vector of forms"},
	{"bad-op", NULL, "[[:db/foo 1 :person/name \"x\"]]", DL_EINVAL,
	 "unknown operation :db/foo"},
	{"bad-op-type", NULL, "[[\"db/add\" 1 :person/name \"x\"]]", DL_EINVAL, "expected"},
	{"bad-empty-list", NULL, "[[]]", DL_EINVAL, "expected"},
	{"bad-arity-add", NULL, "[[:db/add \"x\" :person/name]]", DL_EINVAL,
	 ":db/add takes an entity, an attribute and a value"},
	{"bad-arity-retract", NULL, "[[:db/retract $ann]]", DL_EINVAL, ":db/retract takes"},
	{"bad-arity-retract-entity", NULL, "[[:db/retractEntity $ann 1]]", DL_EINVAL,
	 ":db/retractEntity takes one entity"},
	{"bad-arity-cas", NULL, "[[:db/cas $ann :person/age 1]]", DL_EINVAL, ":db/cas takes"},
	{"bad-map-empty", NULL, "[{}]", DL_EINVAL, "map has no attributes"},
	{"bad-map-id-only", NULL, "[{:db/id \"x\"}]", DL_EINVAL, "map has no attributes in {:db/id \"x\"}"},
	{"bad-nil-value", NULL, "[[:db/add \"x\" :person/name nil]]", DL_EINVAL,
	 "invalid value nil"},
	{"bad-nil-map-value", NULL, "[{:person/name nil}]", DL_EINVAL, "nil value for :person/name"},
	{"bad-nil-in-many", NULL, "[{:person/tags [:a nil]}]", DL_EINVAL, "nil value"},
	{"bad-form", NULL, "[42]", DL_EINVAL, "a transaction form must be a list or a map in 42"},
	{"bad-entity", NULL, "[[:db/add 1.5 :person/name \"x\"]]", DL_EINVAL, "invalid entity 1.5"},
	{"bad-entity-zero", NULL, "[[:db/add 0 :person/name \"x\"]]", DL_EINVAL, "invalid entity 0"},
	{"bad-entity-vector", NULL, "[[:db/add [1 2 3] :person/name \"x\"]]", DL_EINVAL,
	 "invalid entity [1 2 3]"},
	{"bad-attr", NULL, "[[:db/add \"x\" \"name\" \"x\"]]", DL_EINVAL, "invalid attribute"},
	{"bad-attr-id", NULL, "[[:db/add \"x\" :db/id \"x\"]]", DL_EINVAL, "invalid attribute :db/id"},
	{"bad-map-key", NULL, "[{\"k\" 1}]", DL_EINVAL, "invalid attribute \"k\""},
	{"bad-unknown-ident", NULL, "[[:db/add :no/such :person/age 1]]", DL_ENOTFOUND,
	 "unknown ident :no/such"},
	{"bad-unknown-ident-value", NULL, "[{:person/color :color/none}]", DL_ENOTFOUND,
	 "unknown ident :color/none"},
	{"bad-reverse-non-ref", NULL, "[{:db/id \"c\" :person/_name $ann}]", DL_EINVAL,
	 "reverse attribute :person/_name needs a declared ref attribute"},
	{"bad-reverse-list", NULL, "[[:db/add \"c\" :person/_spouse $ann]]", DL_EINVAL,
	 "reverse attribute :person/_spouse is only allowed as a map key"},
	{"bad-message-names-form", NULL,
	 "[{:person/name \"ok\"} [:db/add \"x\" :person/age \"bad\"]]", DL_ETYPE,
	 "in [:db/add \"x\" :person/age \"bad\"]"},
	/* ---- conflicts ---- */
	{"conflict-card-one", NULL, "[[:db/add $ann :person/age 1] [:db/add $ann :person/age 2]]",
	 DL_ECONFLICT, "two values for cardinality-one :person/age of entity"},
	{"conflict-card-one-map", NULL, "[{:db/id \"c\" :person/age 1} {:db/id \"c\" :person/age 2}]",
	 DL_ECONFLICT, "two values for cardinality-one :person/age"},
	{"conflict-add-retract", NULL,
	 "[[:db/add $ann :person/age 30] [:db/retract $ann :person/age 30]]", DL_ECONFLICT,
	 "is both asserted and retracted"},
	/* ---- retractEntity ---- */
	{"retract-entity-simple", NULL, "[[:db/retractEntity $bob]]", 0,
	 "-[bob :person/name \"Bob\"] -[bob :person/email \"bob@x\"] -[bob :person/ssn \"123\"]"
	 " -[bob :person/id #uuid \"00000000-0000-0000-0000-000000000001\"]"},
	{"retract-entity-fn", NULL, "[[:db.fn/retractEntity [:person/email \"bob@x\"]]]", 0,
	 "-[bob :person/name \"Bob\"] -[bob :person/email \"bob@x\"] -[bob :person/ssn \"123\"]"
	 " -[bob :person/id #uuid \"00000000-0000-0000-0000-000000000001\"]"},
	{"retract-entity-components",
	 "[{:db/id \"c\" :person/name \"Cid\" :person/friend $ann :person/address"
	 "  {:db/id \"adr\" :address/street \"Main\"}}"
	 " {:db/id \"o\" :order/items [{:db/id \"i1\" :item/sku \"a\"}"
	 "  {:db/id \"i2\" :item/sku \"b\" :person/spouse \"c\"}]}"
	 " [:db/add $bob :person/spouse \"c\"]]",
	 "[[:db/retractEntity $c]]", 0,
	 "-[c :person/name \"Cid\"] -[c :person/friend ann] -[c :person/address adr]"
	 " -[bob :person/spouse c] -[i2 :person/spouse c] -[adr :address/street \"Main\"]"},
	{"retract-entity-nested-components",
	 "[{:db/id \"o\" :order/items [{:db/id \"i1\" :item/sku \"a\"}"
	 "  {:db/id \"i2\" :item/sku \"b\"}]}]",
	 "[[:db/retractEntity $o]]", 0,
	 "-[o :order/items i1] -[o :order/items i2] -[i2 :item/sku \"b\"]"
	 " -[i1 :item/sku \"a\"]"},
	{"retract-entity-and-readd", NULL,
	 "[[:db/retractEntity $bob] [:db/add $bob :person/name \"Bob\"]]", 0,
	 "-[bob :person/email \"bob@x\"] -[bob :person/ssn \"123\"]"
	 " -[bob :person/id #uuid \"00000000-0000-0000-0000-000000000001\"]"},
	{"retract-entity-unknown", NULL, "[[:db/retractEntity 999999]]", 0, ""},
	/* ---- txInstant ---- */
	{"tx-instant-past", NULL,
	 "[{:db/id \"datomic.tx\" :db/txInstant #inst \"2000-01-01T00:00:00Z\"}]", DL_EINVAL,
	 "txInstant must be monotonic"},
	{"tx-instant-future", NULL,
	 "[{:db/id \"datomic.tx\" :db/txInstant #inst \"2999-01-01T00:00:00Z\"}]", 0, ""},
	{"tx-instant-type", NULL, "[{:db/id \"datomic.tx\" :db/txInstant 5}]", DL_ETYPE,
	 ":db/txInstant expects a instant"},
	{"empty", NULL, "[]", 0, ""},
};

static int g_case_failures;

#define case_fail(...)                                                          \
	do {                                                                   \
		print_error(__VA_ARGS__);                                      \
		print_error("\n");                                             \
		g_case_failures++;                                             \
	} while (0)

static void run_case(const txcase *c)
{
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db(c->name);
	tx_ok(s, &a, &nm, k_schema, NULL);
	tx_ok(s, &a, &nm, k_data, NULL);
	if (c->setup)
		tx_ok(s, &a, &nm, c->setup, NULL);
	char *before = dump(s);
	dl_tx_report r;
	dl_error_clear();
	int rc = run_tx(s, &a, &nm, c->tx, &r);
	if (rc != c->rc) {
		case_fail("case %s: rc %d (%s), expected %d", c->name, rc, dl_errmsg(), c->rc);
	} else if (rc == 0) {
		char *got = render(s, &nm, &r);
		if (strcmp(got, c->expect))
			case_fail("case %s:\n  got    %s\n  expect %s", c->name, got, c->expect);
		free(got);
	} else {
		if (!strstr(dl_errmsg(), c->expect))
			case_fail("case %s: message '%s' lacks '%s'", c->name, dl_errmsg(),
				  c->expect);
		if (strncmp(dl_errmsg(), "<tx-data>: ", 11))
			case_fail("case %s: message '%s' does not name the source", c->name,
				  dl_errmsg());
	}
	if (rc != 0) {
		char *after = dump(s);
		if (strcmp(before, after))
			case_fail("case %s: database changed by a failed transaction", c->name);
		free(after);
	}
	free(before);
	dl_store_close(s);
	dl_arena_free(&a);
}

static void test_cases(void **state)
{
	(void)state;
	const char *only = getenv("DL_TX_CASE");
	for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
		if (!only || !strcmp(only, k_cases[i].name))
			run_case(&k_cases[i]);
	if (g_case_failures)
		fail_msg("%d case(s) failed", g_case_failures);
}

/* ---- bootstrap and schema ------------------------------------------------- */

static const dl_attr *attr_by_name(const dl_schema *sch, const char *name)
{
	uint32_t kw = dl_intern_find(name, strlen(name));
	int64_t e = kw ? dl_schema_entid(sch, kw) : 0;
	return e ? dl_schema_attr(sch, e) : NULL;
}

static void test_bootstrap(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("bootstrap");

	/* an empty store already has the built-in schema */
	dl_snap *snap;
	const dl_schema *sch;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	assert_int_equal(dl_schema_version(sch), 0);
	const dl_attr *at = attr_by_name(sch, "db/ident");
	assert_non_null(at);
	assert_int_equal(at->id, DL_A_IDENT);
	dl_snap_end(snap);

	dl_tx_report r;
	tx_ok(s, &a, &nm, "[]", &r);
	assert_int_equal(r.basis_before, 0);
	assert_int_equal(DL_EID_PART(r.tx), DL_PART_TX);
	/* the report holds the txInstant only, not the bootstrap datoms */
	assert_int_equal(r.ndatoms, 1);
	assert_int_equal(r.datoms[0].e, r.tx);
	assert_int_equal(r.datoms[0].a, DL_A_TX_INSTANT);
	assert_int_equal(r.datoms[0].v.type, DL_INST);
	assert_true(r.datoms[0].added);

	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	assert_int_equal(dl_schema_version(sch), r.tx);
	static const struct {
		const char *name;
		int64_t id;
		int vt;
		int unique;
	} want[] = {
		{"db/ident", DL_A_IDENT, DL_VT_KEYWORD, DL_UNIQUE_IDENTITY},
		{"db/valueType", DL_A_VALUE_TYPE, DL_VT_REF, 0},
		{"db/cardinality", DL_A_CARDINALITY, DL_VT_REF, 0},
		{"db/unique", DL_A_UNIQUE, DL_VT_REF, 0},
		{"db/isComponent", DL_A_IS_COMPONENT, DL_VT_BOOLEAN, 0},
		{"db/doc", DL_A_DOC, DL_VT_STRING, 0},
		{"db/noHistory", DL_A_NO_HISTORY, DL_VT_BOOLEAN, 0},
		{"db/index", DL_A_INDEX, DL_VT_BOOLEAN, 0},
		{"db/txInstant", DL_A_TX_INSTANT, DL_VT_INSTANT, 0},
		{"db/tupleAttrs", DL_A_TUPLE_ATTRS, DL_VT_TUPLE, 0},
		{"db/tupleType", DL_A_TUPLE_TYPE, DL_VT_KEYWORD, 0},
		{"db/tupleTypes", DL_A_TUPLE_TYPES, DL_VT_TUPLE, 0},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		at = attr_by_name(sch, want[i].name);
		assert_non_null(at);
		assert_int_equal(at->id, want[i].id);
		assert_int_equal(at->vtype, want[i].vt);
		assert_int_equal(at->unique, want[i].unique);
		assert_false(at->many);
		assert_true(at->declared);
		assert_int_equal(dl_schema_ident(sch, want[i].id),
				 dl_intern_find(want[i].name, strlen(want[i].name)));
	}
	static const char *const enums[] = {
		"db.type/string", "db.type/long", "db.type/double", "db.type/boolean",
		"db.type/instant", "db.type/keyword", "db.type/ref", "db.type/uuid",
		"db.type/bytes", "db.type/tuple", "db.type/symbol", "db.cardinality/one",
		"db.cardinality/many", "db.unique/identity", "db.unique/value",
	};
	for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
		uint32_t kw = dl_intern_find(enums[i], strlen(enums[i]));
		int64_t e = dl_schema_entid(sch, kw);
		assert_true(e > 0 && e < 100);
		assert_null(dl_schema_attr(sch, e)); /* enums are not attributes */
	}
	assert_int_equal(dl_schema_entid(sch, dl_intern_find("db.type/string", 14)),
			 DL_E_TYPE_BASE + DL_VT_STRING);
	/* the built-ins are datoms like any other */
	dl_datom pre = {0}, d;
	pre.e = DL_A_VALUE_TYPE;
	pre.a = DL_A_VALUE_TYPE;
	dl_iter *it;
	dl_view view = {DL_VIEW_CURRENT, 0};
	assert_int_equal(dl_iter_open(&it, snap, DL_EAVT, &view, &pre, 2), 0);
	assert_int_equal(dl_iter_next(it, &d), 1);
	assert_int_equal(d.v.type, DL_REF);
	assert_int_equal(d.v.u.i, DL_E_TYPE_BASE + DL_VT_REF);
	dl_iter_close(it);
	assert_int_equal(dl_schema_aflags(sch, DL_A_VALUE_TYPE), DL_AF_REF);
	dl_snap_end(snap);

	/* a declared attribute as data */
	tx_ok(s, &a, &nm, k_schema, &r);
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	at = attr_by_name(sch, "person/friend");
	assert_non_null(at);
	assert_true(at->many);
	assert_int_equal(at->vtype, DL_VT_REF);
	assert_true(at->id > 99 && DL_EID_PART(at->id) == DL_PART_DB);
	assert_int_equal(dl_schema_aflags(sch, at->id), DL_AF_REF);
	at = attr_by_name(sch, "person/email");
	assert_int_equal(at->unique, DL_UNIQUE_IDENTITY);
	at = attr_by_name(sch, "person/address");
	assert_true(at->component);
	/* idents of non-attributes */
	assert_null(attr_by_name(sch, "color/red"));
	assert_int_equal(DL_EID_PART(dl_schema_entid(sch, dl_intern_find("color/red", 9))),
			 DL_PART_USER);
	const dl_attr *all;
	size_t n = dl_schema_attrs(sch, &all);
	for (size_t i = 1; i < n; i++)
		assert_true(all[i - 1].id < all[i].id);
	dl_snap_end(snap);

	dl_store_close(s);
	dl_arena_free(&a);
}

static void test_schema_cache(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("cache");
	dl_tx_report r;
	tx_ok(s, &a, &nm, k_schema, &r);
	int64_t v1 = r.tx;
	dl_snap *s1, *s2, *s3;
	const dl_schema *a1, *a2, *a3, *x;
	assert_int_equal(dl_snap_begin(&s1, s), 0);
	assert_int_equal(dl_schema_get(&a1, s1), 0);
	assert_int_equal(dl_schema_get(&x, s1), 0);
	assert_ptr_equal(a1, x);
	assert_int_equal(dl_schema_version(a1), v1);

	/* no schema change: the same object */
	tx_ok(s, &a, &nm, k_data, &r);
	assert_int_equal(dl_snap_begin(&s2, s), 0);
	assert_int_equal(dl_schema_get(&a2, s2), 0);
	assert_ptr_equal(a1, a2);

	/* a change: a new version, the old one still valid for old snapshots */
	tx_ok(s, &a, &nm, "[{:db/ident :new/attr :db/valueType :db.type/long}]", &r);
	assert_int_equal(dl_snap_begin(&s3, s), 0);
	assert_int_equal(dl_schema_get(&a3, s3), 0);
	assert_ptr_not_equal(a3, a1);
	assert_int_equal(dl_schema_version(a3), r.tx);
	assert_non_null(attr_by_name(a3, "new/attr"));
	assert_null(attr_by_name(a1, "new/attr"));
	assert_int_equal(dl_schema_get(&x, s1), 0);
	assert_ptr_equal(x, a1);
	/* a new ident alone is a schema change too */
	tx_ok(s, &a, &nm, "[{:db/ident :color/green}]", &r);
	dl_snap *s4;
	const dl_schema *a4;
	assert_int_equal(dl_snap_begin(&s4, s), 0);
	assert_int_equal(dl_schema_get(&a4, s4), 0);
	assert_int_equal(dl_schema_version(a4), r.tx);
	assert_int_not_equal(dl_schema_entid(a4, dl_intern_find("color/green", 11)), 0);
	dl_snap_end(s1);
	dl_snap_end(s2);
	dl_snap_end(s3);
	dl_snap_end(s4);

	/* a failed schema change leaves the cached schema alone */
	assert_int_not_equal(run_tx(s, &a, &nm, "[{:db/ident :person/age :db/valueType "
						 ":db.type/string}]", &r), 0);
	assert_int_equal(dl_snap_begin(&s1, s), 0);
	assert_int_equal(dl_schema_get(&x, s1), 0);
	assert_ptr_equal(x, a4);
	dl_snap_end(s1);

	/* reopening rebuilds from the data */
	int64_t v4 = dl_schema_version(a4);
	char path[600];
	snprintf(path, sizeof path, "%s", dl_store_path(s));
	dl_store_close(s);
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.map_size = (size_t)1 << 30; /* valgrind cannot map the default 64 GiB */
	assert_int_equal(dl_store_open(&s, path, &o), 0);
	assert_int_equal(dl_snap_begin(&s1, s), 0);
	assert_int_equal(dl_schema_get(&x, s1), 0);
	assert_int_equal(dl_schema_version(x), v4);
	const dl_attr *at = attr_by_name(x, "person/tags");
	assert_non_null(at);
	assert_true(at->many);
	assert_int_equal(at->vtype, DL_VT_KEYWORD);
	dl_snap_end(s1);
	dl_store_close(s);
	dl_arena_free(&a);
}

/* ---- history, as-of, tempids, allocation --------------------------------- */

static char *view_values(dl_store *s, dl_view view, int64_t e, int64_t attr)
{
	dl_snap *snap;
	dl_iter *it;
	dl_datom pre = {0}, d;
	pre.e = e;
	pre.a = attr;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_iter_open(&it, snap, DL_EAVT, &view, &pre, 2), 0);
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "");
	int rc;
	while ((rc = dl_iter_next(it, &d)) > 0) {
		dl_buf_puts(&b, d.added ? " +" : " -");
		dl_edn_print(&b, &d.v);
	}
	assert_int_equal(rc, 0);
	dl_iter_close(it);
	dl_snap_end(snap);
	char *out = strdup(b.data);
	dl_buf_free(&b);
	return out;
}

static void expect_view(dl_store *s, dl_view view, int64_t e, int64_t a, const char *want)
{
	char *got = view_values(s, view, e, a);
	if (strcmp(got, want))
		fail_msg("view %d@%lld: got '%s', expected '%s'", (int)view.kind,
			 (long long)view.t, got, want);
	free(got);
}

static void test_history(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("history");
	tx_ok(s, &a, &nm, k_schema, NULL);
	dl_tx_report r1, r2, r3;
	tx_ok(s, &a, &nm, "[{:db/id \"ann\" :person/email \"ann@x\" :person/age 30}]", &r1);
	tx_ok(s, &a, &nm, "[{:person/email \"ann@x\" :person/age 31}]", &r2);
	tx_ok(s, &a, &nm, "[[:db/retract [:person/email \"ann@x\"] :person/age 31]]", &r3);
	int64_t ann = nm.e[0];
	dl_snap *snap;
	dl_store_stats st;
	int64_t age;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	const dl_schema *sch;
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	age = attr_by_name(sch, "person/age")->id;
	assert_int_equal(dl_snap_stats(snap, &st), 0);
	dl_snap_end(snap);

	expect_view(s, (dl_view){DL_VIEW_CURRENT, 0}, ann, age, "");
	expect_view(s, (dl_view){DL_VIEW_AS_OF, r1.tx}, ann, age, " +30");
	expect_view(s, (dl_view){DL_VIEW_AS_OF, r2.tx}, ann, age, " +31");
	expect_view(s, (dl_view){DL_VIEW_AS_OF, r3.tx}, ann, age, "");
	expect_view(s, (dl_view){DL_VIEW_HISTORY, 0}, ann, age, " +30 -30 +31 -31");
	/* reports of the replacement */
	char *got = render(s, &nm, &r2);
	assert_string_equal(got, "-[ann :person/age 30] +[ann :person/age 31]");
	free(got);
	assert_int_equal(r2.basis_before, r1.tx);
	assert_true(r2.tx > r1.tx);
	dl_store_close(s);
	dl_arena_free(&a);
}

static void test_tempids(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("tempids");
	tx_ok(s, &a, &nm, k_schema, NULL);
	tx_ok(s, &a, &nm, k_data, NULL);
	int64_t ann = nm.e[0];
	dl_tx_report r;
	tx_ok(s, &a, &nm,
	      "[{:db/id \"b\" :person/spouse \"a\"} [:db/add -7 :person/name \"n\"]"
	      " {:person/name \"anon\"} {:db/id \"a\" :person/name \"A\"}"
	      " {:db/id \"up\" :person/email \"ann@x\"} [:db/add \"b\" :person/age 3]"
	      " [:db/add \"datomic.tx\" :db/doc \"d\"]]",
	      &r);
	/* in order of first appearance; "a" first appears as b's spouse */
	assert_int_equal(r.ntempids, 5);
	const char *want[] = {"\"b\"", "\"a\"", "-7", "\"up\"", "\"datomic.tx\""};
	for (size_t i = 0; i < 5; i++) {
		char *p = tu_print(&r.tempids[i].tempid);
		assert_string_equal(p, want[i]);
		free(p);
	}
	/* new entities are contiguous, in order of appearance; upserts and the
	 * tx entity are what they are */
	int64_t b = r.tempids[0].e;
	assert_int_equal(DL_EID_PART(b), DL_PART_USER);
	assert_int_equal(r.tempids[1].e, b + 1);
	assert_int_equal(r.tempids[2].e, b + 2);
	assert_int_equal(r.tempids[3].e, ann);
	assert_int_equal(r.tempids[4].e, r.tx);
	char *got = render(s, &nm, &r);
	assert_string_equal(got, "+[b :person/spouse a] +[-7 :person/name \"n\"]"
				 " +[#1 :person/name \"anon\"] +[a :person/name \"A\"]"
				 " +[b :person/age 3] +[tx :db/doc \"d\"]");
	free(got);
	/* the anonymous entity came between -7 and nothing else: b+3 */
	bool found = false;
	for (size_t i = 0; i < r.ndatoms; i++)
		if (r.datoms[i].e == b + 3)
			found = true;
	assert_true(found);
	dl_store_close(s);
	dl_arena_free(&a);
}

static void test_tx_instant(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("txinstant");
	dl_tx_report r1, r2, r3;
	/* an import sets the instants itself, in order */
	tx_ok(s, &a, &nm, "[{:db/id \"datomic.tx\" :db/txInstant #inst \"2001-01-01T00:00:00Z\"}]",
	      &r1);
	assert_int_equal(r1.ndatoms, 1);
	assert_int_equal(r1.datoms[0].v.u.i, INT64_C(978307200000));
	tx_ok(s, &a, &nm, "[[:db/add \"datomic.tx\" :db/txInstant #inst \"2001-01-01T00:00:00Z\"]]",
	      &r2);
	assert_int_equal(r2.datoms[0].v.u.i, INT64_C(978307200000));
	char *before = dump(s);
	assert_int_equal(run_tx(s, &a, &nm, "[[:db/add \"datomic.tx\" :db/txInstant "
					    "#inst \"2000-12-31T23:59:59Z\"]]", &r3),
			 DL_EINVAL);
	assert_non_null(strstr(dl_errmsg(), "txInstant must be monotonic"));
	char *after = dump(s);
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* otherwise it is now */
	tx_ok(s, &a, &nm, "[]", &r3);
	assert_int_equal(r3.datoms[0].a, DL_A_TX_INSTANT);
	assert_true(r3.datoms[0].v.u.i > INT64_C(1600000000000));
	assert_true(r3.datoms[0].v.u.i >= r2.datoms[0].v.u.i);
	dl_store_close(s);
	dl_arena_free(&a);
}

/* A bigger transaction than the cases, for the hash maps and arenas. */
static void test_bulk(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("bulk");
	tx_ok(s, &a, &nm, k_schema, NULL);
	dl_buf b = DL_BUF_INIT;
	const int n = (int)tu_scale(3000);
	dl_buf_puts(&b, "[");
	for (int i = 0; i < n; i++)
		dl_buf_printf(&b, "{:db/id \"p%d\" :person/email \"e%d\" :person/age %d"
			      " :person/friend \"p%d\"}", i, i, i, (i + 1) % n);
	dl_buf_puts(&b, "]");
	dl_tx_report r;
	tx_ok(s, &a, &nm, b.data, &r);
	assert_int_equal(r.ntempids, n);
	assert_int_equal(r.ndatoms, 1 + 3 * n);
	for (int i = 1; i < n; i++)
		assert_int_equal(r.tempids[i].e, r.tempids[0].e + i);
	/* and again: everything upserts, nothing changes */
	b.len = 0;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < n; i++)
		dl_buf_printf(&b, "{:person/email \"e%d\" :person/age %d}", i, i);
	dl_buf_puts(&b, "]");
	dl_arena a2 = DL_ARENA_INIT;
	names nm2 = {0};
	tx_ok(s, &a2, &nm2, b.data, &r);
	assert_int_equal(r.ndatoms, 1);
	dl_buf_free(&b);
	dl_store_close(s);
	dl_arena_free(&a);
	dl_arena_free(&a2);
}

/* Random transactions against a model: the database ends up in the state
 * the model predicts (or the transaction fails as predicted and changes
 * nothing), and the report is exactly the difference. */
#define M_ENTS 4
#define M_VALS 4

typedef struct model {
	int one[M_ENTS];           /* -1: none */
	unsigned many[M_ENTS];     /* bit set of values */
} model;

typedef struct mop {
	int kind; /* 0 add one, 1 add many, 2 retract one, 3 retract many, 4 retract all many,
		   * 5 upsert map one, 6 cas one */
	int e, v, old;
} mop;

static void model_read(dl_store *s, const int64_t *ids, const int64_t *attrs, model *m)
{
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	for (int i = 0; i < M_ENTS; i++) {
		m->one[i] = -1;
		m->many[i] = 0;
		for (int k = 0; k < 2; k++) {
			dl_iter *it;
			dl_view view = {DL_VIEW_CURRENT, 0};
			dl_datom pre = {0}, d;
			pre.e = ids[i];
			pre.a = attrs[k];
			assert_int_equal(dl_iter_open(&it, snap, DL_EAVT, &view, &pre, 2), 0);
			while (dl_iter_next(it, &d) > 0) {
				assert_int_equal(d.v.type, DL_INT);
				if (k == 0) {
					assert_int_equal(m->one[i], -1);
					m->one[i] = (int)d.v.u.i;
				} else {
					m->many[i] |= 1u << d.v.u.i;
				}
			}
			dl_iter_close(it);
		}
	}
	dl_snap_end(snap);
}

static void test_model(void **state)
{
	(void)state;
	uint64_t seed = tu_seed_from_env(12345);
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("model");
	tx_ok(s, &a, &nm,
	      "[{:db/ident :m/one :db/valueType :db.type/long}"
	      " {:db/ident :m/many :db/valueType :db.type/long :db/cardinality :db.cardinality/many}"
	      " {:db/ident :m/key :db/valueType :db.type/string :db/unique :db.unique/identity}"
	      " {:db/id \"k0\" :m/key \"k0\"} {:db/id \"k1\" :m/key \"k1\"}"
	      " {:db/id \"k2\" :m/key \"k2\"} {:db/id \"k3\" :m/key \"k3\"}]",
	      NULL);
	int64_t ids[M_ENTS], attrs[2];
	for (int i = 0; i < M_ENTS; i++)
		ids[i] = nm.e[i];
	dl_snap *snap;
	const dl_schema *sch;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	attrs[0] = attr_by_name(sch, "m/one")->id;
	attrs[1] = attr_by_name(sch, "m/many")->id;
	dl_snap_end(snap);

	const int rounds = tu_scale(300) < 30 ? 30 : (int)tu_scale(300);
	for (int round = 0; round < rounds; round++) {
		model before, want, got;
		model_read(s, ids, attrs, &before);
		want = before;
		int nops = 1 + (int)(tu_rand() % 4);
		mop ops[4];
		dl_buf b = DL_BUF_INIT;
		dl_buf_puts(&b, "[");
		for (int i = 0; i < nops; i++) {
			mop *o = &ops[i];
			o->kind = (int)(tu_rand() % 7);
			o->e = (int)(tu_rand() % M_ENTS);
			o->v = (int)(tu_rand() % M_VALS);
			o->old = (int)(tu_rand() % (M_VALS + 1)) - 1;
			if (o->kind == 6 && tu_rand() % 2)
				o->old = before.one[o->e]; /* usually right */
			const char *an = o->kind == 1 || o->kind == 3 || o->kind == 4 ? ":m/many" : ":m/one";
			switch (o->kind) {
			case 0: case 1:
				dl_buf_printf(&b, "[:db/add [:m/key \"k%d\"] %s %d]", o->e, an, o->v);
				break;
			case 2: case 3:
				dl_buf_printf(&b, "[:db/retract [:m/key \"k%d\"] %s %d]", o->e, an, o->v);
				break;
			case 4:
				dl_buf_printf(&b, "[:db/retract %lld :m/many]", (long long)ids[o->e]);
				break;
			case 5:
				dl_buf_printf(&b, "{:m/key \"k%d\" :m/one %d}", o->e, o->v);
				break;
			case 6:
				if (o->old < 0)
					dl_buf_printf(&b, "[:db/cas [:m/key \"k%d\"] :m/one nil %d]", o->e, o->v);
				else
					dl_buf_printf(&b, "[:db/cas [:m/key \"k%d\"] :m/one %d %d]", o->e,
						      o->old, o->v);
				break;
			}
		}
		dl_buf_puts(&b, "]");
		/* the model: conflicts first, then the net effect */
		int conflict = 0;
		int add_one[M_ENTS];
		unsigned add_many[M_ENTS] = {0}, ret_one[M_ENTS] = {0}, ret_many[M_ENTS] = {0};
		for (int e = 0; e < M_ENTS; e++)
			add_one[e] = -1;
		for (int i = 0; i < nops; i++) {
			mop *o = &ops[i];
			if (o->kind == 6 && o->old != before.one[o->e])
				conflict = 1;
			if (o->kind == 0 || o->kind == 5 || o->kind == 6) {
				if (add_one[o->e] >= 0 && add_one[o->e] != o->v)
					conflict = 1;
				add_one[o->e] = o->v;
			}
			if (o->kind == 1)
				add_many[o->e] |= 1u << o->v;
			if (o->kind == 2)
				ret_one[o->e] |= 1u << o->v;
			if (o->kind == 3)
				ret_many[o->e] |= 1u << o->v;
		}
		for (int e = 0; e < M_ENTS; e++) {
			if ((add_one[e] >= 0 && (ret_one[e] >> add_one[e] & 1)) ||
			    (add_many[e] & ret_many[e]))
				conflict = 1;
		}
		for (int i = 0; i < nops; i++)
			if (ops[i].kind == 4)
				ret_many[ops[i].e] |= before.many[ops[i].e] & ~add_many[ops[i].e];
		for (int e = 0; e < M_ENTS && !conflict; e++) {
			if (want.one[e] >= 0 && (ret_one[e] >> want.one[e] & 1))
				want.one[e] = -1;
			if (add_one[e] >= 0)
				want.one[e] = add_one[e];
			want.many[e] = (want.many[e] & ~ret_many[e]) | add_many[e];
		}
		dl_arena ta = DL_ARENA_INIT;
		dl_tx_report r;
		int rc = run_tx(s, &ta, &nm, b.data, &r);
		if (conflict != (rc == DL_ECONFLICT) || (rc && rc != DL_ECONFLICT))
			fail_msg("seed %llu round %d: %s: rc %d (%s), conflict predicted %d",
				 (unsigned long long)seed, round, b.data, rc, dl_errmsg(), conflict);
		model_read(s, ids, attrs, &got);
		if (memcmp(&got, conflict ? &before : &want, sizeof got))
			fail_msg("seed %llu round %d: %s: state differs from the model",
				 (unsigned long long)seed, round, b.data);
		if (!rc) {
			/* the report is the difference */
			int nadd = 0, nret = 0;
			for (int e = 0; e < M_ENTS; e++) {
				if (before.one[e] != want.one[e]) {
					nadd += want.one[e] >= 0;
					nret += before.one[e] >= 0;
				}
				nadd += __builtin_popcount(want.many[e] & ~before.many[e]);
				nret += __builtin_popcount(before.many[e] & ~want.many[e]);
			}
			int radd = 0, rret = 0;
			for (size_t i = 0; i < r.ndatoms; i++) {
				if (r.datoms[i].a == DL_A_TX_INSTANT)
					continue;
				if (r.datoms[i].added)
					radd++;
				else
					rret++;
			}
			if (radd != nadd || rret != nret)
				fail_msg("seed %llu round %d: %s: report +%d -%d, expected +%d -%d",
					 (unsigned long long)seed, round, b.data, radd, rret, nadd,
					 nret);
		}
		dl_buf_free(&b);
		dl_arena_free(&ta);
	}
	dl_store_close(s);
	dl_arena_free(&a);
}

/* Readers never block and always see a consistent schema while a writer
 * keeps changing it. */
typedef struct reader_arg {
	dl_store *s;
	_Atomic int stop;
	_Atomic int errors;
} reader_arg;

static void *reader_main(void *p)
{
	reader_arg *ra = p;
	int64_t last = 0;
	while (!atomic_load(&ra->stop)) {
		dl_snap *snap;
		const dl_schema *sch;
		if (dl_snap_begin(&snap, ra->s) || dl_schema_get(&sch, snap)) {
			atomic_fetch_add(&ra->errors, 1);
			break;
		}
		int64_t v = dl_schema_version(sch);
		/* newer snapshots never see an older schema; and the schema has
		 * every attribute the snapshot's data uses */
		if (v < last || !attr_by_name(sch, "person/name"))
			atomic_fetch_add(&ra->errors, 1);
		last = v;
		dl_snap_end(snap);
	}
	return NULL;
}

static void test_concurrent_schema(void **state)
{
	(void)state;
	/* the failing allocator's counters are not atomic: use the plain one
	 * while several threads allocate */
	dl_set_allocator(NULL);
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("concurrent");
	tx_ok(s, &a, &nm, k_schema, NULL);
	reader_arg ra = {s, 0, 0};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &ra), 0);
	for (int i = 0; i < 40; i++) {
		char text[200];
		snprintf(text, sizeof text,
			 "[{:db/ident :conc/a%d :db/valueType :db.type/long} {:conc/a%d %d}]", i,
			 i, i);
		tx_ok(s, &a, &nm, text, NULL);
	}
	atomic_store(&ra.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&ra.errors), 0);
	dl_store_close(s);
	dl_arena_free(&a);
	tu_failalloc_install();
}

/* ---- several transactions in one write transaction ---------------------- */

/* dump() plus the totals: what must not change when a batch fails. */
static char *dump_all(dl_store *s)
{
	char *d = dump(s);
	dl_snap *snap;
	dl_store_stats st;
	const dl_schema *sch;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_snap_stats(snap, &st), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	dl_buf b = DL_BUF_INIT;
	dl_buf_printf(&b, "%s\ntotals %llu %llu %llu schema %lld\n", d,
		      (unsigned long long)st.datoms, (unsigned long long)st.history,
		      (unsigned long long)st.transactions, (long long)dl_schema_version(sch));
	dl_snap_end(snap);
	free(d);
	char *out = strdup(b.data);
	dl_buf_free(&b);
	return out;
}

static void store_check_ok(dl_store *s)
{
	if (dl_store_check(s, NULL, NULL) != 0)
		fail_msg("check: %s", dl_errmsg());
}

/* Parse texts[0..n) (after $name substitution) into vals. */
static void parse_many(dl_arena *a, const names *nm, const char *const *texts, size_t n,
		       dl_value *vals)
{
	for (size_t i = 0; i < n; i++) {
		char *t = subst(nm, texts[i]);
		vals[i] = tu_edn(a, t);
		free(t);
	}
}

static int64_t tempid_of(const dl_tx_report *r, const char *name)
{
	for (size_t i = 0; i < r->ntempids; i++) {
		const dl_value *t = &r->tempids[i].tempid;
		if (t->type == DL_STRING && t->len == strlen(name) && !memcmp(t->u.s, name, t->len))
			return r->tempids[i].e;
	}
	return 0;
}

static int64_t tx_instant_of(const dl_tx_report *r)
{
	for (size_t i = 0; i < r->ndatoms; i++)
		if (r->datoms[i].e == r->tx && r->datoms[i].a == DL_A_TX_INSTANT)
			return r->datoms[i].v.u.i;
	fail_msg("tx %lld has no txInstant in its report", (long long)r->tx);
	return 0;
}

/* Storage alone: one LMDB write transaction, three transactions. */
static void test_wtxn_next_tx(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("next_tx");
	tx_ok(s, &a, &nm, "[{:db/ident :n/x :db/valueType :db.type/long}]", NULL);
	const dl_schema *sch;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	int64_t x = attr_by_name(sch, "n/x")->id, t0 = dl_snap_basis_tx(snap);
	dl_snap_end(snap);
	char *before = dump_all(s);

	for (int commit = 0; commit < 2; commit++) {
		dl_wtxn *w;
		assert_int_equal(dl_wtxn_begin(&w, s), 0);
		int64_t e;
		assert_int_equal(dl_wtxn_new_eid(w, &e, DL_PART_USER), 0);
		int64_t t1 = dl_wtxn_tx(w);
		assert_int_equal(t1, t0 + 1);
		assert_int_equal(dl_snap_basis_tx(dl_wtxn_snap(w)), t0);
		dl_value one = dl_int(1), two = dl_int(2);
		dl_value i1 = dl_inst(1000), i2 = dl_inst(2000), i3 = dl_inst(3000);
		assert_int_equal(dl_wtxn_add(w, t1, DL_A_TX_INSTANT, &i1, 0), 1);
		assert_int_equal(dl_wtxn_add(w, e, x, &one, 0), 1);
		assert_int_equal(dl_wtxn_datom_count(w), 2);
		assert_int_equal(dl_wtxn_next_tx(w), 0);
		int64_t t2 = dl_wtxn_tx(w);
		assert_int_equal(t2, t1 + 1);
		assert_int_equal(dl_snap_basis_tx(dl_wtxn_snap(w)), t1);
		assert_int_equal(dl_wtxn_datom_count(w), 0);
		/* the next transaction sees the first one's datom, with its tx */
		int64_t seen = 0;
		assert_int_equal(dl_snap_has(dl_wtxn_snap(w), e, x, &one, &seen), 1);
		assert_int_equal(seen, t1);
		assert_int_equal(dl_wtxn_add(w, t2, DL_A_TX_INSTANT, &i2, 0), 1);
		/* retracted by a later transaction: history [t1, t2) */
		assert_int_equal(dl_wtxn_retract(w, e, x, &one, 0), 1);
		assert_int_equal(dl_wtxn_add(w, e, x, &two, 0), 1);
		assert_int_equal(dl_wtxn_next_tx(w), 0);
		int64_t t3 = dl_wtxn_tx(w);
		assert_int_equal(dl_wtxn_add(w, t3, DL_A_TX_INSTANT, &i3, 0), 1);
		if (!commit) {
			dl_wtxn_abort(w);
			char *after = dump_all(s);
			assert_string_equal(before, after);
			free(after);
			continue;
		}
		assert_int_equal(dl_wtxn_commit(w), 0);
		store_check_ok(s);
		dl_store_stats st;
		assert_int_equal(dl_snap_begin(&snap, s), 0);
		assert_int_equal(dl_snap_basis_tx(snap), t3);
		assert_int_equal(dl_snap_stats(snap, &st), 0);
		assert_int_equal(st.transactions, (uint64_t)DL_EID_NUM(t3));
		assert_int_equal(st.history, 1);
		dl_snap_end(snap);
		expect_view(s, (dl_view){DL_VIEW_AS_OF, t1}, e, x, " +1");
		expect_view(s, (dl_view){DL_VIEW_AS_OF, t2}, e, x, " +2");
		expect_view(s, (dl_view){DL_VIEW_HISTORY, 0}, e, x, " +1 -1 +2");
	}
	free(before);
	dl_store_close(s);
	dl_arena_free(&a);
}

static void test_many(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("many");
	/* on an empty store: the first transaction bootstraps, the schema of
	 * the second is used by the third, "x" is a new entity in two of them,
	 * upserts find what earlier ones wrote */
	static const char *const txs[] = {
		"[]",
		"[{:db/ident :m/email :db/valueType :db.type/string :db/unique :db.unique/identity}"
		" {:db/ident :m/n :db/valueType :db.type/long}]",
		"[{:db/id \"x\" :m/email \"a@x\" :m/n 1} {:db/id \"y\" :m/free \"y\"}]",
		"[{:db/id \"x\" :m/email \"b@x\"} {:db/id \"u\" :m/email \"a@x\" :m/n 2}"
		" [:db/add \"datomic.tx\" :db/doc \"four\"]]",
		"[[:db/retract [:m/email \"a@x\"] :m/n 2] [:db/add \"x\" :m/free \"z\"]]",
	};
	enum { N = sizeof txs / sizeof txs[0] };
	dl_value vals[N];
	dl_tx_report r[N];
	parse_many(&a, &nm, txs, N, vals);
	dl_tx_opts o = DL_TX_OPTS_INIT;
	if (dl_tx_run_many(r, &a, s, vals, N, &o) != 0)
		fail_msg("run_many: %s", dl_errmsg());
	store_check_ok(s);
	assert_int_equal(r[0].basis_before, 0);
	for (size_t i = 1; i < N; i++) {
		assert_int_equal(r[i].tx, r[i - 1].tx + 1);
		assert_int_equal(r[i].basis_before, r[i - 1].tx);
		assert_true(tx_instant_of(&r[i]) >= tx_instant_of(&r[i - 1]));
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < r[i].ndatoms; k++)
			assert_int_equal(r[i].datoms[k].tx, r[i].tx);
	/* tempids per transaction */
	int64_t x2 = tempid_of(&r[2], "x"), x3 = tempid_of(&r[3], "x"), x4 = tempid_of(&r[4], "x");
	assert_int_not_equal(x2, 0);
	assert_int_not_equal(x3, 0);
	assert_int_not_equal(x2, x3);
	assert_int_not_equal(x4, x3);
	assert_int_equal(tempid_of(&r[3], "u"), x2); /* upsert of transaction 3's entity */
	assert_int_equal(tempid_of(&r[3], "datomic.tx"), r[3].tx);
	/* as one transaction at a time would have written them */
	dl_snap *snap;
	const dl_schema *sch;
	dl_store_stats st;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_snap_basis_tx(snap), r[N - 1].tx);
	assert_int_equal(dl_snap_stats(snap, &st), 0);
	assert_int_equal(st.transactions, N);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	/* the last schema change: transaction 3's first use of :m/free */
	assert_int_equal(dl_schema_version(sch), r[2].tx);
	assert_non_null(attr_by_name(sch, "m/free"));
	int64_t n_attr = attr_by_name(sch, "m/n")->id;
	dl_snap_end(snap);
	expect_view(s, (dl_view){DL_VIEW_AS_OF, r[2].tx}, x2, n_attr, " +1");
	expect_view(s, (dl_view){DL_VIEW_AS_OF, r[3].tx}, x2, n_attr, " +2");
	expect_view(s, (dl_view){DL_VIEW_CURRENT, 0}, x2, n_attr, "");
	expect_view(s, (dl_view){DL_VIEW_HISTORY, 0}, x2, n_attr, " +1 -1 +2 -2");

	/* the same texts one transaction at a time give the same datoms (up
	 * to tx ids and instants) */
	dl_store *s1 = open_db("many_one");
	dl_tx_report r1[N];
	for (size_t i = 0; i < N; i++)
		if (dl_tx_run(&r1[i], &a, s1, &vals[i], &o) != 0)
			fail_msg("run %zu: %s", i, dl_errmsg());
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(r1[i].tx, r[i].tx);
		assert_int_equal(r1[i].ndatoms, r[i].ndatoms);
		assert_int_equal(r1[i].ntempids, r[i].ntempids);
		for (size_t k = 0; k < r[i].ntempids; k++)
			assert_int_equal(r1[i].tempids[k].e, r[i].tempids[k].e);
		for (size_t k = 0; k < r[i].ndatoms; k++) {
			const dl_datom *d = &r[i].datoms[k], *d1 = &r1[i].datoms[k];
			assert_int_equal(d->e, d1->e);
			assert_int_equal(d->a, d1->a);
			assert_int_equal(d->added, d1->added);
			if (d->a != DL_A_TX_INSTANT)
				assert_true(dl_value_equal(&d->v, &d1->v));
		}
	}
	dl_store_close(s1);

	/* n == 0 writes nothing; n == 1 is dl_tx_run */
	char *before = dump_all(s);
	assert_int_equal(dl_tx_run_many(NULL, &a, s, NULL, 0, &o), 0);
	char *after = dump_all(s);
	assert_string_equal(before, after);
	free(before);
	free(after);
	dl_store_close(s);
	dl_arena_free(&a);
}

/* A failure anywhere leaves the database (and the schema cache) as it was. */
static void test_many_fail(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("many_fail");
	tx_ok(s, &a, &nm, k_schema, NULL);
	tx_ok(s, &a, &nm, k_data, NULL);
	dl_snap *snap;
	const dl_schema *sch0;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch0, snap), 0);
	int64_t basis = dl_snap_basis_tx(snap);
	dl_snap_end(snap);
	char *before = dump_all(s);
	static const struct {
		const char *txs[5];
		size_t n;
		int rc;
		const char *msg;
	} cases[] = {
		/* the third of five fails; the first two changed the schema and
		 * wrote data the third uses */
		{{"[{:db/ident :f/n :db/valueType :db.type/long}]",
		  "[{:db/id \"c\" :person/name \"Cid\" :person/email \"c@x\" :f/n 1}]",
		  "[{:person/email \"c@x\" :f/n \"one\"}]",
		  "[{:person/name \"Dee\"}]", "[]"},
		 5, DL_ETYPE, "t3: transaction 3 of 5: :f/n expects a long, got \"one\""},
		/* the last one fails a unique check against an earlier one */
		{{"[{:db/id \"d\" :person/ssn \"999\"}]", "[{:db/id \"e\" :person/ssn \"999\"}]"},
		 2, DL_ECONFLICT, "t2: transaction 2 of 2: unique conflict: :person/ssn"},
		/* a later transaction undoes a schema change of an earlier one
		 * in a way that is refused */
		{{"[{:db/ident :f/many :db/cardinality :db.cardinality/many}]",
		  "[{:db/ident :f/many :db/cardinality :db.cardinality/one}]"},
		 2, DL_EINVAL, "t2: transaction 2 of 2: cannot change cardinality of :f/many"},
		/* not a vector: found before anything runs */
		{{"[]", "[]", "{:person/name \"x\"}"}, 3, DL_EINVAL,
		 "t3: transaction 3 of 3: tx-data must be a vector of forms"},
		/* the first fails */
		{{"[[:db/add $ann :person/age \"x\"]]", "[]"}, 2, DL_ETYPE,
		 "t1: transaction 1 of 2: :person/age expects a long"},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		dl_value vals[5];
		dl_tx_report r[5];
		const char *srcs[5] = {"t1", "t2", "t3", "t4", "t5"};
		parse_many(&a, &nm, cases[c].txs, cases[c].n, vals);
		dl_tx_opts o = DL_TX_OPTS_INIT;
		o.sources = srcs;
		int rc = dl_tx_run_many(r, &a, s, vals, cases[c].n, &o);
		if (rc != cases[c].rc || strncmp(dl_errmsg(), cases[c].msg, strlen(cases[c].msg)))
			fail_msg("case %zu: rc %d, message '%s'; expected %d, '%s...'", c, rc,
				 dl_errmsg(), cases[c].rc, cases[c].msg);
		char *after = dump_all(s);
		if (strcmp(before, after))
			fail_msg("case %zu: the database changed", c);
		free(after);
		store_check_ok(s);
	}
	/* the schema cache kept nothing of the failed batches: the next
	 * transaction gets the tx id the first failed one had, and its own
	 * schema change must be what readers see for that version */
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	const dl_schema *x;
	assert_int_equal(dl_schema_get(&x, snap), 0);
	assert_ptr_equal(x, sch0);
	dl_snap_end(snap);
	dl_tx_report r;
	tx_ok(s, &a, &nm, "[{:db/ident :f/n :db/valueType :db.type/string}]", &r);
	assert_int_equal(r.tx, basis + 1);
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&x, snap), 0);
	assert_int_equal(dl_schema_version(x), r.tx);
	assert_int_equal(attr_by_name(x, "f/n")->vtype, DL_VT_STRING);
	dl_snap_end(snap);
	tx_ok(s, &a, &nm, "[{:db/id \"g\" :f/n \"a string now\"}]", NULL);
	free(before);
	dl_store_close(s);
	dl_arena_free(&a);
}

/* Schema changes across the transactions of one batch: each sees the one
 * before, and the cache afterwards holds the last. */
static void test_many_schema(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("many_schema");
	tx_ok(s, &a, &nm, "[{:db/ident :s/a :db/valueType :db.type/long}]", NULL);
	static const char *const txs[] = {
		"[{:db/ident :s/b :db/valueType :db.type/string}]",
		"[{:s/a 1 :s/b \"one\"}]",
		("[{:db/ident :s/c :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}"
		 " {:db/id :s/b :db/unique :db.unique/identity}]"),
		"[{:db/id \"p\" :s/b \"one\" :s/c [\"q\"]} {:db/id \"q\" :s/b \"two\"}]",
		"[{:db/id :s/b :db/ident :s/renamed}]",
		"[{:s/renamed \"three\" :s/a 3}]",
	};
	enum { N = sizeof txs / sizeof txs[0] };
	dl_value vals[N];
	dl_tx_report r[N];
	parse_many(&a, &nm, txs, N, vals);
	dl_tx_opts o = DL_TX_OPTS_INIT;
	if (dl_tx_run_many(r, &a, s, vals, N, &o) != 0)
		fail_msg("run_many: %s", dl_errmsg());
	store_check_ok(s);
	/* "p" upserted through :s/b, made unique in transaction 3 */
	int64_t one = 0;
	for (size_t k = 0; k < r[1].ndatoms; k++)
		if (r[1].datoms[k].e != r[1].tx)
			one = r[1].datoms[k].e;
	assert_int_equal(tempid_of(&r[3], "p"), one);
	dl_snap *snap;
	const dl_schema *sch, *again;
	assert_int_equal(dl_snap_begin(&snap, s), 0);
	assert_int_equal(dl_schema_get(&sch, snap), 0);
	assert_int_equal(dl_schema_get(&again, snap), 0);
	assert_ptr_equal(sch, again);
	assert_int_equal(dl_schema_version(sch), r[4].tx);
	assert_null(attr_by_name(sch, "s/b"));
	const dl_attr *rn = attr_by_name(sch, "s/renamed");
	assert_non_null(rn);
	assert_int_equal(rn->unique, DL_UNIQUE_IDENTITY);
	assert_true(attr_by_name(sch, "s/c")->many);
	dl_snap_end(snap);
	dl_store_close(s);
	dl_arena_free(&a);
}

/* Allocation failures anywhere in a batch: an error, no leak, nothing
 * written. */
/* Run run(ud, arena) failing its 1st, 2nd, ... allocation until a run
 * makes no allocation fail: every failed run returns DL_ENOMEM, leaks
 * nothing and leaves s as it was (dump_all); the last one returns 0. */
typedef int (*fa_run)(void *ud, dl_arena *ra);

static void failalloc_loop(dl_store *s, fa_run run, void *ud)
{
	char *before = dump_all(s); /* warms up the schema cache too */
	for (long n = 1;; n++) {
		dl_arena ra = DL_ARENA_INIT;
		long live = tu_failalloc_live();
		tu_failalloc_arm(n);
		int rc = run(ud, &ra);
		int fired = tu_failalloc_fired();
		tu_failalloc_disarm();
		dl_arena_free(&ra);
		if (!fired) {
			if (rc != 0)
				fail_msg("rc %d: %s", rc, dl_errmsg());
			break;
		}
		if (rc == 0)
			fail_msg("allocation %ld failed but the transaction succeeded", n);
		if (rc != DL_ENOMEM)
			fail_msg("failing allocation %ld: rc %d (%s)", n, rc, dl_errmsg());
		if (tu_failalloc_live() != live)
			fail_msg("failing allocation %ld: %ld blocks leaked", n,
				 tu_failalloc_live() - live);
		char *after = dump_all(s);
		if (strcmp(before, after))
			fail_msg("failing allocation %ld: database changed", n);
		free(after);
		if (n > 100000)
			fail_msg("no end to allocations");
	}
	store_check_ok(s);
	free(before);
}

typedef struct many_arg {
	dl_store *s;
	const dl_value *vals;
	size_t n;
	size_t ndatoms; /* of the last run's reports */
} many_arg;

static int run_many_tx(void *ud, dl_arena *ra)
{
	many_arg *m = ud;
	dl_tx_report r[8];
	assert_true(m->n <= 8);
	dl_tx_opts o = DL_TX_OPTS_INIT;
	int rc = dl_tx_run_many(r, ra, m->s, m->vals, m->n, &o);
	m->ndatoms = 0;
	for (size_t i = 0; !rc && i < m->n; i++)
		m->ndatoms += r[i].ndatoms;
	return rc;
}

static void test_many_failalloc(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("many_failalloc");
	tx_ok(s, &a, &nm, k_schema, NULL);
	tx_ok(s, &a, &nm, k_data, NULL);
	static const char *const txs[] = {
		("[{:db/ident :fm/x :db/valueType :db.type/string}"
		 " {:db/id \"c\" :person/name \"Cid\" :person/email \"c@x\"}]"),
		"[{:person/email \"c@x\" :fm/x \"v\"} [:db/cas $ann :person/age 30 31]]",
		"[{:db/ident :fm/y :db/valueType :db.type/long} [:db/retractEntity $bob]]",
	};
	enum { N = sizeof txs / sizeof txs[0] };
	dl_arena pa = DL_ARENA_INIT;
	dl_value vals[N];
	parse_many(&pa, &nm, txs, N, vals);
	many_arg m = {s, vals, N, 0};
	failalloc_loop(s, run_many_tx, &m);
	dl_arena_free(&pa);
	dl_store_close(s);
	dl_arena_free(&a);
}

/* ---- large transactions: the batch path against the one by one path ------- */

static void same_report(const dl_tx_report *x, const dl_tx_report *y, const char *what)
{
	if (x->tx != y->tx || x->ntempids != y->ntempids || x->ndatoms != y->ndatoms)
		fail_msg("%s: reports differ: tx %lld/%lld, %zu/%zu tempids, %zu/%zu datoms", what,
			 (long long)x->tx, (long long)y->tx, x->ntempids, y->ntempids,
			 x->ndatoms, y->ndatoms);
	for (size_t i = 0; i < x->ntempids; i++)
		if (!dl_value_equal(&x->tempids[i].tempid, &y->tempids[i].tempid) ||
		    x->tempids[i].e != y->tempids[i].e)
			fail_msg("%s: tempid %zu differs", what, i);
	for (size_t i = 0; i < x->ndatoms; i++) {
		const dl_datom *a = &x->datoms[i], *b = &y->datoms[i];
		if (a->e != b->e || a->a != b->a || a->tx != b->tx || a->added != b->added ||
		    !dl_value_equal(&a->v, &b->v) || a->v.type != b->v.type)
			fail_msg("%s: report datom %zu differs", what, i);
	}
}

/* One random transaction of mostly new entities (maps with tempids, refs
 * among them and to older entities, card-many values, nested components,
 * unique identities that sometimes upsert into older entities or into each
 * other, unique values that sometimes conflict), mixed with assertions and
 * retractions about older entities, retractEntity, duplicates, a new
 * attribute used in the same transaction, and an explicit txInstant (the
 * two databases must get the same one). */
static void big_tx(dl_buf *b, int round, const int64_t *olds, int nolds, int *nattr)
{
	/* round 3 is large enough for the batch to sort on a helper thread */
	int n = round == 3 ? (int)tu_scale(8000) : 20 + (int)(tu_rand() % 300);
	dl_buf_printf(b, "[[:db/add \"datomic.tx\" :db/txInstant #inst \"2020-01-01T%02d:%02d:00Z\"]",
		      round / 60, round % 60);
	bool defined = tu_rand() % 3 == 0;
	if (defined)
		dl_buf_printf(b, " {:db/ident :big/a%d :db/valueType :db.type/long}", *nattr);
	for (int i = 0; i < n; i++) {
		uint64_t r = tu_rand();
		int64_t old = nolds ? olds[tu_rand() % (uint64_t)nolds] : 0;
		/* round 3: new entities only (no upserts), one long run */
		switch (round == 3 ? r % 16 | 4 : r % 16) {
		case 0:
			if (old)
				/* one value per entity and tx, another in the next */
				dl_buf_printf(b, " [:db/add %lld :person/active %s]", (long long)old,
					      ((uint64_t)old + (uint64_t)round) % 2 ? "true" : "false");
			break;
		case 1:
			if (old)
				dl_buf_printf(b, " [:db/retract %lld :person/name \"N%d\"]",
					      (long long)old, (int)((r >> 8) % 200));
			break;
		case 2:
			if (old && (r >> 8) % 4 == 0)
				dl_buf_printf(b, " [:db/retractEntity %lld]", (long long)old);
			break;
		case 3:
			if (old)
				dl_buf_printf(b, " [:db/add %lld :person/tags :t%d]", (long long)old,
					      (int)((r >> 8) % 5));
			break;
		case 4:
			/* the same assertion twice, about a new entity */
			dl_buf_printf(b, " [:db/add \"n%d\" :person/age 7] [:db/add \"n%d\" :person/age 7]",
				      i, i);
			break;
		default: {
			/* upserts by email, into older entities or each other, say the
			 * same name and age and no other card-one value (no conflict) */
			int email = round != 3 && tu_rand() % 8 == 0 ? (int)(tu_rand() % 2000) : -1;
			dl_buf_printf(b, " {:db/id \"n%d\"", i);
			if (email >= 0)
				dl_buf_printf(b, " :person/email \"e%d\" :person/name \"E%d\" :person/age %d",
					      email, email, email % 90);
			else
				dl_buf_printf(b, " :person/name \"N%d\" :person/age %d",
					      (int)(tu_rand() % 200), (int)(tu_rand() % 90));
			if (tu_rand() % 3 == 0)
				dl_buf_printf(b, " :person/tags [:t%d :t%d]", (int)(tu_rand() % 5),
					      (int)(tu_rand() % 5));
			if (tu_rand() % 3 == 0) /* refs to new entities and older ones */
				dl_buf_printf(b, " :person/friend [\"n%d\" %lld]",
					      (int)(tu_rand() % (uint64_t)n), (long long)(old ? old : 1));
			if (tu_rand() % 16 == 0) /* unique values, every fifth round twice */
				dl_buf_printf(b, " :person/ssn \"s%d_%d\"", round, round % 5 == 4 ? 0 : i);
			if (email < 0 && tu_rand() % 6 == 0)
				dl_buf_printf(b, " :person/address {:address/street \"S%d\"}",
					      (int)(tu_rand() % 30));
			if (email < 0 && defined && tu_rand() % 2)
				dl_buf_printf(b, " :big/a%d %d", *nattr, i);
			if (email < 0 && tu_rand() % 8 == 0)
				dl_buf_printf(b, " :person/born #inst \"1990-01-01T00:00:00Z\" :person/score %d.5",
					      i);
			if (email < 0 && tu_rand() % 16 == 0) /* values kept out of line (blobs), tuples */
				dl_buf_printf(b, " :address/city \"%0480d\" :point/xy [%d \"x\"]",
					      (int)(tu_rand() % 8), i % 7);
			dl_buf_puts(b, "}");
		}
		}
	}
	dl_buf_puts(b, "]");
	*nattr += defined;
}

static void test_batch_vs_single(void **state)
{
	(void)state;
	uint64_t seed = tu_seed_from_env(777);
	dl_store *sb = open_db("big_batch"), *s1 = open_db("big_single");
	int64_t *olds = NULL;
	int nolds = 0, cap = 0, nattr = 0, failed = 0;
	const char *schema_tx = k_schema;
	const int rounds = tu_scale(40) < 8 ? 8 : (int)tu_scale(40);
	for (int round = -1; round < rounds; round++) {
		dl_buf b = DL_BUF_INIT;
		if (round < 0) {
			/* the schema, with an explicit txInstant in front */
			dl_buf_puts(&b, "[{:db/id \"datomic.tx\" :db/txInstant #inst \"2019-01-01T00:00:00Z\"} ");
			dl_buf_puts(&b, schema_tx + 1);
		} else {
			big_tx(&b, round, olds, nolds, &nattr);
		}
		dl_arena pa = DL_ARENA_INIT, ra = DL_ARENA_INIT, r1 = DL_ARENA_INIT;
		dl_value v = tu_edn(&pa, b.data);
		dl_tx_report rb, rs;
		dl_tx_opts o = DL_TX_OPTS_INIT;
		/* every other round in batches of 7 datoms at most */
		dl_tx_set_batch(1, round % 2 ? 7 : 0);
		int rcb = dl_tx_run(&rb, &ra, sb, &v, &o);
		dl_tx_set_batch(SIZE_MAX, 0);
		int rc1 = dl_tx_run(&rs, &r1, s1, &v, &o);
		dl_tx_set_batch(0, 0);
		char what[64];
		snprintf(what, sizeof what, "seed %llu round %d", (unsigned long long)seed, round);
		if (rcb != rc1)
			fail_msg("%s: rc %d (batch) and %d (one by one)", what, rcb, rc1);
		if (rcb && rcb != DL_ECONFLICT)
			fail_msg("%s: rc %d: %s", what, rcb, dl_errmsg());
		failed += rcb != 0;
		if (!rcb) {
			same_report(&rb, &rs, what);
			for (size_t i = 0; i < rb.ntempids; i++) {
				if (rb.tempids[i].e == rb.tx)
					continue;
				if (nolds == cap) {
					cap = cap ? 2 * cap : 256;
					olds = realloc(olds, (size_t)cap * sizeof *olds);
					assert_non_null(olds);
				}
				olds[nolds++] = rb.tempids[i].e;
			}
		}
		tu_same_store(sb, s1, what);
		dl_arena_free(&pa);
		dl_arena_free(&ra);
		dl_arena_free(&r1);
		dl_buf_free(&b);
	}
	/* most transactions went through, a few failed */
	if (failed == 0 || failed >= rounds / 2)
		fail_msg("seed %llu: %d of %d transactions failed", (unsigned long long)seed,
			 failed, rounds);
	store_check_ok(sb);
	store_check_ok(s1);
	free(olds);
	dl_store_close(sb);
	dl_store_close(s1);
}

/* A failing allocation anywhere in a transaction that writes batches (and
 * single datoms between them) leaves the database as it was. */
static void test_batch_failalloc(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("batch_failalloc");
	tx_ok(s, &a, &nm, k_schema, NULL);
	tx_ok(s, &a, &nm, k_data, NULL);
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < 300; i++) {
		dl_buf_printf(&b, "{:db/id \"p%d\" :person/name \"P%d\" :person/age %d"
			      " :person/tags [:x :y] :person/friend [\"p%d\" $ann]}",
			      i, i, i, (i + 1) % 300);
		if (i == 150) /* a run of single writes between two batches */
			dl_buf_puts(&b, " [:db/add $ann :person/age 31] [:db/retract $bob :person/ssn \"123\"]");
	}
	dl_buf_puts(&b, "]");
	char *text = subst(&nm, b.data);
	dl_arena pa = DL_ARENA_INIT;
	dl_value v = tu_edn(&pa, text);
	free(text);
	dl_buf_free(&b);
	many_arg m = {s, &v, 1, 0};
	failalloc_loop(s, run_many_tx, &m);
	assert_int_equal(m.ndatoms, 1 + 300 * 6 + 3);
	dl_arena_free(&pa);
	dl_store_close(s);
	dl_arena_free(&a);
}

/* ---- allocation failure ----------------------------------------------------- */

static void test_failalloc(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT;
	names nm = {0};
	dl_store *s = open_db("failalloc");
	tx_ok(s, &a, &nm, k_schema, NULL);
	tx_ok(s, &a, &nm, k_data, NULL);
	static const char *const txs[] = {
		"[{:db/id \"c\" :person/name \"Cid\" :person/email \"ann@x\" :person/tags [:x :y]"
		"  :person/address {:address/street \"S\"} :person/_friend [$bob]}"
		" [:db/retractEntity $bob] [:db/cas $ann :person/age 30 31]"
		" {:db/ident :fa/new :db/valueType :db.type/string} {:fa/new \"v\" :fa/free 1}]",
		"[[:db/add $ann :person/age \"bad\"]]",
	};
	for (size_t k = 0; k < sizeof txs / sizeof txs[0]; k++) {
		char *text = subst(&nm, txs[k]);
		dl_arena pa = DL_ARENA_INIT;
		dl_value v = tu_edn(&pa, text);
		free(text);
		int expect = k == 0 ? 0 : DL_ETYPE;
		/* warm up whatever storage and the schema cache keep per store */
		char *before = dump(s);
		for (long n = 1;; n++) {
			dl_arena ra = DL_ARENA_INIT;
			dl_tx_report r;
			long live = tu_failalloc_live();
			tu_failalloc_arm(n);
			dl_tx_opts o = DL_TX_OPTS_INIT;
			int rc = dl_tx_run(&r, &ra, s, &v, &o);
			int fired = tu_failalloc_fired();
			tu_failalloc_disarm();
			dl_arena_free(&ra);
			if (!fired) {
				assert_int_equal(rc, expect);
				if (k == 0) /* the schema cache may keep a new version */
					break;
				assert_int_equal(tu_failalloc_live(), live);
				break;
			}
			if (rc != DL_ENOMEM && rc != expect)
				fail_msg("tx %zu, failing allocation %ld: rc %d (%s)", k, n, rc,
					 dl_errmsg());
			if (rc == 0)
				fail_msg("tx %zu: allocation %ld failed but the tx succeeded", k, n);
			if (tu_failalloc_live() != live)
				fail_msg("tx %zu, failing allocation %ld: %ld blocks leaked", k, n,
					 tu_failalloc_live() - live);
			char *after = dump(s);
			if (strcmp(before, after))
				fail_msg("tx %zu, failing allocation %ld: database changed", k, n);
			free(after);
			if (n > 100000)
				fail_msg("no end to allocations");
		}
		free(before);
		dl_arena_free(&pa);
	}
	dl_store_close(s);
	dl_arena_free(&a);
}

int main(void)
{
	tu_failalloc_install();
	const char *tmp = getenv("DL_TEST_TMP");
	snprintf(g_dir, sizeof g_dir, "%s/tx", tmp && *tmp ? tmp : "/tmp/datalite-test");
	mkdirs(g_dir);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_bootstrap),
		cmocka_unit_test(test_schema_cache),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_tempids),
		cmocka_unit_test(test_tx_instant),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_concurrent_schema),
		cmocka_unit_test(test_failalloc),
		cmocka_unit_test(test_wtxn_next_tx),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_many_fail),
		cmocka_unit_test(test_many_schema),
		cmocka_unit_test(test_many_failalloc),
		cmocka_unit_test(test_batch_vs_single),
		cmocka_unit_test(test_batch_failalloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
