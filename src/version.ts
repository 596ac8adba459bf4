/** The package version, read once from package.json so it is never duplicated in code. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './config/package-root.js';

export const VERSION: string = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
