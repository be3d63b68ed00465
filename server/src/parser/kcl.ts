/**
 * KCL front end for taskserv files: text -> positioned document tree (the same shape the TOML
 * front end produces, see ../tree/model.ts).
 *
 * Why hand-written: the only maintained KCL parser is the official one, written in Rust
 * (kcl-lang/kcl, `kclvm/parser`); there is no maintained JavaScript/WASM KCL parser that keeps a
 * position for every key and value. Taskserv files use a small, declarative subset of KCL, so
 * this is a tolerant tokenizer + recursive-descent parser for that subset:
 *
 *   - top-level declarations `name: Type = {…}`, `name = {…}`, `name = Type {…}`,
 *     `name: Type = value` → one root property each; a dict value gets origin 'header',
 *     `typeName`/`typeRange` and a Section (path [name], headerRange = `name: Type =`);
 *   - dict entries `key: value`, `key = value`, `key += value` (treated like `=`), separated by
 *     newlines and/or commas; keys are identifiers (`$if` escapes a keyword), quoted strings or
 *     dotted selectors (`a.b.c: 1` creates implicit objects, like a TOML dotted key);
 *   - values: dicts, lists, strings (all quote kinds, `r` prefix, Python/KCL escapes), ints
 *     (`_`, 0x/0o/0b, unit suffixes n u m k K M G T P Ki Mi Gi Ti Pi → plain numbers, `raw`
 *     keeps the source), floats, True/False (and the seed's lowercase true/false), None/Undefined
 *     (kind 'null');
 *   - everything else KCL has (import, schema/rule/protocol blocks, decorators, `if` blocks,
 *     assert, type aliases, lambdas, comprehensions, references and operators) is skipped
 *     without an error: a statement is skipped to the end of its logical line, and when the line
 *     ends with `:` the indented block after it goes too. A dict entry whose value is an
 *     expression (`a: _x + 1`, `a: f(x)`) is left out of the tree, as is `**unpack` and a
 *     conditional `if cond: …` entry block.
 *
 * Error tolerance: errors never throw. An unexpected token inside a dict/list gives one
 * 'containerd/syntax' problem at that token, and parsing resumes at the next line that looks like
 * an entry (`key:`/`key =`) at the same or an outer bracket depth. Indentation is used as a hint
 * for a missing `}`/`]`: an entry line dedented to (or left of) the line that opened the bracket
 * closes it, with one error at the opening bracket. An unclosed bracket at end of file gives one
 * error at the innermost opening bracket. Every loop consumes at least one token per iteration
 * and lookahead is bounded, so the work is linear in the size of the text.
 */
import type { ArrayNode, Comment, ObjectNode, ParsedDocument, Property, ScalarNode, Section, Span, SyntaxProblem, ValueNode } from '../tree/model';

// ---- tokens ---------------------------------------------------------------------------------

type TokType = 'ident' | 'string' | 'number' | 'punct' | 'invalid';

interface Tok {
  type: TokType;
  start: number;
  end: number;
  /** Identifier name, punctuation text, or the source of an invalid run. */
  text: string;
  /** First token on its (physical, not continued) line. */
  lineStart: boolean;
  /** Indentation (columns) of the line this token is on. */
  indent: number;
  /** 0-based line of the token's start. */
  line: number;
  /** Decoded value of a string / number literal. */
  value?: string | number;
  /** Number literal kind. */
  numKind?: 'integer' | 'float';
  /** A lexical problem (unterminated string, malformed number). */
  error?: string;
}

const PUNCT3 = ['**=', '//=', '<<=', '>>=', '...'];
const PUNCT2 = ['**', '//', '==', '!=', '<=', '>=', '<<', '>>', '->', '+=', '-=', '*=', '/=', '%=', '|=', '&=', '^=', '?.', '?:'];
const PUNCT1 = '{}[](),:.=+-*/%<>|&^~@;';

/** KCL keywords (the spec's list, without the constants): never a reference in a value. */
const KEYWORDS = new Set([
  'import', 'as', 'schema', 'mixin', 'protocol', 'rule', 'check', 'lambda', 'if', 'elif', 'else', 'for',
  'in', 'not', 'is', 'and', 'or', 'assert', 'all', 'any', 'map', 'filter',
]);
const CONSTANTS = new Set(['True', 'False', 'None', 'Undefined']);
/**
 * KCL spells booleans True/False; lowercase `true`/`false` would be (undefined) variable
 * references, but taskserv documentation writes them that way, so they are read as booleans
 * (`raw` keeps the spelling for a service that wants to suggest the KCL form).
 */
const LOWER_BOOLEANS = new Set(['true', 'false']);
/**
 * Words that cannot be a bare dict key. KCL wants `$check`-style escaping for every keyword; we
 * are lenient and accept the others when `:`/`=` follows.
 */
const NOT_A_KEY = new Set([...CONSTANTS, 'if', 'elif', 'else', 'for', 'lambda', 'not']);
/** Keywords that start a top-level statement (when no `:`/`=` follows them). */
const STATEMENT_KEYWORDS = new Set(['import', 'schema', 'mixin', 'protocol', 'rule', 'assert']);
/** Quantifier expressions `all x in xs { cond }`. */
const QUANTIFIERS = new Set(['all', 'any', 'map', 'filter']);
const BINARY_OPS = new Set(['+', '-', '*', '/', '%', '**', '//', '==', '!=', '<', '>', '<=', '>=', '<<', '>>', '|', '&', '^']);
const KEYWORD_OPS = new Set(['and', 'or', 'in', 'not', 'is', 'if', 'else']);

const UNIT: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5,
};

const DEC = '(?:0(?:_?0)*|[1-9](?:_?[0-9])*)';
const DIGITS = '[0-9](?:_?[0-9])*';
const RE_INT = new RegExp(`^${DEC}$`);
const RE_HEX = /^0[xX](?:_?[0-9a-fA-F])+$/;
const RE_OCT = /^0[oO](?:_?[0-7])+$/;
const RE_BIN = /^0[bB](?:_?[01])+$/;
const RE_UNIT = new RegExp(`^(${DEC})(n|u|m|k|K|M|G|T|P|Ki|Mi|Gi|Ti|Pi)$`);
const RE_FLOAT = new RegExp(`^(?:(?:${DIGITS})?\\.${DIGITS}(?:[eE][+-]?${DIGITS})?|${DIGITS}\\.(?:[eE][+-]?${DIGITS})?|${DIGITS}[eE][+-]?${DIGITS})$`);

function isIdStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c > 127 && /\p{L}/u.test(String.fromCharCode(c)));
}
function isIdPart(c: number): boolean {
  return isIdStart(c) || (c >= 48 && c <= 57) || (c > 127 && /\p{N}|\p{Mn}|\p{Mc}/u.test(String.fromCharCode(c)));
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

interface Lexed {
  toks: Tok[];
  comments: Comment[];
}

export function tokenize(text: string): Lexed {
  const toks: Tok[] = [];
  const comments: Comment[] = [];
  const n = text.length;
  let i = 0;
  let line = 0;
  let lineBegin = text.charCodeAt(0) === 0xfeff ? 1 : 0; // offset of the current physical line (after a BOM)
  let atLineStart = true; // no token yet on this logical line
  let indent = 0;
  let continued = false; // previous line ended with a backslash
  const push = (t: Omit<Tok, 'lineStart' | 'indent' | 'line'>, startLine: number) => {
    const first = atLineStart && !continued;
    if (atLineStart) {
      indent = t.start - lineBegin;
      atLineStart = false;
    }
    continued = false;
    // one object shape for every token (keeps property access monomorphic)
    toks.push({
      type: t.type,
      start: t.start,
      end: t.end,
      text: t.text,
      lineStart: first,
      indent,
      line: startLine,
      value: t.value,
      numKind: t.numKind,
      error: t.error,
    });
  };
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      i++;
      line++;
      lineBegin = i;
      atLineStart = true;
      continue;
    }
    if (c === 32 || c === 9 || c === 13 || c === 12 || c === 0xfeff) {
      i++;
      continue;
    }
    if (c === 35 /* # */) {
      let e = text.indexOf('\n', i);
      if (e < 0) e = n;
      let end = e;
      if (end > i && text.charCodeAt(end - 1) === 13) end--;
      comments.push({ range: { start: i, end }, text: text.slice(i + 1, end) });
      i = e;
      continue;
    }
    if (c === 92 /* \ */ && (text.charCodeAt(i + 1) === 10 || (text.charCodeAt(i + 1) === 13 && text.charCodeAt(i + 2) === 10))) {
      // explicit line joining
      i += text.charCodeAt(i + 1) === 13 ? 3 : 2;
      line++;
      lineBegin = i;
      if (!atLineStart) continued = true;
      continue;
    }
    const start = i;
    const startLine = line;
    // string, with an optional r/R prefix
    let q = c;
    let raw = false;
    if ((c === 114 || c === 82) && (text.charCodeAt(i + 1) === 34 || text.charCodeAt(i + 1) === 39)) {
      raw = true;
      q = text.charCodeAt(i + 1);
    }
    if (q === 34 || q === 39) {
      const s = lexString(text, raw ? i + 1 : i, raw);
      push({ type: 'string', start, end: s.end, text: text.slice(start, s.end), value: s.value, error: s.error }, startLine);
      // newlines inside a triple-quoted string
      for (let k = start; k < s.end; k++) {
        if (text.charCodeAt(k) === 10) {
          line++;
          lineBegin = k + 1;
        }
      }
      i = s.end;
      continue;
    }
    if (isIdStart(c) || (c === 36 /* $ */ && i + 1 < n && isIdStart(text.charCodeAt(i + 1)))) {
      let e = i + 1;
      while (e < n && isIdPart(text.charCodeAt(e))) e++;
      push({ type: 'ident', start, end: e, text: text.slice(start, e) }, startLine);
      i = e;
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(i + 1)))) {
      let e = i + 1;
      while (e < n) {
        const d = text.charCodeAt(e);
        if (isIdPart(d) || d === 46) e++;
        else if ((d === 43 || d === 45) && (text.charCodeAt(e - 1) === 101 || text.charCodeAt(e - 1) === 69) && !/^0[xX]/.test(text.slice(start, e))) e++;
        else break;
      }
      const src = text.slice(start, e);
      const num = numberValue(src);
      push(
        num
          ? { type: 'number', start, end: e, text: src, value: num.value, numKind: num.kind }
          : { type: 'number', start, end: e, text: src, value: NaN, numKind: 'integer', error: `invalid number literal '${src}'` },
        startLine,
      );
      i = e;
      continue;
    }
    const three = text.slice(i, i + 3);
    const two = text.slice(i, i + 2);
    let p: string | undefined;
    if (PUNCT3.includes(three)) p = three;
    else if (PUNCT2.includes(two)) p = two;
    else if (PUNCT1.includes(text[i])) p = text[i];
    if (p) {
      push({ type: 'punct', start, end: i + p.length, text: p }, startLine);
      i += p.length;
      continue;
    }
    // a run of characters KCL has no use for (`!!`, `$`, `` ` ``, `?`, a lone `\`…)
    let e = i + 1;
    while (e < n) {
      const d = text.charCodeAt(e);
      if (d === 10 || d === 32 || d === 9 || d === 13 || d === 35 || d === 34 || d === 39 || isIdPart(d)) break;
      if (PUNCT1.includes(text[e]) && !(text[e] === '=' && text[e - 1] === '!')) break;
      e++;
    }
    push({ type: 'invalid', start, end: e, text: text.slice(start, e) }, startLine);
    i = e;
  }
  return { toks, comments };
}

function numberValue(src: string): { value: number; kind: 'integer' | 'float' } | undefined {
  const clean = (s: string) => s.replace(/_/g, '');
  if (RE_INT.test(src)) return { value: Number(clean(src)), kind: 'integer' };
  if (RE_HEX.test(src)) return { value: parseInt(clean(src).slice(2), 16), kind: 'integer' };
  if (RE_OCT.test(src)) return { value: parseInt(clean(src).slice(2), 8), kind: 'integer' };
  if (RE_BIN.test(src)) return { value: parseInt(clean(src).slice(2), 2), kind: 'integer' };
  if (RE_FLOAT.test(src)) return { value: Number(clean(src)), kind: 'float' };
  const u = RE_UNIT.exec(src);
  if (u) {
    const value = Number(clean(u[1])) * UNIT[u[2]];
    return { value, kind: Number.isInteger(value) ? 'integer' : 'float' };
  }
  return undefined;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0',
};

