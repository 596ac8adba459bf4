/** Option parsers shared by commands: each rejects a bad value with a one-line reason. */
import { InvalidArgumentError } from 'commander';
import { loadConfig, type NodeConfig } from '../config/load.js';

export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return Number(value);
}

export function parsePositiveInt(value: string): number {
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

export function configFor(dataDir: string): NodeConfig {
  return loadConfig(dataDir);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
