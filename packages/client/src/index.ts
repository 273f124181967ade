export {
  AcmeClient,
  type AcmeClientOptions,
  type NewAccountOptions,
  type NewOrderOptions,
  type WaitOptions,
} from './client.ts';
export { type CsrOptions, createCsr } from './csr.ts';
export {
  AcmeClientError,
  type AcmeClientErrorCode,
  AcmeNoSolverError,
  AcmeProblemError,
  AcmeStatusError,
  AcmeTimeoutError,
  AcmeTransportError,
} from './errors.ts';
export { exportPublicJwk, type FlattenedJws, type HmacAlgorithm, JwsSigner } from './jws.ts';
export { exportPrivateKeyPem, generateKey, importPrivateKeyPem, KEY_SPECS, type KeySpec } from './keys.ts';
export type { ChallengeSolver } from './solvers/challenge-solver.ts';
export { Http01Solver, type Http01SolverOptions } from './solvers/http-01.ts';
export { HttpTransport, type HttpTransportOptions, type TransportStats } from './transport.ts';
export { type ObtainCertificateOptions, type ObtainedCertificate, obtainCertificate } from './workflow.ts';
