/**
 * The JSON Schema (draft 2020-12) of a lab file. Descriptions and defaults come from the
 * `Documented` tables in lab-file.ts, so they are written once. The published copy,
 * lab/schema/lab.schema.json, is written from this object by `npx tsx src/lab/publish-schema.ts`
 * and a test fails when the two differ.
 *
 * The schema checks structure only. Rules that span keys (ssh block exactly when transport is
 * ssh, identityFile xor agent, unique names, kernel only on ib, ...) live in lab-file-rules.ts,
 * where their messages can say why.
 */
import {
  CAPTURE_DOCS,
  CAPTURE_METHODS,
  DEPLOY_DOCS,
  FABRIC_DOCS,
  FABRIC_KINDS,
  HCA_DOCS,
  IMPLEMENTATIONS,
  KNOWN_HOSTS_DOCS,
  KNOWN_HOSTS_POLICIES,
  LAB_FILE_DOCS,
  MAX_SSH_CHANNELS,
  NODE_DOCS,
  NODE_ROLES,
  PARTITION_DOCS,
  SSH_DOCS,
  TRANSPORT_KINDS,
  type KeyDoc,
} from './lab-file.js';

export const LAB_SCHEMA_ID = 'https://ipoib-lab.invalid/schema/lab.schema.json';

/** Patterns with the words used when a value does not match them. */
export const NODE_NAME_PATTERN = '^[a-z][a-z0-9-]{0,14}$';
export const IFNAME_PATTERN = '^[A-Za-z0-9_.-]{1,15}$';
export const PKEY_PATTERN = '^0x[0-9a-fA-F]{4}$';
export const GUID_PATTERN = '^0x[0-9a-fA-F]{16}$';
export const DEPLOY_DIR_PATTERN = '^(~|~/.*|/.*)$';
export const PATTERN_WORDS: Readonly<Record<string, string>> = {
  [NODE_NAME_PATTERN]: 'a lowercase letter, then up to 14 lowercase letters, digits or "-"',
  [IFNAME_PATTERN]: 'an interface name of 1 to 15 letters, digits, "_", "." or "-"',
  [PKEY_PATTERN]: '"0x" and four hex digits, e.g. "0x8001"',
  [GUID_PATTERN]: '"0x" and 16 hex digits, e.g. "0x0202c90300000101"',
  [DEPLOY_DIR_PATTERN]: 'an absolute path or one starting with ~/',
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function doc(d: KeyDoc | null, schema: Record<string, Json>): Record<string, Json> {
  if (!d) return schema;
  return { description: d.description, ...(d.default !== undefined ? { default: d.default as Json } : {}), ...schema };
}

const nonEmpty = { type: 'string', minLength: 1 } as const;

const knownHosts = {
  type: 'object',
  additionalProperties: false,
  properties: {
    file: doc(KNOWN_HOSTS_DOCS.file, { ...nonEmpty }),
    policy: doc(KNOWN_HOSTS_DOCS.policy, { enum: [...KNOWN_HOSTS_POLICIES] }),
  },
};

const ssh = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'user'],
  properties: {
    host: doc(SSH_DOCS.host, { ...nonEmpty }),
    port: doc(SSH_DOCS.port, { type: 'integer', minimum: 1, maximum: 65535 }),
    user: doc(SSH_DOCS.user, { ...nonEmpty }),
    identityFile: doc(SSH_DOCS.identityFile, { ...nonEmpty }),
    agent: doc(SSH_DOCS.agent, { type: ['boolean', 'string'] }),
    knownHosts: doc(SSH_DOCS.knownHosts, knownHosts),
    keepaliveIntervalMs: doc(SSH_DOCS.keepaliveIntervalMs, { type: 'integer', minimum: 0 }),
    keepaliveCountMax: doc(SSH_DOCS.keepaliveCountMax, { type: 'integer', minimum: 1 }),
    maxChannels: doc(SSH_DOCS.maxChannels, { type: 'integer', minimum: 1, maximum: MAX_SSH_CHANNELS }),
    connectTimeoutMs: doc(SSH_DOCS.connectTimeoutMs, { type: 'integer', minimum: 100 }),
    reconnectTimeoutMs: doc(SSH_DOCS.reconnectTimeoutMs, { type: 'integer', minimum: 0 }),
  },
};

