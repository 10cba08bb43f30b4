/* The pull engine (src/query/pull.h): every pattern form and option,
 * reverse references, components, recursion with a depth and with `...` on
 * cyclic data and down a long chain, defaults, limits, the views (as-of,
 * since, history), pull-many, entity maps, entity references, compile
 * errors, and allocation failure.
 *
 * Cases are data: a pattern, an entity and the printed EDN result, with
 * "$name" standing for the entity of tempid "name".  The expected results
 * of the recursive cases were checked against DataScript 1.8.1 on the same
 * data. */
#include "testutil.h"

#include "query/pull.h"
#include "tx/tx.h"

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

typedef struct fx {
	dl_store *s;
	dl_arena a;
	char name[96][24];
	int64_t e[96];
	int n;
	int64_t tx[16]; /* the transactions run, in order */
	int ntx;
} fx;

static void fx_open(fx *f, const char *name)
{
	memset(f, 0, sizeof *f);
	f->a = (dl_arena)DL_ARENA_INIT;
	char path[600], lock[640];
	snprintf(path, sizeof path, "%s/pull_%d_%s.db", g_dir, g_dbn++, name);
	snprintf(lock, sizeof lock, "%s-lock", path);
	unlink(path);
	unlink(lock);
	dl_store_opts o = DL_STORE_OPTS_INIT;
	o.sync = 0;
	o.map_size = (size_t)1 << 30;
	if (dl_store_open(&f->s, path, &o))
		fail_msg("open %s: %s", path, dl_errmsg());
}

static void fx_close(fx *f)
{
	dl_store_close(f->s);
	dl_arena_free(&f->a);
}

static int64_t fx_id(const fx *f, const char *name, size_t n)
{
	for (int i = 0; i < f->n; i++)
		if (strlen(f->name[i]) == n && !memcmp(f->name[i], name, n))
			return f->e[i];
	fail_msg("unknown entity name %.*s", (int)n, name);
	return 0;
}

