/* The query parser: every grammar form parses and prints canonically (and
 * printing is a fixed point), every error names its problem and position,
 * truncated and mutated text fails cleanly, and failed allocations leak
 * nothing. */
#include "testutil.h"

#include "query/ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SRC "<query>"

/* Parse text; on success return the canonical print (malloc'd). */
static char *parse_print(const char *text, int *rc_out)
{
	dl_arena a = DL_ARENA_INIT;
	dl_query *q = NULL;
	dl_buf b = DL_BUF_INIT;
	char *s = NULL;
	int rc = dl_query_parse(&q, &a, text, strlen(text), SRC);
	if (rc == 0) {
		assert_non_null(q);
		rc = dl_query_print(&b, q);
		if (rc == 0)
			s = strdup(b.data ? b.data : "");
	}
	dl_buf_free(&b);
	dl_arena_free(&a);
	if (rc_out)
		*rc_out = rc;
	return s;
}

/* Parse, print, parse the print, print again: the same text. */
static void check_round_trip(const char *text, const char *want)
{
	int rc;
	char *p1 = parse_print(text, &rc);
	if (!p1)
		fail_msg("parse of\n  %s\nfailed: %s", text, dl_errmsg());
	if (want && strcmp(p1, want) != 0)
		fail_msg("print of\n  %s\ngave\n  %s\nwant\n  %s", text, p1, want);
	char *p2 = parse_print(p1, &rc);
	if (!p2)
		fail_msg("reparse of\n  %s\nfailed: %s", p1, dl_errmsg());
	if (strcmp(p1, p2) != 0)
		fail_msg("print is not stable:\n  %s\n  %s", p1, p2);
	free(p1);
	free(p2);
}

/* ---- grammar ----------------------------------------------------------- */

typedef struct ok_case {
	const char *text;
	const char *print; /* NULL: the text itself */
} ok_case;

static const ok_case k_ok[] = {
	/* find specs */
	{"[:find ?e :where [?e :name \"x\"]]", "[:find ?e :in $ :where [?e :name \"x\"]]"},
	{"[:find ?x . :where [_ :a ?x]]", "[:find ?x . :in $ :where [_ :a ?x]]"},
	{"[:find [?x ...] :where [_ :a ?x]]", "[:find [?x ...] :in $ :where [_ :a ?x]]"},
	{"[:find [?x ?y] :where [?x :a ?y]]", "[:find [?x ?y] :in $ :where [?x :a ?y]]"},
	{"[:find ?a ?b ?c :in $ :where [?a :b ?b] [?a :c ?c]]", NULL},
	/* aggregates */
	{"[:find ?a (count ?x) (count-distinct ?x) (sum ?x) (avg ?x) (min ?x) (max ?x) "
	 "(median ?x) (variance ?x) (stddev ?x) (distinct ?x) :in $ :where [?a :v ?x]]", NULL},
	{"[:find (min 3 ?x) (max ?n ?x) (rand 2 ?x) (sample ?n ?x) (rand ?x) :in $ ?n "
	 ":where [_ :v ?x]]", NULL},
	{"[:find (my.ns/agg ?x) (my.ns/top 3 ?x) :with ?e :in $ :where [?e :v ?x]]", NULL},
	{"[:find (sum ?x) . :with ?e :where [?e :v ?x]]",
	 "[:find (sum ?x) . :with ?e :in $ :where [?e :v ?x]]"},
	/* pull */
	{"[:find (pull ?e [:name {:friend [*]}]) (pull $db ?e [*]) :in $ $db :where [?e :name]]",
	 NULL},
	{"[:find (pull ?e ?pat) :in $ ?pat :where [?e :name]]", NULL},
	{"[:find [(pull ?e [:db/id]) ...] :where [?e :name]]",
	 "[:find [(pull ?e [:db/id]) ...] :in $ :where [?e :name]]"},
	/* return maps */
	{"[:find ?a ?b :keys a b :in $ :where [?a :r ?b]]", NULL},
	{"[:find ?a ?b :strs a b :in $ :where [?a :r ?b]]", NULL},
	{"[:find [?a ?b] :syms a b :in $ :where [?a :r ?b]]", NULL},
	/* inputs */
	{"[:find ?x :in $ $hist % ?name [?a ?b] [?c ...] [[?d _ ?f]] _ [_ ?g] "
	 ":where [?x :name ?name] [$hist ?x :a ?a]]", NULL},
	{"[:find ?x :in ?x]", NULL},
	{"[:find ?x ?y :in [[?x ?y]]]", NULL},
	{"[:find ?x :in $ ?x :where]", "[:find ?x :in $ ?x]"},
	/* data patterns */
	{"[:find ?e :in $ $h :where [?e] [?e :a] [?e :a 1] [?e :a ?v ?tx] [?e :a ?v ?tx true] "
	 "[$h ?e :a _ _ false] [?e 42 ?v] [$ ?e :b -7]]", NULL},
	{"[:find ?v :in $ :where [[:user/email \"a@b\"] :name ?v] [?e :friend [:user/id 42]] "
	 "[?e :score 1.5] [?e :ok true] [?e :tag :x/y] [?e :t [1 2]] [?e :s \"q\\\"r\"]]", NULL},
	{"[:find ?e :in $ :where [?e :at #inst \"2020-01-01T00:00:00.000Z\"] "
	 "[?e :id #uuid \"6f1c2b6e-0d4a-4c53-9d2e-3c1f7a8b9e01\"] [100 :a ?e] [:my/ident :a ?e]]",
	 NULL},
	/* predicates and functions */
	{"[:find ?x :in $ ?f :where [_ :a ?x] [(< ?x 10)] [(?f ?x)] [(missing? $ ?x :b)]]", NULL},
	{"[:find ?y ?t ?z ?p :in $ :where [?x :a ?b] [(+ ?x 1) ?y] [(tuple ?x ?b) ?t] "
	 "[(untuple ?t) [?a _]] [(ground [1 2]) [?z ...]] [(my-rel ?x) [[?p ?q]]] "
	 "[(get-else $ ?x :c \"none\") ?v] [(str ?a ?z) _]]", NULL},
	{"[:find ?x :in $ % :where [?x :a ?y] [(q ?y $ %) ?r]]", NULL},
	/* rule calls */
	{"[:find ?x :in $ % :where (anc ?x ?y) ($ anc ?y _) (r ?x 1 \"s\" :k)]", NULL},
	/* not / not-join */
	{"[:find ?e :in $ :where [?e :a] (not [?e :b 1]) (not [?e :c 1] [?e :d 2])]", NULL},
	{"[:find ?e :in $ :where [?e :a] (not-join [?e] [?e :c ?x] [?x :d 2])]", NULL},
	{"[:find ?e :in $ :where [?e :a ?v] (not-join [?e ?v] [?e :b ?w] (not [?w :c ?v]))]", NULL},
	{"[:find ?e :in $ :where [?e :a ?v] (not [?e :b ?v] (not [?e :c ?v]))]", NULL},
	{"[:find ?e :in $ :where [?e :a ?v] (not [(> ?v 1)])]", NULL},
	/* or / or-join / and */
	{"[:find ?e :in $ :where (or [?e :a 1] [?e :b 2] (and [?e :c 1] [?e :d 2]))]", NULL},
	{"[:find ?e :in $ :where [?e :name] (or-join [?e] [?e :a ?x] (and [?e :b ?y] [?y :c 1]))]",
	 NULL},
	{"[:find ?e ?x :in $ :where [?e :name] (or-join [[?e] ?x] [?e :a ?x] [?e :b ?x])]", NULL},
	{"[:find ?e ?x :in $ :where (or (and [?e :a ?x] [(> ?x 1)]) [?e :b ?x])]", NULL},
	{"[:find ?e :in $ $2 :where [?e :a] ($2 not [?e :b]) ($2 or [?e :c] [?e :d]) "
	 "($2 not-join [?e] [?e :x ?y]) ($2 or-join [?e] [?e :z])]", NULL},
	{"[:find ?e :in $ :where [?e :a] (or (not [?e :b]) [?e :c])]", NULL},
	{"[:find ?e :in $ :where [?e :a] (or (not-join [?e] [?e :x ?y]) [?e :z])]", NULL},
	{"[:find ?x :in ?x :where [(> ?x 1)]]", NULL},
	/* nested queries */
	{"[:find ?a ?b :in $ ?x :where [(q [:find ?a ?b :in $ ?x :where [?a :p ?x] [?a :q ?b]] $ ?x) "
	 "[[?a ?b]]]]", NULL},
	{"[:find ?a :in $ :where [(q \"[:find ?a :where [?a :p]]\" $) [[?a]]]]", NULL},
	{"[:find ?a :in $ :where [(q (quote [:find ?a :where [?a :p]]) $) [[?a]]]]", NULL},
	{"[:find ?a :in $ :where [(q {:find [?a] :where [[?a :p]]} $) [?a ...]]]",
	 "[:find ?a :in $ :where [(q {:find [?a], :where [[?a :p]]} $) [?a ...]]]"},
	/* extensions */
	{"[:find ?x ?y :where [?x :a ?y] :order-by [[?x :asc] [?y :desc]] :limit 10 :offset 5 "
	 ":timeout 100]",
	 "[:find ?x ?y :in $ :where [?x :a ?y] :order-by [[?x :asc] [?y :desc]] :limit 10 "
	 ":offset 5 :timeout 100]"},
	{"[:find ?x ?y :where [?x :a ?y] :order-by [?y :desc ?x]]",
	 "[:find ?x ?y :in $ :where [?x :a ?y] :order-by [[?y :desc] [?x :asc]]]"},
	{"[:find ?x ?y :where [?x :a ?y] :order-by ?y :desc ?x :limit 0]",
	 "[:find ?x ?y :in $ :where [?x :a ?y] :order-by [[?y :desc] [?x :asc]] :limit 0]"},
	{"[:find ?x (count ?y) :where [?x :a ?y] :order-by [[?x]]]",
	 "[:find ?x (count ?y) :in $ :where [?x :a ?y] :order-by [[?x :asc]]]"},
	/* section order, whitespace, comments, discards */
	{"[:where [?e :a] :find ?e]", "[:find ?e :in $ :where [?e :a]]"},
	{"  [:find ?e ; comment\n  :where #_ [?x :ignored] [?e :a],,\n]\n ",
	 "[:find ?e :in $ :where [?e :a]]"},
	/* map form */
	{"{:find [?e] :in [$ ?n] :where [[?e :name ?n]] :limit 3}",
	 "[:find ?e :in $ ?n :where [?e :name ?n] :limit 3]"},
	{"{:find [?e .] :where [[?e :a]]}", "[:find ?e . :in $ :where [?e :a]]"},
	{"{:find [[?e ...]] :where [[?e :a]]}", "[:find [?e ...] :in $ :where [?e :a]]"},
	{"{:find [?e ?v] :keys [e v] :with [?x] :where [[?e :a ?v] [?e :b ?x]] "
	 ":order-by [[?v :desc]] :offset 2 :timeout 50}",
	 "[:find ?e ?v :keys e v :with ?x :in $ :where [?e :a ?v] [?e :b ?x] "
	 ":order-by [[?v :desc]] :offset 2 :timeout 50]"},
	{"{:find [?e] :order-by [?e :desc] :where [[?e :a]]}",
	 "[:find ?e :in $ :where [?e :a] :order-by [[?e :desc]]]"},
};