/** Scans a string literal whose quote is at `q`; an unterminated one ends at its line's end. */
function lexString(text: string, q: number, raw: boolean): { end: number; value: string; error?: string } {
  const n = text.length;
  const quote = text[q];
  const triple = text[q + 1] === quote && text[q + 2] === quote;
  let i = q + (triple ? 3 : 1);
  let value = '';
  while (i < n) {
    const ch = text[i];
    if (ch === quote && (!triple || (text[i + 1] === quote && text[i + 2] === quote))) {
      return { end: i + (triple ? 3 : 1), value };
    }
    if (ch === '\n' && !triple) break;
    if (ch === '\\' && i + 1 < n) {
      const nx = text[i + 1];
      if (raw) {
        // a raw string keeps the backslash, but it still protects a quote
        value += ch + nx;
        i += 2;
        continue;
      }
      if (nx === '\n') {
        i += 2;
        continue;
      }
      if (nx === '\r' && text[i + 2] === '\n') {
        i += 3;
        continue;
      }
      if (SIMPLE_ESCAPES[nx] !== undefined && !(nx === '0' && /[0-7]/.test(text[i + 2] ?? ''))) {
        value += SIMPLE_ESCAPES[nx];
        i += 2;
        continue;
      }
      const hex = nx === 'x' ? 2 : nx === 'u' ? 4 : nx === 'U' ? 8 : 0;
      if (hex && new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(text.slice(i + 2, i + 2 + hex))) {
        const cp = parseInt(text.slice(i + 2, i + 2 + hex), 16);
        value += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
        i += 2 + hex;
        continue;
      }
      const oct = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
      if (oct) {
        value += String.fromCharCode(parseInt(oct[0], 8));
        i += 1 + oct[0].length;
        continue;
      }
      // unknown escape: kept as written (Python/KCL behaviour)
      value += ch;
      i++;
      continue;
    }
    value += ch;
    i++;
  }
  // unterminated: a triple-quoted string would swallow the file; end it with its first line
  if (triple) {
    let e = text.indexOf('\n', q);
    if (e < 0) e = n;
    if (e > q && text[e - 1] === '\r') e--;
    const v = text.slice(q + 3, e);
    return { end: e, value: v, error: `unterminated string: '${quote.repeat(3)}' is never closed` };
  }
  let end = i;
  if (end > q && text[end - 1] === '\r') end--;
  return { end, value: value.replace(/\r$/, ''), error: `unterminated string: missing closing ${quote}` };
}

// ---- parser ---------------------------------------------------------------------------------

const MAX_DEPTH = 200;
const LOOKAHEAD = 64;

/** Returned by value parsers when they recorded an error and stopped at the offending token. */
const FAIL = Symbol('fail');
type Parsed = ValueNode | undefined | typeof FAIL;

/** What a dict or list knows about where it was opened, for the indentation heuristics. */
interface Frame {
  open: Tok;
  /** Indentation of the line holding the opening bracket. */
  openIndent: number;
}

export function parseKcl(text: string): ParsedDocument {
  const { toks, comments } = tokenize(text);
  const doc: ParsedDocument = {
    language: 'kcl',
    text,
    root: { kind: 'object', origin: 'root', range: { start: 0, end: text.length }, props: [] },
    sections: [],
    syntaxErrors: [],
    comments,
  };
  try {
    new Parser(text, toks, doc).parseFile();
  } catch (e) {
    // Defensive only: the parser is not supposed to throw. Keep what was built.
    doc.syntaxErrors.push({
      range: { start: 0, end: 0 },
      message: `KCL syntax error: internal parser error (${e instanceof Error ? e.message : String(e)}); the rest of the file was not checked.`,
      code: 'containerd/syntax',
    });
  }
  return doc;
}

class Parser {
  private i = 0;
  private depth = 0;
  private eofReported = false;
  /** Set when a comprehension (`for … in …`) was read; containers use it to mark themselves computed. */
  private comprehension = false;
  /** Result channel of parseListBody: an item was an expression. */
  private listComputed = false;
  private readonly reportedLex = new Set<Tok>();

  constructor(
    private readonly text: string,
    private readonly toks: Tok[],
    private readonly doc: ParsedDocument,
  ) {}

  // -- helpers --

  private peek(k = 0): Tok | undefined {
    return this.toks[this.i + k];
  }

  private is(t: Tok | undefined, p: string): boolean {
    return !!t && t.type === 'punct' && t.text === p;
  }

  private isIdent(t: Tok | undefined, name?: string): boolean {
    return !!t && t.type === 'ident' && (name === undefined || t.text === name);
  }

  private error(range: Span, message: string, code: SyntaxProblem['code'] = 'containerd/syntax'): void {
    this.doc.syntaxErrors.push({ range: { start: range.start, end: range.end }, message, code });
  }

  private syntax(t: Tok | Span, what: string): void {
    this.error(t, `KCL syntax error: ${what}.`);
  }

  /** Report a token's lexical problem once (only for tokens the parser actually reads). */
  private lexError(t: Tok): boolean {
    if (!t.error) return false;
    if (!this.reportedLex.has(t)) {
      this.reportedLex.add(t);
      this.syntax(t, t.error);
    }
    return true;
  }

  private describe(t: Tok | undefined): string {
    if (!t) return 'end of file';
    const s = this.text.slice(t.start, Math.min(t.end, t.start + 40));
    return `'${s}'`;
  }

  private lineOf(t: Tok): number {
    return t.line + 1;
  }

  /** A key (identifier, `$ident`, or quoted string) — not a keyword and not a literal constant. */
  private isKeyTok(t: Tok | undefined): boolean {
    if (!t) return false;
    if (t.type === 'string') return true;
    return t.type === 'ident' && !NOT_A_KEY.has(t.text);
  }

