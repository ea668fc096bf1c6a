/**
 * What a lab file says: the types of a validated lab file and a `Documented<T>` table per
 * object, so every key has one description (the JSON Schema in lab-schema.ts takes its
 * descriptions from here, and `describeLabFile()` prints them for docs).
 *
 * A lab file names the fabric (sim, rxe or ib), the nodes and how to reach them, the
 * partitions the suites may use and how frames are captured. It never holds a password.
 */

export type FabricKind = 'sim' | 'rxe' | 'ib';
export type NodeRole = 'dut' | 'peer';
export type Implementation = 'reference' | 'kernel';
export type TransportKind = 'local' | 'ssh';
/** OpenSSH's StrictHostKeyChecking values we allow; "no"/"ignore" is deliberately absent. */
export type KnownHostsPolicy = 'strict' | 'accept-new';
export type CaptureMethod = 'fabric-tap' | 'ibdump' | 'rdma-sniffer' | 'tcpdump' | 'none';

export const FABRIC_KINDS: readonly FabricKind[] = ['sim', 'rxe', 'ib'];
export const NODE_ROLES: readonly NodeRole[] = ['dut', 'peer'];
export const IMPLEMENTATIONS: readonly Implementation[] = ['reference', 'kernel'];
export const TRANSPORT_KINDS: readonly TransportKind[] = ['local', 'ssh'];
export const KNOWN_HOSTS_POLICIES: readonly KnownHostsPolicy[] = ['strict', 'accept-new'];
export const CAPTURE_METHODS: readonly CaptureMethod[] = ['fabric-tap', 'ibdump', 'rdma-sniffer', 'tcpdump', 'none'];

/** Highest channel bound we allow: one below OpenSSH's default MaxSessions (10), so a spare remains. */
export const MAX_SSH_CHANNELS = 9;

export interface LabFile {
  /** Editors use it to find the schema; ignored otherwise. */
  $schema?: string;
  name: string;
  description?: string;
  fabric: FabricSettings;
  nodes: LabNode[];
  partitions: LabPartition[];
  capture: CaptureSettings;
}

export interface FabricSettings {
  kind: FabricKind;
  /** OpenSM-syntax partitions file (absolute after loading). */
  partitionsFile?: string;
}

export interface LabNode {
  name: string;
  role: NodeRole;
  implementation: Implementation;
  transport: TransportKind;
  /** Present exactly when transport is "ssh". */
  ssh?: SshSettings;
  /** Network namespace to run commands in (local transport only). */
  netns?: string;
  sudo: boolean;
  hca?: HcaPort;
  /** Sim labs only: the port GUID, `0x` and 16 hex digits, instead of the one the fabric gives by node order. */
  guid?: string;
  interface: string;
  addresses: string[];
  /** Where `ipoib-lab deploy` installs the reference stack (ssh nodes). */
  deploy?: DeploySettings;
}

export interface DeploySettings {
  /** Deploy directory on the node: absolute, or under `~` (the node user's home, resolved there). */
  dir: string;
}

export interface SshSettings {
  host: string;
  port: number;
  user: string;
  /** Private key file (absolute after loading). Exactly one of identityFile and agent. */
  identityFile?: string;
  /** true: the agent at $SSH_AUTH_SOCK; a string: that agent socket. */
  agent?: boolean | string;
  knownHosts: KnownHostsSettings;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  maxChannels: number;
  connectTimeoutMs: number;
  reconnectTimeoutMs: number;
}

export interface KnownHostsSettings {
  /** known_hosts file (absolute after loading). */
  file: string;
  policy: KnownHostsPolicy;
}

export interface HcaPort {
  device: string;
  port: number;
  gidIndex: number;
}

export interface LabPartition {
  name: string;
  /** `0x` and four hex digits, e.g. "0x8001"; the membership bit included. */
  pkey: string;
  ipoib: boolean;
}

export interface CaptureSettings {
  method: CaptureMethod;
}

/** One documentation entry per key; `null` would mark a key deliberately left undocumented (none is). */
export interface KeyDoc {
  description: string;
  example?: string;
  /** The value a missing key takes (also the schema's `default`). */
  default?: unknown;
}

