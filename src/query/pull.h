/*
 * query/pull: the pull API (Datomic's pull patterns) and entity maps.
 *
 * A pull pattern is data (EDN read into a dl_value) and is compiled once
 * against the schema of a snapshot: attribute idents are resolved to ids
 * and the pattern is validated.  The compiled pattern is then run on any
 * number of entities, through any view (current, as-of, since, history).
 *
 * Pattern grammar (Datomic's, with DataScript's spellings accepted too):
 *
 *   pattern     = [spec*]                  (a vector or a list)
 *   spec        = attr | '* | map-spec | attr-opts | legacy-expr
 *   attr        = :ns/name                 an attribute, by ident
 *               | :ns/_name                the reverse of ref attribute :ns/name
 *               | :db/id                   the entity id
 *   map-spec    = {(attr | attr-opts | legacy-expr) (pattern | recursion) ...}
 *   attr-opts   = [attr option+] or (attr option+)
 *   option      = :as any-value | :limit (positive-int | nil) | :default any-value
 *   legacy-expr = (limit attr (positive-int | nil)) | (default attr any-value)
 *                 ("limit" / "default" as strings too)
 *   recursion   = positive-int | '...      (the string "..." too)
 *
 * Result of pulling entity e: a DL_MAP from keys (the attribute keyword as
 * written, or the :as value) to values; the map's entries are sorted by key
 * (dl_value_compare), so equal pulls print identically.
 *
 *   - missing attributes are left out, unless :default gives a value;
 *   - cardinality-many attributes (and non-component reverse attributes)
 *     give vectors in index order (value order; reverse: entity order),
 *     at most :limit values, 1000 unless :limit says otherwise (nil: all);
 *   - a ref value pulled without a nested pattern is {:db/id n}, also when
 *     the referenced entity has an ident (as Datomic and DataScript do);
 *   - component attributes pulled without a nested pattern (by name or
 *     through *) are pulled whole, recursively, with [*];
 *   - the reverse of a component attribute gives one value (the owner),
 *     every other reverse attribute a vector;
 *   - a nested pattern applies to each referenced entity; entities whose
 *     nested result is empty are left out, and so is an attribute whose
 *     values all came out empty (as DataScript does);
 *   - recursion ({:a ...} or {:a n}) applies the enclosing pattern again,
 *     n levels deep at most; entities past the depth are left out.  While
 *     following a recursive or component attribute, an entity already
 *     entered that way on the current path comes back as {:db/id n}, so
 *     recursion on cyclic data terminates.  The root entity is not counted
 *     as entered (DataScript's rule): a cycle back to it shows it once more
 *     before stopping;
 *   - entity ids are DL_INT; every other value keeps its type (DL_INST,
 *     DL_KEYWORD, tuples, ...).
 *
 * The result of a pull is nil when the map would be empty, and also when
 * the entity has no datoms at all in the view (neither as entity nor as
 * ref value), whatever the pattern asks (:db/id, :default).
 *
 * Where Datomic and DataScript 1.8.1 differ, or say nothing, we chose:
 *   - an attribute ident that names no attribute is an error (DL_ENOTFOUND,
 *     as Datomic does, to our knowledge); DataScript pulls nothing for it;
 *   - reverse attributes get the default :limit of 1000 too (Datomic's
 *     default applies to every many-valued result, to our knowledge);
 *     DataScript returns every referring entity;
 *   - the reverse of a :db/unique (not component) ref attribute is a
 *     vector like any other: both systems single out components only;
 *   - :limit on a cardinality-one attribute is accepted and changes nothing
 *     (DataScript rejects it);
 *   - a pull of an entity with no datoms is nil even for [:db/id], [*] or
 *     defaults; DataScript gives {:db/id n} (and defaults);
 *   - a ref to an entity with an ident, pulled without a nested pattern, is
 *     {:db/id n} (Datomic; DataScript agrees);
 *   - the option :xform is not supported (an error).
 *
 * Views: the entity's datoms are read through the view.  In a history view
 * an attribute shows every value ever asserted (each once); a cardinality-
 * one attribute shows the value asserted last.
 *
 * Memory: compiled patterns live in the arena given to dl_pull_compile and
 * keep nothing of the pattern value.  Results live in the arena given to
 * dl_pull_run (strings copied out of the snapshot; :as keys and :default
 * values copied too), so they outlive both the snapshot and the pattern.
 * A run works iteratively (no C recursion, whatever the depth) and its own
 * heap memory is proportional to the current path, not to the result.
 *
 * Threads: a compiled pattern is read-only while it runs, so several
 * threads may run it at once, each with its own snapshot and arena.
 */
