/**
 * Big document: the ~8 MB update is pushed to a fresh document; then fresh
 * clients load it warm (one; then several at once), and one loads it cold
 * after a server restart on the same data directory. Times are from opening
 * the socket until the whole document has arrived ("received") and, for
 * single clients, until it is also applied to a Y.Doc ("received + applied").
 * The several-at-once time is until the last one has received it: applying
 * is deferred so receivers sharing a worker do not delay each other.
 */
import { sleep } from "../async.ts";
import type { BigUpdate } from "../big-update.ts";
import { makeTempDir, removeTempDir } from "../children.ts";
import type { LoadGenerator } from "../load-generator.ts";
import type { BigDocParams } from "../params.ts";
import { directoryBytes } from "../proc.ts";
import type { LoadPhase, ScenarioContext, ScenarioResult } from "../scenario.ts";
import { ServerProcess } from "../servers.ts";
import { worstLoad } from "../stats.ts";

const TIMEOUT_MS = 90_000;
const ROOM = "bigdoc";

interface ReceiveTiming {
  receivedMs: number;
  appliedMs: number | null;
}

/**
 * Opens `clients` fresh receivers spread over the workers, waits until each
 * has the document, then verifies them all and closes them.
 */
async function timeReceive(
  server: ServerProcess,
  loadGenerator: LoadGenerator,
  update: BigUpdate,
  options: { clients: number; apply: boolean; group: string; phase: string; load: LoadPhase[] },
): Promise<ReceiveTiming> {
  const { clients, group } = options;
  const share = (w: number) =>
    Math.floor(clients / loadGenerator.size) + (w < clients % loadGenerator.size ? 1 : 0);
  try {
    const results = await loadGenerator.all(
      "bigdoc-receive",
      (w) =>
        share(w) === 0
          ? null
          : {
              group,
              url: server.url(ROOM),
              clients: share(w),
              // Half the pushed size: any server's encoding of the whole
              // document is near the update's size, and none sends less
              // than that for it (verification checks the rest).
              expectedBytes: Math.floor(update.bytes / 2),
              applyOnReceipt: options.apply,
              timeoutMs: TIMEOUT_MS,
            },
      TIMEOUT_MS + 30_000,
    );
    options.load.push({ phase: options.phase, sample: worstLoad(results.map((r) => r.load)) });
    const verified = await loadGenerator.all(
      "bigdoc-verify",
      (w) =>
        share(w) === 0
          ? null
          : { group, expectedLength: update.textLength, expectedStateVector: update.stateVector },
      TIMEOUT_MS,
    );
    const mismatches = verified.flatMap((v) => v.mismatches);
    if (mismatches.length > 0) throw new Error(`${group}: ${mismatches.join("; ")}`);
    const applied = results.flatMap((r) => r.appliedMs ?? []);
    return {
      receivedMs: Math.max(...results.flatMap((r) => r.receivedMs)),
      appliedMs: applied.length > 0 ? Math.max(...applied) : null,
    };
  } finally {
    await loadGenerator.closeGroup(group);
  }
}

/**
 * Waits until the data directory stops growing (unchanged for 1 s, at most
 * 15 s). The reference writes to LevelDB after broadcasting and has no
 * graceful shutdown, so without this a restart could lose its write; no
 * event tells us when the write is done. Cowrite's data is already durable.
 */
async function waitForStorageToSettle(dataDir: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  let last = -1;
  let stableSince = performance.now();
  while (performance.now() < deadline) {
    const bytes = directoryBytes(dataDir);
    if (bytes !== last) {
      last = bytes;
      stableSince = performance.now();
    } else if (performance.now() - stableSince >= 1000) {
      return;
    }
    await sleep(200);
  }
}

export async function runBigDoc(
  { kind, loadGenerator }: ScenarioContext,
  params: BigDocParams,
  update: BigUpdate,
): Promise<ScenarioResult> {
  const dataDir = makeTempDir(`bigdoc-${kind}`);
  let server = await ServerProcess.start(kind, dataDir);
  const load: LoadPhase[] = [];
  const notes: string[] = [];
  try {
    // The writer stays connected through the warm measurements so the
    // document stays loaded (both servers unload a document with no clients).
    const { pushMs } = await loadGenerator.call(
      0,
      "bigdoc-push",
      {
        group: "bigdoc-writer",
        url: server.url(ROOM),
        updateFile: update.file,
        timeoutMs: TIMEOUT_MS,
      },
      TIMEOUT_MS + 10_000,
    );
    let warmOne: ReceiveTiming;
    let warmMany: ReceiveTiming;
    try {
      warmOne = await timeReceive(server, loadGenerator, update, {
        clients: 1,
        apply: true,
        group: "bigdoc-warm-1",
        phase: "bigdoc warm, 1 client",
        load,
      });
      warmMany = await timeReceive(server, loadGenerator, update, {
        clients: params.concurrentClients,
        apply: false,
        group: `bigdoc-warm-${params.concurrentClients}`,
        phase: `bigdoc warm, ${params.concurrentClients} clients`,
        load,
      });
    } finally {
      await loadGenerator.closeGroup("bigdoc-writer");
    }
    const warmRss = server.stats().rssBytes;
    server.assertAlive("big-doc");

    await waitForStorageToSettle(dataDir);
    await server.stop();
    server = await ServerProcess.start(kind, dataDir);
    let cold: ReceiveTiming | null;
    try {
      cold = await timeReceive(server, loadGenerator, update, {
        clients: 1,
        apply: true,
        group: "bigdoc-cold-1",
        phase: "bigdoc cold, 1 client",
        load,
      });
    } catch (error) {
      // Cowrite must not lose data; the reference's loss is reported, not fatal.
      if (kind === "cowrite") throw error;
      notes.push(`bigdoc (reference): cold load failed: ${(error as Error).message}`);
      cold = null;
    }
    server.assertAlive("big-doc cold load");
    const storageBytes = directoryBytes(dataDir);
    const n = params.concurrentClients;
    return {
      measurements: [
        { metric: "bigdoc update size", unit: "MB", value: update.bytes / 2 ** 20 },
        { metric: "bigdoc push + ack", unit: "ms", value: pushMs },
        { metric: "bigdoc warm, 1 client: received", unit: "ms", value: warmOne.receivedMs },
        {
          metric: "bigdoc warm, 1 client: received + applied",
          unit: "ms",
          value: warmOne.appliedMs,
        },
        {
          metric: `bigdoc warm, ${n} clients at once: all received`,
          unit: "ms",
          value: warmMany.receivedMs,
        },
        {
          metric: "bigdoc cold load after restart: received",
          unit: "ms",
          value: cold?.receivedMs ?? null,
        },
        {
          metric: "bigdoc cold load after restart: received + applied",
          unit: "ms",
          value: cold?.appliedMs ?? null,
        },
        { metric: "bigdoc storage after restart", unit: "MB", value: storageBytes / 2 ** 20 },
        { metric: "bigdoc server RSS warm", unit: "MB", value: warmRss / 2 ** 20 },
      ],
      load,
      // A document the server could not load after a restart counts as lost.
      integrity: { lost: cold === null ? 1 : 0, divergent: 0 },
      notes,
      problems: [],
    };
  } finally {
    await server.stop();
    removeTempDir(dataDir);
  }
}