/** Forces a documentation entry for every key of T (see STYLE §6). */
export type Documented<T> = { [K in keyof T]-?: KeyDoc | null };

export const LAB_FILE_DOCS: Documented<LabFile> = {
  $schema: { description: 'Path or URL of lab.schema.json, for editors that validate as you type; ignored by ipoib-lab.', example: '"./schema/lab.schema.json"' },
  name: { description: 'Short name of the lab, shown in reports.', example: '"sim"' },
  description: { description: 'What this lab is, for people reading the file.' },
  fabric: { description: 'The InfiniBand fabric the nodes share.' },
  nodes: { description: 'The machines (or namespaces) of the lab: at least one device under test.' },
  partitions: { description: 'The partitions (P_Keys) the suites may use; the fabric must provide them.' },
  capture: { description: 'How frames on the fabric are captured for evidence.', default: { method: 'none' } },
};

export const FABRIC_DOCS: Documented<FabricSettings> = {
  kind: {
    description:
      'sim: the simulated subnet of this project (nodes are local namespaces); rxe: Soft-RoCE hosts (no SM/SA, one P_Key); ib: real HCAs and a subnet manager (needed for kernel ib_ipoib).',
    example: '"sim"',
  },
  partitionsFile: {
    description: 'OpenSM-syntax partitions file, relative to the lab file: the simulated SM loads it; on ib it documents what OpenSM was given.',
    example: '"partitions/default.conf"',
  },
};

export const NODE_DOCS: Documented<LabNode> = {
  name: { description: 'Node name, unique in the lab: lowercase letter first, then lowercase letters, digits, "-"; at most 15 characters (it may name a network namespace).', example: '"dut"' },
  role: { description: 'dut: the device under test; peer: the node that probes it.', example: '"dut"' },
  implementation: { description: 'Which IPoIB the node runs: reference (this project\'s ipoibd) or kernel (Linux ib_ipoib; needs fabric kind ib).', example: '"reference"' },
  transport: { description: 'How commands reach the node: local (this machine, optionally in a network namespace) or ssh.', example: '"ssh"' },
  ssh: { description: 'SSH endpoint; required when transport is ssh, not allowed otherwise.' },
  netns: { description: 'Network namespace to run the node\'s commands in (local transport only).', example: '"ipoib-dut"' },
  sudo: { description: 'Run commands through "sudo -n" when not already root (never prompts: configure NOPASSWD for the lab user).', default: false },
  hca: { description: 'The HCA port the node uses; required on rxe and ib fabrics.' },
  guid: {
    description:
      'Sim labs only: the port GUID of the node\'s simulated port, "0x" and 16 hex digits, instead of the fabric\'s default by node order (0x0002c9030000NN01 for node NN, counted in hex from 01). Lets a lab give a port a GUID already in modified EUI-64 form (0x02 of the first octet set), as an SR-IOV VF can have.',
    example: '"0x0202c90300000101"',
  },
  interface: { description: 'The IPoIB interface name on the node (at most 15 characters).', example: '"ib0"' },
  addresses: { description: 'IPv4/IPv6 addresses with prefix length to give the interface.', example: '["192.0.2.1/24", "fd00:1b::1/64"]', default: [] },
  deploy: { description: 'How `ipoib-lab deploy` installs the reference stack on this node (ssh nodes with implementation reference; a local node runs this tree).' },
};

export const DEPLOY_DOCS: Documented<DeploySettings> = {
  dir: {
    description: 'Deploy directory on the node: absolute, or starting with ~/ for the home of the user commands run as there (root with sudo). Releases go to <dir>/releases, the daemons\' pid and log files to <dir>/run.',
    default: '~/.ipoib-lab',
    example: '"/opt/ipoib-lab"',
  },
};

