/** The one builder of a node's own `http://host:port` URL (restore's probe, roster's default endpoint). */
import { describe, expect, it } from 'vitest';
import { httpUrl } from '../../../src/cli/options.js';

describe('httpUrl', () => {
  it('writes an IPv4 address or a name as it is, and an IPv6 address in brackets (RFC 3986 §3.2.2)', () => {
    expect(httpUrl('127.0.0.1', 8080)).toBe('http://127.0.0.1:8080');
    expect(httpUrl('node.example', 80)).toBe('http://node.example:80');
    expect(httpUrl('::1', 8080)).toBe('http://[::1]:8080');
    expect(new URL(httpUrl('fd00::1', 2583)).port).toBe('2583');
  });
});
