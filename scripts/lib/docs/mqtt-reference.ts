/**
 * docs/mqtt.md's generated sections: the topic table (src/transport/topic-table.ts) and the fields of every JSON
 * payload (the zod schemas of src/transport/messages.ts, which `decodeMessage` validates against).
 */
import type { z } from 'zod';
import {
  eventMessageSchema,
  heartbeatMessageSchema,
  helloMessageSchema,
  jobMessageSchema,
  manifestMessageSchema,
  reportMessageSchema,
  requestMessageSchema,
  statusMessageSchema,
  type TopicPayloads,
} from '../../../src/transport/messages.js';
import { TOPIC_TABLE } from '../../../src/transport/topic-table.js';
import { code, table } from './markdown.js';
import { allowsMoreFields, jsonSchemaOf, schemaFields } from './schema-fields.js';

/** The sources named in the markers of the MQTT sections. */
export const TOPIC_SOURCES = 'src/transport/topic-table.ts';
export const PAYLOAD_SOURCES = 'the zod schemas of src/transport/messages.ts';

/** The default topic prefix (agent.config.json `topicPrefix`). */
const PREFIX = 'edgetune/v1';

/** Payload kind → its schema; `group-jobs` carries the same job as `jobs`. */
const PAYLOAD_SCHEMAS: { [K in Exclude<keyof TopicPayloads, 'group-jobs'>]: z.ZodType } = {
  status: statusMessageSchema,
  hello: helloMessageSchema,
  heartbeat: heartbeatMessageSchema,
  jobs: jobMessageSchema,
  requests: requestMessageSchema,
  events: eventMessageSchema,
  reports: reportMessageSchema,
  manifest: manifestMessageSchema,
};

function payloadLink(payload: keyof TopicPayloads | 'chunk-bytes'): string {
  if (payload === 'chunk-bytes') return 'raw bytes';
  const kind = payload === 'group-jobs' ? 'jobs' : payload;
  return `[${kind}](#payload-${kind})`;
}

/** The topic table: topic, direction, QoS, retained, payload, what it carries. */
export function renderTopicTable(): string {
  return table(
    ['topic', 'direction', 'QoS', 'retained', 'payload', 'what'],
    Object.values(TOPIC_TABLE).map((t) => [code(`${PREFIX}/${t.pattern}`), t.direction, String(t.qos), t.retained ? 'yes' : 'no', payloadLink(t.payload), t.describe]),
  );
}

/** One field table per JSON payload, under `#### payload: KIND` headings (anchors `payload-KIND`). */
export function renderPayloads(): string {
  const parts: string[] = [];
  for (const [kind, schema] of Object.entries(PAYLOAD_SCHEMAS)) {
    const node = jsonSchemaOf(schema);
    const topics = Object.values(TOPIC_TABLE)
      .filter((t) => t.payload === kind || (kind === 'jobs' && t.payload === 'group-jobs'))
      .map((t) => code(t.pattern));
    parts.push(`### payload: ${kind}`);
    parts.push('');
    parts.push(`On ${topics.join(', ')}.${allowsMoreFields(node) ? ' More fields may follow (the schema keeps unknown keys).' : ' No other fields are accepted.'}`);
    parts.push('');
    parts.push(
      table(
        ['field', 'type', 'required'],
        schemaFields(node).map((f) => [code(f.path), f.type, f.required ? 'yes' : 'no']),
      ),
    );
    parts.push('');
  }
  return parts.join('\n').trimEnd();
}
