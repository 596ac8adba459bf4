/**
 * The echo server child: serves createEchoApp() on 127.0.0.1 and an ephemeral port, prints
 * `{"url"}` when listening, and answers `cpu`, `profile-start`, `profile-stop` and `stop` on stdin
 * (see child-protocol.ts).
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { cpuMicros, profileCommand, ready, serveCommands } from './child-protocol.js';
import { createEchoApp } from './echo-app.js';

const app = createEchoApp();
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => {
  ready({ url: `http://127.0.0.1:${info.port}`, pid: process.pid });
});

serveCommands(async (command) => {
  if ((await profileCommand(command)).handled) return null;
  switch (command.cmd) {
    case 'cpu':
      return cpuMicros();
    case 'stop':
      server.close();
      if ('closeAllConnections' in server) server.closeAllConnections();
      return null;
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
});
