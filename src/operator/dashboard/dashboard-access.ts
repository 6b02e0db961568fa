/**
 * Who may talk to the dashboard: pure rules over a request's host, headers and token, no I/O. Bound to loopback the
 * dashboard needs no token; bound anywhere else every request (pages, API, the live stream) must carry the token the
 * server printed once at start. Either way a request that changes something (push, resync) must come from the page
 * itself (same Origin, the dashboard's own header), so another web site open in the operator's browser cannot
 * push a model through it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Cookie that carries the token after the first visit with `?token=`. */
export const TOKEN_COOKIE = 'edgetune_dashboard_token';
/** Header the page sets on requests that change something (a cross-site form cannot set it). */
export const PAGE_HEADER = 'x-edgetune-dashboard';

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** A fresh token: 32 random bytes, base64url. */
export function newDashboardToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Compare a presented token with the expected one in constant time (digests, so lengths do not leak). */
export function tokenMatches(expected: string, presented: string | null | undefined): boolean {
  if (typeof presented !== 'string' || presented.length === 0 || presented.length > 512) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

/** The value of cookie `name` in a Cookie header (null when absent). */
export function cookieValue(header: string | null | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** What a request presents. */
export interface AccessRequest {
  method: string;
  /** The Host header. */
  host: string | null;
  origin: string | null;
  cookie: string | null;
  authorization: string | null;
  /** `?token=` of the URL. */
  queryToken: string | null;
  pageHeader: string | null;
}

/** How the dashboard is bound. */
export interface AccessPolicy {
  /** Null: bound to loopback, no token needed. */
  token: string | null;
}

/** The verdict on a request: allowed (and whether the token came in the URL, to be moved into a cookie), or refused. */
export type AccessVerdict = { ok: true; tokenFromQuery: boolean } | { ok: false; status: 401 | 403 | 421; code: 'TOKEN_MISSING' | 'TOKEN_INVALID' | 'HOST_REFUSED' | 'CROSS_SITE'; message: string };

function hostOf(hostHeader: string): { name: string; port: string | null } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.trim());
  return m ? { name: (m[1] as string).toLowerCase(), port: m[2] ?? null } : { name: '', port: null };
}

/**
 * Decide on one request. Loopback binds accept only loopback Host names (a DNS-rebinding page names its own host);
 * other binds need the token (cookie, `Authorization: Bearer`, or `?token=`). Non-GET requests need the page header
 * and, when the browser sends one, an Origin on the same host.
 */
export function checkAccess(req: AccessRequest, policy: AccessPolicy): AccessVerdict {
  const host = req.host ? hostOf(req.host) : null;
  if (policy.token === null) {
    if (!host || !isLoopbackHost(host.name)) {
      return { ok: false, status: 421, code: 'HOST_REFUSED', message: `the dashboard is bound to loopback and answers only requests for localhost / 127.0.0.1 (this one names '${req.host ?? ''}')` };
    }
  }
  let tokenFromQuery = false;
  if (policy.token !== null) {
    const bearer = req.authorization && /^Bearer\s+(\S+)$/i.exec(req.authorization)?.[1];
    const presented = [req.queryToken, bearer ?? null, cookieValue(req.cookie, TOKEN_COOKIE)].filter((t): t is string => typeof t === 'string' && t.length > 0);
    if (presented.length === 0) {
      return { ok: false, status: 401, code: 'TOKEN_MISSING', message: 'this dashboard is bound beyond loopback and needs its token: open the URL with ?token=… that `npx edgetune dashboard` printed at start' };
    }
    if (!presented.every((t) => tokenMatches(policy.token as string, t))) {
      return { ok: false, status: 401, code: 'TOKEN_INVALID', message: 'the dashboard token is wrong (tampered, or from an earlier run: each start prints a new one)' };
    }
    tokenFromQuery = req.queryToken !== null;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    if (req.pageHeader !== '1') {
      return { ok: false, status: 403, code: 'CROSS_SITE', message: `changes are accepted from the dashboard page only (header ${PAGE_HEADER} missing)` };
    }
    if (req.origin !== null && req.origin !== 'null') {
      let originHost: string | null = null;
      try {
        originHost = new URL(req.origin).host.toLowerCase();
      } catch {
        originHost = null;
      }
      if (!req.host || originHost !== req.host.toLowerCase()) {
        return { ok: false, status: 403, code: 'CROSS_SITE', message: `changes are accepted from the dashboard page only (Origin ${req.origin} is another site)` };
      }
    }
  }
  return { ok: true, tokenFromQuery };
}
