// The CLI's client of the coordinators' API: one address, or several sharing a catalog,
// among which calls follow the leader.
import {
  type ClientHandle,
  type ClientOptions,
  createClient,
  createLeaderDialer,
  followLeader,
  OperatorService,
} from "@ferry/common";

/** A client of `servers` ("host:port" or "host:port,host:port,..."). */
export function operatorClient(
  servers: string,
  options: ClientOptions,
): ClientHandle<typeof OperatorService> {
  const addresses = servers.split(",").filter(Boolean);
  if (addresses.length <= 1) return createClient(OperatorService, servers, options);
  const dialer = createLeaderDialer(addresses, (address) =>
    createClient(OperatorService, address, options),
  );
  const unary = (method: string) =>
    Object.values(OperatorService.method).some(
      (m) => m.localName === method && m.methodKind === "unary",
    );
  return followLeader(dialer, addresses.length, unary);
}
