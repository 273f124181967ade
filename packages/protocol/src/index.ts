export * from './base64url.ts';
export * from './jwk.ts';
export * from './problems.ts';
export * from './types.ts';
