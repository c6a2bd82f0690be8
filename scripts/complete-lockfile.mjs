// Keeps package-lock.json acceptable to `npm ci` when the registry in use lacks some
// platform-specific optional packages (e.g. rollup's builds for other OSes/CPUs): npm then
// leaves them out of the lockfile and `npm ci` refuses it ("Missing: … from lock file").
// Each missing optional dependency gets an entry marked optional; npm skips optional
// packages it cannot install, so nothing changes on the platforms that lack them.
// Runs from `prepare`, i.e. after every `npm install`; a lockfile already complete is untouched.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
if (existsSync(path)) {
  const text = readFileSync(path, 'utf8');
  const lock = JSON.parse(text);
  const packages = lock.packages ?? {};
  let added = 0;
  for (const [where, meta] of Object.entries(packages)) {
    for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
      const nested = `${where ? `${where}/` : ''}node_modules/${name}`;
      const hoisted = `node_modules/${name}`;
      if (packages[nested] || packages[hoisted]) continue;
      packages[hoisted] = { version, optional: true, ...(meta.dev ? { dev: true } : {}) };
      added++;
    }
  }
  if (added > 0) {
    writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
    console.log(`complete-lockfile: recorded ${added} optional platform packages the registry lacks`);
  }
}