static void test_grammar(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof k_ok / sizeof *k_ok; i++)
		check_round_trip(k_ok[i].text, k_ok[i].print ? k_ok[i].print : k_ok[i].text);
}

/* ---- errors ------------------------------------------------------------ */

typedef struct err_case {
	const char *text;
	int code;
	const char *msg; /* a substring of the message */
} err_case;

static const err_case k_err[] = {
	/* binding */
	{"[:find ?x :where [?e :a ?y]]", DL_EINVAL,
	 SRC ":1:8: find variable ?x is not bound by :where or :in"},
	{"[:find ?x :in $ ?y]", DL_EINVAL, SRC ":1:8: find variable ?x is not bound"},
	{"[:find (count ?x) :where [?e :a]]", DL_EINVAL,
	 SRC ":1:15: find variable ?x is not bound by :where or :in"},
	{"[:find ?e :where [?e :a ?x] (not [?z :b ?y])]", DL_EINVAL,
	 SRC ":1:29: insufficient binding: none of [?z ?y] is bound outside this not clause"},
	{"[:find ?e\n :where [?e :a]\n        (not [?x :b ?y])]", DL_EINVAL,
	 SRC ":3:9: insufficient binding: none of [?x ?y] is bound outside this not clause"},
	{"[:find ?e :where [?e :a ?v] (not [?e :b ?w] (not [?u :c ?k]))]", DL_EINVAL,
	 SRC ":1:45: insufficient binding: none of [?u ?k] is bound outside this not clause"},
	{"[:find ?e :where [?e :a ?x] (not-join [?y] [?y :b ?x])]", DL_EINVAL,
	 SRC ":1:40: not-join variable ?y must be bound outside the not-join"},
	{"[:find ?e :where [?e :a ?x] (not-join [?e ?x] [?e :b 1])]", DL_EINVAL,
	 SRC ":1:43: not-join variable ?x is not used in its clauses"},
	{"[:find ?e :where [?e :a] (or [?e :b ?x] [?e :c])]", DL_EINVAL,
	 SRC ":1:41: all clauses in 'or' must use the same set of free vars: "
	 "this one uses [?e], the first [?e ?x]"},
	{"[:find ?e :where (or-join [[?e] ?x] [?e :a ?x])]", DL_EINVAL,
	 SRC ":1:29: or-join requires variable ?e to be bound"},
	{"[:find ?e :where [?e :n] (or-join [?e ?x] [?e :a ?x] [?e :b 1])]", DL_EINVAL,
	 SRC ":1:54: this or-join branch does not use join variable ?x"},
	{"[:find ?e :where [?e :a] [(< ?y 1)]]", DL_EINVAL,
	 SRC ":1:30: insufficient binding: ?y, used by predicate <, is not bound by any other clause"},
	{"[:find ?e :where [?e :a] [(inc ?x) ?x]]", DL_EINVAL,
	 SRC ":1:32: insufficient binding: ?x, used by function inc"},
	{"[:find ?e :where [?e :a] [(?f ?e)]]", DL_EINVAL, SRC ":1:28: insufficient binding: ?f"},
	{"[:find ?e ?x :with ?x :where [?e :a ?x]]", DL_EINVAL,
	 SRC ":1:20: :find and :with use the same variable ?x"},
	{"[:find ?e :with ?z :where [?e :a]]", DL_EINVAL,
	 SRC ":1:17: with variable ?z is not bound by :where or :in"},
	{"[:find ?x :in ?x ?x]", DL_EINVAL, SRC ":1:18: variable ?x appears twice in :in"},
	{"[:find ?x :in [?x ?y] [[?y]]]", DL_EINVAL, SRC ":1:25: variable ?y appears twice in :in"},
	{"[:find ?e :in $ $ :where [?e :a]]", DL_EINVAL, SRC ":1:17: source $ appears twice in :in"},
	{"[:find ?e :in $ % % :where [?e :a]]", DL_EINVAL, SRC ":1:19: rules % appear twice in :in"},
	{"[:find (max ?n ?x) :where [?e :a ?x] [?e :b ?n]]", DL_EINVAL,
	 SRC ":1:13: aggregate argument ?n must be a constant or an :in variable"},
	{"[:find (pull ?e ?p) :where [?e :a] [?e :b ?p]]", DL_EINVAL,
	 SRC ":1:17: pull pattern variable ?p must be an :in variable"},
	/* sources and rules */
	{"[:find ?e :in $a :where [?e :a]]", DL_EINVAL,
	 SRC ":1:25: data pattern uses the default source $, which is not declared in :in"},
	{"[:find ?e :where [?e :a] ($x not [?e :b])]", DL_EINVAL,
	 SRC ":1:26: source $x is not declared in :in"},
	{"[:find ?e :where [$x ?e :a]]", DL_EINVAL, SRC ":1:18: source $x is not declared in :in"},
	{"[:find ?e :where [?e :a] [(get-else $y ?e :b 1) ?v]]", DL_EINVAL,
	 SRC ":1:37: source $y is not declared in :in"},
	{"[:find (pull $z ?e [*]) :where [?e :a]]", DL_EINVAL,
	 SRC ":1:8: source $z is not declared in :in"},
	{"[:find (pull ?e [*]) :in $a :where [$a ?e :a]]", DL_EINVAL,
	 SRC ":1:8: pull uses the default source $, which is not declared in :in"},
	{"[:find ?e :where [?e :a] (r ?e)]", DL_EINVAL, SRC ":1:26: rule call r needs % in :in"},
	{"[:find ?e :where [?e :a] [(f % ?e)]]", DL_EINVAL,
	 SRC ":1:30: rules % are not declared in :in"},
	/* structure */
	{"[:find ?e :foo ?x]", DL_EINVAL, SRC ":1:11: unknown query section :foo"},
	{"[:where [?e :a]]", DL_EINVAL, SRC ":1:1: the query has no :find"},
	{"[:find ?e :find ?e]", DL_EINVAL, SRC ":1:11: duplicate section :find"},
	{"[?e :find]", DL_EINVAL, SRC ":1:2: a query starts with a section keyword such as :find, got ?e"},
	{"[:x/find ?e]", DL_EINVAL, SRC ":1:2: a query starts with a section keyword such as :find"},
	{"{:find [?e] :foo 1}", DL_EINVAL, SRC ":1:13: unknown query section :foo"},
	{"{:find [?e] :where 5}", DL_EINVAL, SRC ":1:13: :where takes a vector of clauses, got 5"},
	{"#{:find}", DL_EINVAL, SRC ":1:1: a query is a vector [:find ...] or a map {:find [...]}"},
	{"[:find ?e :where [?e :a]] [:extra]", DL_EINVAL,
	 SRC ":1:27: unexpected [:extra] after the query"},
	{"[:find ?e :where [?e :a]]\n ; fine\n  x", DL_EINVAL, SRC ":3:3: unexpected x after the query"},
	{"", DL_EINVAL, SRC ":1:1: empty query"},
	{"  ; nothing\n", DL_EINVAL, SRC ":2:1: empty query"},
	/* find */
	{"[:find]", DL_EINVAL, SRC ":1:2: :find needs at least one element"},
	{"[:find _ :where [?e :a]]", DL_EINVAL, SRC ":1:8: '_' cannot be used in :find"},
	{"[:find ?e ?x . :where [?e :a ?x]]", DL_EINVAL, SRC ":1:14: '.' must follow the only :find element"},
	{"[:find ?e ... :where [?e :a]]", DL_EINVAL, SRC ":1:11: '...' belongs in a collection find spec"},
	{"[:find [?e ...] ?x :where [?e :a ?x]]", DL_EINVAL,
	 SRC ":1:8: a collection or tuple find spec must be the only :find element"},
	{"[:find [] :where [?e :a]]", DL_EINVAL, SRC ":1:8: empty tuple find spec []"},
	{"[:find [?e ... ?x] :where [?e :a ?x]]", DL_EINVAL,
	 SRC ":1:12: '...' belongs in a collection find spec"},
	{"[:find :x :where [?e :a]]", DL_EINVAL, SRC ":1:8: unknown query section :x"},
	{"[:find \"e\" :where [?e :a]]", DL_EINVAL,
	 SRC ":1:8: expected a variable, an aggregate or a pull expression in :find, got \"e\""},
	{"[:find (?f ?x) :where [?e :a ?x]]", DL_EINVAL,
	 SRC ":1:8: expected an aggregate function name or pull, got ?f"},
	{"[:find (count) :where [?e :a]]", DL_EINVAL,
	 SRC ":1:8: aggregate count takes one variable: (count ?x)"},
	{"[:find (count ?x ?y) :where [?e :a ?x]]", DL_EINVAL, SRC ":1:8: aggregate count takes one variable"},
	{"[:find (sample ?x) :where [?e :a ?x]]", DL_EINVAL,
	 SRC ":1:8: aggregate sample takes a count and a variable: (sample n ?x)"},
	{"[:find (min 1 2 ?x) :where [?e :a ?x]]", DL_EINVAL,
	 SRC ":1:8: aggregate min takes a variable, or a count and a variable"},
	{"[:find (max 0 ?x) :where [?e :a ?x]]", DL_EINVAL,
	 SRC ":1:13: the count in (max n ?x) must be a positive integer or an :in variable, got 0"},
	{"[:find (rand \"2\" ?x) :where [?e :a ?x]]", DL_EINVAL, SRC ":1:14: the count in (rand n ?x)"},
	{"[:find (count :x) :where [?e :a]]", DL_EINVAL,
	 SRC ":1:15: the last argument of aggregate count must be a variable, got :x"},
	{"[:find (my/agg) :where [?e :a]]", DL_EINVAL, SRC ":1:8: aggregate my/agg takes a variable"},
	{"[:find (pull ?e) :where [?e :a]]", DL_EINVAL,
	 SRC ":1:8: pull takes an entity variable and a pattern"},
	{"[:find (pull ?e :name) :where [?e :a]]", DL_EINVAL,
	 SRC ":1:17: a pull pattern must be a vector or an :in variable, got :name"},
	{"[:find (pull :e [*]) :where [?e :a]]", DL_EINVAL,
	 SRC ":1:14: expected a variable as the entity of pull, got :e"},
	/* return maps, with */
	{"[:find ?a ?b :keys a :where [?a :b ?b]]", DL_EINVAL,
	 SRC ":1:14: :keys names 1 key but :find has 2 elements"},
	{"[:find ?a :strs a b :where [?a :b]]", DL_EINVAL,
	 SRC ":1:11: :strs names 2 keys but :find has 1 element"},
	{"[:find ?e :keys a :strs b :where [?e :a]]", DL_EINVAL,
	 SRC ":1:19: only one of :keys, :strs and :syms may be given"},
	{"[:find ?e . :keys a :where [?e :a]]", DL_EINVAL,
	 SRC ":1:13: :keys needs a relation or tuple find spec"},
	{"[:find ?e :syms :a :where [?e :a]]", DL_EINVAL, SRC ":1:17: unknown query section :a"},
	{"[:find ?e :syms ?a :where [?e :a]]", DL_EINVAL, SRC ":1:17: :syms takes plain symbols, got ?a"},
	{"[:find ?a ?b :keys a a :where [?a :b ?b]]", DL_EINVAL, SRC ":1:22: duplicate key a in :keys"},
	{"[:find ?e :with _ :where [?e :a]]", DL_EINVAL, SRC ":1:17: '_' cannot be used in :with"},
	{"[:find ?e :with 1 :where [?e :a]]", DL_EINVAL, SRC ":1:17: expected a variable in :with, got 1"},
	/* :in */
	{"[:find ?e :in 5 :where [?e :a]]", DL_EINVAL,
	 SRC ":1:15: expected a source ($...), rules (%), a variable or a binding form in :in, got 5"},
	{"[:find ?e :in [] :where [?e :a]]", DL_EINVAL, SRC ":1:15: empty binding form [] in :in"},
	{"[:find ?e :in [[]] :where [?e :a]]", DL_EINVAL, SRC ":1:16: empty relation binding [[]] in :in"},
	{"[:find ?e :in [?a [?b]] :where [?e :a]]", DL_EINVAL,
	 SRC ":1:19: nested binding forms are not supported in :in"},
	{"[:find ?e :in [?a 1] :where [?e :a]]", DL_EINVAL,
	 SRC ":1:19: expected a variable or _ in a binding form in :in, got 1"},
	{"[:find ?e :in [_ ...] :where [?e :a]]", DL_EINVAL, SRC ":1:16: '_' is not allowed in :in"},
	{"[:find ?e :in [?a ... ?b] :where [?e :a]]", DL_EINVAL,
	 SRC ":1:19: '...' must be the second and last item of a collection binding"},
	/* clauses */
	{"[:find ?e :where []]", DL_EINVAL, SRC ":1:18: empty clause []"},
	{"[:find ?e :where ()]", DL_EINVAL, SRC ":1:18: empty clause ()"},
	{"[:find ?e :where 5]", DL_EINVAL, SRC ":1:18: expected a clause ([...] or (...)), got 5"},
	{"[:find ?e :where [$]]", DL_EINVAL, SRC ":1:18: data pattern [$] has no terms"},
	{"[:find ?e :where [?e :a ?v ?t true :x]]", DL_EINVAL,
	 SRC ":1:36: a data pattern has at most 5 terms (e a v tx added), got 6"},
	{"[:find ?e :where [?e \"attr\" 1]]", DL_EINVAL,
	 SRC ":1:22: the attribute position of a data pattern takes a variable, _, a keyword or "
	 "an attribute id, got \"attr\""},
	{"[:find ?e :where [?e :a nil]]", DL_EINVAL,
	 SRC ":1:25: the value position of a data pattern takes a variable, _ or a scalar value, got nil"},
	{"[:find ?e :where [?e :a {:b 1}]]", DL_EINVAL, SRC ":1:25: the value position"},
	{"[:find ?e :where [?e :a 1 2 \"yes\"]]", DL_EINVAL,
	 SRC ":1:29: the added position of a data pattern takes a variable, _, true or false, got \"yes\""},
	{"[:find ?v :where [\"e\" :a ?v]]", DL_EINVAL,
	 SRC ":1:19: the entity position of a data pattern takes a variable, _, an entity id, "
	 "an ident keyword or a lookup ref [attribute value], got \"e\""},
	{"[:find ?v :where [[:a] :b ?v]]", DL_EINVAL, SRC ":1:19: the entity position"},
	{"[:find ?v :where [[\"a\" 1] :b ?v]]", DL_EINVAL, SRC ":1:19: the entity position"},
	{"[:find ?v :where [?e :b ?v \"tx\"]]", DL_EINVAL, SRC ":1:28: the transaction position"},
	{"[:find ?e :where [?e foo]]", DL_EINVAL,
	 SRC ":1:22: unexpected symbol foo in a data pattern (variables start with ?)"},
	{"[:find ?e :where [?e :a $x]]", DL_EINVAL, SRC ":1:25: source $x must come first in a data pattern"},
	{"[:find ?e :where [?e :a %]]", DL_EINVAL, SRC ":1:25: unexpected '%' in a data pattern"},
	{"[:find ?e :where [?e :a] [(f ?e) ?x ?y]]", DL_EINVAL,
	 SRC ":1:37: a function expression is [(f args...) binding]; unexpected ?y"},
	{"[:find ?e :where [?e :a] [(f ?e) [?x ?x]]]", DL_EINVAL,
	 SRC ":1:38: variable ?x appears twice in a binding form"},
	{"[:find ?e :where [?e :a] [(f ?e) :x]]", DL_EINVAL,
	 SRC ":1:34: expected a binding form (?x, [?a ?b], [?x ...] or [[?a ?b]]) as a function's output, got :x"},
	{"[:find ?e :where [?e :a] [(f _)]]", DL_EINVAL,
	 SRC ":1:30: '_' is not allowed as a function argument"},
	{"[:find ?e :where [?e :a] [(f foo)]]", DL_EINVAL,
	 SRC ":1:30: unexpected symbol foo as a function argument (variables start with ?)"},
	{"[:find ?e :where [?e :a] [(1 ?e)]]", DL_EINVAL, SRC ":1:28: a function name must be a symbol, got 1"},
	{"[:find ?e :where [?e :a] [()]]", DL_EINVAL, SRC ":1:27: empty function call ()"},
	{"[:find ?e :where (and [?e :a])]", DL_EINVAL,
	 SRC ":1:18: 'and' is only allowed directly inside 'or' or 'or-join'"},
	{"[:find ?e :where (or (not (and [?e :a])))]", DL_EINVAL,
	 SRC ":1:27: 'and' is only allowed directly inside 'or' or 'or-join'"},
	{"[:find ?e :where (or ($ and [?e :a]))]", DL_EINVAL, SRC ":1:22: 'and' takes no source"},
	{"[:find ?e :where [?e :a] (or [?e :b] (and))]", DL_EINVAL,
	 SRC ":1:38: 'and' needs at least one clause"},
	{"[:find ?e :where [?e :a] (not)]", DL_EINVAL, SRC ":1:26: 'not' needs at least one clause"},
	{"[:find ?e :where [?e :a] (or)]", DL_EINVAL, SRC ":1:26: 'or' needs at least one clause"},
	{"[:find ?e :where [?e :a] (not-join ?e [?e :a])]", DL_EINVAL,
	 SRC ":1:36: not-join needs a vector of join variables, got ?e"},
	{"[:find ?e :where [?e :a] (not-join [?e])]", DL_EINVAL,
	 SRC ":1:26: 'not-join' needs at least one clause"},
	{"[:find ?e :where [?e :a] (not-join)]", DL_EINVAL,
	 SRC ":1:26: not-join needs a vector of join variables"},
	{"[:find ?e :where [?e :a] (not-join [[?e]] [?e :b])]", DL_EINVAL,
	 SRC ":1:37: required variables of not-join come first, in one vector"},
	{"[:find ?e :where [?e :a] (or-join [?e ?e] [?e :b])]", DL_EINVAL,
	 SRC ":1:39: variable ?e appears twice in the join variables of or-join"},
	{"[:find ?e :where [?e :a] (or-join [[] ?e] [?e :b])]", DL_EINVAL,
	 SRC ":1:36: empty required-variable vector in or-join"},
	{"[:find ?e :where [?e :a] (or-join [?e 1] [?e :b])]", DL_EINVAL,
	 SRC ":1:39: expected a variable in the join variables of or-join, got 1"},
	{"[:find ?e :where [?e :a] (?r ?e)]", DL_EINVAL,
	 SRC ":1:27: expected a rule name or not, not-join, or, or-join, and; got ?r"},
	{"[:find ?e :where [?e :a] ($)]", DL_EINVAL, SRC ":1:26: clause ($) has nothing after its source"},
	{"[:find ?e :in $ % :where [?e :a] (r)]", DL_EINVAL, SRC ":1:34: rule call (r) needs arguments"},
	{"[:find ?e :in $ % :where [?e :a] (r ?e $)]", DL_EINVAL,
	 SRC ":1:40: unexpected source $ in a rule call"},
	{"[:find ?e :in $ % :where [?e :a] (r foo)]", DL_EINVAL,
	 SRC ":1:37: unexpected symbol foo in a rule call"},
	/* extensions */
	{"[:find ?x :where [?x :a] :order-by ?y]", DL_EINVAL,
	 SRC ":1:36: :order-by variable ?y is not a :find variable"},
	{"[:find (count ?x) :where [?x :a] :order-by ?x]", DL_EINVAL,
	 SRC ":1:44: :order-by variable ?x is not a :find variable"},
	{"[:find ?x :where [?x :a] :order-by [?x :up]]", DL_EINVAL,
	 SRC ":1:40: an :order-by direction is :asc or :desc, got :up"},
	{"[:find ?x :where [?x :a] :order-by :desc]", DL_EINVAL,
	 SRC ":1:36: expected a variable in :order-by, got :desc"},
	{"[:find ?x :where [?x :a] :order-by [[?x :asc :more]]]", DL_EINVAL,
	 SRC ":1:37: an :order-by entry is ?x, [?x] or [?x :asc|:desc]"},
	{"[:find ?x :where [?x :a] :order-by]", DL_EINVAL, SRC ":1:26: :order-by needs at least one variable"},
	{"[:find ?x :where [?x :a] :order-by [[1]]]", DL_EINVAL,
	 SRC ":1:38: expected a variable in :order-by, got 1"},
	{"[:find ?x :where [?x :a] :limit -1]", DL_EINVAL,
	 SRC ":1:33: :limit takes a non-negative integer, got -1"},
	{"[:find ?x :where [?x :a] :limit]", DL_EINVAL, SRC ":1:26: :limit takes one non-negative integer"},
	{"[:find ?x :where [?x :a] :limit 1 2]", DL_EINVAL, SRC ":1:26: :limit takes one non-negative integer"},
	{"[:find ?x :where [?x :a] :offset \"a\"]", DL_EINVAL,
	 SRC ":1:34: :offset takes a non-negative integer, got \"a\""},
	{"[:find ?x :where [?x :a] :timeout 1.5]", DL_EINVAL,
	 SRC ":1:35: :timeout takes a non-negative integer, got 1.5"},
	{"{:find [?x] :where [[?x :a]] :limit :all}", DL_EINVAL,
	 SRC ":1:37: :limit takes a non-negative integer, got :all"},
	/* nested queries: positions inside the outer text */
	{"[:find ?e :where [?e :a] [(q [:find ?z :where [?z :b ?w] (not [?j :c ?k])]) ?y]]", DL_EINVAL,
	 SRC ":1:58: insufficient binding: none of [?j ?k] is bound outside this not clause"},
	{"[:find ?e :where [?e :a] [(q \"[:find ?z]\") ?y]]", DL_EINVAL,
	 SRC ":1:30: in nested query string: <nested query>:1:8: find variable ?z is not bound"},
	{"[:find ?e :where [?e :a] [(q (quote {:find [?z]})) ?y]]", DL_EINVAL,
	 SRC ":1:45: find variable ?z is not bound"},
	/* syntax errors come from the reader, positioned too */
	{"[:find ?e :where [?e :a]", DL_ESYNTAX, SRC ":1:"},
	{"[:find ?e :where [?e :a \"x]]", DL_ESYNTAX, SRC ":1:"},
};

