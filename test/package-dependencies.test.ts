import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDependencies, packageOf } from './support/package-imports.js';

// What `npm ci --omit=dev` (every production image, npm install -g) leaves is `dependencies`
// (and optional ones): every package the built code loads must be one of them.
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
let built: string;
beforeAll(() => {
  built = mkdtempSync(join(tmpdir(), 'lc-built-'));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', built, '--sourceMap', 'false']);
}, 120_000);
afterAll(() => rmSync(built, { recursive: true, force: true }));

describe('runtime dependencies', () => {
  it('every package the built code loads is a dependency, and every dependency is loaded', () => {
    expect(checkDependencies(built, pkg)).toEqual({ missing: [], unused: [] });
  });

  it('catches a runtime package kept in devDependencies (ali-oss, as it once was)', () => {
    const { 'ali-oss': aliOss, ...rest } = pkg.dependencies;
    expect(aliOss).toBeDefined();
    const moved = { ...pkg, dependencies: rest, devDependencies: { ...pkg.devDependencies, 'ali-oss': aliOss! } };
    expect(checkDependencies(built, moved).missing.map((m) => m.split(' ')[0])).toEqual(['ali-oss']);
  });

  it('reads package names from specifiers', () => {
    expect(['ali-oss', 'hls.js/dist/hls.min.js', '@scope/pkg/sub', 'node:fs', 'fs/promises', './x.js'].map(packageOf)).toEqual(['ali-oss', 'hls.js', '@scope/pkg', undefined, undefined, undefined]);
  });
});
