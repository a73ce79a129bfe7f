// Checks at the operator API's edge, before a handler runs: text no field may carry, and the
// paths it hands to movers. A bad request is refused with INVALID_ARGUMENT naming
// the field, never passed on to fail deep inside as INTERNAL.
import { resolve } from "node:path";
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import { FerryError, type HandlerContext, isS3Location, type ServiceImpl } from "@ferry/common";

/** Longest string any request field may hold, in characters (Linux PATH_MAX). */
export const MAX_FIELD_CHARS = 4096;
/** Longest component of a path, in UTF-8 bytes (Linux NAME_MAX). */
const MAX_NAME_BYTES = 255;

type AnyHandler = (req: unknown, ctx: HandlerContext) => unknown;

function invalid(field: string, message: string): never {
  throw new FerryError("INVALID_ARGUMENT", `${field} ${message}`, { details: { field } });
}

function checkText(field: string, value: string): void {
  if (value.length > MAX_FIELD_CHARS)
    invalid(field, `is ${value.length} characters long; at most ${MAX_FIELD_CHARS} are allowed`);
  if (value.includes("\0")) invalid(field, "must not contain a NUL character");
}

// Walks by descriptor, so a field added to the proto is covered without a change here.
function checkMessage(schema: DescMessage, message: Record<string, unknown>, prefix: string): void {
  for (const field of schema.fields) {
    const name = `${prefix}${field.localName}`;
    let value: unknown = message[field.localName];
    if (field.oneof) {
      const chosen = message[field.oneof.localName] as { case?: string; value?: unknown };
      value = chosen?.case === field.localName ? chosen.value : undefined;
    }
    if (value === undefined) continue;
    switch (field.fieldKind) {
      case "scalar":
        if (typeof value === "string") checkText(name, value);
        break;
      case "enum":
        break;
      case "message":
        checkMessage(field.message, value as Record<string, unknown>, `${name}.`);
        break;
      case "list":
        (value as unknown[]).forEach((item, i) => {
          if (typeof item === "string") checkText(`${name}[${i}]`, item);
          else if (field.listKind === "message")
            checkMessage(field.message, item as Record<string, unknown>, `${name}[${i}].`);
        });
        break;
      case "map":
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          checkText(`${name} key`, key);
          if (typeof item === "string") checkText(`${name}[${key}]`, item);
          else if (field.mapKind === "message")
            checkMessage(field.message, item as Record<string, unknown>, `${name}[${key}].`);
        }
        break;
    }
  }
}

/**
 * Refuses a request any of whose strings, at any depth, is longer than
 * {@link MAX_FIELD_CHARS} or contains NUL: no operator input needs either, and both break
 * file systems and logs far from where they came in.
 */
export function checkRequestText(schema: DescMessage, message: object): void {
  checkMessage(schema, message as Record<string, unknown>, "");
}

/**
 * Wraps every handler of `service` with {@link checkRequestText}. Streaming handlers are
 * checked before their first message.
 */
export function withRequestChecks<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
): ServiceImpl<S> {
  const checked: Record<string, AnyHandler> = {};
  for (const method of service.methods) {
    const handler = (impl as unknown as Record<string, AnyHandler>)[method.localName];
    if (!handler) continue;
    checked[method.localName] =
      method.methodKind === "server_streaming"
        ? async function* (req: unknown, ctx: HandlerContext) {
            checkRequestText(method.input, req as object);
            yield* handler(req, ctx) as AsyncIterable<unknown>;
          }
        : (req: unknown, ctx: HandlerContext) => {
            checkRequestText(method.input, req as object);
            return handler(req, ctx);
          };
  }
  return checked as unknown as ServiceImpl<S>;
}

/**
 * A path the coordinator or a mover opens, normalized: it must be absolute, and no
 * component may be longer than the file system allows. `field` names it in the error.
 */
export function absolutePath(field: string, value: string): string {
  checkText(field, value);
  if (!value.startsWith("/")) invalid(field, `"${value}" must be an absolute path`);
  for (const name of value.split("/"))
    if (Buffer.byteLength(name) > MAX_NAME_BYTES)
      invalid(
        field,
        `has a component of ${Buffer.byteLength(name)} bytes; at most ${MAX_NAME_BYTES}`,
      );
  return resolve(value);
}

/**
 * A repository a request names: an absolute path (normalized), or an S3 repository
 * (`s3://bucket/prefix?…`, checked by the mover that opens it).
 */
export function repositoryLocation(field: string, value: string): string {
  if (!isS3Location(value)) return absolutePath(field, value);
  checkText(field, value);
  return value;
}
