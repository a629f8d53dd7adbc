import { context, propagation, ROOT_CONTEXT, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace';
import type { TracingConfig } from '../config.ts';
import { VERSION } from '../version.ts';

export interface Tracing {
  readonly tracer: Tracer;
  readonly callerContext: TracingConfig['callerContext'];
  /**
   * Runs `work` in a span that is the current one for whatever `work` starts (the context is
   * carried across awaits), and ends it when `work` settles; a throw marks it failed. With
   * `root`, the span starts a trace of its own rather than join the current one.
   */
  span<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>, root?: boolean): Promise<T>;
  /** Sends what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

type Sdk = typeof import('@opentelemetry/sdk-trace');

function sampler(sdk: Sdk, { sampler, samplerRatio }: TracingConfig): Sampler {
  const root = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(samplerRatio),
  }[sampler.replace(/^parentbased_/, '') as 'always_on' | 'always_off' | 'traceidratio']();
  return sampler.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root }) : root;
}

const MAX_ATTRIBUTE_CHARS = 2048;

/**
 * What a failed span says of its error: its code (AppError) or its name (ActionError: `HttpError`,
 * `Timeout`...), never its message, which may quote a URL with credentials or a value.
 */
function errorKind(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return typeof code === 'string' ? code : typeof name === 'string' ? name : 'Error';
}

let contextInstalled = false;

/**
 * Traces to an OTLP/HTTP (JSON) collector. The context manager and the W3C propagator are the
 * process's (OpenTelemetry keeps them global, and the log lines read the current span through
 * them); the tracer provider is this one's, handed to whoever makes spans, so that a process
 * may run with tracing off, or a test with its own collector.
 */
export async function startTracing(config: TracingConfig): Promise<Tracing> {
  // Loaded only when tracing is on: the SDK and the exporter would otherwise sit in every
  // process's heap for nothing.
  const [sdk, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  if (!contextInstalled) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    contextInstalled = true;
  }
  const provider = new sdk.TracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName, 'service.version': VERSION }),
    sampler: sampler(sdk, config),
    // What a client sends (an operation's name, a path) is cut, so that no span grows with a request.
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_CHARS },
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: config.endpoint }),
        scheduledDelayMillis: config.exportDelayMs,
        maxQueueSize: config.maxQueuedSpans,
        maxExportBatchSize: config.maxSpansPerBatch,
      }),
    ],
  });
  const tracer = provider.getTracer('flowledger', VERSION);
  return {
    tracer,
    callerContext: config.callerContext,
    span: (name, attributes, work, root = false) =>
      tracer.startActiveSpan(name, { attributes }, root ? ROOT_CONTEXT : context.active(), async (span) => {
        try {
          return await work(span);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorKind(error) });
          throw error;
        } finally {
          span.end();
        }
      }),
    shutdown: () => provider.shutdown(),
  };
}
