/*
 * query/ast: the parsed form of a Datomic-style query, as the planner and
 * executor consume it.
 *
 * Everything hangs off one dl_query allocated in the arena given to the
 * parser; nothing needs freeing except that arena.  Constants (dl_value)
 * live in the same arena.  Symbols (variables, sources, function, rule and
 * aggregate names) are kept as intern ids (dl_intern_name() gives the text).
 *
 * Variables are numbered per query (and per rule body, and per nested `q`
 * query): each distinct ?name gets a dense index 0..nvars-1 in its scope's
 * variable table, so the planner can use bitsets and fixed-width rows.
 *
 * Positions: each clause, term and find element carries the line:col of its
 * first character in the query text (line 0 when the query came in as a
 * value and there is no text).
 */
#ifndef DL_QUERY_AST_H
#define DL_QUERY_AST_H

#include "base.h"

typedef struct dl_pos {
	uint32_t line, col; /* 1-based; line 0 = unknown */
} dl_pos;

/* ---- terms ------------------------------------------------------------- */

typedef enum dl_term_kind {
	DL_T_VAR = 1, /* ?x: .var indexes the scope's variable table */
	DL_T_BLANK,   /* _ */
	DL_T_CONST,   /* a constant: .val (keyword, number, string, lookup-ref vector, ...) */
	DL_T_SRC,     /* $ or $name: .sym */
	DL_T_RULES,   /* %: .sym */
	DL_T_SYM      /* a plain symbol (function or aggregate name): .sym */
} dl_term_kind;

typedef struct dl_term {
	uint8_t kind;  /* dl_term_kind */
	uint32_t var;  /* DL_T_VAR: variable index */
	uint32_t sym;  /* DL_T_VAR/SRC/RULES/SYM: intern id of the symbol */
	dl_pos pos;    /* where the term is written */
	dl_value val;  /* DL_T_CONST: the value (in the query arena) */
} dl_term;

/* ---- binding forms (:in and function outputs) -------------------------- */

typedef enum dl_bind_kind {
	DL_B_SCALAR = 1, /* ?x (or _): terms[0] */
	DL_B_TUPLE,      /* [?a ?b _]: n terms, each a var or _ */
	DL_B_COLL,       /* [?x ...]: terms[0] */
	DL_B_REL         /* [[?a ?b]]: n terms, each a var or _ */
} dl_bind_kind;

typedef struct dl_binding {
	uint8_t kind;   /* dl_bind_kind */
	uint32_t n;     /* number of terms */
	dl_term *terms; /* DL_T_VAR or DL_T_BLANK */
	dl_pos pos;
} dl_binding;

/* ---- :in --------------------------------------------------------------- */

typedef enum dl_input_kind {
	DL_IN_SRC = 1, /* $ or $name: .sym */
	DL_IN_RULES,   /* %: .sym */
	DL_IN_BIND     /* a binding form: .bind (scalar _ is a placeholder) */
} dl_input_kind;

typedef struct dl_input {
	uint8_t kind;    /* dl_input_kind */
	uint32_t sym;    /* DL_IN_SRC/RULES: intern id */
	dl_binding bind; /* DL_IN_BIND */
	dl_pos pos;
} dl_input;

/* ---- :find ------------------------------------------------------------- */

typedef enum dl_find_spec {
	DL_FIND_REL = 1, /* :find ?a ?b       -> set of tuples */
	DL_FIND_SCALAR,  /* :find ?a .        -> one value */
	DL_FIND_COLL,    /* :find [?a ...]    -> collection of values */
	DL_FIND_TUPLE    /* :find [?a ?b]     -> one tuple */
} dl_find_spec;

typedef enum dl_find_kind {
	DL_FE_VAR = 1, /* a variable: .var */
	DL_FE_AGG,     /* (agg args... ?x): .agg, .fn, .args, .var (the last arg) */
	DL_FE_PULL     /* (pull $src? ?e pattern): .src, .var, .pattern */
} dl_find_kind;

/* Aggregates the engine knows; anything else is DL_AGG_CUSTOM (its name in
 * .fn is resolved later, like Datomic's user aggregate functions). */
