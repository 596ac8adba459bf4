/**
 * Strict UTF-8 decoding of a bulk input file (docs/IMPORT.md, "Exit status"). Decoded leniently,
 * bytes that are not UTF-8 become U+FFFD, so a file in another encoding (a GBK export, say) would
 * give different identifiers one normalised value and one token, and list people it does not name.
 *
 * The first invalid byte ends the input as a broken CSV structure does: every complete line before
 * the one holding it is handed on (so the caller still lists, skips or rejects those rows), nothing
 * from that line on is, and `failure()` then names the line and the byte offset, never the bytes.
 */
import { concatBytes } from '../crypto/encoding.js';
import { AppError } from '../errors.js';

export interface StrictUtf8Input {
  /** The decoded text, in chunks; ends early, without an error, at the first invalid byte. */
  text: AsyncGenerator<string>;
  /** Why the text ended early; undefined while it has not, or when the input was UTF-8 throughout. */
  failure(): AppError | undefined;
}

/**
 * Decodes `input`'s bytes (strings are passed on as they are: already text). Text is handed on a
 * whole line at a time, so that the line an invalid byte is in is never handed on in part; a line
 * longer than `maxLine` characters is handed on as it comes (the parsers refuse it anyway), which
 * bounds what is held.
 */
export function strictUtf8(name: string, input: AsyncIterable<Buffer | string>, maxLine: number): StrictUtf8Input {
  let failure: AppError | undefined;
  async function* text(): AsyncGenerator<string> {
    // ignoreBOM keeps a BOM in the text, so byte and line counts stay true; the parsers drop it.
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    let offset = 0;
    let newlines = 0;
    // Bytes of an incomplete sequence at the end of the previous chunk, held by the decoder.
    let carried = new Uint8Array(0);
    // The text after the last newline handed on.
    let tail = '';
    const complete = (decoded: string): string => {
      const text = tail + decoded;
      const cut = text.lastIndexOf('\n') + 1;
      tail = text.slice(cut);
      if (tail.length <= maxLine) return text.slice(0, cut);
      tail = '';
      return text;
    };
    for await (const chunk of input) {
      let decoded: string;
      if (typeof chunk === 'string') {
        decoded = chunk;
      } else {
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        try {
          decoded = decoder.decode(bytes, { stream: true });
        } catch {
          // The slow way, on this chunk only, to find where: byte by byte from the carried bytes on.
          const { valid, at } = firstInvalid(carried, bytes);
          const line = newlines + countNewlines(valid) + 1;
          failure = new AppError(
            'invalid_input',
            `${name}: line ${line} is not valid UTF-8 (byte offset ${offset + at}); convert the file to UTF-8 first (a GBK export, say); nothing from line ${line} on was read`,
          );
          const before = (tail + valid).slice(0, (tail + valid).lastIndexOf('\n') + 1);
          if (before !== '') yield before;
          return;
        }
        const pending = carried.length + bytes.length - Buffer.byteLength(decoded, 'utf8');
        carried = pending === 0 ? new Uint8Array(0) : concatBytes(carried, bytes).slice(-pending);
        offset += bytes.length;
      }
      newlines += countNewlines(decoded);
      const whole = complete(decoded);
      if (whole !== '') yield whole;
    }
    try {
      tail += decoder.decode();
    } catch {
      const line = newlines + 1;
      failure = new AppError('invalid_input', `${name}: line ${line} is not valid UTF-8 (it ends within a character, byte offset ${offset - carried.length}); nothing from line ${line} on was read`);
      return;
    }
    if (tail !== '') yield tail;
  }
  return { text: text(), failure: () => failure };
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The text this chunk decodes to before its first invalid sequence, and where that sequence starts
 * in the chunk (negative when it began in the bytes carried from the chunk before).
 */
function firstInvalid(carried: Uint8Array, bytes: Uint8Array): { valid: string; at: number } {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  decoder.decode(carried, { stream: true });
  let valid = '';
  let start = -carried.length;
  for (let i = 0; i < bytes.length; i++) {
    let piece: string;
    try {
      piece = decoder.decode(bytes.subarray(i, i + 1), { stream: true });
    } catch {
      return { valid, at: start };
    }
    // A byte that completes a character ends a sequence; one that does not is part of the next.
    if (piece !== '') start = i + 1;
    valid += piece;
  }
  return { valid, at: start };
}
