#!/usr/bin/env node
// Runs the compiled CLI. An installed package ships dist/; in a checkout, `npm install` builds
// it (the prepare script) and this rebuilds it when a source file is newer, so `npm start`
// never runs stale code and never compiles when nothing changed.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/main.js', import.meta.url);
const src = fileURLToPath(new URL('../src/', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const stale = existsSync(src) && (!existsSync(entry) || newestSource(src) > statSync(entry).mtimeMs);
if (stale && existsSync(tsc)) {
  console.error('livechannel: src/ changed since dist/ was built; building (npm run build)…');
  execFileSync(process.execPath, [tsc, '-p', fileURLToPath(new URL('../tsconfig.build.json', import.meta.url))], { stdio: 'inherit' });
}
if (!existsSync(entry)) {
  console.error('livechannel: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
await import(entry.href);
