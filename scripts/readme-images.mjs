#!/usr/bin/env node
// Refreshes the README's images from the last E2E run (test-results/e2e/*.png):
//   docs/images/<name>.png   copies of the chosen screenshots
//   docs/images/tour.gif     a short animated tour made of the scenario frames
// Run after `npm test` (or the e2e tests alone). Nothing here is shipped in the .vsix.
import { readFileSync, writeFileSync, existsSync, copyFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import gifenc from 'gifenc';

const { GIFEncoder, quantize, applyPalette } = gifenc;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shots = join(root, 'test-results', 'e2e');
const out = join(root, 'docs', 'images');
mkdirSync(out, { recursive: true });

/** README image ← E2E screenshot */
const COPIES = {
  'problems.png': 's1-02-problems.png',
  'completion.png': 's1-03-completion.png',
  'quick-fix.png': 's1-04-quick-fix-menu.png',
  'hover.png': 's1-06-hover.png',
  'taskserv-preview.png': 's2-02-preview.png',
  'explorer.png': 's3-02-explorer.png',
  'deploy-diff.png': 's4-02-diff.png',
};
/** The tour, in order; missing frames are left out. */
const TOUR = [
  's1-02-problems.png',
  's1-03-completion.png',
  's1-06-hover.png',
  's1-04-quick-fix-menu.png',
  's1-05-after-fix.png',
  's2-02-preview.png',
  's3-02-explorer.png',
  's3-03-logs.png',
  's4-02-diff.png',
];
const WIDTH = 960; // GIF frames are scaled down (box filter) to keep the file small
const DELAY_MS = 1800;

let copied = 0;
for (const [dest, src] of Object.entries(COPIES)) {
  const p = join(shots, src);
  if (!existsSync(p)) continue;
  copyFileSync(p, join(out, dest));
  copied++;
}

function scale(png, width) {
  const f = png.width / width;
  const height = Math.round(png.height / f);
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * f);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * f));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * f);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * f));
      const acc = [0, 0, 0, 0];
      let n = 0;
      for (let yy = y0; yy < y1 && yy < png.height; yy++) {
        for (let xx = x0; xx < x1 && xx < png.width; xx++) {
          const i = (yy * png.width + xx) * 4;
          for (let c = 0; c < 4; c++) acc[c] += png.data[i + c];
          n++;
        }
      }
      const o = (y * width + x) * 4;
      for (let c = 0; c < 4; c++) data[o + c] = Math.round(acc[c] / n);
    }
  }
  return { width, height, data };
}

const frames = TOUR.map((f) => join(shots, f)).filter((p) => existsSync(p));
if (frames.length >= 2) {
  const gif = GIFEncoder();
  let size;
  for (const p of frames) {
    const img = scale(PNG.sync.read(readFileSync(p)), WIDTH);
    if (size && (img.width !== size.width || img.height !== size.height)) continue; // one size per GIF
    size ??= img;
    const palette = quantize(img.data, 256);
    gif.writeFrame(applyPalette(img.data, palette), img.width, img.height, { palette, delay: DELAY_MS });
  }
  gif.finish();
  writeFileSync(join(out, 'tour.gif'), gif.bytes());
  console.log(`docs/images/tour.gif: ${frames.length} frames, ${(gif.bytes().length / 1024).toFixed(0)} KiB`);
}
console.log(`${copied} screenshots copied to docs/images/`);