  /** Does an entry (`key:`, `a.b =`, `**x`, `if …`) start at token index j? Bounded lookahead. */
  private looksLikeEntry(j: number): boolean {
    const t = this.toks[j];
    if (!t) return false;
    if (this.is(t, '**')) return true;
    if (this.isIdent(t, 'if') || this.isIdent(t, 'elif') || this.isIdent(t, 'else')) return true;
    let k = j;
    for (let steps = 0; steps < LOOKAHEAD; steps++) {
      if (!this.isKeyTok(this.toks[k])) return false;
      const nx = this.toks[k + 1];
      if (!nx || nx.lineStart) return false;
      if (this.is(nx, ':') || this.is(nx, '=') || this.is(nx, '+=') || this.is(nx, '{')) return true;
      if (!this.is(nx, '.')) return false;
      k += 2;
    }
    return false;
  }

  /** A statement keyword used as one (`import x`, `schema S:`), not as a key (`rule: 1`). */
  private isStatementKeyword(j: number): boolean {
    const t = this.toks[j];
    if (!t || t.type !== 'ident' || !STATEMENT_KEYWORDS.has(t.text)) return false;
    const nx = this.toks[j + 1];
    return !!nx && !nx.lineStart && !(this.is(nx, ':') || this.is(nx, '=') || this.is(nx, '+=') || this.is(nx, '.'));
  }

  /** Does a top-level declaration (`name =`, `name: T =`) or statement keyword start at j? */
  private looksLikeTopLevel(j: number): boolean {
    const t = this.toks[j];
    if (!t || !t.lineStart || t.indent !== 0) return false;
    if (this.isStatementKeyword(j)) return true;
    if (this.is(t, '@')) return true;
    if (!this.isKeyTok(t) || t.type !== 'ident') return false;
    const nx = this.toks[j + 1];
    if (!nx || nx.lineStart) return false;
    if (this.is(nx, '=')) return true;
    if (!this.is(nx, ':')) return false;
    // name: Type … =  on the same line
    for (let k = j + 2; k < j + 2 + LOOKAHEAD && k < this.toks.length; k++) {
      const u = this.toks[k];
      if (u.lineStart) return false;
      if (this.is(u, '=')) return true;
      if (this.is(u, '{') || this.is(u, '}') || u.type === 'string' || u.type === 'number') return false;
    }
    return false;
  }

  // -- top level --

  parseFile(): void {
    while (this.i < this.toks.length) {
      const before = this.i;
      this.parseTopStatement();
      if (this.i === before) this.i++; // guarantee progress
    }
  }

  private parseTopStatement(): void {
    const t = this.peek()!;
    if (t.type === 'ident' && !NOT_A_KEY.has(t.text) && !this.isStatementKeyword(this.i) && this.tryDeclaration()) return;
    if (this.is(t, '}') || this.is(t, ']') || this.is(t, ')')) {
      this.syntax(t, `unexpected ${this.describe(t)}: there is no open bracket for it to close`);
      this.i++;
      return;
    }
    this.skipStatement();
  }

  /** `name (: Type)? (= | +=) value`. False (nothing consumed) when the line is something else. */
  private tryDeclaration(): boolean {
    const start = this.i;
    const name = this.toks[start];
    let j = start + 1;
    let typeFirst: Tok | undefined;
    let typeLast: Tok | undefined;
    let typeNameTok: Tok | undefined;
    let nx = this.toks[j];
    if (this.is(nx, ':') && !nx.lineStart) {
      j++;
      let depth = 0;
      for (;;) {
        const u = this.toks[j];
        if (!u || (u.lineStart && depth === 0)) return false; // `a: int` with no value: not ours
        if (depth === 0 && (this.is(u, '=') || this.is(u, '+=') || this.is(u, '|='))) break;
        if (this.is(u, '(') || this.is(u, '[') || this.is(u, '{')) depth++;
        else if (this.is(u, ')') || this.is(u, ']') || this.is(u, '}')) depth = Math.max(0, depth - 1);
        if (j - start > 4 * LOOKAHEAD) return false;
        typeFirst ??= u;
        typeLast = u;
        j++;
      }
      if (!typeFirst) return false;
      // the schema name of `pkg.Schema` is the last identifier of a plain dotted type
      if (typeFirst.type === 'ident') {
        let last = typeFirst;
        let plain = true;
        for (let k = start + 3; k < j; k += 2) {
          if (!this.is(this.toks[k], '.') || !this.isIdent(this.toks[k + 1])) {
            plain = false;
            break;
          }
          last = this.toks[k + 1];
        }
        if (plain) typeNameTok = last;
      }
      nx = this.toks[j];
    } else if (!(this.is(nx, '=') || this.is(nx, '+=')) || nx.lineStart) {
      return false;
    }
    const op = this.toks[j];
    if (op.lineStart) return false;
    this.i = j + 1;
    const headerRange = { start: name.start, end: op.end };
    const valTok = this.peek();
    if (!valTok || valTok.lineStart) {
      this.syntax(op, `expected a value after ${this.describe(op)}`);
      return true;
    }
    const v = this.parseValue(undefined);
    if (v === FAIL) {
      this.skipRestOfStatement();
      return true;
    }
    this.checkStatementEnd();
    if (v === undefined) return true; // an expression: not part of the data tree
    const range = { start: name.start, end: v.range.end };
    if (v.kind === 'object') {
      v.origin = 'header';
      v.headerRange = headerRange;
      v.range = { ...range };
      if (typeFirst && typeLast) {
        if (typeNameTok) {
          v.typeName = typeNameTok.text;
          v.typeRange = { start: typeNameTok.start, end: typeNameTok.end };
        } else {
          v.typeName = this.text.slice(typeFirst.start, typeLast.end);
          v.typeRange = { start: typeFirst.start, end: typeLast.end };
        }
      }
    }
    const prop = this.addProp(this.doc.root, [name], v, range);
    if (prop && v.kind === 'object') {
      const section: Section = { path: [name.text], headerRange, range: { ...range }, arrayItem: false, node: v };
      this.doc.sections.push(section);
    }
    return true;
  }

