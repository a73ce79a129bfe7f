import { FerryError } from "../errors/ferry-error.js";

/**
 * What a certificate lets its holder be in Ferry's mutual TLS: the coordinator (calls movers),
 * a mover (registers with the coordinator) or an operator (calls the operator API). Being
 * signed by the CA is not enough: each gRPC service admits only the roles it names.
 */
export type PeerRole = "coordinator" | "mover" | "operator";

/** Every certificate role, for flags and messages. */
export const PEER_ROLES: readonly PeerRole[] = ["coordinator", "mover", "operator"];

// Certificates carry their role as a subject OU "ferry-<role>". Never change: certificates
// already issued keep it for years. The prefix keeps a corporate CA's own OUs ("operator"
// as a team name) from granting a Ferry role by accident.
const UNIT_PREFIX = "ferry-";

/** True when `value` names a certificate role. */
export function isPeerRole(value: string): value is PeerRole {
  return (PEER_ROLES as readonly string[]).includes(value);
}

/** `value` as a certificate role; INVALID_ARGUMENT naming the choices otherwise. */
export function parsePeerRole(value: string): PeerRole {
  if (isPeerRole(value)) return value;
  throw new FerryError(
    "INVALID_ARGUMENT",
    `certificate role ${JSON.stringify(value)}: use one of ${PEER_ROLES.join(", ")}`,
  );
}

/** The subject OU that carries `role` in a certificate. */
export function roleUnit(role: PeerRole): string {
  return `${UNIT_PREFIX}${role}`;
}

/** The subject fields of a certificate; node gives an array for a field that repeats. */
export type CertificateSubject = Readonly<Record<string, string | readonly string[] | undefined>>;

const values = (v: string | readonly string[] | undefined): readonly string[] =>
  v === undefined ? [] : typeof v === "string" ? [v] : v;

/** The roles a certificate's subject carries: none for one issued without a role. */
export function peerRolesOf(subject: CertificateSubject | undefined): PeerRole[] {
  const roles: PeerRole[] = [];
  for (const unit of values(subject?.OU)) {
    const role = unit.startsWith(UNIT_PREFIX) ? unit.slice(UNIT_PREFIX.length) : "";
    if (isPeerRole(role) && !roles.includes(role)) roles.push(role);
  }
  return roles;
}

/** A subject for messages, "CN=mover-1, OU=ferry-mover": names only, never key material. */
export function describeSubject(subject: CertificateSubject | undefined): string {
  const parts = Object.entries(subject ?? {}).flatMap(([field, v]) =>
    values(v).map((value) => `${field}=${value}`),
  );
  return parts.length > 0 ? parts.join(", ") : "(empty subject)";
}

/**
 * Admits a caller of `service` whose verified certificate carries one of the `allowed` roles;
 * otherwise PERMISSION_DENIED naming the expected and presented roles and the subject.
 * `cert` undefined (no verified client certificate) is refused too: a server that checks roles
 * fails closed.
 */
export function checkPeerRole(
  // node's PeerCertificate; its typings miss the arrays of repeated fields, hence `object`.
  cert: { readonly subject?: object } | undefined,
  allowed: readonly PeerRole[],
  service: string,
): void {
  const expected = allowed.join(" or ");
  if (!cert)
    throw new FerryError(
      "PERMISSION_DENIED",
      `${service} accepts only certificates with role ${expected}; the caller presented no verified certificate`,
    );
  const subject = cert.subject as CertificateSubject | undefined;
  const presented = peerRolesOf(subject);
  if (presented.some((role) => allowed.includes(role))) return;
  const what =
    presented.length > 0
      ? `role ${presented.join(", ")}`
      : "no role (issue it again with ferry pki issue --role)";
  throw new FerryError(
    "PERMISSION_DENIED",
    `${service} accepts only certificates with role ${expected}; ${describeSubject(subject)} has ${what}`,
    { details: { expected: [...allowed], presented } },
  );
}

/**
 * Why a server's verified certificate is not the `expected` role, for a TLS client's
 * `checkServerIdentity` (after the host-name check): an Error naming the role presented and
 * the subject, or undefined when the certificate carries `expected`. Every certificate the CA
 * issues serves both ends of TLS, so without this any of them (an operator's) could pose as
 * the coordinator or a mover.
 */
export function serverRoleMismatch(
  cert: { readonly subject?: object } | undefined,
  expected: PeerRole,
  host: string,
): Error | undefined {
  const subject = cert?.subject as CertificateSubject | undefined;
  const presented = peerRolesOf(subject);
  if (presented.includes(expected)) return undefined;
  const what =
    presented.length > 0
      ? `role ${presented.join(", ")}`
      : "no role (issue it again with ferry pki issue --role)";
  return new FerryError(
    "PERMISSION_DENIED",
    `the server at ${host} is not a Ferry ${expected}: expected a certificate with role ${expected}; ${describeSubject(subject)} has ${what}`,
    { details: { expected: [expected], presented } },
  );
}
