// Every default of the swarm subsystem, in one typed object: what `colony swarm … --help` prints and what the code
// falls back to when an option is not given. Sizes are in bytes, rates in bytes per second, durations in
// milliseconds unless a name says otherwise. Tuning constants that are not options stay beside the code they tune.

const MiB = 1024 * 1024

type Value = number | string | boolean | readonly string[]
type Section = Readonly<Record<string, Value | Readonly<Record<string, Value>>>>

export const SWARM_DEFAULTS = deepFreeze({
  /** The agent (startAgent, `colony swarm agent`). */
  agent: {
    /** Objects, torrents and download records (--data). */
    dataDir: '.colony/swarm',
    /** Address the REST API binds (--api's host). */
    apiHost: '127.0.0.1',
    /** REST API port of startAgent: 0 picks a free one. */
    apiPort: 0,
    /** REST API port of `colony swarm agent` (--api), where the client looks for it. */
    cliApiPort: 7480,
    /** BitTorrent engine (--engine). */
    engine: 'native',
    /** BitTorrent TCP port of startAgent: 0 picks a free one. */
    listenPort: 0,
    /** BitTorrent TCP port of `colony swarm agent` (--listen). */
    cliListenPort: 6881,
    /** Upload cap for all torrents, 0 = none (--upload-limit). */
    uploadLimit: 0,
    /** Download cap, peers and origin, 0 = none (--download-limit). */
    downloadLimit: 0,
    /** Objects larger than this are fetched and published in segments of this size, per engine (--segment-size). */
    segmentSize: { native: 16 * MiB, aria2: 32 * MiB },
    /**
     * Segments after the first hold at least this many seconds of the leader's origin fetch, at the rate the first
     * came in (never less than the segment size): a fast origin gets few segments (--segment-time).
     */
    segmentSeconds: 2,
    /** Halvings of the last segment's worth of a segmented object, per engine (see segmentLayout). */
    segmentTaper: { native: 0, aria2: 2 },
    /** How long a finished object keeps seeding (--seed-time). */
    seedTimeMs: 3_600_000,
    /** Stop seeding earlier once uploaded ≥ ratio × size; 0 = time only (--seed-ratio). */
    seedRatio: 0,
    /** Resume the downloads recorded in the data directory at start. */
    resume: true,
    /** A segment with no verified byte for this long while others are missing is re-added (finds its seeders again). */
    partStallMs: 6000,
    /**
     * Host registered in the index with the BitTorrent port, where other agents dial this one when no tracker
     * answers (--advertise-host); '' = --peer-host when it names one interface, else the first non-loopback IPv4
     * address, else 127.0.0.1.
     */
    advertiseHost: '',
  },
  /** A follower that no peer serves: back to the origin for what it is missing (agent/back-to-source.ts). */
  backToSource: {
    /** Fetch the missing pieces from the origin at the deadline; false fails the download with SWARM_STALLED (--back-to-source). */
    enabled: true,
    /** A follower with no new byte for this long goes back to the origin (--stall-timeout). */
    stallMs: 15_000,
    /** A follower still not complete this long after it started goes back to the origin, progress or not (--swarm-deadline). */
    deadlineMs: 1_800_000,
    /** Back-to-source fetches one agent runs at once; more wait for a slot (--back-to-source-max). */
    maxConcurrent: 2,
  },
  /** The leader's fetch from the origin. */
  origin: {
    /** Consecutive failed attempts (no byte gained) before the leader gives up. */
    retries: 5,
    /** Full-jitter backoff base between attempts. */
    backoffBaseMs: 200,
    /** Longest backoff between attempts. */
    backoffMaxMs: 10_000,
    /** Redirects followed (each hop checked against the allow list). */
    maxRedirects: 5,
    /** An origin request with no header or body byte for this long fails (and is retried as any failed attempt). */
    idleTimeoutMs: 300_000,
  },
  /** Per-client limits of the agent's REST API. */
  api: {
    /** Downloads one client address may have running that it started; 0 = no limit (--api-max-active). */
    maxActivePerClient: 32,
    /** Download starts per second per client address, on average; 0 = no limit (--api-start-rate). */
    startRate: 5,
    /** Download starts one client address may make at once (--api-start-burst). */
    startBurst: 20,
    /** Largest POST body read. */
    maxBodyBytes: 64 * 1024,
  },
  /** The agent's REST client (`colony swarm get|status`, the library's request/wait helpers). */
  client: {
    /** Agent API base URL (--agent). */
    agentUrl: 'http://127.0.0.1:7480',
    /** Between two polls of waitForDownload. */
    pollIntervalMs: 250,
    /** Between two polls of `colony swarm get` (its progress bar). */
    cliPollIntervalMs: 300,
  },
  /** What one remote peer may hold (native engine; startAgent's peerLimits, --peer-* flags). */
  peerLimits: {
    /** A peer connection of no use (neither side interested, nothing queued or in flight) is closed after this. */
    idleMs: 20_000,
    /** Peer connections per torrent; a new one takes the slot of a peer idle for a while, if any. */
    maxPeersPerTorrent: 64,
    /** Open incoming connections from one IP address, in any state, all torrents together. */
    maxPerIp: 32,
    /** Addresses the per-IP cap does not count: a fleet of agents on one host shares loopback. */
    perIpExempt: ['127.0.0.1', '::1'],
    /** Encrypted (MSE/PE) handshakes accepted per second, all peers together; 0 refuses them all. */
    encryptedPerSecond: 20,
    /** Time a connection has to complete its BitTorrent handshake. */
    handshakeTimeoutMs: 10_000,
  },
  /** Incoming connections that name a torrent this agent has not added yet, or one with every peer slot taken (native engine). */
  parked: {
    /** How long such a connection waits for its torrent to take it. */
    waitMs: 3000,
    /** Connections waiting at most, in all (each holds a socket). */
    max: 256,
    /** Connections waiting for one torrent at most. */
    maxPerTorrent: 64,
  },
  /** Piece buffers the native engine keeps for reuse. */
  pieceBuffers: {
    /** Free buffers kept at most; beyond that a released buffer is left to the garbage collector. */
    maxFreeBytes: 16 * MiB,
    /**
     * Bytes of pieces being assembled at once, all of an agent's torrents together (a follower that joins an
     * object late fetches all its segments at once): what a download touches as fresh memory stays this small.
     */
    inFlightBytes: 16 * MiB,
  },
  /** The etcd index store (createEtcdIndex, --etcd-*). */
  etcd: {
    /** Key prefix shared by all agents of one fleet (--etcd-prefix). */
    prefix: 'colony/swarm/',
    /** Election lease TTL, seconds: how long a dead leader blocks its key (--lease-ttl). */
    leaseTtlSeconds: 5,
    /** Per-call gRPC deadline. */
    timeoutMs: 5000,
  },
  /** The native engine's announces to trackers (announce-client.ts). */
  announce: {
    /** Shortest re-announce interval accepted from a tracker. */
    minIntervalMs: 5_000,
    /** Longest re-announce interval accepted from a tracker. */
    maxIntervalMs: 3_600_000,
    /** Interval used until a tracker names one. */
    defaultIntervalMs: 120_000,
    /** Deadline of one announce, HTTP or UDP (connect, retransmissions and answer). */
    timeoutMs: 10_000,
    /** Deadline of the best-effort "stopped" announce. */
    stopTimeoutMs: 2_000,
    /** First UDP retransmission after this long; doubles up to the deadline. */
    udpRetransmitMs: 1_000,
    /** Largest HTTP announce answer read; a longer one is dropped with a warning. */
    maxResponseBytes: 1 * MiB,
    /** Peers asked for per announce. */
    numwant: 50,
    /** Peers taken from one answer at most: a tracker cannot make the engine dial thousands of addresses. */
    maxPeersPerAnswer: 200,
  },
  /** The tracker (startTracker, `colony swarm tracker`). */
  tracker: {
    /** Address the HTTP and UDP trackers bind (--host). */
    host: '127.0.0.1',
    /** HTTP port of startTracker: 0 picks a free one. */
    port: 0,
    /** HTTP port of `colony swarm tracker` (--port). */
    cliPort: 6969,
    /** Re-announce interval told to clients: a datacenter swarm lives minutes, not days (--interval). */
    intervalMs: 30_000,
  },
} as const satisfies Readonly<Record<string, Section>>)

/** Freezes `o` and everything inside it, so no caller can change a default for every other one. */
function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v as object)
  return Object.freeze(o)
}
