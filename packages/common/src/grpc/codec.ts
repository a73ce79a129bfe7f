import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FerryError } from "../errors/ferry-error.js";

/** Protobuf binary (de)serializers for one message type, as grpc-js wants them. */
export interface MessageCodec<M extends DescMessage> {
  serialize(value: MessageShape<M> | object): Buffer;
  deserialize(bytes: Buffer): MessageShape<M>;
}

/** Makes the codec of `schema`; a malformed payload throws INVALID_ARGUMENT naming the type. */
export function messageCodec<M extends DescMessage>(schema: M): MessageCodec<M> {
  return {
    serialize(value) {
      // Accept init shapes too: `create` fills defaults for plain objects.
      const message =
        (value as { $typeName?: string }).$typeName === schema.typeName
          ? (value as MessageShape<M>)
          : create(schema, value as never);
      return Buffer.from(toBinary(schema, message));
    },
    deserialize(bytes) {
      try {
        return fromBinary(schema, bytes);
      } catch (cause) {
        throw new FerryError("INVALID_ARGUMENT", `malformed ${schema.typeName} message`, {
          cause,
        });
      }
    },
  };
}
