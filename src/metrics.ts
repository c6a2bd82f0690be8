import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds: from a fast local write to a storage or hook call near its timeout. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The gateway's Prometheus metrics; one registry per app instance. */
export class Metrics {
  readonly registry = new Registry();
  readonly segmentsWritten = new Counter({ name: 'livechannel_segments_written_total', help: 'Segments stored', registers: [this.registry] });
  readonly segmentsDropped = new Counter({
    name: 'livechannel_segments_dropped_total',
    help: 'Segments never stored, by reason (queue_full: storage slower than the stream; storage_error: refused by storage; shutdown)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly storageRetries = new Counter({ name: 'livechannel_storage_retries_total', help: 'Storage writes retried', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly storageLatency = new Histogram({
    name: 'livechannel_storage_write_seconds',
    help: 'Storage write latency, per attempt',
    labelNames: ['kind', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly publishLatency = new Histogram({
    name: 'livechannel_segment_publish_seconds',
    help: 'From the keyframe that closes a segment to the playlist naming it being stored',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly snapshots = new Counter({
    name: 'livechannel_snapshots_total',
    help: 'Snapshot keyframes by outcome (stored; skipped_busy: every decoder or the channel was still busy; decode_failed; store_failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly snapshotDecodeSeconds = new Histogram({
    name: 'livechannel_snapshot_decode_seconds',
    help: 'Keyframe to JPEG: waiting for a decoder (bounded queue), then decoding in ffmpeg',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly snapshotDecoders = new Gauge({ name: 'livechannel_snapshot_decoders', help: 'ffmpeg snapshot decoders running', registers: [this.registry] });
  readonly uploadQueueBytes = new Gauge({ name: 'livechannel_upload_queue_bytes', help: 'Segment bytes waiting for storage, all channels', registers: [this.registry] });
  readonly eventLoopUtilization = new Gauge({
    name: 'livechannel_event_loop_utilization',
    help: "Share of the last second the event loop was busy (0-1); new publishers are refused past limits.overloadEventLoopUtilization",
    // with worker processes /metrics answers their mean, not their sum
    aggregator: 'average',
    registers: [this.registry],
  });
  readonly publishHookSeconds = new Histogram({
    name: 'livechannel_publish_hook_seconds',
    help: 'Publish-auth hook calls by outcome (allowed, denied, error_allowed, error_denied)',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly eventsQueued = new Counter({
    name: 'livechannel_events_queued_total',
    help: 'Event notifications written to the outbox (one per target), by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly eventsDelivered = new Counter({ name: 'livechannel_events_delivered_total', help: 'Event notifications a target accepted (2xx)', registers: [this.registry] });
  readonly eventsRetried = new Counter({ name: 'livechannel_events_retried_total', help: 'Event deliveries that failed and will be retried', registers: [this.registry] });
  readonly eventsDead = new Counter({
    name: 'livechannel_events_dead_total',
    help: 'Event notifications given up after events.retryForMs (kept in the outbox, marked dead)',
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'livechannel_events_dropped_total',
    help: 'Event notifications deleted undelivered to keep the outbox within events.maxOutboxRows, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly eventDeliverySeconds = new Histogram({
    name: 'livechannel_event_delivery_seconds',
    help: 'From an event entering the outbox to its target accepting it',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  });
  readonly outboxPending = new Gauge({
    name: 'livechannel_outbox_pending',
    help: 'Event notifications waiting for delivery (as last seen by the node that sends them)',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly uploadCallbacks = new Counter({
    name: 'livechannel_upload_callbacks_total',
    help: 'PutObject upload callbacks by outcome (ok, failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly publishAdmissions = new Counter({
    name: 'livechannel_publish_admissions_total',
    help: 'Publishes passed by the load guard, by outcome (at_once; waited: held until there was room; refused_full: no room while those live stay; refused_waited: still no room when the wait ran out; left: the publisher left while waiting)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly publishAdmissionWait = new Histogram({
    name: 'livechannel_publish_admission_wait_seconds',
    help: 'How long a publish waited for room before it was admitted or refused',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
    registers: [this.registry],
  });
  readonly publishAdmissionWaiting = new Gauge({
    name: 'livechannel_publish_admission_waiting',
    help: 'Publishes waiting for room now',
    registers: [this.registry],
  });
  readonly srtConnections = new Gauge({
    name: 'livechannel_srt_connections',
    help: 'SRT publishers connected now',
    registers: [this.registry],
  });
  readonly srtPackets = new Counter({
    name: 'livechannel_srt_packets_total',
    help: 'SRT data packets of ended connections, by kind (received; retransmitted: resent by the caller after a NAK; lost: found missing; dropped: never recovered within the latency, skipped)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly tlsCertificateExpiry = new Gauge({
    name: 'livechannel_tls_certificate_expiry_seconds',
    help: 'When the TLS certificate served to new RTMPS and HTTPS connections expires (Unix time, seconds)',
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly uploadCallbacksRefused = new Counter({
    name: 'livechannel_upload_callbacks_refused_total',
    help: 'Upload callbacks refused before storing because their URL points at an internal address, by reason (loopback, private, link_local, unique_local, multicast, unspecified, broadcast, reserved)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly retentionDeleted = new Counter({
    name: 'livechannel_retention_deleted_total',
    help: 'Objects retention deleted, by reason (age: past maxAge; space: below minFreeBytes; vod_emptied: a VOD playlist with no segment left; init_segment: an fMP4 init segment no segment names any more; snapshot: a snapshot JPEG past maxAge)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly publishersLive = new Gauge({ name: 'livechannel_publishers_live', help: 'Publishers currently live', registers: [this.registry] });
  /**
   * Media bytes received, added up as a plain number on the ingest path (a prom-client inc()
   * for every RTMP message cost more than muxing the message) and reported when scraped.
   */
  ingestBytes = 0;
  private ingestBytesReported = 0;
  readonly bytesIn = new Counter({
    name: 'livechannel_ingest_bytes_total',
    help: 'Media bytes received from publishers',
    registers: [this.registry],
    collect: () => {
      this.bytesIn.inc(this.ingestBytes - this.ingestBytesReported);
      this.ingestBytesReported = this.ingestBytes;
    },
  });
  readonly publishRejections = new Counter({ name: 'livechannel_publish_rejections_total', help: 'Publishes refused, by RTMP status code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly publisherTakeovers = new Counter({
    name: 'livechannel_publisher_takeovers_total',
    help: 'Publishers replaced by a new publish with the same channel after sending no media for limits.rtmpTakeoverSilenceMs',
    registers: [this.registry],
  });
  /** Prometheus' "info" idiom: the node id as a label on a constant 1, joinable onto any series. */
  readonly nodeInfo = new Gauge({ name: 'livechannel_node_info', help: 'This gateway node (label node)', labelNames: ['node'] as const, registers: [this.registry] });
  readonly leaseRenewFailures = new Counter({
    name: 'livechannel_lease_renew_failures_total',
    help: 'Publish lease renewals that failed (catalog unreachable) or found the lease taken over',
    registers: [this.registry],
  });
  readonly leaseHandovers = new Counter({
    name: 'livechannel_lease_handovers_total',
    help: 'Publish leases taken by this node from an earlier owner (expired or released)',
    registers: [this.registry],
  });
  readonly limitHits = new Counter({ name: 'livechannel_limit_hits_total', help: 'Limits reached, by limit', labelNames: ['limit'] as const, registers: [this.registry] });
  readonly apiRequests = new Counter({ name: 'livechannel_api_requests_total', help: 'HTTP API requests by operation and status', labelNames: ['op', 'status'] as const, registers: [this.registry] });

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }
}
