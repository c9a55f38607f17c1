// Vite config for the web app: built into web/dist, which the server serves at /.
// In development, `npx vite --config web/vite.config.ts` proxies the API to a running server.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const api = process.env.CLICKBACK_API ?? 'http://127.0.0.1:8099';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': api,
      '/c/': api,
      '/healthz': api,
    },
  },
});
