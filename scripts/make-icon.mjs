#!/usr/bin/env node
// Draws images/icon.png (128×128, the extension's Marketplace icon) with node builtins only:
// a rounded square in a containerd blue→teal gradient, a white isometric box (the container)
// between TOML table brackets. Every pixel is 8×8 supersampled for anti-aliased edges, then
// written as an RGBA PNG (zlib.deflateSync for IDAT, CRC32 per chunk).
//   node scripts/make-icon.mjs [out.png]
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const SIZE = 128;
const SS = 8; // samples per axis per pixel
const out = process.argv[2] ?? fileURLToPath(new URL('../images/icon.png', import.meta.url));

// ---- geometry ----------------------------------------------------------------------------------
const BG = { x0: 4, y0: 4, x1: 124, y1: 124, r: 26 };
const TOP = [0x0e, 0x5a, 0xa7]; // deep containerd blue (top-left)
const BOTTOM = [0x17, 0xa8, 0xb8]; // teal (bottom-right)

function inRoundedRect(x, y, { x0, y0, x1, y1, r }) {
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r && x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

function inPolygon(x, y, pts) {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i];
    const [xj, yj] = pts[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function distToSegment(x, y, [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
}

// The box: a pointy-top hexagon split into three faces meeting at its centre.
const C = [64, 67];
const R = 31;
const H = R * Math.cos(Math.PI / 6);
const V = {
  top: [C[0], C[1] - R], ur: [C[0] + H, C[1] - R / 2], lr: [C[0] + H, C[1] + R / 2],
  bottom: [C[0], C[1] + R], ll: [C[0] - H, C[1] + R / 2], ul: [C[0] - H, C[1] - R / 2],
};
const FACES = [
  { pts: [V.top, V.ur, C, V.ul], alpha: 1.0 },
  { pts: [V.ul, C, V.bottom, V.ll], alpha: 0.8 },
  { pts: [C, V.ur, V.lr, V.bottom], alpha: 0.58 },
];
const SEAMS = [[C, V.ul], [C, V.ur], [C, V.bottom]];
const GAP = 1.6; // half-width of the seams between faces

// TOML table brackets [ ] either side of the box.
const BRACKET = { x: 17, y0: 33, y1: 101, w: 7, arm: 14 };
const bracketRects = [];
for (const mirror of [false, true]) {
  const m = (x0, x1) => (mirror ? [SIZE - x1, SIZE - x0] : [x0, x1]);
  const { x, y0, y1, w, arm } = BRACKET;
  bracketRects.push([...m(x, x + w), y0, y1]);
  bracketRects.push([...m(x, x + arm), y0, y0 + w]);
  bracketRects.push([...m(x, x + arm), y1 - w, y1]);
}
const inRect = (x, y, [x0, x1, y0, y1]) => x >= x0 && x <= x1 && y >= y0 && y <= y1;

/** Colour of one sample point: [r,g,b,a] (straight alpha, 0..1). */
function sample(x, y) {
  if (!inRoundedRect(x, y, BG)) return [0, 0, 0, 0];
  const t = Math.min(1, Math.max(0, (x + y - 8) / 232));
  let rgb = TOP.map((c, i) => (c + (BOTTOM[i] - c) * t) / 255);
  let white = 0;
  if (bracketRects.some((r) => inRect(x, y, r))) white = 1;
  for (const f of FACES) {
    if (inPolygon(x, y, f.pts) && SEAMS.every(([a, b]) => distToSegment(x, y, a, b) >= GAP)) white = f.alpha;
  }
  rgb = rgb.map((c) => c + (1 - c) * white);
  return [...rgb, 1];
}

// ---- rasterise ---------------------------------------------------------------------------------
const rgba = Buffer.alloc(SIZE * SIZE * 4);
for (let py = 0; py < SIZE; py++) {
  for (let px = 0; px < SIZE; px++) {
    let r = 0, g = 0, b = 0, a = 0;
    for (let sy = 0; sy < SS; sy++) {
      for (let sx = 0; sx < SS; sx++) {
        const [cr, cg, cb, ca] = sample(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS);
        r += cr * ca; g += cg * ca; b += cb * ca; a += ca; // premultiplied
      }
    }
    const o = (py * SIZE + px) * 4;
    const n = SS * SS;
    rgba[o + 3] = Math.round((a / n) * 255);
    if (a > 0) {
      rgba[o] = Math.round((r / a) * 255);
      rgba[o + 1] = Math.round((g / a) * 255);
      rgba[o + 2] = Math.round((b / a) * 255);
    }
  }
}

// ---- PNG ---------------------------------------------------------------------------------------
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0);
ihdr.writeUInt32BE(SIZE, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // colour type RGBA
ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0; // deflate, adaptive filtering, no interlace
const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) {
  raw[y * (SIZE * 4 + 1)] = 0; // filter: none
  rgba.copy(raw, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4);
}
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, png);
console.log(`wrote ${out} (${png.length} bytes)`);
