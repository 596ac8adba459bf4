import { describe, expect, it } from 'vitest';
import { strictUtf8 } from '../../../src/jobs/strict-utf8.js';

/** Decodes `bytes` handed over in chunks of `size`; the text and the failure's message. */
async function decode(bytes: Buffer, size: number): Promise<{ text: string; error: string | undefined }> {
  const chunks = async function* () {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  };
  const input = strictUtf8('f.csv', chunks(), 1000);
  let text = '';
  for await (const piece of input.text) text += piece;
  return { text, error: input.failure()?.message };
}

// "张三" in GBK: D5 C5 C8 FD. D5 begins a two-byte UTF-8 sequence that C5 cannot continue.
const GBK = Buffer.from([0xd5, 0xc5, 0xc8, 0xfd]);

describe('strictUtf8', () => {
  it.each([1, 2, 3, 7, 64])('passes UTF-8 through unchanged, BOM and all, in chunks of %i bytes', async (size) => {
    const text = '\uFEFFa,b\n张三,😀\r\nlast';
    expect(await decode(Buffer.from(text, 'utf8'), size)).toEqual({ text, error: undefined });
  });

  it.each([1, 2, 3, 7, 64])('stops at a GBK sequence with its line and byte offset, handing on only the lines before it (chunks of %i)', async (size) => {
    const head = 'a,b\n1,ok\n2,';
    const bytes = Buffer.concat([Buffer.from(head, 'utf8'), GBK, Buffer.from('\n3,ok\n')]);
    expect(await decode(bytes, size)).toEqual({
      text: 'a,b\n1,ok\n',
      error: `f.csv: line 3 is not valid UTF-8 (byte offset ${head.length}); convert the file to UTF-8 first (a GBK export, say); nothing from line 3 on was read`,
    });
  });

  it('hands on a line longer than the limit as it comes, so what it holds stays bounded', async () => {
    const long = 'x'.repeat(2500);
    const input = strictUtf8(
      'f.csv',
      (async function* () {
        for (let i = 0; i < long.length; i += 500) yield Buffer.from(long.slice(i, i + 500));
      })(),
      1000,
    );
    const pieces: string[] = [];
    for await (const piece of input.text) pieces.push(piece);
    expect(pieces.join('')).toBe(long);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(1500);
  });

  it('refuses a file that ends within a character', async () => {
    const { text, error } = await decode(Buffer.concat([Buffer.from('a\nb'), Buffer.from([0xe5, 0xbc])]), 2);
    expect(text).toBe('a\n');
    expect(error).toMatch(/^f\.csv: line 2 is not valid UTF-8 \(it ends within a character, byte offset 3\)/);
  });
});
