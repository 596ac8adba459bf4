/** Turns a zod validation failure into the API's 400 error, naming the first offending field. */
import type { z } from '@hono/zod-openapi';
import { AppError } from '../errors.js';

type ValidationResult = { success: true } | { success: false; error: z.ZodError };

export function validationHook(result: ValidationResult): void {
  if (result.success) return;
  const issue = result.error.issues[0];
  const path = issue?.path.length
    ? issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '')
    : 'body';
  throw new AppError('invalid_input', `${path}: ${issue?.message ?? 'invalid'}`);
}