static void test_errors(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof k_err / sizeof *k_err; i++) {
		const err_case *e = &k_err[i];
		dl_arena a = DL_ARENA_INIT;
		dl_query *q = NULL;
		int rc = dl_query_parse(&q, &a, e->text, strlen(e->text), SRC);
		if (rc != e->code || !strstr(dl_errmsg(), e->msg)) {
			print_error("case %zu: %s\n  got %d: %s\n  want: %s\n", i, e->text, rc,
				    rc ? dl_errmsg() : "(parsed)", e->msg);
			bad++;
		}
		if (rc)
			assert_null(q);
		dl_arena_free(&a);
	}
	assert_int_equal(bad, 0);
}

/* ---- the AST itself ---------------------------------------------------- */

static void test_ast_shape(void **state)
{
	(void)state;
	const char *text = "[:find ?x (max 3 ?y) :in $ ?n\n"
			   " :where [?x :a ?y]\n"
			   "        [(> ?y ?n)]\n"
			   "        (or-join [[?x] ?y] [?x :b ?y])\n"
			   "        [(q [:find ?k :where [?k :c]] $) [[?k]]]]";
	dl_arena a = DL_ARENA_INIT;
	dl_query *q;
	assert_int_equal(dl_query_parse(&q, &a, text, strlen(text), "t.edn"), 0);
	assert_int_equal(q->find_spec, DL_FIND_REL);
	assert_int_equal(q->nfind, 2);
	assert_int_equal(q->find[0].kind, DL_FE_VAR);
	assert_int_equal(q->find[1].kind, DL_FE_AGG);
	assert_int_equal(q->find[1].agg, DL_AGG_MAX);
	assert_int_equal(q->find[1].nargs, 2);
	assert_int_equal(q->find[1].args[0].kind, DL_T_CONST);
	assert_int_equal(q->find[1].args[0].val.u.i, 3);
	assert_true(q->in_given);
	assert_int_equal(q->nin, 2);
	assert_int_equal(q->in[0].kind, DL_IN_SRC);
	assert_int_equal(q->in[1].kind, DL_IN_BIND);
	assert_int_equal(q->in[1].bind.kind, DL_B_SCALAR);
	/* variables: dense, in order of first appearance */
	assert_int_equal(q->nvars, 4);
	assert_string_equal(q->vars[0].name, "?x");
	assert_string_equal(q->vars[1].name, "?y");
	assert_string_equal(q->vars[2].name, "?n");
	assert_string_equal(q->vars[3].name, "?k");
	assert_int_equal(q->vars[2].pos.line, 1);
	assert_int_equal(q->vars[2].pos.col, 28);
	assert_int_equal(q->nwhere, 4);
	const dl_clause *c = q->where;
	assert_int_equal(c[0].kind, DL_C_PATTERN);
	assert_false(c[0].src_given);
	assert_int_equal(c[0].pos.line, 2);
	assert_int_equal(c[0].pos.col, 9);
	assert_int_equal(c[0].u.pat.n, 3);
	assert_int_equal(c[0].u.pat.t[0].kind, DL_T_VAR);
	assert_int_equal(c[0].u.pat.t[0].var, 0);
	assert_int_equal(c[0].u.pat.t[1].kind, DL_T_CONST);
	assert_int_equal(c[0].u.pat.t[1].val.type, DL_KEYWORD);
	assert_int_equal(c[0].u.pat.t[2].pos.col, 16);
	assert_int_equal(c[0].u.pat.t[3].kind, DL_T_BLANK);
	assert_int_equal(c[1].kind, DL_C_PRED);
	assert_int_equal(c[1].u.fn.f.kind, DL_T_SYM);
	assert_string_equal(dl_intern_name(c[1].u.fn.f.sym, NULL, NULL), ">");
	assert_int_equal(c[1].u.fn.nargs, 2);
	assert_int_equal(c[1].u.fn.args[1].var, 2);
	assert_int_equal(c[1].pos.line, 3);
	assert_int_equal(c[1].u.fn.args[1].pos.col, 16);
	assert_int_equal(c[2].kind, DL_C_OR_JOIN);
	assert_int_equal(c[2].u.sub.nvars, 2);
	assert_int_equal(c[2].u.sub.nreq, 1);
	assert_int_equal(c[2].u.sub.n, 1);
	assert_int_equal(c[2].u.sub.items[0].pos.line, 4);
	assert_int_equal(c[2].u.sub.items[0].pos.col, 28);
	assert_int_equal(c[3].kind, DL_C_FN);
	assert_non_null(c[3].u.fn.sub);
	assert_int_equal(c[3].u.fn.bind.kind, DL_B_REL);
	const dl_query *sub = c[3].u.fn.sub;
	assert_int_equal(sub->nvars, 1);
	assert_int_equal(sub->where[0].pos.line, 5);
	assert_int_equal(sub->where[0].pos.col, 30);
	assert_int_equal(q->limit, -1);
	assert_int_equal(q->offset, -1);
	assert_int_equal(q->timeout_ms, -1);
	dl_arena_free(&a);
}

