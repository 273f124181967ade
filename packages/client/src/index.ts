export { certId } from './ari.ts';
export {
  AcmeClient,
  type AcmeClientOptions,
  type AutoRenewalOptions,
  type NewAccountOptions,
  type NewOrderOptions,
  type RenewalInfo,
  type StarOrderJson,
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
  AcmeUnsupportedError,
  ChallengeSolverError,
} from './errors.ts';
export { exportPublicJwk, type FlattenedJws, type HmacAlgorithm, JwsSigner } from './jws.ts';
export {
  exportPrivateKeyPem,
  generateKey,
  importPrivateKeyPem,
  jwsAlgorithm,
  KEY_SPECS,
  type KeySpec,
} from './keys.ts';
export {
  createOnionCsr,
  OID_APPLICANT_SIGNING_NONCE,
  OID_CA_SIGNING_NONCE,
  type OnionCsrOptions,
  onionAddressFromKey,
} from './onion.ts';
export type { ChallengeSolver } from './solvers/challenge-solver.ts';
export {
  DnsHookSolver,
  type DnsHookSolverOptions,
  type DnsPersist01RecordOptions,
  dns01RecordName,
  dns01TxtValue,
  dnsPersist01Record,
  dnsPersistHashedAccountUri,
  Rfc2136Solver,
  type Rfc2136SolverOptions,
  type TsigAlgorithm,
  type TsigKey,
} from './solvers/dns.ts';
export { Http01Solver, type Http01SolverOptions } from './solvers/http-01.ts';
export { OnionCsr01Solver, type OnionCsr01SolverOptions } from './solvers/onion-csr-01.ts';
export {
  ACME_TLS_ALPN,
  createTlsAlpn01Certificate,
  OID_ACME_IDENTIFIER,
  reverseDnsName,
  TlsAlpn01Solver,
  type TlsAlpn01SolverOptions,
  tlsAlpn01ServerName,
} from './solvers/tls-alpn-01.ts';
export { HttpTransport, type HttpTransportOptions, type TransportStats } from './transport.ts';
export {
  type ObtainCertificateOptions,
  type ObtainedCertificate,
  obtainCertificate,
  pickChallenge,
} from './workflow.ts';
