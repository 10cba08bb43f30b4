#!/usr/bin/env python3
"""Exact size of the ancestor closure of a `datalite gen genealogy` data set.

    bench/peers/genealogy_closure.py CSV_DIR [PERSON_ID ...]

CSV_DIR is `datalite gen genealogy ... --format csv --out CSV_DIR`.  Prints
the number of (person, ancestor) pairs of the whole closure, i.e. the rows of
(anc ?a ?b) with nothing bound, and the ancestor count of each PERSON_ID.
The bound queries of the benchmark touch one person's ancestors; this is the
figure they are compared with.  Everyone's parents are in the generation just
before, so ancestor sets (Python ints used as bitsets) are kept for one
generation only: memory stays at width x people bits.
"""
import csv
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    want = {int(x) for x in sys.argv[2:]}
    gen = {}
    with open(d + '/people.csv', newline='') as f:
        rows = csv.reader(f)
        next(rows)
        for pid, g in rows:
            gen[int(pid)] = int(g)
    parents = {}
    with open(d + '/parents.csv', newline='') as f:
        rows = csv.reader(f)
        next(rows)
        for child, parent in rows:
            parents.setdefault(int(child), []).append(int(parent))
    prev, cur, cur_gen, total = {}, {}, 0, 0
    for pid in sorted(gen, key=lambda p: (gen[p], p)):
        if gen[pid] != cur_gen:
            prev, cur, cur_gen = cur, {}, gen[pid]
        s = 0
        for p in parents.get(pid, ()):
            s |= (1 << p) | prev[p]
        cur[pid] = s
        n = s.bit_count()
        total += n
        if pid in want:
            print(f'ancestors of {pid}: {n}')
    print(f'closure: {total} pairs over {len(gen)} people')


main()