/* Queries as values: no text, so no line:col in messages. */
static void test_parse_value(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT, b = DL_ARENA_INIT;
	dl_query *q;
	dl_buf out = DL_BUF_INIT;
	dl_value v = tu_edn(&b, "{:find [?e ?n] :in [$ [?n ...]] :where [[?e :name ?n] "
				"[(str ?n \"x\") ?s]] :order-by [?n]}");
	assert_int_equal(dl_query_parse_value(&q, &a, &v, "api"), 0);
	/* constants were copied: the value's arena may go */
	dl_arena_free(&b);
	assert_int_equal(dl_query_print(&out, q), 0);
	assert_string_equal(out.data, "[:find ?e ?n :in $ [?n ...] :where [?e :name ?n] "
				      "[(str ?n \"x\") ?s] :order-by [[?n :asc]]]");
	assert_int_equal(q->find[0].pos.line, 0);
	out.len = 0;

	v = tu_edn(&b, "(quote [:find ?e :where [?e :a]])");
	assert_int_equal(dl_query_parse_value(&q, &a, &v, "api"), 0);
	v = tu_edn(&b, "\"[:find ?e\\n :where [?e :a ?x] (not [?y :b ?z])]\"");
	assert_int_equal(dl_query_parse_value(&q, &a, &v, "api"), DL_EINVAL);
	assert_string_equal(dl_errmsg(),
			    "api:2:20: insufficient binding: none of [?y ?z] is bound outside this not clause");
	v = tu_edn(&b, "[:find ?x :where [?e :a]]");
	assert_int_equal(dl_query_parse_value(&q, &a, &v, "api"), DL_EINVAL);
	assert_string_equal(dl_errmsg(), "api: find variable ?x is not bound by :where or :in");
	v = tu_edn(&b, "42");
	assert_int_equal(dl_query_parse_value(&q, &a, &v, "api"), DL_EINVAL);
	assert_non_null(strstr(dl_errmsg(), "api: a query is a vector"));
	assert_int_equal(dl_query_parse_value(&q, &a, &v, NULL), DL_EINVAL);
	assert_non_null(strstr(dl_errmsg(), "<query>: "));
	dl_buf_free(&out);
	dl_arena_free(&a);
	dl_arena_free(&b);
}

