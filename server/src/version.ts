/**
 * The product version, from package.json at build time (scripts/build.mjs defines __CTS_VERSION__);
 * bundles built without it (the benchmarks' own esbuild runs) say 0.0.0-dev.
 */
declare const __CTS_VERSION__: string | undefined;
export const VERSION: string = typeof __CTS_VERSION__ === 'string' ? __CTS_VERSION__ : '0.0.0-dev';
