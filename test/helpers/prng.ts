/** A seeded PRNG for the fuzz tests: every (stream, iteration) gets its own generator, so one case replays alone. */
export type Rng = () => number;

export function mulberry32(a: number): Rng {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Independent generator for iteration `i` of stream `stream` under `seed`. */
export function rngFor(seed: number, stream: number, i: number): Rng {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return mulberry32(h);
}

export const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
export const pick = <T>(rng: Rng, a: readonly T[]): T => a[int(rng, a.length)];