/* Deep nesting through the value API hits a bound, not the stack. */
static void test_nesting_bound(void **state)
{
	(void)state;
	dl_buf t = DL_BUF_INIT;
	int depth = 300;
	assert_int_equal(dl_buf_puts(&t, "[:find ?e :where [?e :a]"), 0);
	for (int i = 0; i < depth; i++)
		assert_int_equal(dl_buf_puts(&t, " (not"), 0);
	assert_int_equal(dl_buf_puts(&t, " [?e :b]"), 0);
	for (int i = 0; i < depth; i++)
		assert_int_equal(dl_buf_puts(&t, ")"), 0);
	assert_int_equal(dl_buf_puts(&t, "]"), 0);
	dl_arena a = DL_ARENA_INIT;
	dl_query *q;
	int rc = dl_query_parse(&q, &a, t.data, t.len, SRC);
	assert_int_equal(rc, DL_ELIMIT);
	assert_non_null(strstr(dl_errmsg(), "nested too deeply"));
	dl_arena_free(&a);
	dl_buf_free(&t);
}

/* ---- rules ------------------------------------------------------------- */

static void test_rules(void **state)
{
	(void)state;
	dl_arena a = DL_ARENA_INIT, b = DL_ARENA_INIT;
	dl_ruleset *rs;
	dl_buf out = DL_BUF_INIT;
	const char *text =
		"[[(anc ?a ?b) [?a :parent ?b]]\n"
		" [(named [?e] ?n) [?e :name ?n]]\n"
		" [(anc ?a ?b) [?a :parent ?x] (anc ?x ?b)]\n"
		" [(odd ?x) [?x :v ?v] (not [(even? ?v)]) (or [?x :a] (and [?x :b] (named ?x \"q\")))]]";
	assert_int_equal(dl_rules_parse_text(&rs, &a, text, strlen(text), "rules.edn"), 0);
	assert_int_equal(rs->n, 3);
	const dl_rule *anc = &rs->rules[0];
	assert_string_equal(dl_intern_name(anc->name, NULL, NULL), "anc");
	assert_int_equal(anc->arity, 2);
	assert_int_equal(anc->nreq, 0);
	assert_int_equal(anc->nbodies, 2);
	assert_int_equal(anc->bodies[1].pos.line, 3);
	/* head vars come first in each body's variable table */
	assert_int_equal(anc->bodies[1].head[0].var, 0);
	assert_int_equal(anc->bodies[1].head[1].var, 1);
	assert_int_equal(anc->bodies[1].nvars, 3);
	assert_int_equal(rs->rules[1].nreq, 1);
	assert_ptr_equal(dl_ruleset_find(rs, rs->rules[2].name), &rs->rules[2]);
	assert_int_equal(dl_rules_print(&out, rs), 0);
	const char *want = "[[(anc ?a ?b) [?a :parent ?b]] [(anc ?a ?b) [?a :parent ?x] (anc ?x ?b)] "
			   "[(named [?e] ?n) [?e :name ?n]] [(odd ?x) [?x :v ?v] (not [(even? ?v)]) "
			   "(or [?x :a] (and [?x :b] (named ?x \"q\")))]]";
	assert_string_equal(out.data, want);
	/* the same from a value, and a fixed point */
	dl_value v = tu_edn(&b, out.data);
	dl_ruleset *rs2;
	assert_int_equal(dl_rules_parse(&rs2, &a, &v, NULL), 0);
	out.len = 0;
	assert_int_equal(dl_rules_print(&out, rs2), 0);
	assert_string_equal(out.data, want);

	/* queries checked against the rules */
	dl_query *q;
	const char *qt = "[:find ?x :in $ % :where [?x :a]\n (anc ?x)]";
	assert_int_equal(dl_query_parse(&q, &a, qt, strlen(qt), SRC), 0);
	assert_int_equal(dl_query_check_rules(q, rs), DL_EINVAL);
	assert_string_equal(dl_errmsg(), SRC ":2:2: rule anc takes 2 arguments, got 1");
	qt = "[:find ?x :in $ % :where [?x :a] (or (anc ?x 1) (nope ?x 1))]";
	assert_int_equal(dl_query_parse(&q, &a, qt, strlen(qt), SRC), 0);
	assert_int_equal(dl_query_check_rules(q, rs), DL_EINVAL);
	assert_string_equal(dl_errmsg(), SRC ":1:49: unknown rule nope");
	qt = "[:find ?x :in $ % :where (anc ?x 1) (named ?x _) (not (odd ?x))]";
	assert_int_equal(dl_query_parse(&q, &a, qt, strlen(qt), SRC), 0);
	assert_int_equal(dl_query_check_rules(q, rs), 0);
	dl_buf_free(&out);
	dl_arena_free(&a);
	dl_arena_free(&b);
}

