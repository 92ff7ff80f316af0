/**
 * The chat page: `npm run build:web` writes web/dist/, which the gateway serves at `/`;
 * `npm run dev:web` serves it with hot reload, proxying the API to a gateway on port 4000
 * (GATEWAY_URL overrides).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const gateway = process.env['GATEWAY_URL'] ?? 'http://127.0.0.1:4000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  // Tokens and endpoints come from the page's own origin at run time; nothing is fetched from elsewhere.
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // vega and vega-lite make one large chunk, loaded only when the first chart arrives.
    chunkSizeWarningLimit: 2500,
  },
  server: {
    proxy: {
      '/graphql': { target: gateway, ws: true },
      '/auth': gateway,
      '/limits': gateway,
    },
  },
});