#ifndef DL_QUERY_PULL_H
#define DL_QUERY_PULL_H

#include "storage/store.h"

/** Values of a cardinality-many attribute (or reverse attribute) pulled
 *  when the pattern gives no :limit. */
#define DL_PULL_DEFAULT_LIMIT 1000
/** By default at most this many entity maps are built by one dl_pull_run
 *  (per entity of dl_pull_many); past it the pull fails with DL_ELIMIT.
 *  Bounds the work of `...` on densely connected data, where every acyclic
 *  path is followed.  dl_pull_set_max_maps changes it per pattern. */
#define DL_PULL_MAX_MAPS 1000000
/** Nesting bound of a pattern value (maps and vectors inside it). */
#define DL_PULL_MAX_PATTERN_DEPTH 256

/** A compiled pull pattern (lives in an arena). */
typedef struct dl_pull_pattern dl_pull_pattern;

/** Compile the pull pattern `pattern` (a vector or list, as data) against
 *  the schema of `snap`.  `source` (NULL: "<pull>") names the pattern in
 *  error messages, which read "source: problem in <offending form>".
 *  Errors: DL_EINVAL for a malformed pattern or option (and a nested
 *  pattern or recursion on an attribute that is not a ref, a reverse of an
 *  attribute that is not a ref), DL_ENOTFOUND for an attribute ident that
 *  names no attribute, DL_ELIMIT for a pattern nested too deep,
 *  DL_ENOMEM. */
int dl_pull_compile(dl_pull_pattern **out, dl_arena *a, const dl_value *pattern,
		    dl_snap *snap, const char *source);

/** Set the budget of maps one pull of `p` may build (0: the default,
 *  DL_PULL_MAX_MAPS).  For callers with budgets of their own (a query's
 *  row budget). */
void dl_pull_set_max_maps(dl_pull_pattern *p, uint64_t max_maps);

/** Pull entity `e` through `view` (NULL: current) with pattern `p`.  *out
 *  is a DL_MAP in arena `a`, or nil (see the header comment).  Errors:
 *  DL_ELIMIT (DL_PULL_MAX_MAPS), DL_ENOMEM, storage errors. */
int dl_pull_run(dl_value *out, dl_arena *a, dl_snap *snap, const dl_view *view,
		const dl_pull_pattern *p, int64_t e);

/** dl_pull_run for each of es[0..n): out[i] is the pull of es[i] (so the
 *  same entity twice gives two equal maps). */
int dl_pull_many(dl_value *out, dl_arena *a, dl_snap *snap, const dl_view *view,
		 const dl_pull_pattern *p, const int64_t *es, size_t n);

/** Entity navigation: the attributes of `e` in `view` (NULL: current) as
 *  a DL_MAP sorted by key: :db/id e, then each attribute's ident keyword to
 *  its value (cardinality one) or a DL_SET of its values (cardinality
 *  many, every value, in index order).  Refs, components included, are
 *  {:db/id n} maps, for the caller to follow lazily with another
 *  dl_entity_map.  Reverse references are not listed.  nil when `e` has no
 *  datoms in the view.  History views as for pull. */
int dl_entity_map(dl_value *out, dl_arena *a, dl_snap *snap, const dl_view *view, int64_t e);

/** Resolve an entity reference as pull and entity take them: an id
 *  (DL_INT or DL_REF), an ident keyword, or a lookup ref [attr value] (a
 *  two-item vector or list, attr an ident or id; for a ref attribute the
 *  value may itself be an id, ident or lookup ref).  Returns 1 with *out
 *  set (an id is taken as it is, existing or not), 0 when an ident or
 *  lookup ref names no entity (*out = 0), or an error: DL_ENOTFOUND for a
 *  lookup ref whose attribute is unknown, DL_EINVAL for one whose
 *  attribute is not unique, or for a value that is no entity reference. */
int dl_pull_entid(int64_t *out, dl_snap *snap, const dl_view *view, const dl_value *ref);

#endif
