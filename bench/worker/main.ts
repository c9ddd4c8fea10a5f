/**
 * A load-generator worker process (started by load-generator.ts). It runs
 * tasks the orchestrator sends over IPC, one message per task, and answers
 * each with its result or error. It exits when the orchestrator goes away,
 * so no worker outlives a crashed run.
 */
import type { TaskArgs, TaskName, TaskRequest, TaskResponse, TaskResult } from "../messages.ts";
import { pushBigDoc, receiveBigDoc, verifyBigDoc } from "./bigdoc.ts";
import { connectFanout, runFanout, verifyFanout } from "./fanout.ts";
import { closeSession } from "./groups.ts";
import { openIdle } from "./idle.ts";
import { connectPresence, runPresence } from "./presence.ts";
import { connectWrite, runWrite } from "./write-path.ts";

type Handlers = {
  [T in TaskName]: (args: TaskArgs<T>) => Promise<TaskResult<T>> | TaskResult<T>;
};

const handlers: Handlers = {
  "fanout-connect": connectFanout,
  "fanout-run": runFanout,
  "fanout-verify": verifyFanout,
  "idle-open": openIdle,
  "bigdoc-push": pushBigDoc,
  "bigdoc-receive": receiveBigDoc,
  "bigdoc-verify": verifyBigDoc,
  "write-connect": connectWrite,
  "write-run": runWrite,
  "presence-connect": connectPresence,
  "presence-run": runPresence,
  "close-group": async ({ group }) => ({ closed: await closeSession(group) }),
};

function reply(response: TaskResponse): void {
  process.send?.(response);
}

process.on("message", (request: TaskRequest) => {
  const handler = handlers[request.task] as (args: unknown) => unknown;
  Promise.resolve()
    .then(() => handler(request.args))
    .then(
      (result) => reply({ id: request.id, ok: true, result }),
      (error: unknown) =>
        reply({ id: request.id, ok: false, error: (error as Error).message ?? String(error) }),
    );
});

process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });
