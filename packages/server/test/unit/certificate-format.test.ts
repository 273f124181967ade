import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certificateFormat } from '../../src/wfe/certificate-format.ts';

/** RFC 8555 §7.4.2 formats chosen by Accept (RFC 9110 §12.5.1). */
describe('certificateFormat', () => {
  it('is the PEM chain without an Accept header, for */*, and on a tie', () => {
    for (const accept of [
      undefined,
      '',
      '*/*',
      'application/json',
      'application/pem-certificate-chain',
      'application/pkix-cert, application/pem-certificate-chain',
      'application/*',
      'garbage',
    ])
      assert.equal(certificateFormat(accept), 'pem-chain', String(accept));
  });

  it('is DER only when application/pkix-cert ranks above the PEM chain', () => {
    for (const accept of [
      'application/pkix-cert',
      'Application/PKIX-Cert',
      'application/pkix-cert, */*;q=0.8',
      'application/pem-certificate-chain;q=0.1, application/pkix-cert',
      'application/pkix-cert;q=1.0, application/*;q=0.5',
    ])
      assert.equal(certificateFormat(accept), 'der', accept);
  });

  it('takes the most specific range, and skips malformed ranges and q-values', () => {
    // application/pem-certificate-chain;q=0 refuses the chain even though */* accepts everything.
    assert.equal(certificateFormat('*/*, application/pem-certificate-chain;q=0'), 'der');
    assert.equal(certificateFormat('application/pkix-cert;q=0, */*'), 'pem-chain');
    assert.equal(certificateFormat('application/pkix-cert;q=2'), 'pem-chain');
    assert.equal(certificateFormat('application/pkix-cert;q=abc, */*'), 'pem-chain');
    assert.equal(certificateFormat('application/pkix-cert/extra'), 'pem-chain');
    assert.equal(certificateFormat('application/pkix-cert ; q=0.7 , */*;q=0.6'), 'der');
  });
});