static const err_case k_rule_err[] = {
	{"[[(r ?a) [?a :x]]\n [(r ?a ?b) [?a :x ?b]]]", DL_EINVAL,
	 "<rules>:2:2: bodies of rule r disagree on arity: 1 and 2"},
	{"[[(r [?a] ?b) [?a :x ?b]] [(r ?a ?b) [?a :x ?b]]]", DL_EINVAL,
	 "<rules>:1:27: bodies of rule r disagree on required variables: 1 and 0"},
	{"[[(r ?a) (s ?a)]]", DL_EINVAL, "<rules>:1:10: unknown rule s"},
	{"[[(r ?a) [?a :x]] [(s ?a) (r ?a 1)]]", DL_EINVAL,
	 "<rules>:1:27: rule r takes 1 argument, got 2"},
	{"[[(r ?a ?b) [?a :x]]]", DL_EINVAL, "<rules>:1:9: variable ?b of rule r is not used in its body"},
	{"[[(r ?a ?a) [?a :x]]]", DL_EINVAL, "<rules>:1:9: variable ?a appears twice in the head of rule r"},
	{"[[(not ?a) [?a :x]]]", DL_EINVAL, "<rules>:1:3: not is reserved and cannot name a rule"},
	{"[[(r) [?a :x]]]", DL_EINVAL, "<rules>:1:3: rule r has no variables in its head"},
	{"[[(r [] ?a) [?a :x]]]", DL_EINVAL, "<rules>:1:6: empty required-variable vector in rule r"},
	{"[[(r ?a [?b]) [?a :x ?b]]]", DL_EINVAL,
	 "<rules>:1:9: required variables of rule r come first, in one vector"},
	{"[[(r ?a :k) [?a :x]]]", DL_EINVAL, "<rules>:1:9: expected a variable in a rule head, got :k"},
	{"[[(?r ?a) [?a :x]]]", DL_EINVAL, "<rules>:1:3: a rule head starts with the rule's name, got (?r ?a)"},
	{"[[(r ?a)]]", DL_EINVAL, "<rules>:1:2: a rule is [(name ?var ...) clause ...], got [(r ?a)]"},
	{"[(r ?a) [?a :x]]", DL_EINVAL, "<rules>:1:2: a rule is"},
	{"{:r 1}", DL_EINVAL, "<rules>:1:1: rules are a vector"},
	{"[[(r ?a) [?a :x ?v] (not [?u :y ?w])]]", DL_EINVAL,
	 "<rules>:1:21: insufficient binding: none of [?u ?w] is bound outside this not clause"},
	{"[[(r ?a) [?a :x]]] x", DL_EINVAL, "<rules>:1:20: unexpected x after the rules"},
	{"", DL_EINVAL, "<rules>:1:1: empty rules"},
};

