import { describe, expect, it } from 'vitest';
import { checkAccess, cookieValue, isLoopbackHost, newDashboardToken, tokenMatches, TOKEN_COOKIE, type AccessRequest } from '../../../../src/operator/dashboard/dashboard-access.js';

const get = (o: Partial<AccessRequest> = {}): AccessRequest => ({ method: 'GET', host: '127.0.0.1:8080', origin: null, cookie: null, authorization: null, queryToken: null, pageHeader: null, ...o });

describe('dashboard access: loopback', () => {
  it('knows loopback addresses from the rest', () => {
    for (const h of ['127.0.0.1', '127.8.9.1', 'localhost', '::1', '[::1]', 'LOCALHOST']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.4', 'example.com', '127.0.0.1.evil.com', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('needs no token, but refuses a Host that is not loopback (DNS rebinding)', () => {
    expect(checkAccess(get(), { token: null })).toEqual({ ok: true, tokenFromQuery: false });
    expect(checkAccess(get({ host: 'localhost:8080' }), { token: null }).ok).toBe(true);
    expect(checkAccess(get({ host: '[::1]:8080' }), { token: null }).ok).toBe(true);
    const v = checkAccess(get({ host: 'attacker.example:8080' }), { token: null });
    expect(v).toMatchObject({ ok: false, status: 421, code: 'HOST_REFUSED' });
    expect(checkAccess(get({ host: null }), { token: null })).toMatchObject({ ok: false, code: 'HOST_REFUSED' });
  });
});

describe('dashboard access: a token beyond loopback', () => {
  const token = newDashboardToken();

  it('makes tokens of 32 random bytes', () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newDashboardToken()).not.toBe(token);
  });

  it('accepts the token from the URL, a Bearer header or the cookie, on any Host', () => {
    expect(checkAccess(get({ host: '192.168.1.4:8080', queryToken: token }), { token })).toEqual({ ok: true, tokenFromQuery: true });
    expect(checkAccess(get({ host: 'pi.lan', authorization: `Bearer ${token}` }), { token })).toEqual({ ok: true, tokenFromQuery: false });
    expect(checkAccess(get({ cookie: `a=1; ${TOKEN_COOKIE}=${encodeURIComponent(token)}` }), { token })).toEqual({ ok: true, tokenFromQuery: false });
  });

  it('refuses a request without it, with a tampered one, or with a good and a bad one together', () => {
    expect(checkAccess(get(), { token })).toMatchObject({ ok: false, status: 401, code: 'TOKEN_MISSING' });
    const tampered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect(checkAccess(get({ queryToken: tampered }), { token })).toMatchObject({ ok: false, status: 401, code: 'TOKEN_INVALID' });
    expect(checkAccess(get({ authorization: `Bearer ${token}x` }), { token })).toMatchObject({ ok: false, code: 'TOKEN_INVALID' });
    expect(checkAccess(get({ authorization: `Bearer ${token}`, cookie: `${TOKEN_COOKIE}=nope` }), { token })).toMatchObject({ ok: false, code: 'TOKEN_INVALID' });
    expect(tokenMatches(token, '')).toBe(false);
    expect(tokenMatches(token, 'x'.repeat(10_000))).toBe(false);
  });
});

describe('dashboard access: changes come from the page only', () => {
  it('refuses a POST without the page header (a cross-site form cannot set it)', () => {
    expect(checkAccess(get({ method: 'POST' }), { token: null })).toMatchObject({ ok: false, status: 403, code: 'CROSS_SITE' });
    expect(checkAccess(get({ method: 'POST', pageHeader: '1' }), { token: null }).ok).toBe(true);
  });

  it('refuses a POST whose Origin is another site, accepts its own', () => {
    expect(checkAccess(get({ method: 'POST', pageHeader: '1', origin: 'http://attacker.example' }), { token: null })).toMatchObject({ ok: false, code: 'CROSS_SITE' });
    expect(checkAccess(get({ method: 'POST', pageHeader: '1', origin: 'http://127.0.0.1:8081' }), { token: null })).toMatchObject({ ok: false, code: 'CROSS_SITE' });
    expect(checkAccess(get({ method: 'POST', pageHeader: '1', origin: 'http://127.0.0.1:8080' }), { token: null }).ok).toBe(true);
  });

  it('checks the token before anything else', () => {
    const token = newDashboardToken();
    expect(checkAccess(get({ method: 'POST', pageHeader: '1' }), { token })).toMatchObject({ ok: false, code: 'TOKEN_MISSING' });
  });
});

describe('cookieValue', () => {
  it('finds one cookie among several, decoded; null when absent or malformed', () => {
    expect(cookieValue('a=1; b=two%20words; c=3', 'b')).toBe('two words');
    expect(cookieValue('a=1', 'b')).toBeNull();
    expect(cookieValue(null, 'b')).toBeNull();
    expect(cookieValue('b=%E0%A4%A', 'b')).toBeNull();
  });
});