  /** After a top-level value: only a new line (or `;`) may follow. */
  private checkStatementEnd(): void {
    const t = this.peek();
    if (!t || t.lineStart) return;
    if (this.is(t, ';')) {
      this.i++;
      return;
    }
    this.syntax(t, `unexpected ${this.describe(t)} after the value; expected a new line`);
    this.skipRestOfStatement();
  }

  /** Skip to the end of the logical line (brackets balanced, but never past the next top-level declaration). */
  private skipRestOfStatement(): void {
    let depth = 0;
    while (this.i < this.toks.length) {
      const t = this.toks[this.i];
      if (t.lineStart && (depth === 0 || this.looksLikeTopLevel(this.i))) return;
      if (this.is(t, '(') || this.is(t, '[') || this.is(t, '{')) depth++;
      else if (this.is(t, ')') || this.is(t, ']') || this.is(t, '}')) depth = Math.max(0, depth - 1);
      this.i++;
    }
  }

  /** A statement this parser does not model: its logical line, and the indented block after a trailing `:`. */
  private skipStatement(): void {
    const first = this.peek()!;
    const indent = first.indent;
    let depth = 0;
    let last: Tok | undefined;
    this.i++;
    if (this.is(first, '(') || this.is(first, '[') || this.is(first, '{')) depth++;
    last = first;
    while (this.i < this.toks.length) {
      const t = this.toks[this.i];
      if (t.lineStart && (depth === 0 || this.looksLikeTopLevel(this.i))) break;
      if (this.is(t, '(') || this.is(t, '[') || this.is(t, '{')) depth++;
      else if (this.is(t, ')') || this.is(t, ']') || this.is(t, '}')) depth = Math.max(0, depth - 1);
      last = t;
      this.i++;
    }
    if (!this.is(last, ':')) return;
    // the block: every line indented deeper than the header
    depth = 0;
    while (this.i < this.toks.length) {
      const t = this.toks[this.i];
      if (t.lineStart && t.indent <= indent && (depth === 0 || this.looksLikeTopLevel(this.i))) return;
      if (this.is(t, '(') || this.is(t, '[') || this.is(t, '{')) depth++;
      else if (this.is(t, ')') || this.is(t, ']') || this.is(t, '}')) depth = Math.max(0, depth - 1);
      this.i++;
    }
  }

  // -- values --

  /**
   * A value expression. Literals (and dicts/lists made of them) become nodes; anything computed
   * returns undefined; FAIL when an error was recorded at the current (unconsumed) token.
   */
  private parseValue(frame: Frame | undefined): Parsed {
    let v = this.parseUnary(frame);
    if (v === FAIL) return FAIL;
    for (;;) {
      const t = this.peek();
      if (!t || t.lineStart) return v;
      if ((t.type === 'punct' && BINARY_OPS.has(t.text)) || (t.type === 'ident' && KEYWORD_OPS.has(t.text))) {
        this.i++;
        if (this.isIdent(t, 'not') && this.isIdent(this.peek(), 'in')) this.i++;
        if (this.isIdent(t, 'is') && this.isIdent(this.peek(), 'not')) this.i++;
        const r = this.parseUnary(frame);
        if (r === FAIL) return FAIL;
        v = undefined;
        continue;
      }
      if (this.isIdent(t, 'for')) {
        // comprehension: for a, b in expr [if cond]
        this.i++;
        this.comprehension = true;
        while ((this.isIdent(this.peek()) && !this.isIdent(this.peek(), 'in')) || this.is(this.peek(), ',')) this.i++;
        if (!this.isIdent(this.peek(), 'in')) {
          const u = this.peek();
          this.syntax(u ?? t, `expected 'in' in a comprehension, found ${this.describe(u)}`);
          return FAIL;
        }
        this.i++;
        const r = this.parseUnary(frame);
        if (r === FAIL) return FAIL;
        v = undefined;
        continue;
      }
      return v;
    }
  }

  private parseUnary(frame: Frame | undefined): Parsed {
    const t = this.peek();
    if (!t) {
      this.eofError(frame);
      return FAIL;
    }
    if ((this.is(t, '-') || this.is(t, '+')) && this.peek(1)?.type === 'number' && !this.peek(1)!.lineStart) {
      const num = this.peek(1)!;
      const after = this.peek(2);
      const postfix = after && !after.lineStart && (this.is(after, '.') || this.is(after, '(') || this.is(after, '['));
      if (!postfix) {
        this.i += 2;
        if (this.lexError(num)) return undefined;
        const raw = this.text.slice(t.start, num.end);
        const value = this.is(t, '-') ? -(num.value as number) : (num.value as number);
        return { kind: num.numKind!, range: { start: t.start, end: num.end }, value: Object.is(value, -0) ? 0 : value, raw };
      }
    }
    if (this.is(t, '-') || this.is(t, '+') || this.is(t, '~') || this.isIdent(t, 'not')) {
      // iterative, so `- - - … x` cannot exhaust the stack
      while (this.is(this.peek(), '-') || this.is(this.peek(), '+') || this.is(this.peek(), '~') || this.isIdent(this.peek(), 'not')) this.i++;
      if (!this.peek()) {
        this.eofError(frame);
        return FAIL;
      }
      const r = this.parsePostfix(frame);
      return r === FAIL ? FAIL : undefined;
    }
    return this.parsePostfix(frame);
  }

