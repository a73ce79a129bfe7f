import { FerryError, type HandlerContext, OperatorService, type ServiceImpl } from "@ferry/common";
import { METHOD_ROLE, roleAllows } from "./roles.js";
import type { Caller } from "./tokens.js";

type AnyHandler = (req: unknown, ctx: HandlerContext) => unknown;

/**
 * Wraps every operator API handler with authentication and authorization: the caller's token
 * must be known (UNAUTHENTICATED) and its role must reach the method's (PERMISSION_DENIED).
 * Streaming handlers are checked before their first message.
 */
export function guardOperatorService(
  impl: ServiceImpl<typeof OperatorService>,
  identify: (authorization: string | undefined) => Caller,
): ServiceImpl<typeof OperatorService> {
  const guarded: Record<string, AnyHandler> = {};
  for (const [method, handler] of Object.entries(impl as unknown as Record<string, AnyHandler>)) {
    const need = METHOD_ROLE[method as keyof typeof METHOD_ROLE];
    const check = (ctx: HandlerContext) => {
      const caller = identify(ctx.metadata.authorization);
      if (!roleAllows(caller.role, need))
        throw new FerryError(
          "PERMISSION_DENIED",
          `${caller.name} (${caller.role}) may not call ${method}: it needs ${need}`,
        );
    };
    guarded[method] =
      OperatorService.method[method as keyof typeof METHOD_ROLE].methodKind === "server_streaming"
        ? async function* (req: unknown, ctx: HandlerContext) {
            check(ctx);
            yield* handler(req, ctx) as AsyncIterable<unknown>;
          }
        : (req: unknown, ctx: HandlerContext) => {
            check(ctx);
            return handler(req, ctx);
          };
  }
  return guarded as unknown as ServiceImpl<typeof OperatorService>;
}