typedef enum dl_agg {
	DL_AGG_NONE = 0,
	DL_AGG_COUNT,
	DL_AGG_COUNT_DISTINCT,
	DL_AGG_SUM,
	DL_AGG_AVG,
	DL_AGG_MIN,      /* (min ?x) or (min n ?x) */
	DL_AGG_MAX,      /* (max ?x) or (max n ?x) */
	DL_AGG_MEDIAN,
	DL_AGG_VARIANCE,
	DL_AGG_STDDEV,
	DL_AGG_DISTINCT,
	DL_AGG_RAND,     /* (rand ?x) or (rand n ?x) */
	DL_AGG_SAMPLE,   /* (sample n ?x) */
	DL_AGG_CUSTOM
} dl_agg;

typedef struct dl_find_elem {
	uint8_t kind;     /* dl_find_kind */
	uint8_t agg;      /* DL_FE_AGG: dl_agg */
	uint32_t var;     /* the variable (aggregated var; pulled entity) */
	uint32_t fn;      /* DL_FE_AGG: intern id of the aggregate's name */
	uint32_t nargs;   /* DL_FE_AGG: all arguments, the variable last; */
	dl_term *args;    /*   a leading n is a constant int or an :in variable */
	uint32_t src;     /* DL_FE_PULL: intern id of the source ($ if omitted) */
	bool src_given;   /* DL_FE_PULL: the source was written */
	dl_term pattern;  /* DL_FE_PULL: a constant vector, or an :in variable */
	dl_pos pos;
} dl_find_elem;

typedef enum dl_keys_kind {
	DL_KEYS_NONE = 0,
	DL_KEYS_KEYS, /* :keys -> maps with keyword keys */
	DL_KEYS_STRS, /* :strs -> string keys */
	DL_KEYS_SYMS  /* :syms -> symbol keys */
} dl_keys_kind;

/* ---- :where clauses ---------------------------------------------------- */

typedef enum dl_clause_kind {
	DL_C_PATTERN = 1, /* [$src? e a v tx added]: .pat */
	DL_C_PRED,        /* [(f args...)]: .fn (no binding) */
	DL_C_FN,          /* [(f args...) binding]: .fn */
	DL_C_RULE,        /* ($src? name args...): .rule */
	DL_C_NOT,         /* ($src? not clause...): .sub (vars: all its free vars) */
	DL_C_NOT_JOIN,    /* ($src? not-join [?v...] clause...): .sub */
	DL_C_OR,          /* ($src? or branch...): .sub; each branch is one clause or an and */
	DL_C_OR_JOIN,     /* ($src? or-join [[?req...] ?v...] branch...): .sub */
	DL_C_AND          /* (and clause...): only as a branch of or / or-join: .sub */
} dl_clause_kind;

typedef struct dl_query dl_query;
typedef struct dl_clause dl_clause;

struct dl_clause {
	uint8_t kind;    /* dl_clause_kind */
	bool src_given;  /* a $src was written before the clause */
	uint32_t src;    /* intern id of the source ($ when not given) */
	dl_pos pos;
	union {
		struct {
			uint32_t n;     /* terms written: 1..5 (e a v tx added) */
			dl_term t[5];   /* the rest are DL_T_BLANK */
		} pat;
		struct {
			dl_term f;      /* DL_T_SYM (function name) or DL_T_VAR */
			uint32_t nargs;
			dl_term *args;  /* vars, constants, $src, % */
			dl_binding bind; /* DL_C_FN only */
			dl_query *sub;  /* f is `q` with a literal query: it parsed */
		} fn;
		struct {
			uint32_t name;  /* intern id of the rule's name */
			uint32_t nargs;
			dl_term *args;  /* vars, constants, _ */
		} rule;
		struct {
			/* not-join / or-join: the declared join vars, required ones
			 * first (nreq of them, or-join only); not / or: 0 vars. */
			uint32_t nvars, nreq;
			dl_term *vars;
			uint32_t n;        /* sub-clauses or branches */
			dl_clause *items;
		} sub;
	} u;
};

/* ---- :order-by --------------------------------------------------------- */

typedef struct dl_order {
	uint32_t var;  /* the variable */
	uint32_t col;  /* index of the :find element that is that variable */
	bool desc;     /* :desc (default :asc) */
	dl_pos pos;
} dl_order;

/* ---- variables --------------------------------------------------------- */

typedef struct dl_var {
	uint32_t sym;     /* intern id of ?name */
	const char *name; /* its text (NUL-terminated, process lifetime) */
	dl_pos pos;       /* first occurrence */
} dl_var;

/* ---- the query --------------------------------------------------------- */

struct dl_query {
	const char *source;    /* named in messages (arena copy) */
	dl_pos pos;            /* the query form itself */

