/**
 * Paths of the federation API. Parameters travel in the path, not the query string, because the
 * request signature (RFC 9421 `@path`) covers the path only.
 */
export const federationPaths = {
  checkpoints: () => '/v1/federation/checkpoints',
  entries: (origin: string, start: number, end: number) => `/v1/federation/logs/${origin}/entries/${start}/${end}`,
  consistency: (origin: string, from: number, to: number) => `/v1/federation/logs/${origin}/consistency/${from}/${to}`,
  inclusion: (origin: string, index: number, size: number) => `/v1/federation/logs/${origin}/inclusion/${index}/${size}`,
  notify: () => '/v1/federation/notify',
  cosignatures: () => '/v1/federation/cosignatures',
};