  private parsePostfix(frame: Frame | undefined): Parsed {
    const t = this.peek()!;
    // schema instantiation `Name {…}` / `pkg.Name(args) {…}`
    if (t.type === 'ident' && !KEYWORDS.has(t.text) && !CONSTANTS.has(t.text) && !LOWER_BOOLEANS.has(t.text)) {
      let last = t;
      let plain = true;
      this.i++;
      for (;;) {
        const u = this.peek();
        if (!u || u.lineStart) break;
        if ((this.is(u, '.') || this.is(u, '?.')) && this.isIdent(this.peek(1))) {
          if (this.is(u, '?.')) plain = false;
          last = this.peek(1)!;
          this.i += 2;
          continue;
        }
        if (this.is(u, '(') || this.is(u, '[')) {
          if (this.is(u, '[')) plain = false;
          this.skipBalanced();
          continue;
        }
        if (this.is(u, '{') && plain) {
          const obj = this.parseDict();
          if (!obj) return undefined;
          obj.typeName = last.text;
          obj.typeRange = { start: last.start, end: last.end };
          obj.range.start = t.start;
          return obj;
        }
        break;
      }
      return undefined;
    }
    const v = this.parsePrimary(frame);
    if (v === FAIL) return FAIL;
    // postfix on a literal (`"a,b".split(",")`, `[1][0]`, `{…}.key`): computed
    let computed = false;
    for (;;) {
      const u = this.peek();
      if (!u || u.lineStart) break;
      if ((this.is(u, '.') || this.is(u, '?.')) && this.isIdent(this.peek(1))) {
        this.i += 2;
        computed = true;
      } else if (this.is(u, '(') || this.is(u, '[')) {
        this.skipBalanced();
        computed = true;
      } else break;
    }
    return computed ? undefined : v;
  }

  private parsePrimary(frame: Frame | undefined): Parsed {
    const t = this.peek()!;
    const range = { start: t.start, end: t.end };
    const raw = this.text.slice(t.start, t.end);
    switch (t.type) {
      case 'string':
        this.i++;
        this.lexError(t);
        return { kind: 'string', range, value: t.value as string, raw };
      case 'number':
        this.i++;
        if (this.lexError(t)) return undefined;
        return { kind: t.numKind!, range, value: t.value as number, raw };
      case 'ident':
        if (t.text === 'True' || t.text === 'False' || LOWER_BOOLEANS.has(t.text)) {
          this.i++;
          return { kind: 'boolean', range, value: t.text === 'True' || t.text === 'true', raw };
        }
        if (t.text === 'None' || t.text === 'Undefined') {
          this.i++;
          return { kind: 'null', range, value: null, raw };
        }
        if (t.text === 'lambda' || QUANTIFIERS.has(t.text)) {
          this.skipToBlock();
          return undefined;
        }
        break;
      case 'punct':
        if (t.text === '{') return this.parseDict();
        if (t.text === '[') return this.parseList();
        if (t.text === '(') {
          this.skipBalanced();
          return undefined;
        }
        break;
      default:
        break;
    }
    if (this.is(t, '}') || this.is(t, ']') || this.is(t, ')') || this.is(t, ',')) {
      this.syntax(t, `expected a value, found ${this.describe(t)}`);
    } else {
      this.syntax(t, `unexpected ${this.describe(t)}; expected a value`);
    }
    return FAIL;
  }

  private eofError(frame: Frame | undefined): void {
    if (this.eofReported) return;
    this.eofReported = true;
    if (frame) {
      this.syntax(frame.open, `'${frame.open.text}' is never closed; expected '${frame.open.text === '{' ? '}' : ']'}' before the end of the file`);
    } else {
      const end = this.text.length;
      this.syntax({ start: end, end }, 'unexpected end of file; expected a value');
    }
  }

  /** `lambda args -> T { body }` / `all x in xs { cond }`: skipped. */
  private skipToBlock(): void {
    this.i++;
    while (this.i < this.toks.length) {
      const t = this.toks[this.i];
      if (t.lineStart && this.looksLikeTopLevel(this.i)) return;
      if (this.is(t, '{')) {
        this.skipBalanced();
        return;
      }
      if (this.is(t, '(') || this.is(t, '[')) {
        this.skipBalanced();
        continue;
      }
      if (this.is(t, '}') || this.is(t, ']') || this.is(t, ')')) return;
      this.i++;
    }
  }

  /**
   * Skip a bracketed group starting at the current opener, without errors. Stops early (treating
   * the group as closed) at a line that starts a top-level declaration, so an unclosed bracket in
   * a skipped expression cannot swallow the file.
   */
  private skipBalanced(): void {
    let depth = 0;
    while (this.i < this.toks.length) {
      const t = this.toks[this.i];
      if (depth > 0 && t.lineStart && this.looksLikeTopLevel(this.i)) return;
      if (this.is(t, '(') || this.is(t, '[') || this.is(t, '{')) depth++;
      else if (this.is(t, ')') || this.is(t, ']') || this.is(t, '}')) depth--;
      this.i++;
      if (depth <= 0) return;
    }
  }

  // -- dicts --

  /** A dict; undefined for a dict comprehension (`{k: v for k, v in x}`), which is computed. */
  private parseDict(): ObjectNode | undefined {
    const saved = this.comprehension;
    this.comprehension = false;
    try {
      const obj = this.parseDictBody();
      return this.comprehension ? undefined : obj;
    } finally {
      this.comprehension = saved;
    }
  }

  private parseDictBody(): ObjectNode {
    const open = this.peek()!;
    const obj: ObjectNode = { kind: 'object', origin: 'inline', range: { start: open.start, end: open.end }, props: [] };
    if (this.depth >= MAX_DEPTH) {
      this.syntax(open, 'brackets are nested too deeply');
      this.skipBalanced();
      obj.range.end = this.toks[this.i - 1].end;
      return obj;
    }
    this.i++;
    this.depth++;
    const frame: Frame = { open, openIndent: open.indent };
    let entryIndent: number | undefined;
    try {
      for (;;) {
        const t = this.peek();
        if (!t) {
          this.eofError(frame);
          return obj;
        }
        if (this.is(t, '}')) {
          this.i++;
          obj.range.end = t.end;
          return obj;
        }
        if (t.lineStart && this.closesImplicitly(t, frame, entryIndent)) {
          this.syntax(open, `'{' is never closed; expected '}' before line ${this.lineOf(t)}`);
          return obj;
        }
        if (t.lineStart && entryIndent === undefined) entryIndent = t.indent;
        if (this.is(t, ',')) {
          this.syntax(t, "unexpected ','; expected a key");
          this.i++;
          continue;
        }
        const before = this.i;
        const ok = this.parseEntry(obj, frame);
        if (ok) {
          const s = this.peek();
          if (!s || s.lineStart || this.is(s, '}')) {
            if (this.i > before) obj.range.end = this.toks[this.i - 1].end;
            continue;
          }
          if (this.is(s, ',')) {
            this.i++;
            obj.range.end = s.end;
            continue;
          }
          this.syntax(s, `unexpected ${this.describe(s)}; expected ',' or a new line before the next entry`);
        }
        this.resyncInDict(frame, entryIndent);
        if (this.i === before) this.i++; // guarantee progress
        if (this.i > 0) obj.range.end = Math.max(obj.range.end, this.toks[this.i - 1].end);
      }
    } finally {
      this.depth--;
    }
  }

