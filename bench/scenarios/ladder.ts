/**
 * Ladder: fan-out with C clients per document at R edits a second, raising
 * the number of documents step by step until a step fails: latency p99 over
 * the limit, an edit lost or clients dropped, or the load generator itself
 * saturated (then the ladder says so: the limit found is the harness's, not
 * the server's). The highest sustained level is D x C of the last step that
 * passed. One server per ladder; every step uses fresh documents and closes
 * its clients before the next.
 */
import { makeTempDir, removeTempDir } from "../children.ts";
import type { LoadGenerator } from "../load-generator.ts";
import type { LadderParams } from "../params.ts";
import type { ScenarioContext, ScenarioResult } from "../scenario.ts";
import { ServerProcess } from "../servers.ts";
import { describeLoad, isSaturated, type LoadSample } from "../stats.ts";
import { type FanoutStepResult, runFanoutStep } from "./fanout.ts";

export interface LadderStep {
  documents: number;
  clients: number;
  /** 1, or 2 for the retry of a step whose first attempt failed on timing. */
  attempt: number;
  p50Ms: number | null;
  p99Ms: number | null;
  deliveriesPerSecond: number | null;
  serverCpuPercent: number | null;
  serverCpuPerDeliveryMicros: number | null;
  /** All cores' busy share: near 100 means the machine, not one process, was the limit. */
  machineBusyPercent: number | null;
  machineStealPercent: number | null;
  /** Worst worker's load while the step measured. */
  loadGenerator: LoadSample | null;
  /** "sustained", or why this step failed. */
  verdict: string;
}

interface Failure {
  reason: string;
  /** Timing failures may be a passing spike on a shared machine: worth one retry. */
  timing: boolean;
  saturated: boolean;
}

/** Why a finished step does not count as sustained, or null if it does. */
function failureOf(step: FanoutStepResult, params: LadderParams): Failure | null {
  const hard = (reason: string) => ({ reason, timing: false, saturated: false });
  if (step.disconnectedClients > 0)
    return hard(`${step.disconnectedClients} client(s) disconnected`);
  if (step.lost > 0) return hard(`${step.lost} edit(s) not delivered within the drain timeout`);
  if (step.divergentDocuments > 0) return hard(`${step.divergentDocuments} document(s) diverged`);
  if (isSaturated(step.load)) {
    return {
      reason: `load generator saturated (${describeLoad(step.load)}; machine ${step.machineBusyPercent.toFixed(0)}% busy)`,
      timing: true,
      saturated: true,
    };
  }
  if (!(step.latency.p99 <= params.p99LimitMs)) {
    return {
      reason: `p99 ${step.latency.p99.toFixed(0)} ms > ${params.p99LimitMs} ms`,
      timing: true,
      saturated: false,
    };
  }
  return null;
}

function toRow(step: FanoutStepResult, attempt: number, verdict: string): LadderStep {
  return {
    documents: step.documents,
    clients: step.clients,
    attempt,
    p50Ms: step.latency.p50,
    p99Ms: step.latency.p99,
    deliveriesPerSecond: step.deliveriesPerSecond,
    serverCpuPercent: step.serverCpuPercent,
    serverCpuPerDeliveryMicros: step.serverCpuPerDelivery,
    machineBusyPercent: step.machineBusyPercent,
    machineStealPercent: step.machineStealPercent,
    loadGenerator: step.load,
    verdict,
  };
}

function runStep(
  server: ServerProcess,
  loadGenerator: LoadGenerator,
  params: LadderParams,
  documents: number,
): Promise<FanoutStepResult> {
  return runFanoutStep(
    server,
    loadGenerator,
    {
      documents,
      clientsPerDocument: params.clientsPerDocument,
      replicasPerDocument: params.replicasPerDocument,
      editsPerSecond: params.editsPerSecond,
      warmupSeconds: params.warmupSeconds,
      durationSeconds: params.stepSeconds,
      rounds: 1,
      drainTimeoutSeconds: params.drainTimeoutSeconds,
    },
    "ladder",
  );
}

