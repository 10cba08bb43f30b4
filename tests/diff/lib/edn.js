'use strict';
// Typed terms and their two spellings.
//
// The generators build queries, inputs and tx-data from typed terms; one
// renderer writes them for datalite (real EDN: keywords, attribute idents)
// and one for DataScript's JS API, which names attributes by strings
// ("a/long1") and keeps keyword values as strings with their colon
// (":kw/red").  Terms:
//   {t:'long', v}  {t:'double', v}  {t:'string', v}  {t:'boolean', v}
//   {t:'keyword', v:'kw/red'}        a keyword value
//   {t:'attr', v:'a/long1'}          an attribute ident
//   {t:'lookup', attr:'k/id', v:T}   a lookup ref
//   {t:'vec', items:[T...]}          a vector (ground args, tuple inputs)
//   {t:'var', v:'?x'}  {t:'blank'}  {t:'src', v:'$'}  {t:'sym', v:'+'}
//
// Also a small EDN reader (readAll), used by the stand-in CLI and to read
// datalite's own output when it is EDN.

function fmtDouble(v) {
	if (!Number.isFinite(v)) throw new Error(`non-finite double ${v}`);
	if (Number.isInteger(v)) return v.toFixed(1);
	const s = String(v);
	return s.includes('e') && !s.includes('.') ? s.replace('e', '.0e') : s;
}

function fmtString(s) {
	let out = '"';
	for (const ch of s) {
		if (ch === '"') out += '\\"';
		else if (ch === '\\') out += '\\\\';
		else if (ch === '\n') out += '\\n';
		else if (ch === '\t') out += '\\t';
		else if (ch === '\r') out += '\\r';
		else out += ch;
	}
	return out + '"';
}

// dialect: 'dl' (datalite, EDN) or 'ds' (DataScript's JS spelling).
function render(term, dialect) {
	switch (term.t) {
	case 'long': return String(term.v);
	case 'double': return fmtDouble(term.v);
	case 'string': return fmtString(term.v);
	case 'boolean': return term.v ? 'true' : 'false';
	case 'keyword': return dialect === 'ds' ? fmtString(':' + term.v) : ':' + term.v;
	case 'attr': return dialect === 'ds' ? fmtString(term.v) : ':' + term.v;
	case 'lookup': return `[${render({ t: 'attr', v: term.attr }, dialect)} ${render(term.v, dialect)}]`;
	case 'vec': return `[${term.items.map((x) => render(x, dialect)).join(' ')}]`;
	case 'var': case 'src': case 'sym': return term.v;
	case 'blank': return '_';
	case 'nil': return 'nil';
	default: throw new Error(`render: unknown term ${JSON.stringify(term)}`);
	}
}

// The JS value DataScript gets for an input term.
function toJs(term) {
	switch (term.t) {
	case 'long': case 'double': case 'string': case 'boolean': return term.v;
	case 'keyword': return ':' + term.v;
	case 'attr': return term.v;
	case 'lookup': return [term.attr, toJs(term.v)];
	case 'vec': return term.items.map(toJs);
	case 'nil': return null;
	default: throw new Error(`toJs: unsupported term ${JSON.stringify(term)}`);
	}
}

// ---------------------------------------------------------------------------
// EDN reader.  Values: numbers as {num, dbl} (dbl: written as a double),
// strings as JS strings, Kw, Sym, arrays (vectors), EList, EMap, ESet, null,
// booleans, Tagged.

class Kw { constructor(s) { this.s = s; } toString() { return ':' + this.s; } }
class Sym { constructor(s) { this.s = s; } toString() { return this.s; } }
class Num { constructor(num, dbl) { this.num = num; this.dbl = dbl; } }
class EList { constructor(items) { this.items = items; } }
class EMap { constructor(entries) { this.entries = entries; } get(k) { const e = this.entries.find(([x]) => x instanceof Kw && x.s === k); return e ? e[1] : undefined; } }
class ESet { constructor(items) { this.items = items; } }
class Tagged { constructor(tag, v) { this.tag = tag; this.v = v; } }

const DELIMS = ' \t\n\r,()[]{}";';

function readAll(text) {
	let i = 0;
	const forms = [];
	const err = (m) => { throw new Error(`edn: ${m} at offset ${i}`); };
	const ws = () => {
		for (;;) {
			const c = text[i];
			if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',') i++;
			else if (c === ';') { while (i < text.length && text[i] !== '\n') i++; }
			else if (c === '#' && text[i + 1] === '_') { i += 2; read(); }
			else return;
		}
	};
	const seq = (close) => {
		const out = [];
		for (;;) {
			ws();
			if (i >= text.length) err('unterminated collection');
			if (text[i] === close) { i++; return out; }
			out.push(read());
		}
	};
	const token = () => {
		const s = i;
		while (i < text.length && !DELIMS.includes(text[i])) i++;
		return text.slice(s, i);
	};
	const str = () => {
		i++;
		let out = '';
		for (;;) {
			if (i >= text.length) err('unterminated string');
			const c = text[i++];
			if (c === '"') return out;
			if (c !== '\\') { out += c; continue; }
			const e = text[i++];
			if (e === 'u') { out += String.fromCharCode(parseInt(text.slice(i, i + 4), 16)); i += 4; }
			else out += { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' }[e] ?? e;
		}
	};
	function read() {
		ws();
		if (i >= text.length) err('unexpected end');
		const c = text[i];
		if (c === '[') { i++; return seq(']'); }
		if (c === '(') { i++; return new EList(seq(')')); }
		if (c === '{') {
			i++;
			const xs = seq('}');
			const entries = [];
			for (let k = 0; k < xs.length; k += 2) entries.push([xs[k], xs[k + 1]]);
			return new EMap(entries);
		}
		if (c === '"') return str();
		if (c === '#') {
			if (text[i + 1] === '{') { i += 2; return new ESet(seq('}')); }
			i++;
			const tag = token();
			return new Tagged(tag, read());
		}
		if (c === ')' || c === ']' || c === '}') err(`unexpected ${c}`);
		const t = token();
		if (t === '') err(`unexpected ${c}`);
		if (t[0] === ':') return new Kw(t.slice(1));
		if (t === 'nil') return null;
		if (t === 'true') return true;
		if (t === 'false') return false;
		if (/^[+-]?\d/.test(t)) {
			const body = t.replace(/[NM]$/, '');
			const n = Number(body);
			if (Number.isNaN(n)) err(`bad number ${t}`);
			return new Num(n, /[.eE]/.test(body) || t.endsWith('M'));
		}
		if (t === '##Inf' || t === '##-Inf' || t === '##NaN') return new Num(Number(t.slice(2).replace('Inf', 'Infinity')), true);
		return new Sym(t);
	}
	for (;;) {
		ws();
		if (i >= text.length) return forms;
		forms.push(read());
	}
}

module.exports = { render, toJs, fmtDouble, fmtString, readAll, Kw, Sym, Num, EList, EMap, ESet, Tagged };
