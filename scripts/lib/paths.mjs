// Catalogue-style key paths (`plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>`).

/** Split on dots outside double quotes; quotes stay on the segment. */
export function splitPath(p) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (const c of p) {
    if (c === '"') quoted = !quoted;
    if (c === '.' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function unquote(seg) {
  return seg.length >= 2 && seg.startsWith('"') && seg.endsWith('"') ? seg.slice(1, -1) : seg;
}