static void test_rule_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof k_rule_err / sizeof *k_rule_err; i++) {
		const err_case *e = &k_rule_err[i];
		dl_arena a = DL_ARENA_INIT;
		dl_ruleset *rs = NULL;
		int rc = dl_rules_parse_text(&rs, &a, e->text, strlen(e->text), NULL);
		if (rc != e->code || !strstr(dl_errmsg(), e->msg))
			fail_msg("case %zu: %s\n  got %d: %s\n  want: %s", i, e->text, rc, dl_errmsg(),
				 e->msg);
		assert_null(rs);
		dl_arena_free(&a);
	}
}

/* ---- robustness -------------------------------------------------------- */

static const char *const k_valid[] = {
	("[:find ?e (count ?x) :keys e n :with ?w\n :in $ % ?name [?a ...]\n"
	 " :where [?e :name ?name] [?e :x ?x] [?e :w ?w]\n"
	 "        (not [?e :bad true]) (anc ?e ?a)\n"
	 "        (or-join [?e] [?e :p 1] (and [?e :q ?z] [(> ?z 2)]))\n"
	 " :order-by [[?e :desc]] :limit 10]"),
	("{:find [(pull ?e [:a {:b [*]}]) .] :in [$ [[?k ?v]]]\n"
	 " :where [[?e ?k ?v] [(q [:find ?y :where [?y :r]] $) [[?y]]] [(str ?v) ?s]]}"),
	"[:find [?x ...] :where [?x :a #inst \"2020-01-01T00:00:00.000Z\"] (not-join [?x] [?x :b \"s;\\\"]\"])]",
};

