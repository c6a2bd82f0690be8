#!/usr/bin/env node
// Runs the compiled CLI (built by `npm install` via the `prepare` script, or `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('livechannel: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
await import(entry.href);