  /** An entry line dedented to/left of the line that opened the dict (or a statement keyword at column 0): the `}` is missing. */
  private closesImplicitly(t: Tok, frame: Frame, entryIndent: number | undefined): boolean {
    if (this.is(t, '}') || this.is(t, ']') || this.is(t, ')')) return false;
    if (t.indent === 0 && (this.is(t, '@') || this.isStatementKeyword(this.i))) return true;
    if (entryIndent === undefined) {
      // `key: {` ending a nested line, then an entry no deeper than that line: the dict was
      // left empty and unclosed (what an editor holds right after typing `{` and Enter)
      return this.toks[this.i - 1] === frame.open && frame.openIndent > 0 && t.indent <= frame.openIndent && this.looksLikeEntry(this.i);
    }
    if (t.indent >= entryIndent || t.indent > frame.openIndent) return false;
    return this.looksLikeEntry(this.i) || this.looksLikeTopLevel(this.i);
  }

  /** One `key: value` entry; false (and an error recorded) when the caller must resynchronise. */
  private parseEntry(obj: ObjectNode, frame: Frame): boolean {
    const t = this.peek()!;
    if (this.is(t, '**')) {
      this.i++;
      const v = this.parseValue(frame);
      return v !== FAIL;
    }
    if (this.isIdent(t, 'if') || this.isIdent(t, 'elif') || this.isIdent(t, 'else')) {
      this.skipConditionalEntries(t, frame);
      return true;
    }
    if (!this.isKeyTok(t)) {
      this.syntax(t, `unexpected ${this.describe(t)}; expected a key`);
      return false;
    }
    const keys: Tok[] = [t];
    this.i++;
    while (this.is(this.peek(), '.') && this.isKeyTok(this.peek(1)) && !this.peek(1)!.lineStart) {
      keys.push(this.peek(1)!);
      this.i += 2;
    }
    for (const k of keys) this.lexError(k);
    const op = this.peek();
    if (!op || op.lineStart) {
      const last = keys[keys.length - 1];
      this.syntax({ start: t.start, end: last.end }, `expected ':' or '=' after the key ${this.describe(last)}`);
      return false;
    }
    if (this.is(op, '{')) {
      // `key {…}` is KCL shorthand for `key: {…}`
      const v = this.parseDict();
      if (!v) return true;
      this.addProp(obj, keys, v, { start: t.start, end: v.range.end });
      return true;
    }
    if (!(this.is(op, ':') || this.is(op, '=') || this.is(op, '+='))) {
      this.syntax(op, `unexpected ${this.describe(op)}; expected ':' or '=' after the key`);
      return false;
    }
    this.i++;
    const vt = this.peek();
    if (!vt || vt.lineStart) {
      this.syntax(op, `expected a value after ${this.describe(op)}`);
      return true; // the next line is already a fresh start
    }
    if (this.is(vt, '}')) {
      this.syntax(vt, `expected a value after ${this.describe(op)}, found '}'`);
      return true;
    }
    const v = this.parseValue(frame);
    if (v === FAIL) return false;
    if (v === undefined) return true;
    this.addProp(obj, keys, v, { start: t.start, end: v.range.end });
    return true;
  }

  /** `if cond: entries` / `elif` / `else:` inside a dict: skipped (they depend on evaluation). */
  private skipConditionalEntries(t: Tok, frame: Frame): void {
    const indent = t.indent;
    let depth = 0;
    this.i++;
    // the header, up to its ':' (the entries may follow on the same line)
    while (this.i < this.toks.length) {
      const u = this.toks[this.i];
      if (u.lineStart && depth === 0) return;
      if (depth === 0 && (this.is(u, '}') || this.is(u, ','))) return;
      if (this.is(u, '(') || this.is(u, '[') || this.is(u, '{')) depth++;
      else if (this.is(u, ')') || this.is(u, ']') || this.is(u, '}')) depth--;
      this.i++;
      if (depth === 0 && this.is(u, ':')) break;
    }
    // same-line entries
    depth = 0;
    while (this.i < this.toks.length) {
      const u = this.toks[this.i];
      if (u.lineStart && depth === 0) break;
      if (depth === 0 && this.is(u, '}')) return;
      if (this.is(u, '(') || this.is(u, '[') || this.is(u, '{')) depth++;
      else if (this.is(u, ')') || this.is(u, ']') || this.is(u, '}')) depth--;
      this.i++;
    }
    if (!t.lineStart) return;
    // the indented block
    depth = 0;
    while (this.i < this.toks.length) {
      const u = this.toks[this.i];
      if (u.lineStart && depth === 0 && u.indent <= indent) return;
      if (u.lineStart && depth > 0 && u.indent <= frame.openIndent && this.looksLikeEntry(this.i)) return;
      if (this.is(u, '(') || this.is(u, '[') || this.is(u, '{')) depth++;
      else if (this.is(u, ')') || this.is(u, ']') || this.is(u, '}')) {
        if (depth === 0) return;
        depth--;
      }
      this.i++;
    }
  }

  /** After an error in a dict: skip to the next entry line at this depth, a '}' closing the dict, or a dedent. */
  private resyncInDict(frame: Frame, entryIndent: number | undefined): void {
    const local: string[] = [];
    let first = true;
    while (this.i < this.toks.length) {
      const t = this.toks[this.i];
      if (!first && t.lineStart) {
        if (local.length === 0) {
          if (this.is(t, '}') || this.looksLikeEntry(this.i) || this.closesImplicitly(t, frame, entryIndent)) return;
        } else if (local[local.length - 1] !== '{' && t.indent <= Math.max(frame.openIndent, entryIndent ?? 0) && this.looksLikeEntry(this.i)) {
          return; // an unclosed '[' / '(' in the skipped text
        } else if (this.looksLikeTopLevel(this.i)) {
          return;
        }
      }
      first = false;
      if (this.is(t, '(') || this.is(t, '[') || this.is(t, '{')) local.push(t.text);
      else if (this.is(t, ')') || this.is(t, ']') || this.is(t, '}')) {
        if (local.length) local.pop();
        else if (this.is(t, '}')) return; // closes this dict
        // a stray ']' / ')' at this depth: skipped
      }
      this.i++;
    }
  }

