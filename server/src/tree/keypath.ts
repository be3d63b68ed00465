/** TOML dotted key paths: `plugins."io.containerd.grpc.v1.cri".containerd` <-> segments. */

const BARE = /^[A-Za-z0-9_-]+$/;

/** Quote a key segment the way containerd's own `config default` does (double quotes when needed). */
export function quoteKey(seg: string): string {
  if (BARE.test(seg)) return seg;
  return '"' + seg.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export function formatPath(segs: readonly string[]): string {
  return segs.map(quoteKey).join('.');
}

export interface PathSegment {
  name: string;
  /** Offsets relative to the parsed string. */
  start: number;
  end: number;
  quoted: boolean;
  /** A quoted segment that has no closing quote yet (user still typing). */
  open: boolean;
}

/**
 * Split a dotted key expression into segments, tolerating unfinished input
 * (`plugins."io.containerd.` gives [plugins, io.containerd.(open)]).
 */
export function splitPath(text: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    const c = text[i];
    if (c === '"' || c === "'") {
      const start = i;
      i++;
      let name = '';
      let closed = false;
      while (i < n) {
        const ch = text[i];
        if (ch === '\\' && c === '"' && i + 1 < n) {
          name += text[i + 1];
          i += 2;
          continue;
        }
        if (ch === c) {
          closed = true;
          i++;
          break;
        }
        name += ch;
        i++;
      }
      out.push({ name, start, end: i, quoted: true, open: !closed });
    } else {
      const start = i;
      while (i < n && text[i] !== '.' && text[i] !== ' ' && text[i] !== '\t') i++;
      out.push({ name: text.slice(start, i), start, end: i, quoted: false, open: false });
    }
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i < n && text[i] === '.') {
      i++;
      // a trailing dot: an empty segment is being typed
      let j = i;
      while (j < n && (text[j] === ' ' || text[j] === '\t')) j++;
      if (j >= n) out.push({ name: '', start: j, end: j, quoted: false, open: true });
    } else if (i < n) {
      break; // garbage after a segment: stop
    }
  }
  return out;
}

/** Parse a catalogue-style path (`a."b.c".<name>.d`, `x[].y`) into segments. */
export function parsePath(path: string): string[] {
  return splitPath(path.replace(/\[\]/g, '')).map((s) => s.name);
}

/** A TOML basic string. */
export function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}