/* "$ann" in text becomes ann's entity id (a caller-freed copy). */
static char *subst(const fx *f, const char *text)
{
	dl_buf b = DL_BUF_INIT;
	for (const char *p = text; *p;) {
		if (*p == '$') {
			const char *q = p + 1;
			while (*q == '_' || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9'))
				q++;
			dl_buf_printf(&b, "%lld", (long long)fx_id(f, p + 1, (size_t)(q - p - 1)));
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

static void fx_tx(fx *f, const char *text)
{
	dl_arena ta = DL_ARENA_INIT;
	char *t = subst(f, text);
	dl_value v = tu_edn(&ta, t);
	free(t);
	dl_tx_report r;
	dl_tx_opts o = DL_TX_OPTS_INIT;
	if (dl_tx_run(&r, &ta, f->s, &v, &o))
		fail_msg("tx %s failed: %s", text, dl_errmsg());
	for (size_t i = 0; i < r.ntempids && f->n < 96; i++) {
		const dl_value *tv = &r.tempids[i].tempid;
		if (tv->type != DL_STRING)
			continue;
		snprintf(f->name[f->n], sizeof f->name[0], "%.*s", (int)tv->len, tv->u.s);
		f->e[f->n++] = r.tempids[i].e;
	}
	if (f->ntx < 16)
		f->tx[f->ntx++] = r.tx;
	dl_arena_free(&ta);
}

/* Compile `pattern` and pull `ent` (EDN: an id after $-substitution, an
 * ident or a lookup ref) through `view`; the printed result, or
 * "ERR <code>: <message>" (caller frees). */
static char *pull_str(fx *f, const dl_view *view, const char *pattern, const char *ent)
{
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f->s), 0);
	char *pt = subst(f, pattern), *et = subst(f, ent);
	dl_value pv = tu_edn(&a, pt), ev = tu_edn(&a, et);
	free(pt);
	free(et);
	char *out;
	dl_pull_pattern *p;
	int rc = dl_pull_compile(&p, &a, &pv, snap, "<test>");
	int64_t e = 0;
	if (rc == 0)
		rc = dl_pull_entid(&e, snap, view, &ev);
	dl_value res;
	if (rc >= 0)
		rc = dl_pull_run(&res, &a, snap, view, p, e);
	if (rc < 0) {
		size_t n = strlen(dl_errmsg()) + 32;
		out = malloc(n);
		snprintf(out, n, "ERR %d: %s", rc, dl_errmsg());
	} else {
		out = tu_print(&res);
	}
	dl_snap_end(snap);
	dl_arena_free(&a);
	return out;
}

static void expect_pull(fx *f, const dl_view *view, const char *pattern, const char *ent,
			const char *expected)
{
	char *got = pull_str(f, view, pattern, ent);
	char *want = subst(f, expected);
	if (strcmp(got, want))
		fail_msg("pull %s of %s\n  want %s\n  got  %s", pattern, ent, want, got);
	free(got);
	free(want);
}

/* ---- the social data ---------------------------------------------------- */

static const char *k_schema =
	"[{:db/ident :person/name :db/valueType :db.type/string"
	"  :db/unique :db.unique/identity}"
	" {:db/ident :person/age :db/valueType :db.type/long}"
	" {:db/ident :person/friend :db/valueType :db.type/ref"
	"  :db/cardinality :db.cardinality/many}"
	" {:db/ident :person/best :db/valueType :db.type/ref}"
	" {:db/ident :person/tag :db/valueType :db.type/keyword"
	"  :db/cardinality :db.cardinality/many}"
	" {:db/ident :person/born :db/valueType :db.type/instant}"
	" {:db/ident :person/gender :db/valueType :db.type/ref}"
	" {:db/ident :person/address :db/valueType :db.type/ref :db/isComponent true}"
	" {:db/ident :person/phone :db/valueType :db.type/ref :db/isComponent true"
	"  :db/cardinality :db.cardinality/many}"
	" {:db/ident :address/city :db/valueType :db.type/string}"
	" {:db/ident :address/geo :db/valueType :db.type/ref :db/isComponent true}"
	" {:db/ident :geo/lat :db/valueType :db.type/double}"
	" {:db/ident :phone/number :db/valueType :db.type/string}"
	" {:db/ident :node/next :db/valueType :db.type/ref}"
	" {:db/ident :node/n :db/valueType :db.type/long}"
	" {:db/id \"female\" :db/ident :gender/female}"
	" {:db/id \"male\" :db/ident :gender/male}]";

/* ann <-> bob are friends (a cycle); cy's friend is dan; ann owns an
 * address (with a geo component) and two phones. */
static const char *k_data =
	"[{:db/id \"ann\" :person/name \"ann\" :person/age 30 :person/friend [\"bob\" \"cy\"]"
	"  :person/best \"bob\" :person/tag [:b :a :c]"
	"  :person/born #inst \"1990-01-02T03:04:05.006Z\" :person/gender :gender/female"
	"  :person/address \"addr\" :person/phone [\"ph1\" \"ph2\"]}"
	" {:db/id \"bob\" :person/name \"bob\" :person/friend [\"ann\"] :person/best \"cy\"}"
	" {:db/id \"cy\" :person/name \"cy\" :person/friend [\"dan\"]}"
	" {:db/id \"dan\" :person/name \"dan\"}"
	" {:db/id \"addr\" :address/city \"Paris\" :address/geo \"geo\"}"
	" {:db/id \"geo\" :geo/lat 48.5}"
	" {:db/id \"ph1\" :phone/number \"1\"}"
	" {:db/id \"ph2\" :phone/number \"2\"}]";

static void social(fx *f)
{
	fx_open(f, "social");
	fx_tx(f, k_schema);
	fx_tx(f, k_data);
	/* the cases below list refs in entity-id order */
	assert_true(fx_id(f, "ann", 3) < fx_id(f, "bob", 3));
	assert_true(fx_id(f, "bob", 3) < fx_id(f, "cy", 2));
	assert_true(fx_id(f, "cy", 2) < fx_id(f, "dan", 3));
	assert_true(fx_id(f, "ph1", 3) < fx_id(f, "ph2", 3));
}

typedef struct pcase {
	const char *pattern, *ent, *expected;
} pcase;

static void run_cases(fx *f, const dl_view *view, const pcase *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_pull(f, view, cs[i].pattern, cs[i].ent, cs[i].expected);
}

#define RUN(f, view, cs) run_cases((f), (view), (cs), sizeof(cs) / sizeof((cs)[0]))

/* ---- pattern forms -------------------------------------------------------- */

static const pcase k_forms[] = {
	/* attribute names; keys sorted; missing attributes left out */
	{"[:person/name :person/age]", "$ann", "{:person/age 30, :person/name \"ann\"}"},
	{"[:person/name :person/age :person/best]", "$dan", "{:person/name \"dan\"}"},
	/* nothing to show: nil */
	{"[:person/age]", "$dan", "nil"},
	{"[:db/id :person/name]", "$bob", "{:db/id $bob, :person/name \"bob\"}"},
	{"[:db/id]", "$bob", "{:db/id $bob}"},
	/* cardinality many: a vector in index (value) order */
	{"[:person/tag]", "$ann", "{:person/tag [:a :b :c]}"},
	/* types kept */
	{"[:person/born :person/age]", "$ann",
	 "{:person/age 30, :person/born #inst \"1990-01-02T03:04:05.006Z\"}"},
	/* refs without a nested pattern: {:db/id n}, idents included */
	{"[:person/best :person/friend]", "$ann",
	 "{:person/best {:db/id $bob}, :person/friend [{:db/id $bob} {:db/id $cy}]}"},
	{"[:person/gender]", "$ann", "{:person/gender {:db/id $female}}"},
	{"[{:person/gender [:db/ident]}]", "$ann", "{:person/gender {:db/ident :gender/female}}"},
	/* nested maps */
	{"[:person/name {:person/friend [:person/name]}]", "$ann",
	 "{:person/friend [{:person/name \"bob\"} {:person/name \"cy\"}], :person/name \"ann\"}"},
	{"[{:person/best [:person/name {:person/best [:person/name]}]}]", "$ann",
	 "{:person/best {:person/best {:person/name \"cy\"}, :person/name \"bob\"}}"},
	/* two entries in one map spec */
	{"[{:person/best [:person/name] :person/friend [:db/id]}]", "$bob",
	 "{:person/best {:person/name \"cy\"}, :person/friend [{:db/id $ann}]}"},
	/* nested results that come out empty are left out, and so is an
	 * attribute left with none */
	{"[:person/name {:person/friend [:phone/number]}]", "$bob", "{:person/name \"bob\"}"},
	{"[{:person/friend [:phone/number]}]", "$bob", "nil"},
	{"[{:person/friend [{:person/friend [:person/name]}]}]", "$ann",
	 "{:person/friend [{:person/friend [{:person/name \"ann\"}]} "
	 "{:person/friend [{:person/name \"dan\"}]}]}"},
	/* reverse references: a vector of the referring entities */
	{"[:person/name :person/_friend]", "$ann",
	 "{:person/_friend [{:db/id $bob}], :person/name \"ann\"}"},
	{"[{:person/_friend [:person/name]}]", "$dan", "{:person/_friend [{:person/name \"cy\"}]}"},
	{"[:person/_best]", "$cy", "{:person/_best [{:db/id $bob}]}"},
	{"[:person/_friend]", "$female", "nil"},
	/* the reverse of a component: its one owner */
	{"[:address/city :person/_address]", "$addr",
	 "{:address/city \"Paris\", :person/_address {:db/id $ann}}"},
	{"[{:person/_address [:person/name]}]", "$addr", "{:person/_address {:person/name \"ann\"}}"},
	{"[:person/_phone]", "$ph2", "{:person/_phone {:db/id $ann}}"},
	{"[{:address/_geo [{:person/_address [:person/name]}]}]", "$geo",
	 "{:address/_geo {:person/_address {:person/name \"ann\"}}}"},
	/* a list works like a vector; an empty pattern shows nothing */
	{"(:person/name)", "$cy", "{:person/name \"cy\"}"},
	{"[]", "$cy", "nil"},
	/* an unknown entity id: nil, even for :db/id */
	{"[:db/id :person/name]", "999999", "nil"},
	{"[*]", "999999", "nil"},
};

static void test_forms(void **state)
{
	(void)state;
	fx f;
	social(&f);
	RUN(&f, NULL, k_forms);
	fx_close(&f);
}

/* ---- wildcard and components ---------------------------------------------- */

static const pcase k_wildcard[] = {
	/* components pulled whole (recursively), other refs as {:db/id n} */
	{"[*]", "$ann",
	 "{:db/id $ann, :person/address {:address/city \"Paris\", :address/geo {:db/id $geo, "
	 ":geo/lat 48.5}, :db/id $addr}, :person/age 30, :person/best {:db/id $bob}, "
	 ":person/born #inst \"1990-01-02T03:04:05.006Z\", :person/friend [{:db/id $bob} "
	 "{:db/id $cy}], :person/gender {:db/id $female}, :person/name \"ann\", :person/phone "
	 "[{:db/id $ph1, :phone/number \"1\"} {:db/id $ph2, :phone/number \"2\"}], "
	 ":person/tag [:a :b :c]}"},
	/* a component named without a pattern is pulled whole too */
	{"[:person/address]", "$ann",
	 "{:person/address {:address/city \"Paris\", :address/geo {:db/id $geo, :geo/lat 48.5}, "
	 ":db/id $addr}}"},
	/* with a pattern, only what it asks */
	{"[{:person/address [:address/city]}]", "$ann", "{:person/address {:address/city \"Paris\"}}"},
	/* explicit specs take over their attributes from * */
	{"[* {:person/friend [:person/name]}]", "$bob",
	 "{:db/id $bob, :person/best {:db/id $cy}, :person/friend [{:person/name \"ann\"}], "
	 ":person/name \"bob\"}"},
	{"[:person/name *]", "$dan", "{:db/id $dan, :person/name \"dan\"}"},
	{"[* [:person/name :as :n]]", "$dan", "{:n \"dan\", :db/id $dan}"},
	/* * on an ident entity shows the ident */
	{"[*]", "$female", "{:db/id $female, :db/ident :gender/female}"},
	{"[{:person/gender [*]}]", "$ann", "{:person/gender {:db/id $female, :db/ident :gender/female}}"},
	/* * in nested patterns */
	{"[{:person/friend [*]}]", "$cy",
	 "{:person/friend [{:db/id $dan, :person/name \"dan\"}]}"},
};

static void test_wildcard(void **state)
{
	(void)state;
	fx f;
	social(&f);
	RUN(&f, NULL, k_wildcard);
	fx_close(&f);
}

/* ---- options ---------------------------------------------------------------- */

static const pcase k_options[] = {
	/* :limit, both spellings, and the map-spec form */
	{"[[:person/tag :limit 2]]", "$ann", "{:person/tag [:a :b]}"},
	{"[(:person/tag :limit 2)]", "$ann", "{:person/tag [:a :b]}"},
	{"[[:person/tag :limit nil]]", "$ann", "{:person/tag [:a :b :c]}"},
	{"[(limit :person/tag 1)]", "$ann", "{:person/tag [:a]}"},
	{"[[\"limit\" :person/tag 1]]", "$ann", "{:person/tag [:a]}"},
	{"[{[:person/friend :limit 1] [:person/name]}]", "$ann",
	 "{:person/friend [{:person/name \"bob\"}]}"},
	{"[{(:person/friend :limit 1) [:person/name]}]", "$ann",
	 "{:person/friend [{:person/name \"bob\"}]}"},
	{"[[:person/_friend :limit 1]]", "$ann", "{:person/_friend [{:db/id $bob}]}"},
	/* :limit on cardinality one changes nothing */
	{"[[:person/name :limit 1]]", "$ann", "{:person/name \"ann\"}"},
	/* :as */
	{"[[:person/name :as \"Name\"] [:db/id :as :id]]", "$ann", "{\"Name\" \"ann\", :id $ann}"},
	{"[{(:person/friend :limit 1 :as :pals) [[:person/name :as :n]]}]", "$ann",
	 "{:pals [{:n \"bob\"}]}"},
	{"[[:person/_friend :as :fans]]", "$ann", "{:fans [{:db/id $bob}]}"},
	/* :default: for a missing attribute only */
	{"[:person/name [:person/age :default 0]]", "$bob", "{:person/age 0, :person/name \"bob\"}"},
	{"[[:person/age :default 0]]", "$ann", "{:person/age 30}"},
	{"[(default :person/age -1)]", "$cy", "{:person/age -1}"},
	{"[[:person/tag :default []]]", "$bob", "{:person/tag []}"},
	{"[[:person/_friend :default :nobody]]", "$female", "{:person/_friend :nobody}"},
	{"[[:person/age :default 0 :as :years]]", "$bob", "{:years 0}"},
	{"[{[:person/best :default \"none\"] [:person/name]}]", "$dan",
	 "{:person/best \"none\"}"},
	/* a later spec wins its key */
	{"[:person/name [:person/age :as :person/name]]", "$ann", "{:person/name 30}"},
	/* :default nil is no default */
	{"[[:person/age :default nil]]", "$bob", "nil"},
};

static void test_options(void **state)
{
	(void)state;
	fx f;
	social(&f);
	RUN(&f, NULL, k_options);
	fx_close(&f);
}

/* 1500 values: the default limit (1000) for named attributes, * and
 * reverse attributes; nil lifts it. */
static void test_default_limit(void **state)
{
	(void)state;
	fx f;
	fx_open(&f, "limit");
	fx_tx(&f, "[{:db/ident :big/v :db/valueType :db.type/long :db/cardinality :db.cardinality/many}"
		  " {:db/ident :big/z :db/valueType :db.type/string}"
		  " {:db/ident :big/r :db/valueType :db.type/ref}]");
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[{:db/id \"big\" :big/z \"after\" :big/v [");
	for (int i = 0; i < 1500; i++)
		dl_buf_printf(&b, " %d", i);
	dl_buf_puts(&b, "]}");
	for (int i = 0; i < 1200; i++)
		dl_buf_printf(&b, " {:big/r \"big\"}");
	dl_buf_puts(&b, "]");
	fx_tx(&f, b.data);
	dl_buf_free(&b);

	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	const char *pats[] = {"[:big/v :big/z :big/_r]", "[*]", "[[:big/v :limit nil] [:big/_r :limit nil]]",
			      "[[:big/v :limit 1001]]"};
	const uint32_t want_v[] = {1000, 1000, 1500, 1001}, want_r[] = {1000, 0, 1200, 0};
	for (int k = 0; k < 4; k++) {
		dl_value pv = tu_edn(&a, pats[k]), res;
		dl_pull_pattern *p;
		assert_int_equal(dl_pull_compile(&p, &a, &pv, snap, NULL), 0);
		assert_int_equal(dl_pull_run(&res, &a, snap, NULL, p, fx_id(&f, "big", 3)), 0);
		assert_int_equal(res.type, DL_MAP);
		uint32_t nv = 0, nr = 0;
		bool z = false;
		for (uint32_t i = 0; i < res.len; i++) {
			const dl_value *key = &res.u.items[2 * i], *val = &res.u.items[2 * i + 1];
			char *ks = tu_print(key);
			if (!strcmp(ks, ":big/v")) {
				nv = val->len;
				for (uint32_t j = 0; j < val->len; j++)
					assert_int_equal(val->u.items[j].u.i, (int64_t)j);
			} else if (!strcmp(ks, ":big/_r")) {
				nr = val->len;
			} else if (!strcmp(ks, ":big/z")) {
				z = true;
			}
			free(ks);
		}
		assert_int_equal(nv, want_v[k]);
		assert_int_equal(nr, want_r[k]);
		/* the attribute after the skipped values is still there */
		assert_true(z == (k < 2));
	}
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

/* ---- recursion ------------------------------------------------------------------ */

/* Checked against DataScript 1.8.1 on the same data: the root is not
 * counted as entered, so the cycle ann -> bob -> ann shows ann once more
 * and stops at bob. */
static const pcase k_recursion[] = {
	{"[:person/name {:person/friend ...}]", "$ann",
	 "{:person/friend [{:person/friend [{:person/friend [{:db/id $bob} {:person/friend "
	 "[{:person/name \"dan\"}], :person/name \"cy\"}], :person/name \"ann\"}], :person/name "
	 "\"bob\"} {:person/friend [{:person/name \"dan\"}], :person/name \"cy\"}], :person/name "
	 "\"ann\"}"},
	{"[:person/name {:person/friend 1}]", "$ann",
	 "{:person/friend [{:person/name \"bob\"} {:person/name \"cy\"}], :person/name \"ann\"}"},
	{"[:person/name {:person/friend 2}]", "$ann",
	 "{:person/friend [{:person/friend [{:person/friend [{:db/id $bob}], :person/name \"ann\"}], "
	 ":person/name \"bob\"} {:person/friend [{:person/name \"dan\"}], :person/name \"cy\"}], "
	 ":person/name \"ann\"}"},
	{"[:person/name {:person/friend 3}]", "$ann",
	 "{:person/friend [{:person/friend [{:person/friend [{:db/id $bob} {:person/name \"cy\"}], "
	 ":person/name \"ann\"}], :person/name \"bob\"} {:person/friend [{:person/name \"dan\"}], "
	 ":person/name \"cy\"}], :person/name \"ann\"}"},
	/* reverse recursion */
	{"[:person/name {:person/_friend ...}]", "$dan",
	 "{:person/_friend [{:person/_friend [{:person/_friend [{:person/_friend [{:db/id $ann}], "
	 ":person/name \"bob\"}], :person/name \"ann\"}], :person/name \"cy\"}], :person/name "
	 "\"dan\"}"},
	/* cardinality one */
	{"[:person/name {:person/best ...}]", "$ann",
	 "{:person/best {:person/best {:person/name \"cy\"}, :person/name \"bob\"}, :person/name "
	 "\"ann\"}"},
	/* recursion inside a nested pattern applies the nested pattern */
	{"[:person/name {:person/friend [:person/name {:person/best ...}]}]", "$ann",
	 "{:person/friend [{:person/best {:person/name \"cy\"}, :person/name \"bob\"} {:person/name "
	 "\"cy\"}], :person/name \"ann\"}"},
	/* the string spelling */
	{"[:person/name {:person/best \"...\"}]", "$bob",
	 "{:person/best {:person/name \"cy\"}, :person/name \"bob\"}"},
};

static void test_recursion(void **state)
{
	(void)state;
	fx f;
	social(&f);
	RUN(&f, NULL, k_recursion);
	fx_close(&f);
}

/* A cycle through components: * stops at the entity already entered. */
static void test_component_cycle(void **state)
{
	(void)state;
	fx f;
	fx_open(&f, "ccycle");
	fx_tx(&f, "[{:db/ident :c/part :db/valueType :db.type/ref :db/isComponent true}"
		  " {:db/ident :c/n :db/valueType :db.type/string}]");
	fx_tx(&f, "[{:db/id \"x\" :c/n \"x\" :c/part \"y\"} {:db/id \"y\" :c/n \"y\" :c/part \"x\"}]");
	const pcase cs[] = {
		{"[*]", "$x",
		 "{:c/n \"x\", :c/part {:c/n \"y\", :c/part {:c/n \"x\", :c/part {:db/id $y}, :db/id $x}, "
		 ":db/id $y}, :db/id $x}"},
		{"[:c/n {:c/part ...}]", "$x",
		 "{:c/n \"x\", :c/part {:c/n \"y\", :c/part {:c/n \"x\", :c/part {:db/id $y}}}}"},
	};
	RUN(&f, NULL, cs);
	fx_close(&f);
}

/* `...` down a chain of 3000 entities: no C recursion, so no stack
 * overflow; and a depth bound cuts it. */
static void test_deep_chain(void **state)
{
	(void)state;
	fx f;
	fx_open(&f, "chain");
	fx_tx(&f, "[{:db/ident :node/next :db/valueType :db.type/ref}"
		  " {:db/ident :node/n :db/valueType :db.type/long}]");
	enum { N = 3000 };
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < N; i++) {
		dl_buf_printf(&b, "{:db/id \"n%d\" :node/n %d", i, i);
		if (i + 1 < N)
			dl_buf_printf(&b, " :node/next \"n%d\"", i + 1);
		dl_buf_puts(&b, "}");
	}
	dl_buf_puts(&b, "]");
	fx_tx(&f, b.data);
	dl_buf_free(&b);

	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	const char *pats[] = {"[:node/n {:node/next ...}]", "[:node/n {:node/next 100}]"};
	const int want[] = {N, 101};
	for (int k = 0; k < 2; k++) {
		dl_value pv = tu_edn(&a, pats[k]), res;
		dl_pull_pattern *p;
		assert_int_equal(dl_pull_compile(&p, &a, &pv, snap, NULL), 0);
		assert_int_equal(dl_pull_run(&res, &a, snap, NULL, p, fx_id(&f, "n0", 2)), 0);
		int depth = 0;
		const dl_value *m = &res;
		while (m && m->type == DL_MAP) {
			/* {:node/n i, :node/next {...}} */
			assert_int_equal(m->u.items[1].u.i, depth);
			depth++;
			m = m->len == 2 ? &m->u.items[3] : NULL;
		}
		assert_int_equal(depth, want[k]);
	}
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

/* A complete graph makes `...` explode (every acyclic path is followed):
 * the pull stops at its budget with DL_ELIMIT instead of running on. */
static void test_budget(void **state)
{
	(void)state;
	fx f;
	fx_open(&f, "budget");
	fx_tx(&f, "[{:db/ident :g/to :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]");
	dl_buf b = DL_BUF_INIT;
	dl_buf_puts(&b, "[");
	for (int i = 0; i < 12; i++) {
		dl_buf_printf(&b, "{:db/id \"v%d\" :g/to [", i);
		for (int j = 0; j < 12; j++)
			if (j != i)
				dl_buf_printf(&b, " \"v%d\"", j);
		dl_buf_puts(&b, "]}");
	}
	dl_buf_puts(&b, "]");
	fx_tx(&f, b.data);
	dl_buf_free(&b);

	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	dl_value pv = tu_edn(&a, "[{:g/to ...}]"), res;
	dl_pull_pattern *p;
	assert_int_equal(dl_pull_compile(&p, &a, &pv, snap, NULL), 0);
	dl_pull_set_max_maps(p, 5000);
	assert_int_equal(dl_pull_run(&res, &a, snap, NULL, p, fx_id(&f, "v0", 2)), DL_ELIMIT);
	assert_string_equal(dl_errmsg(), "pull: more than 5000 entity maps (recursion on densely "
					 "connected data?); give the recursion a depth");
	/* a depth keeps it small: 1 + 11 + 11 * 11 maps (the root is not
	 * counted as entered, so it comes again at depth 2) */
	pv = tu_edn(&a, "[:db/id {:g/to 2}]");
	assert_int_equal(dl_pull_compile(&p, &a, &pv, snap, NULL), 0);
	dl_pull_set_max_maps(p, 133);
	assert_int_equal(dl_pull_run(&res, &a, snap, NULL, p, fx_id(&f, "v0", 2)), 0);
	dl_pull_set_max_maps(p, 132);
	assert_int_equal(dl_pull_run(&res, &a, snap, NULL, p, fx_id(&f, "v0", 2)), DL_ELIMIT);
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

/* ---- views ------------------------------------------------------------------------ */

static void test_views(void **state)
{
	(void)state;
	fx f;
	fx_open(&f, "views");
	fx_tx(&f, "[{:db/ident :p/name :db/valueType :db.type/string}"
		  " {:db/ident :p/age :db/valueType :db.type/long}"
		  " {:db/ident :p/tag :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}"
		  " {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]");
	fx_tx(&f, "[{:db/id \"ann\" :p/name \"ann\" :p/age 30 :p/tag [:a :b]}]");        /* tx[1] */
	fx_tx(&f, "[{:db/id $ann :p/age 31 :p/tag :c} [:db/retract $ann :p/tag :a]"
		  " {:db/id \"bob\" :p/name \"bob\" :p/friend $ann}]");                     /* tx[2] */
	fx_tx(&f, "[[:db/retract $ann :p/age 31]]");                                     /* tx[3] */
	dl_view as1 = {DL_VIEW_AS_OF, f.tx[1]}, as2 = {DL_VIEW_AS_OF, f.tx[2]};
	dl_view since1 = {DL_VIEW_SINCE, f.tx[1]}, hist = {DL_VIEW_HISTORY, 0};
	dl_view cur = {DL_VIEW_CURRENT, 0};
	expect_pull(&f, &cur, "[*]", "$ann", "{:db/id $ann, :p/name \"ann\", :p/tag [:b :c]}");
	expect_pull(&f, &as1, "[*]", "$ann", "{:db/id $ann, :p/age 30, :p/name \"ann\", :p/tag [:a :b]}");
	expect_pull(&f, &as2, "[:p/age :p/tag :p/_friend]", "$ann",
		    "{:p/_friend [{:db/id $bob}], :p/age 31, :p/tag [:b :c]}");
	expect_pull(&f, &as1, "[:p/_friend]", "$ann", "nil");
	/* bob did not exist as of tx 1: nil whatever the pattern */
	expect_pull(&f, &as1, "[*]", "$bob", "nil");
	expect_pull(&f, &as1, "[:db/id [:p/name :default \"?\"]]", "$bob", "nil");
	expect_pull(&f, &as2, "[:db/id]", "$bob", "{:db/id $bob}");
	/* since: what was asserted after tx 1 (and is still current) */
	expect_pull(&f, &since1, "[*]", "$ann", "{:db/id $ann, :p/tag [:c]}");
	/* history: every value ever asserted; cardinality one, the latest */
	expect_pull(&f, &hist, "[*]", "$ann", "{:db/id $ann, :p/age 31, :p/name \"ann\", :p/tag [:a :b :c]}");
	expect_pull(&f, &hist, "[:p/_friend]", "$ann", "{:p/_friend [{:db/id $bob}]}");
	/* entity maps honour the view too */
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	dl_value m;
	assert_int_equal(dl_entity_map(&m, &a, snap, &as1, fx_id(&f, "ann", 3)), 0);
	char *got = tu_print(&m), *want = subst(&f, "{:db/id $ann, :p/age 30, :p/name \"ann\", :p/tag #{:a :b}}");
	assert_string_equal(got, want);
	free(got);
	free(want);
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

/* ---- pull-many, entity maps, entity references ---------------------------------- */

static void test_many(void **state)
{
	(void)state;
	fx f;
	social(&f);
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	dl_value pv = tu_edn(&a, "[:person/name]");
	dl_pull_pattern *p;
	assert_int_equal(dl_pull_compile(&p, &a, &pv, snap, NULL), 0);
	int64_t es[] = {fx_id(&f, "cy", 2), fx_id(&f, "ann", 3), 999999, fx_id(&f, "cy", 2), 0};
	dl_value out[5];
	assert_int_equal(dl_pull_many(out, &a, snap, NULL, p, es, 5), 0);
	dl_value vec = {.type = DL_VECTOR, .len = 5};
	vec.u.items = out;
	char *got = tu_print(&vec);
	assert_string_equal(got, "[{:person/name \"cy\"} {:person/name \"ann\"} nil {:person/name \"cy\"} nil]");
	free(got);
	assert_int_equal(dl_pull_many(out, &a, snap, NULL, p, es, 0), 0);
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

static void test_entity_map(void **state)
{
	(void)state;
	fx f;
	social(&f);
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	dl_value m;
	assert_int_equal(dl_entity_map(&m, &a, snap, NULL, fx_id(&f, "ann", 3)), 0);
	char *got = tu_print(&m);
	char *want = subst(&f, "{:db/id $ann, :person/address {:db/id $addr}, :person/age 30, "
			       ":person/best {:db/id $bob}, :person/born #inst \"1990-01-02T03:04:05.006Z\", "
			       ":person/friend #{{:db/id $bob} {:db/id $cy}}, :person/gender {:db/id $female}, "
			       ":person/name \"ann\", :person/phone #{{:db/id $ph1} {:db/id $ph2}}, "
			       ":person/tag #{:a :b :c}}");
	assert_string_equal(got, want);
	free(got);
	free(want);
	/* following a ref lazily */
	const dl_value *addr = NULL;
	for (uint32_t i = 0; i < m.len; i++) {
		char *k = tu_print(&m.u.items[2 * i]);
		if (!strcmp(k, ":person/address"))
			addr = &m.u.items[2 * i + 1];
		free(k);
	}
	assert_non_null(addr);
	assert_int_equal(addr->type, DL_MAP);
	dl_value m2;
	assert_int_equal(dl_entity_map(&m2, &a, snap, NULL, addr->u.items[1].u.i), 0);
	got = tu_print(&m2);
	want = subst(&f, "{:address/city \"Paris\", :address/geo {:db/id $geo}, :db/id $addr}");
	assert_string_equal(got, want);
	free(got);
	free(want);
	assert_int_equal(dl_entity_map(&m2, &a, snap, NULL, 999999), 0);
	assert_int_equal(m2.type, DL_NIL);
	assert_int_equal(dl_entity_map(&m2, &a, snap, NULL, -4), 0);
	assert_int_equal(m2.type, DL_NIL);
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

static void test_entid(void **state)
{
	(void)state;
	fx f;
	social(&f);
	/* pull by lookup ref and by ident */
	expect_pull(&f, NULL, "[:db/id]", "[:person/name \"bob\"]", "{:db/id $bob}");
	expect_pull(&f, NULL, "[:db/ident]", ":gender/male", "{:db/ident :gender/male}");
	expect_pull(&f, NULL, "[:db/id]", "[:person/name \"nobody\"]", "nil");
	expect_pull(&f, NULL, "[:db/id]", ":no/such", "nil");
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	int64_t e = 7;
	dl_value v = tu_edn(&a, "[:person/age 30]");
	assert_int_equal(dl_pull_entid(&e, snap, NULL, &v), DL_EINVAL);
	assert_non_null(strstr(dl_errmsg(), "not unique"));
	assert_int_equal(e, 0);
	v = tu_edn(&a, "[:no/attr 30]");
	assert_int_equal(dl_pull_entid(&e, snap, NULL, &v), DL_ENOTFOUND);
	v = tu_edn(&a, "\"ann\"");
	assert_int_equal(dl_pull_entid(&e, snap, NULL, &v), DL_EINVAL);
	v = tu_edn(&a, "[:person/name \"ann\"]");
	assert_int_equal(dl_pull_entid(&e, snap, NULL, &v), 1);
	assert_int_equal(e, fx_id(&f, "ann", 3));
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

/* ---- errors ------------------------------------------------------------------------- */

typedef struct ecase {
	const char *pattern;
	int code;
	const char *msg;
} ecase;

static const ecase k_errors[] = {
	{":person/name", DL_EINVAL, "<test>: a pull pattern must be a vector, got :person/name"},
	{"[:person/nmae]", DL_ENOTFOUND, "<test>: unknown attribute :person/nmae in [:person/nmae]"},
	{"[:person/_nmae]", DL_ENOTFOUND, "<test>: unknown attribute :person/_nmae in [:person/_nmae]"},
	{"[{:person/friend [:x/y]}]", DL_ENOTFOUND, "<test>: unknown attribute :x/y in [:x/y]"},
	{"[:gender/male]", DL_EINVAL, "<test>: :gender/male names an entity that is not an attribute in [:gender/male]"},
	{"[:person/_name]", DL_EINVAL,
	 "<test>: :person/_name is the reverse of :person/name, which is not a ref attribute in [:person/_name]"},
	{"[{:person/name [:db/id]}]", DL_EINVAL,
	 "<test>: :person/name is not a ref attribute, so it takes no nested pattern or recursion in "
	 "{:person/name [:db/id]}"},
	{"[{[:person/age :limit 2] ...}]", DL_EINVAL,
	 "<test>: :person/age is not a ref attribute, so it takes no nested pattern or recursion in "
	 "{[:person/age :limit 2] ...}"},
	{"[{:db/id [:person/name]}]", DL_EINVAL, "<test>: :db/id takes no nested pattern in {:db/id [:person/name]}"},
	{"[[:person/tag :limit 0]]", DL_EINVAL,
	 "<test>: :limit takes a positive integer or nil, got 0 in [:person/tag :limit 0]"},
	{"[[:person/tag :limit \"2\"]]", DL_EINVAL,
	 "<test>: :limit takes a positive integer or nil, got \"2\" in [:person/tag :limit \"2\"]"},
	{"[(limit :person/tag -1)]", DL_EINVAL,
	 "<test>: :limit takes a positive integer or nil, got -1 in (limit :person/tag -1)"},
	{"[(limit :person/tag)]", DL_EINVAL, "<test>: expected (limit attribute limit) in (limit :person/tag)"},
	{"[[:person/tag :lmit 2]]", DL_EINVAL,
	 "<test>: unknown pull option :lmit (expected :as, :limit or :default) in [:person/tag :lmit 2]"},
	{"[[:person/tag :xform str]]", DL_EINVAL,
	 "<test>: the pull option :xform is not supported in [:person/tag :xform str]"},
	{"[[:person/tag :as]]", DL_EINVAL, "<test>: pull option :as needs a value in [:person/tag :as]"},
	{"[[]]", DL_EINVAL, "<test>: an attribute with options needs an attribute in []"},
	{"[[\"person/name\" :as :x]]", DL_EINVAL,
	 "<test>: expected an attribute keyword, got \"person/name\" in [\"person/name\" :as :x]"},
	{"[42]", DL_EINVAL,
	 "<test>: expected an attribute, *, a map spec or an attribute with options in a pull pattern, "
	 "got 42 in [42]"},
	{"[{:person/friend :person/name}]", DL_EINVAL,
	 "<test>: a map spec's value must be a pattern (a vector) or a recursion limit (a positive "
	 "integer or ...), got :person/name in {:person/friend :person/name}"},
	{"[{:person/friend 0}]", DL_EINVAL,
	 "<test>: a map spec's value must be a pattern (a vector) or a recursion limit (a positive "
	 "integer or ...), got 0 in {:person/friend 0}"},
	{"[{\"x\" [:db/id]}]", DL_EINVAL,
	 "<test>: a map spec's key must be an attribute or an attribute with options, got \"x\" in "
	 "{\"x\" [:db/id]}"},
	{"[{:person/friend [{:person/friend {:a 1}}]}]", DL_EINVAL,
	 "<test>: a map spec's value must be a pattern (a vector) or a recursion limit (a positive "
	 "integer or ...), got {:a 1} in {:person/friend {:a 1}}"},
};

static void test_errors(void **state)
{
	(void)state;
	fx f;
	social(&f);
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++) {
		dl_arena a = DL_ARENA_INIT;
		dl_value pv = tu_edn(&a, k_errors[i].pattern);
		dl_pull_pattern *p = (dl_pull_pattern *)&a;
		int rc = dl_pull_compile(&p, &a, &pv, snap, "<test>");
		if (rc != k_errors[i].code || strcmp(dl_errmsg(), k_errors[i].msg))
			fail_msg("pattern %s\n  want %d %s\n  got  %d %s", k_errors[i].pattern,
				 k_errors[i].code, k_errors[i].msg, rc, dl_errmsg());
		assert_null(p);
		dl_arena_free(&a);
	}
	/* nesting bound */
	dl_buf b = DL_BUF_INIT;
	for (int i = 0; i < DL_PULL_MAX_PATTERN_DEPTH + 2; i++)
		dl_buf_puts(&b, "[{:person/friend ");
	dl_buf_puts(&b, "[:db/id]");
	for (int i = 0; i < DL_PULL_MAX_PATTERN_DEPTH + 2; i++)
		dl_buf_puts(&b, "}]");
	dl_arena a = DL_ARENA_INIT;
	dl_value pv;
	size_t used;
	dl_edn_opts eo = {"<deep>", 4 * DL_PULL_MAX_PATTERN_DEPTH};
	assert_int_equal(dl_edn_read(&pv, &used, &a, b.data, b.len, &eo), 0);
	dl_pull_pattern *p;
	assert_int_equal(dl_pull_compile(&p, &a, &pv, snap, NULL), DL_ELIMIT);
	assert_non_null(strstr(dl_errmsg(), "<pull>: pull pattern nested deeper than"));
	dl_buf_free(&b);
	dl_arena_free(&a);
	dl_snap_end(snap);
	fx_close(&f);
}

/* Entity ids come out as DL_INT (refs as stored are DL_REF), everywhere:
 * :db/id, {:db/id n} for refs, reverse refs, cycles and entity maps. */
static void check_ints(const dl_value *v, int *nids)
{
	if (v->type == DL_REF)
		fail_msg("a DL_REF in a pull result");
	if (v->type == DL_MAP) {
		for (uint32_t i = 0; i < v->len; i++) {
			char *k = tu_print(&v->u.items[2 * i]);
			if (!strcmp(k, ":db/id")) {
				assert_int_equal(v->u.items[2 * i + 1].type, DL_INT);
				(*nids)++;
			}
			free(k);
			check_ints(&v->u.items[2 * i + 1], nids);
		}
	} else if (v->type >= DL_VECTOR && v->type <= DL_SET) {
		for (uint32_t i = 0; i < v->len; i++)
			check_ints(&v->u.items[i], nids);
	}
}

static void test_int_ids(void **state)
{
	(void)state;
	fx f;
	social(&f);
	dl_arena a = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	dl_value pv = tu_edn(&a, "[* :person/_friend {:person/friend ...}]"), res;
	dl_pull_pattern *p;
	assert_int_equal(dl_pull_compile(&p, &a, &pv, snap, NULL), 0);
	assert_int_equal(dl_pull_run(&res, &a, snap, NULL, p, fx_id(&f, "ann", 3)), 0);
	int nids = 0;
	check_ints(&res, &nids);
	assert_true(nids > 10);
	assert_int_equal(dl_entity_map(&res, &a, snap, NULL, fx_id(&f, "ann", 3)), 0);
	nids = 0;
	check_ints(&res, &nids);
	assert_int_equal(nids, 8);
	dl_snap_end(snap);
	dl_arena_free(&a);
	fx_close(&f);
}

/* The compiled pattern and the results keep nothing of the pattern value
 * or the snapshot. */
static void test_lifetimes(void **state)
{
	(void)state;
	fx f;
	social(&f);
	dl_arena pa = DL_ARENA_INIT, va = DL_ARENA_INIT, ra = DL_ARENA_INIT;
	dl_snap *snap;
	assert_int_equal(dl_snap_begin(&snap, f.s), 0);
	dl_value pv = tu_edn(&va, "[[:person/name :as \"N\"] [:person/age :default \"none\"] "
				  "{:person/address [*]}]");
	dl_pull_pattern *p;
	assert_int_equal(dl_pull_compile(&p, &pa, &pv, snap, NULL), 0);
	dl_arena_free(&va);
	dl_value res;
	assert_int_equal(dl_pull_run(&res, &ra, snap, NULL, p, fx_id(&f, "bob", 3)), 0);
	dl_snap_end(snap);
	dl_arena_free(&pa);
	char *got = tu_print(&res);
	assert_string_equal(got, "{\"N\" \"bob\", :person/age \"none\"}");
	free(got);
	dl_arena_free(&ra);
	fx_close(&f);
}

/* ---- allocation failure --------------------------------------------------------- */

static void test_failalloc(void **state)
{
	(void)state;
	fx f;
	social(&f);
	const char *pats[] = {"[* {:person/friend ...} :person/_friend]",
			      "[{(:person/friend :as \"f\") [:person/name [:person/age :default \"x\"]]}]"};
	for (int k = 0; k < 2; k++) {
		dl_snap *snap;
		assert_int_equal(dl_snap_begin(&snap, f.s), 0);
		const dl_schema *sch;
		assert_int_equal(dl_schema_get(&sch, snap), 0); /* warm the cache */
		dl_arena va = DL_ARENA_INIT;
		dl_value pv = tu_edn(&va, pats[k]);
		char *want = NULL;
		for (long n = 1;; n++) {
			dl_arena a = DL_ARENA_INIT;
			long live = tu_failalloc_live();
			tu_failalloc_arm(n);
			dl_pull_pattern *p;
			dl_value res, m;
			int rc = dl_pull_compile(&p, &a, &pv, snap, NULL);
			if (rc == 0)
				rc = dl_pull_run(&res, &a, snap, NULL, p, fx_id(&f, "ann", 3));
			if (rc == 0)
				rc = dl_entity_map(&m, &a, snap, NULL, fx_id(&f, "ann", 3));
			int fired = tu_failalloc_fired();
			tu_failalloc_disarm();
			if (!fired) {
				assert_int_equal(rc, 0);
				char *got = tu_print(&res);
				assert_non_null(want);
				assert_string_equal(got, want);
				free(got);
				dl_arena_free(&a);
				if (n <= 8)
					fail_msg("only %ld allocations: the failure path was not exercised", n);
				break;
			}
			if (rc == 0) {
				/* the failed allocation was not ours (LMDB does
				 * not use the hook, so this is unexpected) */
				fail_msg("allocation %ld failed but the pull succeeded", n);
			}
			assert_int_equal(rc, DL_ENOMEM);
			dl_arena_free(&a);
			assert_int_equal(tu_failalloc_live(), live);
			if (n == 1) {
				/* the result without failures, for comparison */
				dl_arena b = DL_ARENA_INIT;
				dl_pull_pattern *q;
				assert_int_equal(dl_pull_compile(&q, &b, &pv, snap, NULL), 0);
				assert_int_equal(dl_pull_run(&res, &b, snap, NULL, q, fx_id(&f, "ann", 3)), 0);
				want = tu_print(&res);
				dl_arena_free(&b);
			}
			if (n > 100000)
				fail_msg("no end to allocations");
		}
		free(want);
		dl_arena_free(&va);
		dl_snap_end(snap);
	}
	fx_close(&f);
}

int main(void)
{
	tu_failalloc_install();
	const char *tmp = getenv("DL_TEST_TMP");
	snprintf(g_dir, sizeof g_dir, "%s/pull", tmp && *tmp ? tmp : "/tmp/datalite-test");
	mkdirs(g_dir);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_default_limit),
		cmocka_unit_test(test_recursion),
		cmocka_unit_test(test_component_cycle),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_entity_map),
		cmocka_unit_test(test_entid),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_int_ids),
		cmocka_unit_test(test_lifetimes),
		cmocka_unit_test(test_failalloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
