/**
 * Starts the OpenTelemetry SDK in a gateway or worker process when an OTLP endpoint is
 * configured, by the standard variables only: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT (tracing is off without either), OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL
 * (http/protobuf, the default, or http/json), OTEL_EXPORTER_OTLP_(TRACES_)HEADERS,
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, and
 * OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none to turn it off. The exporters and the provider
 * read those themselves.
 *
 * The SDK is imported here, on demand: a process without an endpoint never loads it, and the
 * library (src/index.ts) never does (an application that embeds it registers its own SDK).
 */
export interface Tracing {
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

/** Whether `env` turns tracing on: an endpoint is set and nothing turns the SDK off. */
function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  return Boolean(endpoint) && env['OTEL_SDK_DISABLED'] !== 'true' && env['OTEL_TRACES_EXPORTER'] !== 'none';
}

/**
 * Registers a tracer provider exporting over OTLP/HTTP, with the W3C trace-context propagator,
 * and resolves with it; null, loading nothing, when
 * tracing is not configured. `serviceName` is the default that OTEL_SERVICE_NAME overrides.
 */
export async function startTracing(serviceName: string): Promise<Tracing | null> {
  const env = process.env;
  if (!tracingConfigured(env)) return null;
  const protocol = env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] || env['OTEL_EXPORTER_OTLP_PROTOCOL'] || 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    // gRPC would bring @grpc/grpc-js along; every collector and Jaeger also take OTLP over HTTP (port 4318).
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: use http/protobuf (the default) or http/json.`);
  }
  const [{ NodeTracerProvider, BatchSpanProcessor }, { defaultResource, detectResources, envDetector, resourceFromAttributes }, { OTLPTraceExporter }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/resources'),
      protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  // No context manager: spans are given their parents explicitly (see spans.ts for why).
  provider.register({ contextManager: null });
  return { shutdown: () => provider.shutdown() };
}
