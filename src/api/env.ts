/** The hono environment shared by every route: per-request logger, request id and caller. */
import type { Logger } from 'pino';
import type { Principal } from '../service/api-keys.js';

export interface AppEnv {
  Variables: {
    log: Logger;
    requestId: string;
    /** `performance.now()` when the request reached the app, before anything else ran. */
    receivedAt: number;
    principal: Principal;
  };
}