const hca = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'port'],
  properties: {
    device: doc(HCA_DOCS.device, { ...nonEmpty }),
    port: doc(HCA_DOCS.port, { type: 'integer', minimum: 1, maximum: 254 }),
    gidIndex: doc(HCA_DOCS.gidIndex, { type: 'integer', minimum: 0, maximum: 255 }),
  },
};

const deploy = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dir: doc(DEPLOY_DOCS.dir, { type: 'string', pattern: DEPLOY_DIR_PATTERN }),
  },
};

const node = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role', 'implementation', 'transport', 'interface'],
  properties: {
    name: doc(NODE_DOCS.name, { type: 'string', pattern: NODE_NAME_PATTERN }),
    role: doc(NODE_DOCS.role, { enum: [...NODE_ROLES] }),
    implementation: doc(NODE_DOCS.implementation, { enum: [...IMPLEMENTATIONS] }),
    transport: doc(NODE_DOCS.transport, { enum: [...TRANSPORT_KINDS] }),
    ssh: doc(NODE_DOCS.ssh, ssh),
    netns: doc(NODE_DOCS.netns, { type: 'string', pattern: IFNAME_PATTERN }),
    sudo: doc(NODE_DOCS.sudo, { type: 'boolean' }),
    hca: doc(NODE_DOCS.hca, hca),
    guid: doc(NODE_DOCS.guid, { type: 'string', pattern: GUID_PATTERN }),
    interface: doc(NODE_DOCS.interface, { type: 'string', pattern: IFNAME_PATTERN }),
    addresses: doc(NODE_DOCS.addresses, { type: 'array', items: { type: 'string' } }),
    deploy: doc(NODE_DOCS.deploy, deploy),
  },
};

const partition = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'pkey'],
  properties: {
    name: doc(PARTITION_DOCS.name, { ...nonEmpty }),
    pkey: doc(PARTITION_DOCS.pkey, { type: 'string', pattern: PKEY_PATTERN }),
    ipoib: doc(PARTITION_DOCS.ipoib, { type: 'boolean' }),
  },
};

export const LAB_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: LAB_SCHEMA_ID,
  title: 'ipoib-lab lab file',
  description:
    'A lab for ipoib-lab: the fabric, the nodes and how to reach them, partitions and capture. Never holds a password: SSH uses keys or an agent.',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'fabric', 'nodes', 'partitions'],
  properties: {
    $schema: doc(LAB_FILE_DOCS.$schema, { type: 'string' }),
    name: doc(LAB_FILE_DOCS.name, { ...nonEmpty }),
    description: doc(LAB_FILE_DOCS.description, { type: 'string' }),
    fabric: doc(LAB_FILE_DOCS.fabric, {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      properties: {
        kind: doc(FABRIC_DOCS.kind, { enum: [...FABRIC_KINDS] }),
        partitionsFile: doc(FABRIC_DOCS.partitionsFile, { ...nonEmpty }),
      },
    }),
    nodes: doc(LAB_FILE_DOCS.nodes, { type: 'array', minItems: 1, items: node }),
    partitions: doc(LAB_FILE_DOCS.partitions, { type: 'array', minItems: 1, items: partition }),
    capture: doc(LAB_FILE_DOCS.capture, {
      type: 'object',
      additionalProperties: false,
      properties: { method: doc(CAPTURE_DOCS.method, { enum: [...CAPTURE_METHODS] }) },
    }),
  },
} as const;

/** The published file's text: what lab/schema/lab.schema.json must hold, byte for byte. */
export function labSchemaText(): string {
  return `${JSON.stringify(LAB_SCHEMA, null, 2)}\n`;
}