export const SSH_DOCS: Documented<SshSettings> = {
  host: { description: 'Host name or address of the node.', example: '"rack1-a.lab.example"' },
  port: { description: 'TCP port of sshd.', default: 22 },
  user: { description: 'Login user; with sudo true it needs passwordless sudo.', example: '"ipoib"' },
  identityFile: { description: 'Private key file (~ and paths relative to the lab file allowed). Give this or agent, not both. Passwords are never accepted.', example: '"~/.ssh/id_ed25519"' },
  agent: { description: 'Authenticate through an SSH agent: true for $SSH_AUTH_SOCK, or the agent socket path. Give this or identityFile, not both.', example: 'true' },
  knownHosts: { description: 'Where the node\'s host key is checked.', default: { file: '~/.ssh/known_hosts', policy: 'strict' } },
  keepaliveIntervalMs: { description: 'Interval of SSH keepalive messages; 0 turns them off.', default: 15_000 },
  keepaliveCountMax: { description: 'Unanswered keepalives before the connection counts as dead.', default: 3 },
  maxChannels: { description: `Most channels (commands, transfers, background processes) open at once on this node, 1..${MAX_SSH_CHANNELS}; more wait in a queue. Stays below OpenSSH's MaxSessions (10).`, default: 6 },
  connectTimeoutMs: { description: 'Time allowed for one connection attempt (TCP, key exchange, authentication).', default: 10_000 },
  reconnectTimeoutMs: { description: 'How long to keep retrying when the connection dropped (a node reboot or sshd restart).', default: 120_000 },
};

export const KNOWN_HOSTS_DOCS: Documented<KnownHostsSettings> = {
  file: { description: 'OpenSSH known_hosts file (plain and hashed lines); a per-lab pinned file is best.', default: '~/.ssh/known_hosts', example: '"known_hosts"' },
  policy: { description: 'strict: the key must already be listed; accept-new: an unlisted host is added on first contact. A changed key is always refused; there is no "ignore".', default: 'strict' },
};

export const HCA_DOCS: Documented<HcaPort> = {
  device: { description: 'RDMA device name as `rdma link` shows it.', example: '"mlx5_0"' },
  port: { description: 'Port number on the device (from 1).', example: '1' },
  gidIndex: { description: 'GID table index to use.', default: 0 },
};

export const PARTITION_DOCS: Documented<LabPartition> = {
  name: { description: 'Partition name (as in partitions.conf), unique in the lab.', example: '"default"' },
  pkey: { description: 'P_Key as "0x" and four hex digits, membership bit included; 0x0000 and 0x8000 are invalid P_Keys.', example: '"0xffff"' },
  ipoib: { description: 'Whether IPoIB runs in this partition (its broadcast group exists).', default: true },
};

export const CAPTURE_DOCS: Documented<CaptureSettings> = {
  method: { description: 'fabric-tap (sim only), ibdump or rdma-sniffer (HCA sniffers), tcpdump (on the node\'s interface), or none.', default: 'none' },
};

/** Every table, keyed by the path prefix its keys appear under in a lab file. */
export const LAB_FILE_DOC_TABLES: readonly { prefix: string; docs: Record<string, KeyDoc | null> }[] = [
  { prefix: '', docs: LAB_FILE_DOCS },
  { prefix: 'fabric.', docs: FABRIC_DOCS },
  { prefix: 'nodes[].', docs: NODE_DOCS },
  { prefix: 'nodes[].ssh.', docs: SSH_DOCS },
  { prefix: 'nodes[].ssh.knownHosts.', docs: KNOWN_HOSTS_DOCS },
  { prefix: 'nodes[].hca.', docs: HCA_DOCS },
  { prefix: 'nodes[].deploy.', docs: DEPLOY_DOCS },
  { prefix: 'partitions[].', docs: PARTITION_DOCS },
  { prefix: 'capture.', docs: CAPTURE_DOCS },
];

/** Every key of a lab file, one per line: path, default, description, example. For docs and `--help`. */
export function describeLabFile(): string {
  const lines: string[] = [];
  for (const { prefix, docs } of LAB_FILE_DOC_TABLES) {
    for (const [key, doc] of Object.entries(docs)) {
      if (!doc) continue;
      const extras = [
        doc.default !== undefined ? `default ${JSON.stringify(doc.default)}` : null,
        doc.example !== undefined ? `e.g. ${doc.example}` : null,
      ].filter((x): x is string => x !== null);
      lines.push(`${prefix}${key}: ${doc.description}${extras.length ? ` (${extras.join('; ')})` : ''}`);
    }
  }
  return lines.join('\n');
}
