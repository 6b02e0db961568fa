/**
 * A schema-guided walk over the protobuf wire format of an ONNX ModelProto, for structure-aware byte mutations:
 * where the length prefixes are (to corrupt them) and which bytes are bulk payload (raw_data, packed floats) rather
 * than structure (to aim bit flips at the parser instead of at the weights).
 */

/** One length-delimited field: where its length varint sits and what it covers. */
export interface LengthField {
  /** Message type the field belongs to (for descriptions). */
  owner: string;
  fieldNumber: number;
  /** Byte range of the length varint. */
  varintStart: number;
  varintEnd: number;
  /** The declared length. */
  length: number;
  /** True when the field is a nested message (not bytes/string/packed payload). */
  nested: boolean;
}

/** What the walk found. */
export interface WireMap {
  lengthFields: LengthField[];
  /** [start, end) ranges of bulk payload bytes (tensor raw_data and packed numeric data). */
  payloadRanges: Array<[number, number]>;
}

// Nested message fields per message type (field number → type), after onnx.proto.
const NESTED: Record<string, Record<number, string>> = {
  Model: { 7: 'Graph', 8: 'OpsetId', 14: 'StringEntry' },
  Graph: { 1: 'Node', 5: 'Tensor', 11: 'ValueInfo', 12: 'ValueInfo', 13: 'ValueInfo' },
  Node: { 5: 'Attribute' },
  Attribute: { 5: 'Tensor', 6: 'Graph', 10: 'Tensor', 11: 'Graph' },
  Tensor: { 14: 'StringEntry' },
  ValueInfo: { 2: 'Type' },
  Type: { 1: 'TensorType' },
  TensorType: { 2: 'Shape' },
  Shape: { 1: 'Dimension' },
  Dimension: {},
  OpsetId: {},
  StringEntry: {},
};
// Payload fields: TensorProto float_data 4, int32_data 5, int64_data 7, raw_data 9, double_data 10, uint64_data 11.
const PAYLOAD: Record<string, ReadonlySet<number>> = { Tensor: new Set([4, 5, 7, 9, 10, 11]) };

function readVarint(buf: Uint8Array, pos: number, end: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) return null;
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return { value, next: pos };
  }
  return null;
}

function walk(buf: Uint8Array, start: number, end: number, type: string, out: WireMap, depth: number): void {
  let pos = start;
  while (pos < end) {
    const key = readVarint(buf, pos, end);
    if (!key) return;
    pos = key.next;
    const fieldNumber = Math.floor(key.value / 8);
    const wireType = key.value % 8;
    if (wireType === 0) {
      const v = readVarint(buf, pos, end);
      if (!v) return;
      pos = v.next;
    } else if (wireType === 1) {
      pos += 8;
    } else if (wireType === 5) {
      pos += 4;
    } else if (wireType === 2) {
      const len = readVarint(buf, pos, end);
      if (!len) return;
      const dataStart = len.next;
      const dataEnd = dataStart + len.value;
      if (dataEnd > end) return;
      const child = NESTED[type]?.[fieldNumber];
      out.lengthFields.push({ owner: type, fieldNumber, varintStart: pos, varintEnd: len.next, length: len.value, nested: child !== undefined });
      if (child && depth < 12) walk(buf, dataStart, dataEnd, child, out, depth + 1);
      else if (PAYLOAD[type]?.has(fieldNumber)) out.payloadRanges.push([dataStart, dataEnd]);
      pos = dataEnd;
    } else {
      return;
    }
  }
}

/** Map the length fields and payload ranges of serialized ModelProto bytes. */
export function mapModelWire(bytes: Uint8Array): WireMap {
  const out: WireMap = { lengthFields: [], payloadRanges: [] };
  walk(bytes, 0, bytes.length, 'Model', out, 0);
  out.payloadRanges.sort((a, b) => a[0] - b[0]);
  return out;
}

/** Encode a non-negative integer as a protobuf varint (up to 2^63). */
export function encodeVarint(value: number | bigint): Uint8Array {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/** Byte offsets that are structure, not payload: the complement of the payload ranges. */
export function structuralRanges(length: number, payload: ReadonlyArray<[number, number]>): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let at = 0;
  for (const [s, e] of payload) {
    if (s > at) ranges.push([at, s]);
    at = Math.max(at, e);
  }
  if (at < length) ranges.push([at, length]);
  return ranges;
}
