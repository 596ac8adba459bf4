/**
 * Where the installed package lives, so the shipped defaults in config/ and the migrations can be
 * found both from source (tests run src/ directly) and from the compiled dist/ tree, whose depth
 * differs by one folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown };
      if (pkg.name === 'jointban') return (cached = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the jointban package root');
    dir = parent;
  }
}

export function shippedConfigPath(file: string): string {
  return join(packageRoot(), 'config', file);
}
