// The server's Prometheus metrics (prom-client), on their own registry so several servers in one process
// never share counters.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createServerMetrics() {
  const registry = new Registry();
  const metrics = {
    framesIn: new Counter({
      name: 'tds_frames_in_total',
      help: 'Frames received from the source',
      registers: [registry],
    }),
    processed: new Counter({
      name: 'tds_frames_processed_total',
      help: 'Frames segmented and published',
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'tds_frames_dropped_total',
      help: 'Frames skipped because inference was busy',
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'tds_latency_seconds',
      help: 'Frame arrival to publish',
      buckets: [0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2],
      registers: [registry],
    }),
    infer: new Histogram({
      name: 'tds_inference_seconds',
      help: 'Ensemble inference time per frame',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28],
      registers: [registry],
    }),
    clients: new Gauge({ name: 'tds_clients', help: 'Connected WebSocket clients', registers: [registry] }),
    bytesSent: new Counter({
      name: 'tds_bytes_sent_total',
      help: 'Bytes sent to WebSocket clients',
      registers: [registry],
    }),
  };
  return { registry, metrics };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>['metrics'];
