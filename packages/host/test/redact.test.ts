import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../src/redact.js';

describe('redactSecrets', () => {
  it('replaces each kind of secret and counts it', () => {
    const pem = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEAx', 'abc', '-----END RSA PRIVATE KEY-----'].join('\n');
    const text = [
      'my key is AKIAIOSFODNN7EXAMPLE ok',
      'token ghp_0123456789abcdefghijABCDEFGHIJ012345 here',
      'openai sk-proj-abcdefghijklmnopqrstuvwxyz012345',
      pem,
      'export DB_PASSWORD="hunter 2"',
      'API_KEY=abc123',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    ].join('\n');
    const r = redactSecrets(text);
    expect(r.counts).toEqual({ 'aws-access-key': 1, 'github-token': 1, 'openai-key': 1, 'private-key': 1, 'env-secret': 3 });
    expect(r.total).toBe(7);
    for (const secret of ['AKIAIOSFODNN7EXAMPLE', 'ghp_0123', 'sk-proj-abc', 'MIIEow', 'hunter 2', 'abc123', 'wJalrXUtnFEMI']) expect(r.text).not.toContain(secret);
    expect(r.text).toContain('export DB_PASSWORD=[REDACTED:env-secret]');
    expect(r.text).toContain('my key is [REDACTED:aws-access-key] ok');
  });

  it('leaves ordinary text alone', () => {
    const text = 'PATH=/usr/bin\nThe sky is blue. skip-this-word is fine; keys are on the table.\nsk-short';
    expect(redactSecrets(text)).toEqual({ text, counts: {}, total: 0 });
  });
});