export async function runLadder(
  { kind, loadGenerator }: ScenarioContext,
  params: LadderParams,
): Promise<ScenarioResult> {
  const dataDir = makeTempDir(`ladder-${kind}`);
  const server = await ServerProcess.start(kind, dataDir);
  const deadline = performance.now() + params.budgetSeconds * 1000;
  const steps: LadderStep[] = [];
  let top: FanoutStepResult | null = null;
  let stopReason = `passed every step up to ${params.documentSteps.at(-1)} documents`;
  let saturated = false;
  let lost = 0;
  let divergent = 0;
  try {
    climb: for (const documents of params.documentSteps) {
      for (let attempt = 1; attempt <= 2; attempt++) {
        if (performance.now() > deadline) {
          stopReason = `time budget of ${params.budgetSeconds} s spent before ${documents} documents`;
          break climb;
        }
        process.stderr.write(
          `[bench]   ladder ${kind}: ${documents} x ${params.clientsPerDocument}` +
            `${attempt > 1 ? " (retry)" : ""}\n`,
        );
        let step: FanoutStepResult;
        try {
          step = await runStep(server, loadGenerator, params, documents);
        } catch (error) {
          // A step that cannot even run (connect timeout, crash) ends the ladder.
          server.assertAlive("the ladder");
          stopReason = `stopped at ${documents} documents: ${(error as Error).message}`;
          steps.push({
            ...emptyRow(documents, params.clientsPerDocument, attempt),
            verdict: stopReason,
          });
          break climb;
        }
        server.assertAlive("the ladder");
        lost += step.lost;
        divergent += step.divergentDocuments;
        const failure = failureOf(step, params);
        steps.push(toRow(step, attempt, failure?.reason ?? "sustained"));
        if (!failure) {
          top = step;
          continue climb;
        }
        if (!failure.timing || attempt === 2) {
          stopReason = `stopped at ${documents} documents: ${failure.reason}`;
          saturated = failure.saturated;
          break climb;
        }
      }
    }
  } finally {
    await server.stop();
    removeTempDir(dataDir);
  }
  return {
    measurements: [
      { metric: "ladder highest sustained level", unit: "clients", value: top?.clients ?? 0 },
      { metric: "ladder p99 at top step", unit: "ms", value: top?.latency.p99 ?? null },
      {
        metric: "ladder deliveries/s at top step",
        unit: "1/s",
        value: top?.deliveriesPerSecond ?? null,
      },
      {
        metric: "ladder server CPU per delivery at top step",
        unit: "µs",
        value: top?.serverCpuPerDelivery ?? null,
      },
    ],
    load: steps.flatMap((s) =>
      s.loadGenerator
        ? [
            {
              phase: `ladder ${s.documents}x${params.clientsPerDocument}`,
              sample: s.loadGenerator,
              machineBusyPercent: s.machineBusyPercent ?? Number.NaN,
              machineStealPercent: s.machineStealPercent ?? Number.NaN,
            },
          ]
        : [],
    ),
    integrity: { lost, divergent },
    notes: [
      `ladder (${kind}): ${stopReason}.` +
        (saturated ? " The load generator, not the server, was the limit." : ""),
    ],
    // Losses and drops at the step that broke count as integrity failures;
    // the ladder's stopping by itself is a result, not a problem.
    problems: [],
    details: { steps, stopReason, loadGeneratorSaturated: saturated },
  };
}

function emptyRow(
  documents: number,
  clientsPerDocument: number,
  attempt: number,
): Omit<LadderStep, "verdict"> {
  return {
    documents,
    clients: documents * clientsPerDocument,
    attempt,
    p50Ms: null,
    p99Ms: null,
    deliveriesPerSecond: null,
    serverCpuPercent: null,
    serverCpuPerDeliveryMicros: null,
    machineBusyPercent: null,
    machineStealPercent: null,
    loadGenerator: null,
  };
}
