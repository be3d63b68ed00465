/** proto/**\/*.proto files are bundled as text by esbuild (`loader: { '.proto': 'text' }`). */
declare module '*.proto' {
  const text: string;
  export default text;
}
