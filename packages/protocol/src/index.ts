export * from './base64url.ts';
export * from './der.ts';
export * from './dns-persist.ts';
export * from './ip-address.ts';
export * from './jwk.ts';
export * from './problems.ts';
export * from './types.ts';
