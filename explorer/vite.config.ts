// Builds the explorer into dist/, which `api/build.rs` embeds in the prova binary (served at /explorer/).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/explorer/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One entry chunk and the hashing worker: small enough to load at once, and the verify page then needs
    // nothing more from the server.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  worker: { format: 'es' },
});