	uint8_t find_spec;     /* dl_find_spec */
	uint32_t nfind;
	dl_find_elem *find;

	uint8_t keys_kind;     /* dl_keys_kind */
	uint32_t nkeys;        /* == nfind when keys_kind != NONE */
	uint32_t *keys;        /* intern ids of the key symbols */
	dl_pos keys_pos;

	uint32_t nwith;
	dl_term *with;         /* DL_T_VAR */

	uint32_t nin;
	dl_input *in;          /* as written, or just $ when :in is absent */
	bool in_given;         /* :in was written */

	uint32_t nwhere;
	dl_clause *where;

	uint32_t norder;
	dl_order *order;

	int64_t limit;         /* -1 when absent */
	int64_t offset;        /* -1 when absent */
	int64_t timeout_ms;    /* -1 when absent */

	uint32_t nvars;
	dl_var *vars;
	/* Per variable: 1 when its one occurrence in the whole query is in a
	 * pattern of :where itself (not inside not/or/and) on the default
	 * source: nothing reads it, so the pattern treats it as _ and never
	 * fetches it (ohlc's [?b :price/time ?t] only asks that a time
	 * exists).  NULL: none, or a query not made by the parser. */
	const uint8_t *single;
};

/* ---- rules ------------------------------------------------------------- */

typedef struct dl_rule_body {
	dl_pos pos;
	uint32_t nhead, nreq;  /* head vars, the first nreq required ([?a] ?b) */
	dl_term *head;         /* DL_T_VAR in this body's variable table */
	uint32_t n;
	dl_clause *clauses;
	uint32_t nvars;        /* the body's own variable table */
	dl_var *vars;
} dl_rule_body;

typedef struct dl_rule {
	uint32_t name;         /* intern id */
	uint32_t arity, nreq;  /* the same for every body */
	uint32_t nbodies;
	dl_rule_body *bodies;
	dl_pos pos;            /* the first body */
} dl_rule;

typedef struct dl_ruleset {
	const char *source;
	uint32_t n;
	dl_rule *rules;
	const uint8_t *dep;    /* dep[r * n + s]: rule r calls s, directly or
				  through others (NULL when n is 0) */
} dl_ruleset;

/* ---- entry points ------------------------------------------------------ */

/* Parse query text (vector or map form).  Errors: DL_ESYNTAX from the EDN
 * reader, DL_EINVAL for a malformed query, each "source:line:col: ...". */
int dl_query_parse(dl_query **out, dl_arena *a, const char *text, size_t len,
		   const char *source);
/* The same from a value (a vector, a map, a string holding the query, or
 * (quote q)).  No text, so messages have no line:col. */
int dl_query_parse_value(dl_query **out, dl_arena *a, const dl_value *q,
			 const char *source);
/* Parse a rule set given as data ([[(name ?a ?b) clause...] ...]): bodies
 * of one name must agree on arity and required vars; calls inside must
 * name a rule of the set with the right arity. */
int dl_rules_parse(dl_ruleset **out, dl_arena *a, const dl_value *rules,
		   const char *source);
/* The same from EDN text, with line:col in messages. */
int dl_rules_parse_text(dl_ruleset **out, dl_arena *a, const char *text,
			size_t len, const char *source);
/* Check q's rule calls (and its nested queries') against rs: known names,
 * right arity. */
int dl_query_check_rules(const dl_query *q, const dl_ruleset *rs);
/* Print q back as canonical vector-form EDN; parsing that prints the same. */
int dl_query_print(dl_buf *out, const dl_query *q);
/* Print one clause as EDN (for EXPLAIN and messages). */
int dl_clause_print(dl_buf *out, const dl_clause *cl);
/* Calls f(ud, terms, n) on every run of terms of cl that may hold
 * variables: a pattern's, a function's name, arguments and binding, a rule
 * call's arguments, the declared variables of not-join / or-join, and the
 * clauses of not / or / and.  With deep, also the clauses inside not-join
 * and or-join (their own variables). */
void dl_clause_terms(const dl_clause *cl, bool deep,
		     void (*f)(void *ud, const dl_term *t, uint32_t n), void *ud);
/* Print a rule set as EDN. */
int dl_rules_print(dl_buf *out, const dl_ruleset *rs);
/* The rule of that name, or NULL. */
const dl_rule *dl_ruleset_find(const dl_ruleset *rs, uint32_t name);

#endif
