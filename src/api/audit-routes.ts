/**
 * `GET /v1/audit/report?from=…&to=…[&format=json|csv]` (scope auditor or admin): the audit report
 * of a window as JSON, or as a CSV attachment. Counts only; definitions in docs/AUDIT.md.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { CSV_CONTENT_TYPE } from '../common/csv.js';
import { reportToCsv } from '../audit/report-csv.js';
import type { AuditService } from '../audit/audit-service.js';
import { parseAuditWindow } from '../audit/window.js';
import type { ApiKeyService } from '../service/api-keys.js';
import type { AppEnv } from './env.js';
import { requireScope } from './middleware.js';
import { errorSchema } from './schemas.js';
import { validationHook } from './validation.js';

const instant = (what: string) =>
  z
    .string({ error: 'required: an ISO-8601 date-time (with Z or an offset) or a date YYYY-MM-DD' })
    .max(64)
    .openapi({ description: `${what}; a date YYYY-MM-DD means midnight UTC`, example: '2025-01-01T00:00:00Z' });

const querySchema = z.object({
  from: instant('Start of the window (inclusive)'),
  to: instant('End of the window (exclusive); at most 366 days after from'),
  format: z.enum(['json', 'csv']).optional().openapi({ description: 'json (default) or csv' }),
});

// The report's shape is the TypeScript contract in src/audit/report-types.ts, explained field by
// field in docs/AUDIT.md; the document names it without repeating it.
const reportSchema = z.record(z.string(), z.unknown()).openapi('AuditReport', { description: 'See docs/AUDIT.md' });

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { description: 'Error', content: { 'application/json': { schema: errorSchema } } }]));

export function auditRoutes(keys: ApiKeyService, audit: AuditService): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.on('GET', '/v1/audit/report', requireScope(keys, 'auditor'));

  const report = createRoute({
    method: 'get',
    path: '/v1/audit/report',
    summary: 'Audit statistics per member for a time window (counts only)',
    security: [{ apiKey: [] }],
    request: { query: querySchema },
    responses: {
      200: {
        description: 'The report',
        content: { 'application/json': { schema: reportSchema }, 'text/csv': { schema: z.string().openapi({ description: 'RFC 4180, one row per member' }) } },
      },
      ...errors(400, 401, 403),
    },
  });
  app.openapi(report, async (c) => {
    const query = c.req.valid('query');
    const result = await audit.report(parseAuditWindow(query.from, query.to));
    c.header('cache-control', 'no-store');
    if (query.format !== 'csv') return c.json(result, 200);
    const name = `jointban-audit-${result.node}-${result.from.slice(0, 10)}-${result.to.slice(0, 10)}.csv`;
    c.header('content-type', CSV_CONTENT_TYPE);
    c.header('content-disposition', `attachment; filename="${name}"`);
    return c.body(reportToCsv(result), 200);
  });
  return app;
}
