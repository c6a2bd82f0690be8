import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

// A package named in built code: import/export … from 'x', import('x'), require('x'),
// require.resolve('x/…') and createRequire(…)('x').
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire(?:\.resolve)?\s*\(\s*|\bcreateRequire\([^)]*\)(?:\.resolve)?\s*\(\s*)['"]([^'"\s]+)['"]/g;
const BUILTINS = new Set(builtinModules);

/** The package a specifier loads ('@scope/name' or 'name'), or undefined for relative paths and Node's own modules. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTINS.has(name) ? undefined : name;
}

/** Every package the .js files under `dir` load, with one file that loads it. */
export function packagesImported(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.js')) {
        for (const m of readFileSync(path, 'utf8').matchAll(SPECIFIER)) {
          const name = packageOf(m[1]!);
          if (name && !found.has(name)) found.set(name, path);
        }
      }
    }
  };
  walk(dir);
  return found;
}

export interface DependencyReport {
  /** Imported by the built code but not a dependency (missing after `npm ci --omit=dev`). */
  missing: string[];
  /** A dependency the built code never loads. */
  unused: string[];
}

export function checkDependencies(builtDir: string, pkg: { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }): DependencyReport {
  const imported = packagesImported(builtDir);
  const runtime = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]);
  return {
    missing: [...imported].filter(([name]) => !runtime.has(name)).map(([name, file]) => `${name} (${file})`),
    unused: [...runtime].filter((name) => !imported.has(name)),
  };
}
