import { describe, expect, it } from "vitest";
import { JsonStreamDecoder, type JsonStreamItem } from "./json-stream-decoder.js";

function feedBytewise(decoder: JsonStreamDecoder, bytes: Uint8Array): JsonStreamItem[] {
  const out: JsonStreamItem[] = [];
  for (const b of bytes) out.push(...decoder.push(Uint8Array.of(b)));
  return out;
}

describe("JsonStreamDecoder", () => {
  const text =
    '{"QMP":{"version":{}}}\r\n{"return":{},"id":"ferry-1"}\r\n{"event":"STOP","data":{"ü":1}}\n';

  it("decodes the same objects fed whole or a byte at a time", () => {
    const whole = new JsonStreamDecoder({ peer: "QMP", maxMessageBytes: 1024 }).push(
      Buffer.from(text),
    );
    const bytewise = feedBytewise(
      new JsonStreamDecoder({ peer: "QMP", maxMessageBytes: 1024 }),
      Buffer.from(text),
    );
    expect(whole).toHaveLength(3);
    expect(bytewise).toEqual(whole);
    expect(whole[2]).toEqual({ t: "message", value: { event: "STOP", data: { ü: 1 } } });
  });

  it("reports the guest agent's 0xFF delimiter and drops the partial line before it", () => {
    const d = new JsonStreamDecoder({ peer: "agent", maxMessageBytes: 1024 });
    const items = feedBytewise(
      d,
      Buffer.concat([
        Buffer.from('{"return":'),
        Buffer.from([0xff]),
        Buffer.from('{"return":42}\n'),
      ]),
    );
    expect(items).toEqual([{ t: "delimiter" }, { t: "message", value: { return: 42 } }]);
  });

  it("fails on invalid JSON and non-objects, naming the peer", () => {
    expect(() =>
      new JsonStreamDecoder({ peer: "QMP", maxMessageBytes: 1024 }).push(Buffer.from("{nope}\n")),
    ).toThrow(/QMP sent invalid JSON/);
    expect(() =>
      new JsonStreamDecoder({ peer: "QMP", maxMessageBytes: 1024 }).push(Buffer.from("[1]\n")),
    ).toThrow(/not a JSON object/);
  });

  it("fails before buffering a line longer than the limit", () => {
    const d = new JsonStreamDecoder({ peer: "QMP", maxMessageBytes: 16 });
    expect(() => feedBytewise(d, Buffer.from(`{"a":"${"x".repeat(40)}"}\n`))).toThrow(
      /longer than 16 bytes/,
    );
  });
});