  // -- lists --

  /** A list; undefined when it is computed (a comprehension, or an item that is an expression). */
  private parseList(): ArrayNode | undefined {
    const saved = this.comprehension;
    this.comprehension = false;
    this.listComputed = false;
    try {
      const arr = this.parseListBody();
      return this.comprehension || this.listComputed ? undefined : arr;
    } finally {
      this.comprehension = saved;
      this.listComputed = false;
    }
  }

  private parseListBody(): ArrayNode {
    const open = this.peek()!;
    const arr: ArrayNode = { kind: 'array', range: { start: open.start, end: open.end }, items: [], ofTables: false };
    if (this.depth >= MAX_DEPTH) {
      this.syntax(open, 'brackets are nested too deeply');
      this.skipBalanced();
      arr.range.end = this.toks[this.i - 1].end;
      return arr;
    }
    this.i++;
    this.depth++;
    const frame: Frame = { open, openIndent: open.indent };
    let computed = false;
    try {
      for (;;) {
        const t = this.peek();
        if (!t) {
          this.eofError(frame);
          return arr;
        }
        if (this.is(t, ']')) {
          this.i++;
          arr.range.end = t.end;
          return arr;
        }
        if (this.is(t, '}') || this.is(t, ')')) {
          // belongs to an outer bracket: this list was not closed
          this.syntax(t, `expected ']' to close the list opened on line ${this.lineOf(open)}, found ${this.describe(t)}`);
          return arr;
        }
        if (t.lineStart && t.indent <= open.indent && (this.looksLikeEntryKey(this.i) || this.looksLikeTopLevel(this.i))) {
          this.syntax(open, `'[' is never closed; expected ']' before line ${this.lineOf(t)}`);
          return arr;
        }
        if (this.is(t, ',')) {
          this.syntax(t, "unexpected ','; expected a value");
          this.i++;
          continue;
        }
        const before = this.i;
        const v = this.parseValue(frame);
        if (v !== FAIL) {
          if (v !== undefined) arr.items.push(v);
          else computed = true;
          arr.range.end = this.toks[this.i - 1].end;
          const s = this.peek();
          if (!s || s.lineStart || this.is(s, ']')) continue;
          if (this.is(s, ',')) {
            this.i++;
            continue;
          }
          this.syntax(s, `unexpected ${this.describe(s)}; expected ',' or ']'`);
        }
        this.resyncInList();
        if (this.i === before) this.i++;
      }
    } finally {
      this.depth--;
      this.listComputed = computed;
    }
  }

  /** `key:` / `key =` (not `**`/`if`): what a dict entry line looks like, used to spot an unclosed '['. */
  private looksLikeEntryKey(j: number): boolean {
    const t = this.toks[j];
    return this.isKeyTok(t) && this.looksLikeEntry(j);
  }

  /** After an error in a list: skip to the next ',' / ']' at this depth, or a new line. */
  private resyncInList(): void {
    let depth = 0;
    let first = true;
    while (this.i < this.toks.length) {
      const t = this.toks[this.i];
      if (!first && depth === 0 && (t.lineStart || this.is(t, ','))) return;
      if (!first && depth > 0 && t.lineStart && this.looksLikeTopLevel(this.i)) return;
      if (this.is(t, '(') || this.is(t, '[') || this.is(t, '{')) depth++;
      else if (this.is(t, ')') || this.is(t, ']') || this.is(t, '}')) {
        if (depth === 0) return;
        depth--;
      }
      first = false;
      this.i++;
    }
  }

  // -- tree building --

  /** Insert `a.b.c: value` into obj (implicit objects for the leading keys); duplicates warn and keep the first. */
  private addProp(obj: ObjectNode, keys: Tok[], value: ValueNode, range: Span): Property | undefined {
    const keyExprRange = keys.length > 1 ? { start: keys[0].start, end: keys[keys.length - 1].end } : undefined;
    let cur = obj;
    for (let k = 0; k < keys.length - 1; k++) {
      const name = keyName(keys[k]);
      const kr = { start: keys[k].start, end: keys[k].end };
      const existing = cur.props.find((p) => p.key === name);
      if (existing && existing.value.kind === 'object') {
        existing.keyRanges.push(kr);
        extend(existing.range, range);
        extend(existing.value.range, range);
        cur = existing.value;
      } else if (existing) {
        this.duplicate(keys[k], name);
        return undefined;
      } else {
        const o: ObjectNode = { kind: 'object', origin: 'implicit', range: { ...range }, props: [] };
        cur.props.push({ key: name, keyRange: kr, keyRanges: [kr], value: o, range: { ...range }, keyExprRange });
        cur = o;
      }
    }
    const last = keys[keys.length - 1];
    const name = keyName(last);
    if (cur.props.some((p) => p.key === name)) {
      this.duplicate(last, name);
      return undefined;
    }
    const kr = { start: last.start, end: last.end };
    const p: Property = { key: name, keyRange: kr, keyRanges: [kr], value, range: { ...range }, keyExprRange };
    cur.props.push(p);
    return p;
  }

  private duplicate(t: Tok, name: string): void {
    this.error(
      t,
      `'${name}' is defined twice in this block; only the first definition is used here. In KCL a repeated key is merged with ':' ` +
        `(a conflicting value is an error) or replaced with '=' — write it once.`,
      'containerd/duplicate-key',
    );
  }
}

function keyName(t: Tok): string {
  if (t.type === 'string') return String(t.value ?? '');
  return t.text.startsWith('$') ? t.text.slice(1) : t.text;
}

function extend(a: Span, b: Span): void {
  if (b.start < a.start) a.start = b.start;
  if (b.end > a.end) a.end = b.end;
}
