import { describe, expect, it } from 'vitest';
import { originMatches, parseRange } from '../../src/capabilities/http.js';

describe('originMatches', () => {
  it.each([
    ['https://*.example.com', 'https://a.example.com', true],
    ['https://*.example.com', 'https://a.b.example.com', true],
    ['https://*.example.com', 'https://example.com', false],
    ['https://*.example.com', 'https://evilexample.com', false],
    ['https://*.example.com', 'https://example.com.evil.io', false],
    ['https://*.example.com', 'http://a.example.com', false],
    ['https://*.example.com', 'https://a.example.com:8443', false],
    ['https://api.example.com', 'https://api.example.com:443', true],
    ['https://api.example.com:443', 'https://api.example.com', true],
    ['http://api.example.com', 'http://api.example.com:8080', false],
    ['https://API.example.com', 'https://api.example.com', true],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080', true],
    ['http://[::1]:8080', 'http://[::1]:8080', true],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8081', false],
  ])('%s matches %s: %s', (pattern, origin, expected) => {
    expect(originMatches(pattern, origin)).toBe(expected);
  });
});

describe('parseRange', () => {
  it('reads IPv4 and IPv6 ranges and refuses anything else', () => {
    expect(parseRange('127.0.0.0/8')).toEqual({ address: '127.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseRange('::1/128')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(parseRange('10.0.0.0/33')).toBeUndefined();
    expect(parseRange('https://a.example.com')).toBeUndefined();
    expect(parseRange('example.com/8')).toBeUndefined();
  });
});
