/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  // Relative asset paths: the Wails window loads index.html from an embedded
  // filesystem and `atoll serve` may mount it under a prefix.
  base: './',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true, // scripts/keep-dist.mjs puts dist/.gitkeep back
    target: 'es2022',
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/api': { target: process.env.ATOLL_URL ?? 'http://127.0.0.1:7700', changeOrigin: false },
    },
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
});
