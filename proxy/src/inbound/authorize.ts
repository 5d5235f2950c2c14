/**
 * Inbound authorization: who may call this service, decided from the caller's verified
 * SPIFFE ID and, for HTTP, the request. Pure functions over the snapshot's
 * {@link Authorization}, so the listener can swap policies between requests.
 *
 * Semantics (see docs/proxy.md): rules are tried in order and the first that applies
 * decides. A rule applies when its source matches the caller and, if it has `http`
 * permissions, one of them matches the request. Over TCP there is no request, so rules
 * with `http` never apply (an L7 rule cannot allow or deny a byte stream). Callers no rule
 * applies to get `defaultAction`.
 */
import type { Authorization, AuthzRule } from '../../../core/index.ts';
import { matchesHttp } from '../http-match.ts';
import type { RequestFacts } from '../http-match.ts';
import type { PeerIdentity } from '../mesh-tls.ts';

export interface AuthzDecision {
  allowed: boolean;
  /** Index of the deciding rule, or undefined when the default action decided. */
  rule: number | undefined;
  /** `rule 2 (deny)` or `default (deny)`: short, for the 403 body and the log. */
  reason: string;
}

/** Decide for a connection (TCP: `request` undefined) or one HTTP request. */
export function authorize(
  authz: Authorization,
  peer: PeerIdentity,
  request?: RequestFacts,
): AuthzDecision {
  for (let i = 0; i < authz.rules.length; i++) {
    const rule = authz.rules[i] as AuthzRule;
    if (!sourceMatches(rule, peer)) continue;
    if (rule.http !== undefined) {
      if (request === undefined) continue;
      if (!rule.http.some((m) => matchesHttp(m, request))) continue;
    }
    return { allowed: rule.action === 'allow', rule: i, reason: `rule ${i} (${rule.action})` };
  }
  return authz.defaultAction === 'allow' ? DEFAULT_ALLOW : DEFAULT_DENY;
}

// Shared, frozen answers for the default action: no allocation on the common path.
const DEFAULT_ALLOW: AuthzDecision = Object.freeze({
  allowed: true,
  rule: undefined,
  reason: 'default (allow)',
});
const DEFAULT_DENY: AuthzDecision = Object.freeze({
  allowed: false,
  rule: undefined,
  reason: 'default (deny)',
});

function sourceMatches(rule: AuthzRule, peer: PeerIdentity): boolean {
  const { service, namespace, zone } = rule.source;
  return (
    (service === undefined || service === '*' || service === peer.service) &&
    (namespace === undefined || namespace === '*' || namespace === peer.namespace) &&
    (zone === undefined || zone === '*' || zone === peer.zone)
  );
}
