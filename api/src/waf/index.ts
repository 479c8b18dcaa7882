import { Elysia } from 'elysia'
import { ForbiddenError } from '../http/errors.ts'

/** Where nginx sends a request ModSecurity blocked (deploy/nginx.conf, `error_page 403`). */
export const WAF_BLOCKED_PATH = '/internal/waf-blocked'

/**
 * module.waf: the answer to a request the web application firewall in front (nginx + ModSecurity
 * with the OWASP Core Rule Set, deploy/waf/) blocked. nginx re-sends the blocked request here as a
 * body-less GET with its request id, so the visitor gets the usual envelope (403 REQUEST_BLOCKED
 * with that id, which the WAF's log lines carry too) and every replica counts blocks in
 * shellfolio_http_requests_total{route="/internal/waf-blocked"}. nginx answers 404 to anyone asking
 * for this path directly; asking a replica directly only adds one to that count.
 */
export function wafModule() {
  return new Elysia({ name: 'module.waf' }).get(
    WAF_BLOCKED_PATH,
    () => {
      throw new ForbiddenError(
        'this request was blocked by the web application firewall; if that is a mistake, tell the site owner the request id',
        'REQUEST_BLOCKED',
      )
    },
    { detail: { hide: true } },
  )
}
