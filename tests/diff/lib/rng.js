'use strict';
// A small deterministic PRNG (xoshiro128**, seeded through splitmix32) and
// the helpers the generators use.  Everything the harness generates comes
// from one of these, so a seed names a run exactly, on any machine.

function splitmix32(state) {
	let s = state >>> 0;
	return () => {
		s = (s + 0x9e3779b9) >>> 0;
		let z = s;
		z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
		z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
		return (z ^ (z >>> 16)) >>> 0;
	};
}

// Mixes any number of integers into one 32-bit seed: derive(seed, db, q)
// gives every database and query its own stream, so adding cases never
// changes the earlier ones.
function derive(...parts) {
	let h = 0x811c9dc5;
	for (const p of parts) {
		const sm = splitmix32((h ^ (p >>> 0)) >>> 0);
		h = (sm() ^ Math.imul(h, 0x01000193)) >>> 0;
	}
	return h >>> 0;
}

class Rng {
	constructor(seed) {
		const sm = splitmix32(seed);
		this.s = [sm(), sm(), sm(), sm()];
		if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
	}

	// A uniform 32-bit unsigned integer.
	u32() {
		const s = this.s;
		const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
		const t = s[1] << 9;
		s[2] ^= s[0];
		s[3] ^= s[1];
		s[1] ^= s[2];
		s[0] ^= s[3];
		s[2] ^= t;
		s[3] = rotl(s[3], 11);
		return r;
	}

	// A float in [0, 1).
	float() { return this.u32() / 4294967296; }

	// An integer in [lo, hi] (both inclusive).
	int(lo, hi) { return lo + Math.floor(this.float() * (hi - lo + 1)); }

	// True with probability p.
	chance(p) { return this.float() < p; }

	pick(arr) {
		if (arr.length === 0) throw new Error('rng.pick of an empty array');
		return arr[Math.floor(this.float() * arr.length)];
	}

	// Picks a key of {key: weight}, by weight; zero weights never win.
	weighted(table) {
		const entries = Object.entries(table).filter(([, w]) => w > 0);
		let total = 0;
		for (const [, w] of entries) total += w;
		let x = this.float() * total;
		for (const [k, w] of entries) {
			if (x < w) return k;
			x -= w;
		}
		return entries[entries.length - 1][0];
	}

	shuffle(arr) {
		const a = arr.slice();
		for (let i = a.length - 1; i > 0; i--) {
			const j = Math.floor(this.float() * (i + 1));
			[a[i], a[j]] = [a[j], a[i]];
		}
		return a;
	}

	// k distinct elements of arr, in random order.
	sample(arr, k) { return this.shuffle(arr).slice(0, Math.min(k, arr.length)); }
}

function rotl(x, k) { return ((x << k) | (x >>> (32 - k))) >>> 0; }

module.exports = { Rng, derive };
