/** What a worker and the primary say to each other over the cluster IPC channel. */
export type WorkerMessage =
  | { type: 'livechannel:listening'; httpPort: number; rtmpPort: number; rtmpsPort?: number; httpsPort?: number; srtPort?: number }
  | { type: 'livechannel:metrics-request'; id: number }
  /** The worker could not start (a port it cannot bind): the whole serve stops. */
  | { type: 'livechannel:start-failed'; message: string };

export type PrimaryMessage = { type: 'livechannel:metrics'; id: number; text?: string; contentType?: string; error?: string };

/** The environment variable that tells a forked worker its index (1-based). */
export const WORKER_INDEX_ENV = 'LIVECHANNEL_WORKER_INDEX';