static bool positioned(const char *msg)
{
	unsigned line, col;
	int n = 0;
	return sscanf(msg, SRC ":%u:%u: %n", &line, &col, &n) == 2 && n > 0 && line >= 1 && col >= 1;
}

static void test_truncations(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof k_valid / sizeof *k_valid; k++) {
		const char *text = k_valid[k];
		size_t len = strlen(text);
		check_round_trip(text, NULL);
		for (size_t n = 0; n < len; n++) {
			dl_arena a = DL_ARENA_INIT;
			dl_query *q = NULL;
			int rc = dl_query_parse(&q, &a, text, n, SRC);
			if (rc >= 0)
				fail_msg("prefix %zu of query %zu parsed: %.*s", n, k, (int)n, text);
			if (!positioned(dl_errmsg()))
				fail_msg("prefix %zu of query %zu: unpositioned message: %s", n, k,
					 dl_errmsg());
			dl_arena_free(&a);
		}
	}
}

/* Random single-character edits: never a crash; failures are positioned;
 * successes print stably. */
static void test_mutations(void **state)
{
	(void)state;
	static const char alphabet[] = "[](){}#_ ?:.$%\"\\;x1-";
	uint64_t seed = tu_seed_from_env(0x5eed);
	char buf[1024];
	int parsed = 0;
	for (long iter = 0, iters = tu_scale(6000); iter < iters; iter++) {
		const char *text = k_valid[tu_rand() % (sizeof k_valid / sizeof *k_valid)];
		size_t len = strlen(text);
		memcpy(buf, text, len + 1);
		int edits = 1 + (int)(tu_rand() % 3);
		for (int e = 0; e < edits; e++)
			buf[tu_rand() % len] = alphabet[tu_rand() % (sizeof alphabet - 1)];
		dl_arena a = DL_ARENA_INIT;
		dl_query *q = NULL;
		int rc = dl_query_parse(&q, &a, buf, len, SRC);
		if (rc < 0) {
			if (!positioned(dl_errmsg()))
				fail_msg("seed %llu: unpositioned message for %s: %s",
					 (unsigned long long)seed, buf, dl_errmsg());
			assert_true(rc == DL_ESYNTAX || rc == DL_EINVAL || rc == DL_ELIMIT);
		} else {
			parsed++;
			check_round_trip(buf, NULL);
		}
		dl_arena_free(&a);
	}
	assert_true(parsed > 0);
}

/* ---- allocation failures ----------------------------------------------- */

static int parse_all(dl_arena *a, const char *text, const char *rules)
{
	dl_query *q;
	dl_ruleset *rs;
	dl_buf b = DL_BUF_INIT;
	int rc = dl_query_parse(&q, a, text, strlen(text), SRC);
	if (rc == 0)
		rc = dl_query_print(&b, q);
	if (rc == 0) {
		/* the value path copies constants */
		dl_value v;
		size_t used;
		dl_edn_opts o = DL_EDN_OPTS_INIT;
		rc = dl_edn_read(&v, &used, a, text, strlen(text), &o);
		if (rc == 0)
			rc = dl_query_parse_value(&q, a, &v, SRC);
	}
	if (rc == 0)
		rc = dl_rules_parse_text(&rs, a, rules, strlen(rules), NULL);
	if (rc == 0)
		rc = dl_query_check_rules(q, rs);
	dl_buf_free(&b);
	return rc;
}

static void test_allocation_failures(void **state)
{
	(void)state;
	const char *rules = "[[(anc ?e ?a) [?e :p ?a]] [(anc ?e ?a) [?e :p ?x] (anc ?x ?a)]]";
	for (size_t k = 0; k < sizeof k_valid / sizeof *k_valid; k++) {
		const char *text = k_valid[k];
		dl_arena a = DL_ARENA_INIT;
		/* warm up: intern every name once, so interning allocates no more */
		assert_int_equal(parse_all(&a, text, rules), 0);
		dl_arena_free(&a);
		long base = tu_failalloc_live();
		for (long n = 1;; n++) {
			tu_failalloc_arm(n);
			int rc = parse_all(&a, text, rules);
			tu_failalloc_disarm();
			int fired = tu_failalloc_fired();
			if (fired) {
				if (rc != DL_ENOMEM)
					fail_msg("query %zu, failing allocation %ld: rc %d: %s", k, n, rc,
						 dl_errmsg());
				assert_non_null(strstr(dl_errmsg(), "out of memory"));
			} else {
				assert_int_equal(rc, 0);
			}
			dl_arena_free(&a);
			assert_int_equal(tu_failalloc_live(), base);
			if (!fired)
				break;
		}
	}
}

int main(void)
{
	tu_failalloc_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_ast_shape),
		cmocka_unit_test(test_parse_value),
		cmocka_unit_test(test_nesting_bound),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_allocation_failures),
	};
	return cmocka_run_group_tests_name("query_parse", tests, NULL, NULL);
}
